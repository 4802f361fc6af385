"""Wrong-PIN state per terminal: survives a restart, so pulling the plug does not reset a lockout."""

from __future__ import annotations

import peewee

from truck_pos.store.base import BaseModel, UtcDateTimeField


class PinGuard(BaseModel):
    """Wrong PINs in a row on one terminal, when the last one was typed, and whether it is locked."""

    terminal = peewee.CharField(unique=True)
    failures = peewee.IntegerField(default=0)
    last_failure_utc = UtcDateTimeField(null=True)
    locked = peewee.BooleanField(default=False)
