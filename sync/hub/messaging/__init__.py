"""Campaign reach on the hub: profiles fed by truck messages, messages per segment x channel, sends, reports."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sync.hub.messaging import feed
from sync.hub.models import hub_database

log = logging.getLogger(__name__)

PROFILE_KINDS = ("registration", "consent", "group_join")


def on_stored(kind: str, truck: str, body: dict[str, Any], now: datetime) -> None:
    """Called by ingest in the transaction that stored a new, valid up message; never raises.

    Runs in a savepoint: a profile that cannot be updated is logged and the message still stored
    (it stays in hub_message, so it can be replayed).
    """
    if kind not in PROFILE_KINDS:
        return
    try:
        with hub_database.atomic():
            feed.apply_up_message(kind, truck, body)
    except Exception:  # noqa: BLE001 - the message is stored either way; this is a derived view
        log.exception("could not fold a %s from %s into the customer profiles", kind, truck)
