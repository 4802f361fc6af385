"""Admin commands for receipts and the pickup window: test print, reprint, print queue, pickup queue, claim check."""

from __future__ import annotations

import argparse

from truck_pos.bootstrap import Services
from truck_pos.domain.receipt import Document, QrBlock, TextLine
from truck_pos.store.print_models import PrintJob


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("printer-test", help="print a width ruler and a QR code on the configured printer, now")
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


def test_document(columns: int) -> Document:
    """A ruler exactly as wide as the paper, big text and a QR: what a correctly configured printer shows."""
    ruler = ("1234567890" * 10)[:columns]
    return Document("test", columns, (
        TextLine("truck_pos printer test", align="center", bold=True),
        TextLine(ruler), TextLine(f"{columns} columns: the line above must not wrap"[:columns]),
        TextLine("BIG #42", align="center", bold=True, big=True),
        QrBlock("TP1.TEST"), TextLine("A QR code is above this line"[:columns], align="center"),
    ))


def cmd_printer_test(args: argparse.Namespace, s: Services) -> int:
    printer = s.printing.printer
    printer.print_document(test_document(getattr(printer, "columns", 48)))
    print(f"sent a test page to the {getattr(printer, 'describe', 'printer')}")
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
