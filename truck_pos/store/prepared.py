"""Prepared INSERTs for the ring-up hot path: the SQL is generated once from the peewee model.

Peewee builds SQL afresh for every query, and converts every value through a chain of method
calls; on the register's hot path both cost more than the SQLite insert itself. The model stays
the single source of truth for table and column names and for the conversions that change a
value (``db_value`` of datetime, JSON and foreign-key fields); plain ints and strings go to
SQLite as they are (peewee's ``adapt`` only coerces them, and the column affinity does the same).
Rows are tuples in the order of ``fields``; statements run on the raw sqlite3 connection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import peewee

from truck_pos.store.base import JsonField, UtcDateTimeField

_AS_PEEWEE_ERRORS = peewee.ExceptionWrapper(peewee.EXCEPTIONS)  # what peewee's own execute_sql wraps with


def _converter(field: peewee.Field) -> Callable[[Any], Any] | None:
    """How a value of ``field`` is made ready for SQLite, or None when it goes as it is."""
    db_value = field.db_value
    if isinstance(field, peewee.ForeignKeyField):
        return lambda v: v if v is None or type(v) is int else db_value(v)  # an id, or a model instance
    if type(field).db_value is peewee.Field.db_value:  # plain field: db_value only adapts (int(), str())
        return None
    if type(field).db_value is UtcDateTimeField.db_value:
        return _utc_text
    if type(field).db_value is JsonField.db_value:
        return lambda v: "[]" if v == [] else db_value(v)  # most lines have no modifiers: skip the encoder
    return db_value


_last_utc: tuple[Any, Any] = (None, None)


def _utc_text(value: datetime | None) -> str | None:
    """``UtcDateTimeField.db_value``, remembering the last datetime: a sale stores one ``now`` in 8 columns."""
    global _last_utc
    last, text = _last_utc  # one tuple: read and replaced atomically, safe across threads
    if value is last and value is not None:
        return text
    text = _UTC.db_value(value)
    _last_utc = (value, text)  # holds a reference, so the id cannot be reused by another datetime
    return text


_UTC = UtcDateTimeField()


class PreparedInsert:
    """``INSERT INTO table (cols...) VALUES (?...)`` for one model and a fixed list of fields.

    ``expressions`` replaces a field's ``?`` by an SQL expression (its own ``?`` take that field's
    value from the row); ``returning`` adds ``RETURNING`` (``one`` then returns the first row).
    """

    def __init__(self, model: type[peewee.Model], fields: Iterable[str], *,
                 expressions: Mapping[str, str] | None = None, returning: Sequence[str] = ()):
        self.model = model
        self.fields = [model._meta.fields[name] for name in fields]
        self._expressions = dict(expressions or {})
        self._columns = ", ".join(f'"{f.column_name}"' for f in self.fields)
        self._returning = ", ".join(f'"{model._meta.fields[name].column_name}"' for name in returning)
        converters = ((i, _converter(f)) for i, f in enumerate(self.fields))
        self._convert = tuple((i, conv) for i, conv in converters if conv is not None)
        self._sql: dict[str, str] = {}

    def sql(self, db: peewee.Database) -> str:
        """The statement for this database's parameter style (built once per style)."""
        sql = self._sql.get(db.param)
        if sql is None:
            marks = ", ".join(self._expressions.get(f.name, "?").replace("?", db.param) for f in self.fields)
            sql = f'INSERT INTO "{self.model._meta.table_name}" ({self._columns}) VALUES ({marks})'
            if self._returning:
                sql += f" RETURNING {self._returning}"
            self._sql[db.param] = sql
        return sql

    def params(self, row: Sequence[Any]) -> Sequence[Any]:
        """A row (values in the order of ``fields``) with the model's conversions applied."""
        if not self._convert:
            return row
        out = list(row)
        for i, conv in self._convert:
            out[i] = conv(out[i])
        return out

    def one(self, db: peewee.Database, row: Sequence[Any]) -> Any:
        """Insert one row; returns its primary key (SQLite rowid), or the ``returning`` row."""
        with _AS_PEEWEE_ERRORS:  # sqlite3 errors as peewee's (IntegrityError ...), as callers expect
            cursor = db.connection().execute(self.sql(db), self.params(row))
        if self._returning:
            return cursor.fetchall()[0]  # fetch all: the statement must run to its end
        return cursor.lastrowid

    def many(self, db: peewee.Database, rows: Iterable[Sequence[Any]]) -> None:
        """Insert many rows with one executemany."""
        params = self.params
        with _AS_PEEWEE_ERRORS:
            db.connection().executemany(self.sql(db), [params(r) for r in rows])
