"""Truck-side sync tables: inbound messages already applied, dead letters, the hub's rejections, mobile-order claims."""

from __future__ import annotations

import peewee

from truck_pos.store.base import BaseModel, UtcDateTimeField


class SyncInbound(BaseModel):
    """A down message (campaign, menu, mobile order) already applied: re-deliveries are skipped."""

    key = peewee.CharField(unique=True)
    kind = peewee.CharField()
    received_utc = UtcDateTimeField()


class SyncInboundHash(BaseModel):
    """The body hash of an applied down message: the same id with another body is a conflict, not a re-delivery.

    A table of its own (not a column of sync_inbound) so trucks in the field need no schema migration;
    messages applied before it existed have no hash and are treated as re-deliveries.
    """

    key = peewee.CharField(unique=True)
    body_hash = peewee.CharField()


class SyncDeadLetter(BaseModel):
    """An inbound message the truck refused, kept with the reason so a person can look."""

    received_utc = UtcDateTimeField(index=True)
    topic = peewee.TextField()
    kind = peewee.CharField(default="")
    reason = peewee.TextField()
    payload = peewee.TextField()  # as received (decoded leniently), cut at MAX_KEPT_BYTES
    payload_bytes = peewee.IntegerField()


class SyncRejected(BaseModel):
    """The hub's word that one of our up messages was not stored as sent (``down/rejected``), by outbox seq."""

    seq = peewee.IntegerField(unique=True)
    key = peewee.CharField(default="")
    outcome = peewee.CharField()  # rejected | dead_letter | conflict
    reason = peewee.TextField()
    received_utc = UtcDateTimeField(index=True)


def rejection_summary() -> tuple[int, str]:
    """How many of our up messages the hub refused, and its latest reason (for status lines)."""
    count = SyncRejected.select().count()
    if not count:
        return 0, ""
    return count, SyncRejected.select(SyncRejected.reason).order_by(SyncRejected.id.desc()).get().reason


class MobileOrderClaim(BaseModel):
    """The pickup claim code the cloud issued for a prepaid mobile order."""

    order_uuid = peewee.CharField(unique=True)
    claim = peewee.CharField(index=True)
    received_utc = UtcDateTimeField()
