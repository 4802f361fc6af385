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
    """Orders through the register service (open, 5 x add_item, pay cash)."""

    def __init__(self, path: Path):
        self.services = build(load_settings(env={"TRUCK_POS_STORE_PATH": str(path)}))

    def order(self, n: int) -> None:
        reg = self.services.register
        ticket = reg.open_ticket()
        for sku in SKUS:
            ticket = reg.add_item(ticket.id, sku)
        reg.pay_cash(ticket.id, 10_000)

    def close(self) -> None:
        self.services.close()
        close_database()


class FloorPath:
    """Replays the exact rows the service wrote, with bare sqlite3: same schema, pragmas and bytes.

    Rows are read from the service's database before timing starts; each order is inserted in one
    ``BEGIN IMMEDIATE ... COMMIT`` like the register's, so the only difference is the service's work.
    """

    TABLES = {"order_line": "order_id", "order_discount": "order_id", "tender": "order_id"}

    def __init__(self, path: Path):
        build(load_settings(env={"TRUCK_POS_STORE_PATH": str(path)})).close()  # same schema, demo menu
        close_database()
        self.conn = sqlite3.connect(path, isolation_level=None)
        for key, value in PRAGMAS.items():
            self.conn.execute(f"PRAGMA {key}={value}")
        self.batch: list[list[tuple[str, tuple]]] = []

    def load_from(self, source: Path, first_order_id: int, count: int) -> None:
        """Prepare the INSERT statements for orders first_order_id.. from the service's database."""
        src = sqlite3.connect(source)
        self.batch = []
        for oid in range(first_order_id, first_order_id + count):
            stmts = [_insert_stmt(src, "order", "id", oid)]
            for table, fk in self.TABLES.items():
                stmts += [_insert_stmt(src, table, "id", rid) for (rid,) in src.execute(f'SELECT id FROM "{table}" WHERE {fk}=?', (oid,))]
            uuid_ = src.execute('SELECT uuid FROM "order" WHERE id=?', (oid,)).fetchone()[0]
            (seq,) = src.execute("SELECT seq FROM outbox WHERE key=?", (uuid_,)).fetchone()
            stmts.append(_insert_stmt(src, "outbox", "seq", seq))
            self.batch.append(stmts)
        src.close()

    def order(self, n: int) -> None:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        for sql, params in self.batch[n % len(self.batch)]:
            conn.execute(sql, params)
        conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


def _insert_stmt(src: sqlite3.Connection, table: str, key: str, value: int) -> tuple[str, tuple]:
    cur = src.execute(f'SELECT * FROM "{table}" WHERE "{key}"=?', (value,))
    row = cur.fetchone()
    columns = [d[0] for d in cur.description]
    return (f'INSERT INTO "{table}" ({", ".join(chr(34) + c + chr(34) for c in columns)}) VALUES ({", ".join("?" * len(columns))})', row)


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
        floor_path = FloorPath(Path(tmp) / "floor.db")
        service_path = ServicePath(Path(tmp) / "service.db")
        chunk = max(1, args.orders // args.rounds)
        # Alternate in chunks so background load on the machine hits both paths alike; the floor
        # replays exactly the rows the service wrote in the chunk before.
        for r in range(args.rounds):
            service += timed(service_path, r * chunk, chunk)
            floor_path.load_from(Path(tmp) / "service.db", r * chunk + 1, chunk)
            floor += timed(floor_path, 0, chunk)
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
