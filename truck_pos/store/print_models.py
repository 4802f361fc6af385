"""Print jobs (the durable print queue), pickup-window state per order, and device secrets."""

from __future__ import annotations

import peewee

from truck_pos.store.base import BaseModel, UtcDateTimeField

PRINT_KINDS = ("receipt", "kitchen")
PRINT_STATUSES = ("pending", "printed", "cancelled")
PICKUP_STATES = ("preparing", "ready", "handed_over", "voided", "refunded")


class PrintJob(BaseModel):
    """One receipt or kitchen ticket to print; stored with the order, retried until printed."""

    order_uuid = peewee.CharField(index=True)
    kind = peewee.CharField(constraints=[peewee.Check("kind in ('receipt','kitchen')")])
    reprint = peewee.BooleanField(default=False)
    status = peewee.CharField(default="pending", index=True)
    attempts = peewee.IntegerField(default=0)
    created_utc = UtcDateTimeField()
    next_attempt_utc = UtcDateTimeField(index=True)
    printed_utc = UtcDateTimeField(null=True)
    last_error = peewee.TextField(default="")


class PrintLease(BaseModel):
    """Which worker may print a job, until when (taken in one statement; an expired lease is taken over).

    A table of its own rather than columns of PrintJob, so trucks in the field get it without a migration.
    """

    job_id = peewee.IntegerField(primary_key=True)
    owner = peewee.CharField(null=True)
    until_utc = UtcDateTimeField(null=True)
    torn = peewee.BooleanField(default=False)  # the last attempt died mid-job: the next starts with a cut


class PickupEntry(BaseModel):
    """Where a paid order is at the pickup window: preparing -> ready -> handed_over (or voided/refunded: gone)."""

    order_uuid = peewee.CharField(unique=True)
    business_day = peewee.CharField(index=True)
    number = peewee.IntegerField()
    channel = peewee.CharField(default="counter")
    state = peewee.CharField(default="preparing", index=True)
    created_utc = UtcDateTimeField()
    ready_utc = UtcDateTimeField(null=True)
    handed_over_utc = UtcDateTimeField(null=True)


class DeviceSecret(BaseModel):
    """A key generated on the truck (e.g. the claim-code key when none is provisioned). Never printed or synced."""

    name = peewee.CharField(unique=True)
    value = peewee.BlobField()
    created_utc = UtcDateTimeField()
