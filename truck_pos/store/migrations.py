"""Schema version and migrations, so a truck upgraded in the field keeps its data.

New tables are created by ``create_tables(safe=True)``. Changes to an existing table (a new
column, an index) are appended to ``MIGRATIONS`` as ``(version, description, function)``;
each runs once, in order, inside a transaction, and bumps ``schema_version``.

Many changes make peewee rebuild the table (SQLite cannot add a NOT NULL column in place): a new
table is filled, the old one dropped, the new one renamed. With ``foreign_keys=ON`` that DROP
deletes every child row through ``ON DELETE CASCADE`` (an order's lines and tenders). So each
migration follows SQLite's documented procedure for table rebuilds: ``foreign_keys=OFF`` before
its transaction (SQLite ignores the pragma inside one), ``PRAGMA foreign_key_check`` before the
commit (any dangling reference rolls the migration back), then ``foreign_keys=ON`` again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone

import peewee
from playhouse.migrate import SchemaMigrator

from truck_pos.errors import TruckPosError
from truck_pos.store.base import BaseModel, UtcDateTimeField

log = logging.getLogger(__name__)


class SchemaVersion(BaseModel):
    """One row per applied migration."""

    version = peewee.IntegerField(primary_key=True)
    description = peewee.TextField()
    applied_utc = UtcDateTimeField()


Migration = Callable[[SchemaMigrator, peewee.Database], None]



class MigrationFailed(TruckPosError):
    """A migration would leave the database inconsistent; it was rolled back and the data is as before."""

# Version 1 is the initial schema (create_tables). Append field changes here, e.g. (a table rebuild):
#   (3, "order.table_label", lambda m, db: migrate(m.add_column("order", "table_label", TextField(default=""))))
MIGRATIONS: list[tuple[int, str, Migration]] = [
    (2, "staff.language", lambda m, db: _add_column(m, "staff", "language", peewee.CharField(default="en"))),
]

BASELINE = 1


def _add_column(migrator: SchemaMigrator, table: str, name: str, field: peewee.Field) -> None:
    from playhouse.migrate import migrate as run

    run(migrator.add_column(table, name, field))


def current_version(db: peewee.Database) -> int:
    """The highest applied schema version (0 for an empty database)."""
    row = SchemaVersion.select(peewee.fn.MAX(SchemaVersion.version)).scalar()
    return int(row or 0)


def schema_present(db: peewee.Database, models: list[type[peewee.Model]]) -> bool:
    """Every model's table and every index it declares exist already (one query; no DDL built)."""
    names = {row[0] for row in db.execute_sql("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')")}
    return all(m._meta.table_name in names and all(i._name in names for i in m._meta.fields_to_index())
               for m in models)


def migrate(db: peewee.Database, models: list[type[peewee.Model]]) -> int:
    """Create missing tables, then apply pending migrations; returns the resulting version."""
    with db.atomic():
        if not schema_present(db, models):  # the usual start: nothing to create, no DDL generated
            db.create_tables(models, safe=True)
        version = current_version(db)
        now = datetime.now(timezone.utc)
        if version == 0:
            # A fresh database already has the newest shape: record every version as applied.
            SchemaVersion.create(version=BASELINE, description="initial schema", applied_utc=now)
            for number, description, _ in MIGRATIONS:
                SchemaVersion.create(version=number, description=description, applied_utc=now)
            return current_version(db)
    migrator = SchemaMigrator.from_database(db)
    for number, description, step in MIGRATIONS:
        if number <= version:
            continue
        log.info("applying migration %d: %s", number, description)
        _apply(db, migrator, number, description, step, now)
    return current_version(db)


def _apply(db: peewee.Database, migrator: SchemaMigrator, number: int, description: str, step: Migration,
           now: datetime) -> None:
    """One migration with SQLite's table-rebuild procedure: no cascades, references checked before commit."""
    db.execute_sql("PRAGMA foreign_keys=OFF")  # outside the transaction: inside one SQLite ignores it
    try:
        with db.atomic():
            step(migrator, db)
            dangling = db.execute_sql("PRAGMA foreign_key_check").fetchall()
            if dangling:
                table, rowid, parent, _ = dangling[0]
                raise MigrationFailed(f"migration {number} ({description}) would leave {len(dangling)} dangling "
                                      f"reference(s), e.g. {table} row {rowid} -> {parent}; nothing was changed")
            SchemaVersion.create(version=number, description=description, applied_utc=now)
    finally:
        db.execute_sql("PRAGMA foreign_keys=ON")
