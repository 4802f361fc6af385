"""Power cuts, not just kills: writes that were never synced are lost, and no order reported paid may go with them.

A SIGKILL alone cannot tell ``synchronous=FULL`` from ``OFF`` (the kernel still holds every write), so the
ring-up child runs under an LD_PRELOAD shim (tests/powercut/shim.c) that logs what each write overwrote;
after the kill every file is rolled back to its last fsync, as a disk would be after the power went out.
The same test run shows that ``synchronous=NORMAL`` loses paid orders under it and ``FULL`` (the product's
setting) loses none.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import peewee
import pytest

from tests.powercut.undo import build_shim, cut_power
from truck_pos.store.db import close_database, open_database
from truck_pos.store.models import Order, OrderLine, Tender
from truck_pos.store.outbox import Outbox

CHILD = Path(__file__).with_name("powercut_child.py")
ROOT = CHILD.parent.parent


@pytest.fixture(scope="module")
def shim(tmp_path_factory) -> Path:
    return build_shim(tmp_path_factory.mktemp("shim"))


def sell_then_cut_power(db_path: Path, shim: Path, mode: str, rng: random.Random) -> set[str]:
    """Run the child under the shim, SIGKILL it mid-sale, roll every file back to its last sync.

    Returns the orders the child reported paid before it died.
    """
    log = db_path.parent / "undo.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LD_PRELOAD": str(shim), "POWERCUT_DIR": f"{db_path.parent}/",
           "POWERCUT_LOG": str(log)}
    proc = subprocess.Popen([sys.executable, str(CHILD), str(db_path), mode], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == f"SYNC {dict(off=0, normal=1, full=2)[mode]}"
    reported: set[str] = set()
    target = rng.randint(20, 80)
    for line in proc.stdout:
        reported.add(line.split()[1])
        if len(reported) >= target:
            time.sleep(rng.random() * 0.01)  # somewhere inside the next order's transaction, or between two
            break
    proc.send_signal(signal.SIGKILL)
    rest, _ = proc.communicate(timeout=30)
    reported.update(line.split()[1] for line in rest.splitlines() if line.startswith("PAID "))
    cut_power(log)
    # The shared-memory index is not durable: after a power cut SQLite rebuilds it from the WAL.
    Path(f"{db_path}-shm").unlink(missing_ok=True)
    return reported


def stored_orders(db_path: Path) -> set[str]:
    """Open the database after the cut; check nothing is partial; return the stored order uuids."""
    db = open_database(db_path)
    try:
        assert db.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"
        orders = {o.uuid: o for o in Order.select()}
        line_counts = dict(OrderLine.select(OrderLine.order, peewee.fn.COUNT(OrderLine.id)).group_by(OrderLine.order).tuples())
        tender_sums = dict(Tender.select(Tender.order, peewee.fn.SUM(Tender.amount_cents)).group_by(Tender.order).tuples())
        for order in orders.values():
            assert line_counts.get(order.id, 0) >= 1, f"order #{order.number} has no lines"
            assert tender_sums.get(order.id) == order.total_cents, f"order #{order.number} tenders do not cover it"
        outbox_keys = [r.key for r in Outbox.select().where(Outbox.kind == "order")]
        assert sorted(outbox_keys) == sorted(orders), "outbox rows must match paid orders one to one"
        return set(orders)
    finally:
        close_database()


def test_no_order_reported_paid_is_lost_in_a_power_cut_with_synchronous_full(tmp_path, shim):
    rng = random.Random(20261202)
    db_path = tmp_path / "truck.db"
    reported: set[str] = set()
    for _ in range(4):
        reported |= sell_then_cut_power(db_path, shim, "full", rng)
        stored = stored_orders(db_path)
        assert reported <= stored, f"lost {len(reported - stored)} paid orders: {sorted(reported - stored)[:3]}"
    assert len(reported) >= 4 * 20


def test_the_power_cut_test_catches_synchronous_normal(tmp_path, shim):
    """The control: the same cut with WAL + NORMAL loses orders that were reported paid."""
    rng = random.Random(20261202)
    db_path = tmp_path / "truck.db"
    lost: set[str] = set()
    for _ in range(3):
        reported = sell_then_cut_power(db_path, shim, "normal", rng)
        lost |= reported - stored_orders(db_path)
        if lost:
            break
    assert lost, "synchronous=NORMAL lost nothing: the shim is not dropping unsynced writes"
