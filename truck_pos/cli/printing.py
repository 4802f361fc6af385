"""Admin commands for receipts and the pickup window: printer detect/test, reprint, print queue, pickup, claim check."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from dataclasses import replace

from truck_pos.bootstrap import Services
from truck_pos.domain.receipt import Document, QrBlock, TextLine
from truck_pos.store.print_models import PrintJob


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("printer", help="set up the receipt printer: detect it, print a test page")
    ps = p.add_subparsers(dest="printer_command", required=True)
    d = ps.add_parser("detect", help="list USB printers and serial ports; --write puts the choice in [printer]")
    d.add_argument("--write", nargs="?", const="", metavar="CONFIG",
                   help="write [printer] into CONFIG (default: --config / $TRUCK_POS_CONFIG)")
    d.add_argument("--pick", type=int, default=1, help="which candidate to write (default: 1, the first USB printer)")
    d.add_argument("--paper-mm", type=int, choices=(58, 80), default=80)
    d.add_argument("--profile", help="python-escpos profile (default: guessed from the USB vendor)")
    d.set_defaults(handler=cmd_printer_detect, needs_services=False)
    t = ps.add_parser("test", help="print the test page (ruler, styles, code page, QR, cut) on the configured printer")
    t.set_defaults(handler=cmd_printer_test)

    p = sub.add_parser("printer-test", help="same as: printer test")
    p.set_defaults(handler=cmd_printer_test)

    p = sub.add_parser("reprint", help="reprint an order's receipt (marked REPRINT) and try the printer now")
    p.add_argument("number", type=int)
    p.add_argument("--day", help="business day YYYY-MM-DD (default: today)")
    p.set_defaults(handler=cmd_reprint)

    p = sub.add_parser("print-queue", help="show the printer state and jobs waiting; --retry tries them now")
    p.add_argument("--retry", action="store_true")
    p.set_defaults(handler=cmd_print_queue)

    p = sub.add_parser("pickup", help="show the pickup queue, or check a claim code with --scan CODE")
    p.add_argument("--scan", metavar="CODE", help="hand over the order this claim code belongs to")
    p.set_defaults(handler=cmd_pickup)


def test_document(columns: int, describe: str = "", caps_text: str = "") -> Document:
    """A ruler exactly as wide as the paper, big text, accents and a QR: what a correctly set-up printer shows."""
    ruler = ("1234567890" * 10)[:columns]
    lines = [TextLine("truck_pos printer test", align="center", bold=True),
             TextLine(ruler), TextLine(f"{columns} columns: the line above must not wrap"[:columns])]
    lines += [TextLine(text[:columns]) for text in (describe, caps_text) if text]
    return Document("test", columns, (
        *lines, TextLine("Accents: àéîõü ñ ç € £", bold=True), TextLine("BIG #42", align="center", bold=True, big=True),
        QrBlock("TP1.TEST"), TextLine("A QR code is above this line"[:columns], align="center"),
    ))


def cmd_printer_test(args: argparse.Namespace, s: Services) -> int:
    printer = s.printing.printer
    caps = getattr(printer, "caps", None)
    caps_text = (f"QR {'native' if caps.native_qr else 'image'}, {'cut' if caps.cut else 'feed only'}, "
                 f"{caps.charset.codec}{', CJK' if caps.charset.wide else ''}") if caps else ""
    profile = getattr(printer, "profile", None) or "-"
    doc = test_document(getattr(printer, "columns", 48), f"profile {profile}", caps_text)
    printer.print_document(replace(doc, charset=getattr(printer, "charset", doc.charset)))
    print(f"sent a test page to the {getattr(printer, 'describe', 'printer')}")
    return 0


def section_lines(values: dict[str, str]) -> list[str]:
    """A ``[printer]`` section for the config file."""
    return ["[printer]", "# written by truck-pos-admin printer detect", *(f"{k} = {v}" for k, v in values.items())]


def replace_section(text: str, name: str, lines: list[str]) -> str:
    """``text`` (an INI file) with section ``name`` replaced by ``lines`` (appended when absent)."""
    out, skipping, done = [], False, False
    for line in text.splitlines():
        header = re.match(r"^\s*\[([^\]]+)\]", line)
        if header:
            skipping = header.group(1).strip() == name
            if skipping and not done:
                out += [*lines, ""]
                done = True
        if not skipping:
            out.append(line)
    if not done:
        out += (["", *lines] if out and out[-1].strip() else lines)
    return "\n".join(out).rstrip("\n") + "\n"


def cmd_printer_detect(args: argparse.Namespace, services: object = None) -> int:
    from truck_pos.config import load_settings
    from truck_pos.devices.printer_detect import detect
    from truck_pos.errors import InvalidInput

    found, notes = detect()
    for note in notes:
        print(f"note: {note}")
    if not found:
        print("no USB printer or serial port found - is the printer plugged in and switched on?")
        return 1
    for i, c in enumerate(found, 1):
        print(f"{i}. {c.description}: " + ", ".join(f"{k} = {v}" for k, v in c.settings.items()))
    if args.write is None:
        print("run again with --write to put the first one into the config ([printer])")
        return 0
    if not 1 <= args.pick <= len(found):
        raise InvalidInput(f"--pick {args.pick}: choose 1 to {len(found)}")
    values = {**found[args.pick - 1].settings, "paper_mm": str(args.paper_mm)}
    if args.profile:
        values["profile"] = args.profile
    target = args.write or args.config or os.environ.get("TRUCK_POS_CONFIG", "")
    if not target:
        raise InvalidInput("no config file to write: give --write FILE or --config FILE")
    path = Path(target)
    old = path.read_text("utf-8") if path.exists() else ""
    path.write_text(replace_section(old, "printer", section_lines(values)), "utf-8")
    load_settings(path, env={})  # what we wrote must load
    print(f"wrote [printer] ({found[args.pick - 1].description}) to {path}; then: truck-pos-admin printer test")
    return 0


def cmd_reprint(args: argparse.Namespace, s: Services) -> int:
    order = s.register.find_order(args.day or s.register.today(), args.number)
    s.printing.reprint(order.uuid)
    s.printing.run_once()
    print(s.printing.printer_state().message)
    return 0


def cmd_print_queue(args: argparse.Namespace, s: Services) -> int:
    if args.retry:
        print(f"printed {s.printing.run_once()} job(s)")
    print(s.printing.printer_state().message)
    for job in PrintJob.select().where(PrintJob.status == "pending").order_by(PrintJob.id):
        print(f"  job {job.id:<5} {job.kind:8} order {job.order_uuid}  tries {job.attempts}  {job.last_error}")
    return 0


def cmd_pickup(args: argparse.Namespace, s: Services) -> int:
    if args.scan:
        result = s.pickup.scan(args.scan)
        print(result.message)
        return 0 if result.ok else 1
    queue = s.pickup.queue()
    for title, cards in (("PREPARING", queue.preparing), ("READY", queue.ready), ("HANDED OVER", queue.handed_over)):
        print(title)
        for c in cards:
            print(f"  #{c.number:<4} {c.channel:7} {c.since}  {', '.join(c.items)}")
    return 0
