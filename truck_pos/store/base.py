"""The peewee base model, the database proxy it binds to, and the model registry.

Every model module under ``truck_pos.store`` subclasses :class:`BaseModel`; subclasses register
themselves, so ``init_schema`` creates the tables of every feature without a central list.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import peewee

database = peewee.DatabaseProxy()

MODELS: list[type["BaseModel"]] = []


class UtcDateTimeField(peewee.TextField):
    """An aware UTC datetime stored as ISO-8601 text (sorts correctly, survives any backend)."""

    def db_value(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC field")
        return value.astimezone(timezone.utc).isoformat(timespec="microseconds")

    def python_value(self, value: str | None) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)


class JsonField(peewee.TextField):
    """A JSON document stored as compact text."""

    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, separators=(",", ":"), sort_keys=True)

    def python_value(self, value: str | None) -> Any:
        return None if value is None else json.loads(value)


class BaseModel(peewee.Model):
    """Binds to the shared proxy and registers concrete models for ``init_schema``."""

    class Meta:
        database = database
        legacy_table_names = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        MODELS.append(cls)
