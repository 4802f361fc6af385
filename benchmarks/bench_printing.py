"""Printing benchmark: receipt with QR -> ESC/POS bytes, against python-escpos printing the same text alone.

    python benchmarks/bench_printing.py [--rounds 300]

Cases (median of ``rounds`` runs each, same process, same run):
- floor:        python-escpos Dummy printing the stored order's receipt text lines via textln() + cut():
                no database, no layout, no QR (the plain-text floor)
- from order:   what the print queue does: load the stored order, sign its claim, lay out, encode with a
                native GS ( k QR (PrintingService.document + render_bytes)
- layout+bytes: the sample receipt (long names, discounts, two QRs) laid out and encoded, no database
- image QR:     the same with the QRs as raster images (models without native QR)
Goal: from order <= 2x the floor. Reports ratios; never fails on time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "printing")]

from escpos.printer import Dummy  # noqa: E402

from receipt_samples import PROFILES, SAMPLE  # noqa: E402
from truck_pos.devices.printer import capabilities, render_bytes  # noqa: E402
from truck_pos.domain.receipt import render_receipt  # noqa: E402

GOAL_X_FLOOR = 2.0
CAPS = capabilities(PROFILES[80])
IMAGE_QR = capabilities(PROFILES[80], native_qr="false")


def median_ms(fn, rounds: int) -> float:
    for _ in range(min(20, rounds)):
        fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def stored_order_document():
    """A PrintingService on a temp database with one paid order; returns a zero-arg callable."""
    from truck_pos.bootstrap import build
    from truck_pos.clock import FakeClock
    from truck_pos.config import load_settings

    tmp = tempfile.mkdtemp(prefix="bench-print-")
    env = {"TRUCK_POS_STORE_PATH": f"{tmp}/truck.db", "TRUCK_POS_PRINTER_KIND": "dummy"}  # a TM-T20II, cp1252
    svc = build(load_settings(env=env), clock=FakeClock(), print_autostart=False)
    ticket = svc.register.open_ticket()
    for sku in ("taco-al-pastor", "bowl-burrito", "taco-fish"):
        svc.register.add_item(ticket.id, sku)
    paid = svc.register.pay_cash(ticket.id, 10_000)
    printer = svc.printing
    lines = printer.document(paid.order_uuid).text_lines()
    return lambda: render_bytes(printer.document(paid.order_uuid), profile=PROFILES[80], caps=CAPS), lines, svc


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=300)
    args = p.parse_args()
    from_order, lines, svc = stored_order_document()

    def floor() -> bytes:
        d = Dummy(profile=PROFILES[80])
        for line in lines:
            d.textln(line)
        d.cut()
        return d.output

    cases = {
        "floor: escpos text only": floor,
        "from stored order, native QR": from_order,
        "layout + bytes, native QR": lambda: render_bytes(render_receipt(SAMPLE, 48, charset=CAPS.charset),
                                                          profile=PROFILES[80], caps=CAPS),
        "layout + bytes, image QR": lambda: render_bytes(render_receipt(SAMPLE, 48, charset=CAPS.charset),
                                                         profile=PROFILES[80], caps=IMAGE_QR),
    }
    results = {name: median_ms(fn, args.rounds) for name, fn in cases.items()}
    svc.close()
    base = results["floor: escpos text only"]
    print(f"{'case':32} {'median ms':>10} {'x floor':>8}")
    for name, ms in results.items():
        print(f"{name:32} {ms:10.3f} {ms / base:8.2f}")
    ratio = results["from stored order, native QR"] / base
    print(f"goal from stored order <= {GOAL_X_FLOOR}x floor: {'met' if ratio <= GOAL_X_FLOOR else 'NOT met'} "
          f"({ratio:.2f}x)")


if __name__ == "__main__":
    main()
