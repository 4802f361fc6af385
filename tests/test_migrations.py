"""Migrations keep every row: the docstring's example (a rebuild of ``order``) on a database full of orders.

Before/after snapshots are read with the sqlite3 module directly (not through the models under test).
"""

from __future__ import annotations

import sqlite3

import pytest
from peewee import TextField
from playhouse.migrate import migrate as run_migration

from truck_pos.bootstrap import build
from truck_pos.config import load_settings
from truck_pos.domain.order import Discount
from truck_pos.store import migrations
from truck_pos.store.campaign_models import Consent, Customer
from truck_pos.store.db import open_database

NEXT = max((n for n, _, _ in migrations.MIGRATIONS), default=1) + 1  # after the real migrations
EXAMPLE = (NEXT, "order.table_label", lambda m, db: run_migration(m.add_column("order", "table_label", TextField(default=""))))


def snapshot(path) -> dict[str, list[tuple]]:
    """Every table's rows (original columns, by rowid), read straight from the file."""
    con = sqlite3.connect(path)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
                                            "AND name != 'schema_version' ORDER BY name")]
        return {t: con.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in tables}
    finally:
        con.close()


def columns(path, table: str) -> list[str]:
    con = sqlite3.connect(path)
    try:
        return [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]
    finally:
        con.close()


@pytest.fixture
def full_database(tmp_path, clock):
    """A truck database with 40 paid orders (lines, discounts, tenders), a void, a refund, audit rows and customers."""
    env = {"TRUCK_POS_STORE_PATH": str(tmp_path / "truck.db"), "TRUCK_POS_TRUCK_ID": "truck-test"}
    svc = build(load_settings(env=env), clock=clock, print_autostart=False)
    svc.staff.add("Maria", "9999", "manager")
    skus = ["bowl-burrito", "drink-soda", "taco-fish", "drink-water"]
    paid = []
    for i in range(40):
        t = svc.register.open_ticket()
        for k in range(1 + i % 3):
            svc.register.add_item(t.id, skus[(i + k) % len(skus)], quantity=1 + k)
        if i % 5 == 0:
            svc.register.apply_discount(t.id, Discount("Comp", 100, source="override"), manager_pin="9999")
        paid.append(svc.register.pay_cash(t.id, 100_000) if i % 2 else svc.register.pay_card(t.id))
        clock.advance(60)
    svc.register.void_order(paid[0].order_uuid, "9999", "wrong order")
    svc.register.refund_order(paid[1].order_uuid, "9999", "cold")
    for i in range(5):
        customer = Customer.create(ref=f"c-{i}", email=f"c{i}@example.com", created_utc=clock.now())
        Consent.create(customer=customer, granted=True, wording_version="v1", ts_utc=clock.now())
    svc.close()
    return tmp_path / "truck.db"


def test_the_example_rebuild_of_order_keeps_every_row_of_every_table(full_database, monkeypatch):
    before = snapshot(full_database)
    assert len(before["order"]) == 40 and len(before["order_line"]) == 79 and len(before["tender"]) >= 41
    order_columns = columns(full_database, "order")
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, EXAMPLE])
    db = open_database(full_database)
    try:
        assert migrations.current_version(db) == NEXT
        assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1  # back on for the register
    finally:
        db.close()
    assert columns(full_database, "order") == order_columns + ["table_label"]
    after = snapshot(full_database)
    after["order"] = [row[:-1] for row in after["order"]]  # the new column, all ""
    assert {t: len(rows) for t, rows in after.items()} == {t: len(rows) for t, rows in before.items()}
    assert after == before


def test_the_hazard_is_real_a_rebuild_with_foreign_keys_on_empties_the_child_tables(full_database):
    """Why the procedure matters: the same step run with foreign_keys=ON cascades (what the old code did)."""
    from playhouse.migrate import SchemaMigrator

    db = open_database(full_database)
    try:
        with db.atomic():
            EXAMPLE[2](SchemaMigrator.from_database(db), db)
    finally:
        db.close()
    after = snapshot(full_database)
    assert len(after["order"]) == 40 and after["order_line"] == [] and after["tender"] == []


def test_a_migration_that_leaves_dangling_references_is_rolled_back_with_a_plain_error(full_database, monkeypatch):
    before = snapshot(full_database)

    def orphan_lines(m, db):
        db.execute_sql('DELETE FROM "order" WHERE id = 3')  # with foreign_keys off nothing cascades: lines dangle

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, (NEXT, "drop an order", orphan_lines)])
    with pytest.raises(migrations.MigrationFailed, match="dangling reference"):
        open_database(full_database)
    from truck_pos.store.base import database

    database.close()
    assert snapshot(full_database) == before


def _schema_names(path) -> set[str]:
    con = sqlite3.connect(path)
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')")}
    finally:
        con.close()


def _drop_and_reopen(path, statement: str) -> set[str]:
    """Run ``statement`` on the file, open it as a start does; the names that were gone before the start."""
    before = _schema_names(path)
    con = sqlite3.connect(path)
    con.execute(statement)
    con.commit()
    con.close()
    dropped = before - _schema_names(path)
    open_database(path).close()
    assert _schema_names(path) == before  # back again
    return dropped


@pytest.mark.parametrize("what", ["index", "table"])
def test_a_start_recreates_a_missing_table_or_index_and_keeps_every_row(full_database, what):
    """Starts skip the DDL when the schema is all there; a table or an index that went missing comes back."""
    before_rows = snapshot(full_database)
    index = next(n for n in _schema_names(full_database) if n.startswith("outbox_") and "sent_utc" in n)
    statement = f'DROP INDEX "{index}"' if what == "index" else 'DROP TABLE "loyalty_entry"'
    dropped = _drop_and_reopen(full_database, statement)
    assert (index in dropped) if what == "index" else ("loyalty_entry" in dropped)
    after = snapshot(full_database)
    assert {t: r for t, r in after.items() if t not in dropped} == {t: r for t, r in before_rows.items() if t not in dropped}
