"""Truck-side sync tables: inbound messages already applied, dead letters, mobile-order claims."""

from __future__ import annotations

import peewee

from truck_pos.store.base import BaseModel, UtcDateTimeField


class SyncInbound(BaseModel):
    """A down message (campaign, menu, mobile order) already applied: re-deliveries are skipped."""

    key = peewee.CharField(unique=True)
    kind = peewee.CharField()
    received_utc = UtcDateTimeField()


class SyncDeadLetter(BaseModel):
    """An inbound message the truck refused, kept with the reason so a person can look."""

    received_utc = UtcDateTimeField(index=True)
    topic = peewee.TextField()
    kind = peewee.CharField(default="")
    reason = peewee.TextField()
    payload = peewee.TextField()  # as received (decoded leniently), cut at MAX_KEPT_BYTES
    payload_bytes = peewee.IntegerField()


class MobileOrderClaim(BaseModel):
    """The pickup claim code the cloud issued for a prepaid mobile order."""

    order_uuid = peewee.CharField(unique=True)
    claim = peewee.CharField(index=True)
    received_utc = UtcDateTimeField()
