"""Ring-up benchmark: N orders of 5 lines through the register service vs a bare SQLite floor.

The floor inserts exactly the rows the service wrote (order, 5 lines, tender, outbox row, byte for
byte) with the stdlib sqlite3 module, one transaction per order, into the same schema with the same
pragmas (WAL, synchronous=FULL). The difference is the service's own work: menu lookup, totals,
validation, payload building, peewee.
Usage: python benchmarks/bench_ringup.py [--orders 1000]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from truck_pos.bootstrap import build
from truck_pos.config import load_settings
from truck_pos.store.db import PRAGMAS, close_database

SKUS = ["taco-al-pastor", "bowl-burrito", "side-chips", "drink-horchata", "drink-water"]


class ServicePath:
    """Orders through the register service (open, 5 x add_item, pay cash), recording the SQL it writes."""

    def __init__(self, path: Path):
        # The print worker runs beside the register in real use; here it stays off so only ring-up is timed.
        self.services = build(load_settings(env={"TRUCK_POS_STORE_PATH": str(path)}), print_autostart=False)
        self.written: list[list[str]] = []
        self._current: list[str] = []
        self.services.db.connection().set_trace_callback(self._trace)

    def _trace(self, sql: str) -> None:
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            self._current.append(sql)

    def order(self, n: int) -> None:
        reg = self.services.register
        self._current = []
        ticket = reg.open_ticket()
        for sku in SKUS:
            ticket = reg.add_item(ticket.id, sku)
        reg.pay_cash(ticket.id, 10_000)
        self.written.append(self._current)

    def close(self) -> None:
        self.services.db.connection().set_trace_callback(None)
        self.services.close()
        close_database()


class FloorPath:
    """Replays, with bare sqlite3, exactly the statements the service wrote for each order.

    Every INSERT/UPDATE the service's transaction ran (order, lines, tenders, outbox row, print job,
    pickup entry and its outbox row...) is captured with its values bound, and replayed in one
    ``BEGIN IMMEDIATE ... COMMIT`` per order into an identical database: same schema, pragmas and
    bytes. The difference is the service's own work: menu lookup, totals, validation, payloads, peewee.
    """

    def __init__(self, path: Path):
        build(load_settings(env={"TRUCK_POS_STORE_PATH": str(path)}), print_autostart=False).close()
        close_database()
        self.conn = sqlite3.connect(path, isolation_level=None)
        for key, value in PRAGMAS.items():
            self.conn.execute(f"PRAGMA {key}={value}")
        self.batch: list[list[str]] = []

    def order(self, n: int) -> None:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        for sql in self.batch[n]:
            conn.execute(sql)
        conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


def timed(path, start: int, count: int) -> list[float]:
    times = []
    for n in range(start, start + count):
        t0 = time.perf_counter()
        path.order(n)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=10, help="alternate floor/service in this many chunks")
    args = parser.parse_args()
    floor: list[float] = []
    service: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        floor_path = FloorPath(Path(tmp) / "floor.db")  # first: both bind the one peewee proxy
        service_path = ServicePath(Path(tmp) / "service.db")
        chunk = max(1, args.orders // args.rounds)
        # Alternate in chunks so background load on the machine hits both paths alike; the floor
        # replays exactly the rows the service wrote in the chunk before.
        for r in range(args.rounds):
            service += timed(service_path, r * chunk, chunk)
            floor_path.batch = service_path.written
            floor += timed(floor_path, r * chunk, chunk)
        floor_path.close()
        service_path.close()
    rows = [("bare sqlite3 (floor)", floor), ("register service", service)]
    print(f"ring-up: {args.orders} orders x 5 lines, WAL + synchronous=FULL, one transaction per order")
    print(f"{'path':24} {'total s':>8} {'orders/s':>9} {'median ms':>10} {'p95 ms':>8}")
    for name, times in rows:
        p95 = sorted(times)[int(len(times) * 0.95)]
        print(f"{name:24} {sum(times):8.2f} {len(times) / sum(times):9.0f} {statistics.median(times) * 1e3:10.2f} {p95 * 1e3:8.2f}")
    print(f"ratio service/floor: total {sum(service) / sum(floor):.2f}, median"
          f" {statistics.median(service) / statistics.median(floor):.2f}  (target <= 1.5)")


if __name__ == "__main__":
    main()
