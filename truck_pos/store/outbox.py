"""The sync outbox: every fact that must reach the cloud, written in the same transaction as the fact.

Rows are never deleted before the hub has acknowledged them. ``seq`` is the per-truck sequence
number of the envelope; ``key`` (a uuid) is its idempotency key.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import peewee

from truck_pos.store.base import BaseModel, JsonField, UtcDateTimeField, database
from truck_pos.store.prepared import PreparedInsert

UP_KINDS = ("order", "redemption", "registration", "group_join", "proximity", "pickup", "audit", "consent",
            "order_voided", "order_refunded", "campaign_status", "loyalty")


class Outbox(BaseModel):
    """One message waiting to go up (or already sent / acknowledged)."""

    seq = peewee.AutoField()
    key = peewee.CharField(unique=True)
    kind = peewee.CharField(index=True)
    payload = JsonField()
    created_utc = UtcDateTimeField()
    sent_utc = UtcDateTimeField(null=True, index=True)
    acked_utc = UtcDateTimeField(null=True)


# The rows not yet acknowledged, for the status bar's "N waiting" every second: a partial index keeps that
# count proportional to what is waiting, not to a year of history (acked rows are kept).
Outbox.add_index(peewee.ModelIndex(Outbox, (Outbox.seq,), name="outbox_waiting", where=Outbox.acked_utc.is_null()))

_INSERT = PreparedInsert(Outbox, ["key", "kind", "payload", "created_utc"])


def enqueue(kind: str, body: dict[str, Any], *, now: datetime, key: str | None = None) -> Outbox:
    """Add a message; call inside the ``db.atomic()`` that writes the fact it describes."""
    key = key or str(uuid.uuid4())
    return Outbox(seq=append(kind, body, now=now, key=key), key=key, kind=kind, payload=body, created_utc=now)


def append(kind: str, body: dict[str, Any], *, now: datetime, key: str | None = None) -> int:
    """``enqueue`` for the ring-up hot path: the same row, returns only its ``seq`` (no model built)."""
    if kind not in UP_KINDS:
        raise ValueError(f"unknown outbox kind {kind!r}")
    if not database.in_transaction():
        raise RuntimeError("outbox.enqueue must run inside the transaction of the fact it records")
    return _INSERT.one(database, (key or str(uuid.uuid4()), kind, body, now))


def pending(limit: int = 100, after_seq: int = 0) -> list[Outbox]:
    """Rows not yet acknowledged by the broker, oldest first."""
    return list(
        Outbox.select()
        .where(Outbox.sent_utc.is_null(), Outbox.seq > after_seq)
        .order_by(Outbox.seq)
        .limit(limit)
    )


def mark_sent(seqs: list[int], now: datetime) -> int:
    """Record the broker's PUBACK for these rows."""
    return Outbox.update(sent_utc=now).where(Outbox.seq.in_(seqs), Outbox.sent_utc.is_null()).execute()


def mark_acked_through(seq: int, now: datetime) -> int:
    """Record the hub's ack: everything up to ``seq`` is ingested."""
    return (
        Outbox.update(acked_utc=now, sent_utc=peewee.fn.COALESCE(Outbox.sent_utc, now))
        .where(Outbox.seq <= seq, Outbox.acked_utc.is_null())
        .execute()
    )


def waiting() -> int:
    """Messages not yet acknowledged by the hub (queued or sent), counted through the partial index."""
    return Outbox.select().where(Outbox.acked_utc.is_null()).count()


def waiting_counts() -> tuple[int, int]:
    """(queued: not yet sent, unacked: sent, not yet acked), through the indexes only (what a status shows
    every second). An acked row always has ``sent_utc`` (``mark_acked_through``), so queued rows are waiting ones."""
    queued = Outbox.select().where(Outbox.sent_utc.is_null()).count()
    return queued, waiting() - queued


def counts() -> dict[str, int]:
    """Queued (not yet sent), sent-not-acked and acked totals (the acked total reads the whole table: CLIs only)."""
    queued, unacked = waiting_counts()
    acked = Outbox.select().where(Outbox.acked_utc.is_null(False)).count()
    return {"queued": queued, "unacked": unacked, "acked": acked}


def stored_rows(*where: Any, limit: int) -> list[tuple[int, str, str, str, str]]:
    """Unacked outbox rows as (seq, key, kind, created text, payload JSON text), oldest first, undecoded.

    Runs peewee's SQL on the raw cursor: per-row model conversion cost more than the publish itself.
    """
    query = (Outbox.select(Outbox.seq, Outbox.key, Outbox.kind, Outbox.created_utc.cast("TEXT"), Outbox.payload.cast("TEXT"))
             .where(Outbox.acked_utc.is_null(), *where).order_by(Outbox.seq).limit(limit))
    sql, params = query.sql()
    return database.execute_sql(sql, params).fetchall()


def mark_sent_ranges(seqs: list[int], now: datetime) -> None:
    """outbox.mark_sent for many seqs, as one UPDATE per contiguous run (PUBACKs come nearly in order)."""
    seqs = sorted(seqs)
    runs: list[tuple[int, int]] = []
    for seq in seqs:
        if runs and seq == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], seq)
        else:
            runs.append((seq, seq))
    with database.atomic():
        for first, last in runs:
            Outbox.update(sent_utc=now).where(Outbox.seq.between(first, last), Outbox.sent_utc.is_null()).execute()
