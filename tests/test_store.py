"""The store: durability pragmas, schema versioning and field migrations that keep data."""

from __future__ import annotations

import peewee
import pytest

from truck_pos.store import migrations
from truck_pos.store.db import close_database, open_database
from truck_pos.store.models import MenuCategory
from truck_pos.store.outbox import enqueue


def test_database_runs_wal_with_full_sync_and_foreign_keys(tmp_path):
    db = open_database(tmp_path / "t.db")
    try:
        assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute_sql("PRAGMA synchronous").fetchone()[0] == 2
        assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
        assert migrations.current_version(db) == max([migrations.BASELINE, *(n for n, _, _ in migrations.MIGRATIONS)])
    finally:
        close_database()


def test_a_field_upgrade_keeps_existing_rows(tmp_path, monkeypatch):
    path = tmp_path / "t.db"
    open_database(path)
    MenuCategory.create(name="Tacos")
    close_database()

    def add_colour(migrator, db):
        from playhouse.migrate import migrate

        migrate(migrator.add_column("menu_category", "colour", peewee.CharField(default="#ffaa00")))

    top = max([migrations.BASELINE, *(n for n, _, _ in migrations.MIGRATIONS)])  # the newest real migration
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, (top + 1, "menu_category.colour", add_colour)])
    db = open_database(path)
    try:
        assert migrations.current_version(db) == top + 1
        assert db.execute_sql("SELECT name, colour FROM menu_category").fetchall() == [("Tacos", "#ffaa00")]
    finally:
        close_database()
    db = open_database(path)  # a second start applies nothing again
    try:
        assert [r.version for r in migrations.SchemaVersion.select().order_by(migrations.SchemaVersion.version)] == list(
            range(1, top + 2))
    finally:
        close_database()


def test_outbox_rows_only_exist_inside_the_fact_transaction(tmp_path, clock):
    db = open_database(tmp_path / "t.db")
    try:
        with pytest.raises(RuntimeError, match="inside the transaction"):
            enqueue("order", {}, now=clock.now())
        with pytest.raises(ValueError, match="unknown outbox kind"):
            with db.atomic():
                enqueue("gossip", {}, now=clock.now())
    finally:
        close_database()
