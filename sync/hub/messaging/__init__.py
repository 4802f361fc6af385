"""Campaign reach on the hub: profiles fed by truck messages, messages per segment x channel, sends, reports."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sync.hub.messaging import feed, models, proximity  # noqa: F401 - models: the reach tables exist wherever the hub runs
from sync.hub.messaging.proximity import geo_report
from sync.hub.models import hub_database

log = logging.getLogger(__name__)

PROFILE_KINDS = ("registration", "consent", "group_join")
__all__ = ["on_stored", "geo_report"]


def on_stored(kind: str, truck: str, body: dict[str, Any], now: datetime) -> None:
    """Called by ingest in the transaction that stored a new, valid up message (profiles, proximity -> code).

    Never raises; runs in a savepoint: a profile or code message that cannot be made is logged and the
    message is still stored (it stays in hub_message, so it can be replayed).
    """
    if kind not in PROFILE_KINDS + ("proximity",):
        return
    try:
        with hub_database.atomic():
            if kind == "proximity":
                proximity.on_truck_event(truck, body, now)
            else:
                feed.apply_up_message(kind, truck, body)
    except Exception:  # noqa: BLE001 - the message is stored either way; this is a derived view
        log.exception("could not apply a %s from %s to the customer profiles or reach", kind, truck)
