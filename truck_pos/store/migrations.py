"""Schema version and migrations, so a truck upgraded in the field keeps its data.

New tables are created by ``create_tables(safe=True)``. Changes to an existing table (a new
column, an index) are appended to ``MIGRATIONS`` as ``(version, description, function)``;
each runs once, in order, inside a transaction, and bumps ``schema_version``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone

import peewee
from playhouse.migrate import SchemaMigrator

from truck_pos.store.base import BaseModel, UtcDateTimeField

log = logging.getLogger(__name__)


class SchemaVersion(BaseModel):
    """One row per applied migration."""

    version = peewee.IntegerField(primary_key=True)
    description = peewee.TextField()
    applied_utc = UtcDateTimeField()


Migration = Callable[[SchemaMigrator, peewee.Database], None]

# Version 1 is the initial schema (create_tables). Append field changes here, e.g.:
#   (2, "order.note", lambda m, db: migrate(m.add_column("order", "note", TextField(default=""))))
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


def migrate(db: peewee.Database, models: list[type[peewee.Model]]) -> int:
    """Create missing tables, then apply pending migrations; returns the resulting version."""
    with db.atomic():
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
        with db.atomic():
            step(migrator, db)
            SchemaVersion.create(version=number, description=description, applied_utc=now)
    return current_version(db)
