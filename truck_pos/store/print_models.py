"""Print jobs (the durable print queue), pickup-window state per order, and device secrets."""

from __future__ import annotations

from datetime import datetime, timedelta

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


_J, _L = PrintJob._meta.table_name, PrintLease._meta.table_name
# One INSERT ... ON CONFLICT DO UPDATE: SQLite takes the write lock before the statement reads, so two workers
# (threads or processes) can never both take the same job.
_CLAIM_SQL = (
    f'INSERT INTO "{_L}" (job_id, owner, until_utc, torn) '
    f'SELECT j.id, ?, ?, 0 FROM "{_J}" AS j LEFT JOIN "{_L}" AS l ON l.job_id = j.id '
    "WHERE j.status = 'pending' AND j.next_attempt_utc <= ? AND (l.until_utc IS NULL OR l.until_utc <= ?) "
    "ORDER BY j.id LIMIT 1 "
    "ON CONFLICT(job_id) DO UPDATE SET owner = excluded.owner, until_utc = excluded.until_utc "
    f'WHERE "{_L}".until_utc IS NULL OR "{_L}".until_utc <= ?'
)


def claim_job(db: peewee.Database, owner: str, now: datetime, lease_s: float) -> PrintJob | None:
    """The oldest due pending job whose lease is free or expired, now leased to ``owner``; None if none."""
    stamp = UtcDateTimeField().db_value(now)
    until = UtcDateTimeField().db_value(now + timedelta(seconds=lease_s))
    if not db.execute_sql(_CLAIM_SQL, (owner, until, stamp, stamp, stamp)).rowcount:
        return None
    lease = PrintLease.get_or_none(PrintLease.owner == owner)
    job = PrintJob.get_or_none(PrintJob.id == lease.job_id) if lease else None
    if job is not None:
        job.lease_owner, job.torn = owner, lease.torn  # what the worker needs to print and release it
    return job


def release_lease(job: PrintJob, **changes: object) -> None:
    """Give a claimed job's lease back (``torn=...`` records whether its copy was cut short)."""
    PrintLease.update(owner=None, until_utc=None, **changes).where(
        (PrintLease.job_id == job.id) & (PrintLease.owner == job.lease_owner)).execute()
