"""Power-cut test: SIGKILL a process mid ring-up, reopen, and find nothing lost and nothing partial."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import peewee

from truck_pos.store.db import close_database, open_database
from truck_pos.store.models import Order, OrderLine, Tender
from truck_pos.store.outbox import Outbox

CHILD = Path(__file__).with_name("powercut_child.py")
ROOT = CHILD.parent.parent


def run_and_kill(db_path: Path, rng: random.Random) -> set[str]:
    """Start the child, let it sell for a random number of orders, SIGKILL it, return what it said was paid."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(CHILD), str(db_path)], stdout=subprocess.PIPE, text=True, env=env)
    reported: set[str] = set()
    target = rng.randint(5, 60)
    assert proc.stdout is not None
    for line in proc.stdout:
        reported.add(line.split()[1])
        if len(reported) >= target:
            # Kill while the next order is somewhere inside its transaction (or between them).
            time.sleep(rng.random() * 0.01)
            break
    proc.send_signal(signal.SIGKILL)
    # Lines written before the kill but not yet read are still "reported paid".
    rest, _ = proc.communicate(timeout=30)
    reported.update(line.split()[1] for line in rest.splitlines() if line.startswith("PAID "))
    return reported


def test_every_order_reported_paid_survives_sigkill_and_none_is_partial(tmp_path):
    rng = random.Random(20261125)
    db_path = tmp_path / "truck.db"
    reported: set[str] = set()
    for _ in range(6):
        reported |= run_and_kill(db_path, rng)
    db = open_database(db_path)
    try:
        orders = {o.uuid: o for o in Order.select()}
        assert reported <= set(orders), f"lost paid orders: {sorted(reported - set(orders))[:5]}"
        line_counts = dict(OrderLine.select(OrderLine.order, peewee.fn.COUNT(OrderLine.id)).group_by(OrderLine.order).tuples())
        tender_sums = dict(Tender.select(Tender.order, peewee.fn.SUM(Tender.amount_cents)).group_by(Tender.order).tuples())
        for order in orders.values():
            assert line_counts.get(order.id, 0) >= 1, f"order #{order.number} has no lines"
            assert tender_sums.get(order.id) == order.total_cents, f"order #{order.number} tenders do not cover it"
        outbox_keys = [r.key for r in Outbox.select().where(Outbox.kind == "order")]
        assert sorted(outbox_keys) == sorted(orders), "outbox rows must match paid orders one to one"
        assert db.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert len(reported) >= 6 * 5
    finally:
        close_database()
