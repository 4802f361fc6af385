"""Hub dead letters: what is kept about a message that was not stored as sent, and the words for why."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from sync import protocol
from sync.hub.models import HubDeadLetter, HubMessage

if TYPE_CHECKING:
    from sync.hub.outbound import Notice

log = logging.getLogger(__name__)

MAX_KEPT_PAYLOAD = 65536  # characters of a dead letter's payload kept
MAX_KEPT_TOPIC = 1000


def clean_text(text: str, limit: int) -> str:
    """Text any database column takes: NUL and lone surrogates escaped, cut at ``limit``."""
    text = text[:limit]
    if "\x00" in text or protocol.has_control_chars(text):
        text = text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def failure_reason(exc: BaseException) -> str:
    """The dead letter's reason when storing a message raised."""
    return clean_text(f"the hub failed to store it: {type(exc).__name__}: {exc}", protocol.MAX_REASON_LEN)


def stored_hash(key: str) -> str:
    """The body hash stored under ``key`` (computed from the body for rows stored before hashes were kept)."""
    row = HubMessage.select(HubMessage.body_hash, HubMessage.body).where(HubMessage.key == key).get()
    if row.body_hash:
        return row.body_hash
    return protocol.body_hash(row.body) if row.body is not None else ""


def dead_letter(topic: str, payload: bytes, reason: str, now: datetime, notices: list["Notice"], *,
                truck: str | None = None, seq: int | None = None, key: str = "", outcome: str = "dead_letter",
                body_hash: str = "", stored: str = "") -> tuple[str, str]:
    """Keep one message as a dead letter (in the caller's transaction); tell its truck when it is placed.

    A placed letter (truck and seq known) counts as done for the ack. The same letter delivered
    again (same truck, seq and payload) is a duplicate, not a second letter.
    """
    from sync.hub.outbound import Notice

    reason = clean_text(reason, protocol.MAX_REASON_LEN)
    digest = body_hash or protocol.raw_hash(payload)
    if truck is not None and seq is not None:
        if HubDeadLetter.select().where(HubDeadLetter.truck == truck, HubDeadLetter.seq == seq,
                                        HubDeadLetter.body_hash == digest).exists():
            return "duplicate", key
        notices.append(Notice(truck, seq, key, outcome, reason))
    log.warning("hub dead letter on %s (%s): %s", topic[:200], outcome, reason)
    text = bytes(payload[:MAX_KEPT_PAYLOAD]).decode("utf-8", "replace")
    HubDeadLetter.create(received_utc=now, topic=clean_text(topic, MAX_KEPT_TOPIC), reason=reason,
                         payload=clean_text(text, MAX_KEPT_PAYLOAD), truck=truck, seq=seq, key=key, outcome=outcome,
                         body_hash=digest, stored_hash=stored)
    return ("conflict" if outcome == "conflict" else "dead"), key
