"""Printing benchmark: receipt with QR -> ESC/POS bytes, against python-escpos printing the same text alone.

    python benchmarks/bench_printing.py [--rounds 300]

Cases (median of ``rounds`` runs each, same process, same run):
- floor:        python-escpos Dummy, the receipt's text lines via textln() + cut(), no layout, no QR
- layout+bytes: render_receipt (wrap, totals) + encode with a native GS ( k QR (what the queue sends)
- from order:   the above plus loading the stored order and signing its claim (PrintingService.document)
- image QR:     layout + bytes with the QR as a raster image (for clone printers)
Goal: layout+bytes <= 10 ms median. Reports ratios to the floor; never fails on time.
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
from truck_pos.devices.printer import render_bytes  # noqa: E402
from truck_pos.domain.receipt import render_receipt  # noqa: E402

GOAL_MS = 10.0


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
    svc = build(load_settings(env={"TRUCK_POS_STORE_PATH": f"{tmp}/truck.db"}), clock=FakeClock(), print_autostart=False)
    ticket = svc.register.open_ticket()
    for sku in ("taco-al-pastor", "bowl-burrito", "taco-fish"):
        svc.register.add_item(ticket.id, sku)
    paid = svc.register.pay_cash(ticket.id, 10_000)
    return lambda: render_bytes(svc.printing.document(paid.order_uuid), profile=PROFILES[80]), svc


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=300)
    args = p.parse_args()
    lines = render_receipt(SAMPLE, 48).text_lines()

    def floor() -> bytes:
        d = Dummy(profile=PROFILES[80])
        for line in lines:
            d.textln(line)
        d.cut()
        return d.output

    from_order, svc = stored_order_document()
    cases = {
        "floor: escpos text only": floor,
        "layout + bytes, native QR": lambda: render_bytes(render_receipt(SAMPLE, 48), profile=PROFILES[80]),
        "from stored order, native QR": from_order,
        "layout + bytes, image QR": lambda: render_bytes(render_receipt(SAMPLE, 48), profile=PROFILES[80],
                                                         native_qr=False),
    }
    results = {name: median_ms(fn, args.rounds) for name, fn in cases.items()}
    svc.close()
    base = results["floor: escpos text only"]
    print(f"{'case':32} {'median ms':>10} {'x floor':>8}")
    for name, ms in results.items():
        print(f"{name:32} {ms:10.3f} {ms / base:8.2f}")
    main_ms = results["layout + bytes, native QR"]
    print(f"goal <= {GOAL_MS} ms: {'met' if main_ms <= GOAL_MS else 'NOT met'} ({main_ms:.3f} ms)")


if __name__ == "__main__":
    main()
