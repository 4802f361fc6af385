"""Ring-up benchmark: N orders of 5 lines and a discount through the register service vs two bare SQLite floors.

Floor 1 ("what the sale writes") replays exactly the statements the service's transaction wrote.
Floor 2 ("minimal sale") is written here by hand, independently of the service: the rows any sale
must write (the order, 5 lines, the discount, the tender, one outbox row with a payload of the
same size), one transaction each. Both use stdlib sqlite3, the same schema and pragmas (WAL,
synchronous=FULL). The cost of each extra row the sale writes today (print jobs, pickup entry,
the pickup's outbox row) is the replay's time minus the replay without that row, and the pages
(WAL frames) it adds to each commit, counted without noise after the timed orders.
Usage: python benchmarks/bench_ringup.py [--orders 1000]
"""

from __future__ import annotations

import argparse
import json
import math
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from truck_pos.bootstrap import build
from truck_pos.config import load_settings
from truck_pos.domain.order import Discount
from truck_pos.store.base import database
from truck_pos.store.db import PRAGMAS, close_database

SKUS = ["taco-al-pastor", "bowl-burrito", "side-chips", "drink-horchata", "drink-water"]


class ServicePath:
    """Orders through the register service (open, 5 x add_item, pay cash); ``record`` keeps the SQL it writes.

    sqlite3's trace callback (the SQL text with its values bound, for every statement) costs the
    service ~0.07 ms an order, so the timed service runs without it and an untimed twin on its own
    database records the statements floor 1 replays.
    """

    def __init__(self, path: Path, record: bool = False):
        # The print worker runs beside the register in real use; here it stays off so only ring-up is timed.
        self.services = build(load_settings(env={"TRUCK_POS_STORE_PATH": str(path)}), print_autostart=False)
        self.written: list[list[str]] = []
        self._current: list[str] = []
        if record:
            self.services.db.connection().set_trace_callback(self._trace)

    def bind(self) -> None:
        """Point the models' shared database proxy (the outbox writes through it) at this service's file."""
        database.initialize(self.services.db)

    def _trace(self, sql: str) -> None:
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            self._current.append(sql)

    def order(self, n: int) -> None:
        reg = self.services.register
        self._current = []
        ticket = reg.open_ticket()
        for sku in SKUS:
            ticket = reg.add_item(ticket.id, sku)
        reg.apply_discount(ticket.id, Discount("staff meal", 100))
        reg.pay_cash(ticket.id, 10_000)
        self.written.append(self._current)

    def close(self) -> None:
        self.bind()
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

    def __init__(self, path: Path, drop: tuple[str, ...] = ()):
        self.conn, self.wal = bare_database(path), Path(f"{path}-wal")
        self.batch: list[list[str]] = []
        self.drop = drop  # leave out these extra rows (see extra_row) to measure what they cost

    def order(self, n: int) -> None:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        for sql in self.batch[n]:
            if not self.drop or extra_row(sql) not in self.drop:
                conn.execute(sql)
        conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


def bare_database(path: Path) -> sqlite3.Connection:
    """The register's schema (made by the app once), opened with bare sqlite3 and the register's pragmas."""
    build(load_settings(env={"TRUCK_POS_STORE_PATH": str(path)}), print_autostart=False).close()
    close_database()
    conn = sqlite3.connect(path, isolation_level=None)
    for key, value in PRAGMAS.items():
        conn.execute(f"PRAGMA {key}={value}")
    return conn


def extra_row(sql: str) -> str:
    """Which row beyond the minimal sale a statement writes ("" for the minimal ones)."""
    head = sql[:200]
    if '"print_job"' in head:
        return "print jobs (receipt + kitchen)"
    if '"pickup_entry"' in head:
        return "pickup entry"
    if '"outbox"' in head and "'pickup'" in sql:
        return "pickup outbox row"
    return ""


class MinimalPath:
    """The rows any sale must write, by hand: order, 5 lines, 1 discount, 1 tender, 1 outbox row (~1.3 kB JSON)."""

    def __init__(self, path: Path):
        self.conn, self.wal = bare_database(path), Path(f"{path}-wal")
        self.line = json.dumps({"sku": "taco-al-pastor", "name": "Al Pastor Taco", "quantity": 1, "unit_price_cents": 375,
                                "modifiers": [], "gross_cents": 375, "discount_cents": 20, "tax_cents": 29})

    def order(self, n: int) -> None:
        c, oid, now = self.conn, str(uuid.uuid4()), "2026-06-01T17:00:00.000000+00:00"
        c.execute("BEGIN IMMEDIATE")
        row = c.execute('INSERT INTO "order" (uuid, business_day, number, status, channel, created_utc, paid_utc, '
                        "subtotal_cents, discount_cents, tax_cents, total_cents, tax_mode, staff_id, customer_ref, stop, note) "
                        "VALUES (?, '2026-06-01', ?, 'paid', 'counter', ?, ?, 2970, 100, 237, 3107, 'exclusive', NULL, NULL, '', '')",
                        (oid, n + 1, now, now)).lastrowid
        c.executemany('INSERT INTO "order_line" (order_id, position, sku, name, quantity, unit_price_cents, modifiers, '
                      "tax_rate_bp, gross_cents, discount_cents, tax_cents) VALUES (?, ?, ?, 'Item', 1, 594, '[]', 825, 594, 20, 47)",
                      [(row, i, sku) for i, sku in enumerate(SKUS)])
        c.execute('INSERT INTO "order_discount" (order_id, label, code, segment, amount_cents) VALUES (?, ?, NULL, NULL, 100)',
                  (row, "staff meal"))
        c.execute('INSERT INTO "tender" (order_id, kind, amount_cents, tendered_cents, change_cents, reference) '
                  "VALUES (?, 'cash', 3107, 10000, 6893, '')", (row,))
        body = {"order_id": oid, "truck": "truck-demo", "number": n + 1, "business_day": "2026-06-01", "channel": "counter",
                "status": "paid", "paid_at": now, "lines": [json.loads(self.line)] * len(SKUS),
                "discounts": [{"label": "staff meal", "amount_cents": 100}], "tenders": [{"kind": "cash", "amount_cents": 3107}],
                "subtotal_cents": 2970, "discount_cents": 100, "tax_cents": 237, "total_cents": 3107}
        c.execute('INSERT INTO "outbox" (key, kind, payload, created_utc) VALUES (?, ?, ?, ?)',
                  (oid, "order", json.dumps(body), now))
        c.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


def timed(path, start: int, count: int) -> list[float]:
    times = []
    for n in range(start, start + count):
        t0 = time.perf_counter()
        path.order(n)
        times.append(time.perf_counter() - t0)
    return times


PAGE_ORDERS = 50  # orders whose WAL growth is counted (after the timed ones)


def wal_pages(path, start: int) -> float:
    """Pages (WAL frames) one order's commit writes: WAL growth over PAGE_ORDERS orders, no checkpoint between."""
    conn, wal = path.conn, path.wal
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    try:
        before = wal.stat().st_size
        for n in range(start, start + PAGE_ORDERS):
            path.order(n)
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        return (wal.stat().st_size - max(before, 32)) / (page + 24) / PAGE_ORDERS  # 32-byte header, 24 per frame
    finally:
        conn.execute("PRAGMA wal_autocheckpoint=1000")


def run(orders: int, rounds: int) -> dict:
    """Time the service, both floors and the replay without each extra row; alternate in chunks (same load on all)."""
    with tempfile.TemporaryDirectory() as tmp:
        replay = FloorPath(Path(tmp) / "floor.db")  # the bare databases first: each binds the one peewee proxy
        minimal = MinimalPath(Path(tmp) / "minimal.db")
        extras = ["print jobs (receipt + kitchen)", "pickup entry", "pickup outbox row"]  # the last: mobile orders only
        without = {name: FloorPath(Path(tmp) / f"without-{i}.db", drop=(name,)) for i, name in enumerate(extras)}
        without["replay without extras"] = FloorPath(Path(tmp) / "without-all.db", drop=tuple(extras))
        recorder = ServicePath(Path(tmp) / "recorder.db", record=True)  # untimed: what floor 1 replays
        service_path = ServicePath(Path(tmp) / "service.db")
        times: dict[str, list[float]] = {"service": [], "replay": [], "minimal": [], **{n: [] for n in without}}
        chunk = max(1, orders // rounds)
        for r in range(rounds):
            recorder.bind()
            timed(recorder, r * chunk, chunk)
            service_path.bind()
            times["service"] += timed(service_path, r * chunk, chunk)
            for name, path in [("replay", replay), *without.items()]:
                path.batch = recorder.written
                times[name] += timed(path, r * chunk, chunk)
            times["minimal"] += timed(minimal, r * chunk, chunk)
        recorder.bind()
        timed(recorder, chunk * rounds, PAGE_ORDERS)
        pages = {name: wal_pages(path, chunk * rounds) for name, path in
                 [("replay", replay), ("minimal", minimal), *without.items()]}
        written = recorder.written[0]
        for path in (replay, minimal, recorder, service_path, *without.values()):
            path.close()
    return {"orders": chunk * rounds, "times": times, "extras": extras, "rows": len(written), "pages": pages,
            "extra_rows": {n: sum(extra_row(q) == n for q in written) for n in extras}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=100, help="alternate the paths in this many chunks (load hits all alike)")
    args = parser.parse_args(argv)
    result = run(args.orders, args.rounds)
    t = result["times"]
    med = {k: statistics.median(v) for k, v in t.items()}
    print(f"ring-up: {result['orders']} orders x 5 lines + a discount, WAL + synchronous=FULL, one transaction per order")
    print(f"{'path':32} {'total s':>8} {'orders/s':>9} {'median ms':>10} {'p95 ms':>8}")
    for name, label in [("minimal", "floor 2: minimal sale (by hand)"), ("replay", "floor 1: what the sale writes"),
                        ("service", "register service"), ("replay without extras", "(floor 1 minus the extra rows)")]:
        times = t[name]
        p95 = sorted(times)[int(len(times) * 0.95)]
        print(f"{label:32} {sum(times):8.2f} {len(times) / sum(times):9.0f} {med[name] * 1e3:10.3f} {p95 * 1e3:8.3f}")
    ratio_min, ratio_replay = sum(t["service"]) / sum(t["minimal"]), sum(t["service"]) / sum(t["replay"])
    print(f"ratio service/floor 1 (what it writes): total {ratio_replay:.2f}, median {med['service'] / med['replay']:.2f}")
    print(f"ratio service/floor 2 (minimal sale):   total {ratio_min:.2f}, median {med['service'] / med['minimal']:.2f}"
          f"  (goal <= 1.5: {'met' if ratio_min <= 1.5 else 'NOT met'})")
    pages = result["pages"]
    print(f"the sale writes {result['rows']} statements, {pages['replay']:.1f} pages a commit (minimal sale "
          f"{pages['minimal']:.1f}, the replay without extras {pages['replay without extras']:.1f}); "
          "beyond the minimal sale, per order (replay minus replay without):")
    for name in result["extras"]:
        if not result["extra_rows"][name]:
            continue
        cost = (sum(t["replay"]) - sum(t[name])) / len(t[name]) * 1e3
        print(f"  {name:32} {result['extra_rows'][name]} row(s)  {pages['replay'] - pages[name]:+5.1f} pages  "
              f"{cost:+.3f} ms" + ("" if math.isfinite(cost) else " ?"))


if __name__ == "__main__":
    main()
