"""Open the truck's SQLite database with the durability pragmas, and bring its schema up to date."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from pathlib import Path

import peewee

from truck_pos.store.base import MODELS, database

log = logging.getLogger(__name__)

# WAL lets the UI read while a writer commits; synchronous=FULL makes a commit durable across a
# power cut before we tell anyone "paid" (NORMAL would only protect against application crashes).
PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": 2,  # FULL
    "foreign_keys": 1,
    "busy_timeout": 5000,
    "cache_size": -8000,  # 8 MiB
}


def load_all_models() -> list[type[peewee.Model]]:
    """Import every model module under truck_pos.store so each registers its tables."""
    import truck_pos.store as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{info.name}")
    return list(MODELS)


def open_database(path: str | Path) -> peewee.SqliteDatabase:
    """Open (creating if needed) the SQLite file, bind the models to it and migrate the schema."""
    path = str(path)
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # Every transaction takes the write lock at BEGIN: a read-then-write transaction that upgrades
    # later can fail with SQLITE_BUSY (no busy wait) next to the print worker or the sync agent.
    db = peewee.SqliteDatabase(path, pragmas=PRAGMAS, check_same_thread=False, lock_type="IMMEDIATE")
    database.initialize(db)
    db.connect(reuse_if_open=True)
    from truck_pos.store.migrations import migrate

    migrate(db, load_all_models())
    return db


def close_database() -> None:
    """Close the bound database, if any."""
    if database.obj is not None and not database.is_closed():
        database.close()
