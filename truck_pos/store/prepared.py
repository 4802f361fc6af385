"""Prepared INSERTs for the ring-up hot path: the SQL is generated once from the peewee model.

Peewee builds SQL afresh for every query, which costs more than the SQLite insert itself on the
register's hot path. The model stays the single source of truth for table and column names and
for value conversion (``field.db_value``); only the SQL string is cached.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import peewee


class PreparedInsert:
    """``INSERT INTO table (cols...) VALUES (?...)`` for one model and a fixed list of fields."""

    def __init__(self, model: type[peewee.Model], fields: Iterable[str]):
        self.model = model
        self.fields = [model._meta.fields[name] for name in fields]
        columns = ", ".join(f'"{f.column_name}"' for f in self.fields)
        self._columns = columns
        self._sql: dict[str, str] = {}

    def sql(self, db: peewee.Database) -> str:
        sql = self._sql.get(db.param)
        if sql is None:
            marks = ", ".join([db.param] * len(self.fields))
            sql = self._sql[db.param] = f'INSERT INTO "{self.model._meta.table_name}" ({self._columns}) VALUES ({marks})'
        return sql

    def _params(self, values: Mapping[str, Any]) -> list[Any]:
        return [f.db_value(values.get(f.name, f.default() if callable(f.default) else f.default)) for f in self.fields]

    def one(self, db: peewee.Database, values: Mapping[str, Any]) -> int:
        """Insert one row; returns its primary key (SQLite rowid)."""
        return db.execute_sql(self.sql(db), self._params(values)).lastrowid

    def many(self, db: peewee.Database, rows: Iterable[Mapping[str, Any]]) -> None:
        """Insert many rows with one executemany."""
        db.cursor().executemany(self.sql(db), [self._params(r) for r in rows])
