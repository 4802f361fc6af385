"""Proximity -> code: a customer near the truck (a truck's BLE sighting or a geo report) gets their personal code.

Once per customer per campaign window (the send's key says so), on their best consented channel: the
campaign's proximity messages are tried in the order push, sms, email, webhook. The send row is written
in the transaction that stored the event, and this process's schedulers are woken to send it at once.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import peewee

from sync.hub import customers as cu
from sync.hub.messaging import campaigns
from sync.hub.messaging.models import PENDING, HubProximity, HubSend
from sync.hub.models import hub_database

PREFERENCE = ("push", "sms", "email", "webhook")


def on_truck_event(truck: str, body: dict[str, Any], now: datetime) -> str:
    """A ``proximity`` up message was stored: find the person and queue their code; returns what happened."""
    customer = cu.find("truck_ref", body["customer_ref"])
    return handle(customer, body.get("campaign_id"), body["segment"], body["event_key"], body.get("source", "truck_scan"),
                  truck, now)


def handle(customer: cu.HubCustomer | None, campaign_id: str | None, segment: str, event_key: str, source: str,
           truck: str, now: datetime) -> str:
    """Record the event once and queue the code message; the outcome in words (also stored on the event)."""
    try:
        with hub_database.atomic():
            event = HubProximity.create(event_key=event_key[:200], customer=customer, campaign_id=campaign_id,
                                        segment=segment[:64], source=source[:20], truck=truck[:64], received_at=now)
    except peewee.IntegrityError:
        return "duplicate event"
    outcome = _queue(customer, campaign_id, segment, now)
    HubProximity.update(outcome=outcome).where(HubProximity.id == event.id).execute()
    if outcome.startswith("queued"):
        from sync.hub.messaging.scheduler import RUNNING  # noqa: PLC0415 - the scheduler imports this module's callers

        for scheduler in list(RUNNING):
            scheduler.wake.set()
    return outcome


def _queue(customer: cu.HubCustomer | None, campaign_id: str | None, segment: str, now: datetime) -> str:
    if customer is None or customer.erased_at is not None:
        return "unknown customer"
    doc = campaigns.campaign_doc(campaign_id)
    if doc is None:
        return "no campaign stored at the hub for this window"
    messages = [m for m in doc.messages if m.trigger == "proximity"]
    messages = [m for m in messages if m.segment == segment] or messages
    if not messages:
        return "the campaign has no proximity message"
    seg = doc.segment(messages[0].segment)
    if not seg.valid_from_utc <= now <= seg.valid_until_utc:  # type: ignore[operator]
        return "outside the segment's window"
    window = seg.valid_from_utc.isoformat()  # type: ignore[union-attr]
    key = f"prox:{doc.campaign.id}:{window}:{customer.uuid}"
    for m in sorted(messages, key=lambda m: PREFERENCE.index(m.channel)):
        allowed = campaigns.consents(m.channel, [customer.id]).get(customer.id)
        address = campaigns.addresses(m.channel, [customer.id]).get(customer.id)
        if allowed and address:
            inserted = HubSend.insert(key=key, campaign_id=doc.campaign.id, message_id=m.id, segment=m.segment,
                                      channel=m.channel, variant=campaigns.variant_for(m, customer.uuid), customer=customer.id,
                                      recipient=address, code_mode=m.code, due_at=now, state=PENDING,
                                      trigger="proximity").on_conflict_ignore().execute()
            return f"queued {m.channel}" if inserted else "already sent in this window"
    return "no consented channel with an address"


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine; plenty for "close enough to walk over")."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(min(1.0, math.sqrt(a)))


def geo_report(customer: cu.HubCustomer, lat: float, lon: float, now: datetime, campaign_id: str | None = None) -> str:
    """A location from the customer's page or app: inside a stop's radius it raises the proximity event.

    Needs the person's location consent; nothing about the position is stored, only the event.
    """
    if not (isinstance(lat, (int, float)) and isinstance(lon, (int, float)) and -90 <= lat <= 90 and -180 <= lon <= 180):
        return "not a position"
    if not cu.has_consent(customer, "location"):
        return "no location consent"
    rows = campaigns.HubCampaign.select()
    if campaign_id:
        rows = rows.where(campaigns.HubCampaign.campaign_id == campaign_id)
    for row in rows:
        doc = campaigns.campaign_doc(row.campaign_id)
        stop = doc.stop if doc else None
        if doc is None or stop is None or stop.lat is None:
            continue
        if not doc.campaign.valid_from_utc <= now <= doc.campaign.valid_until_utc:
            continue
        if distance_m(lat, lon, stop.lat, stop.lon) <= stop.radius_m:  # type: ignore[arg-type]
            segment = next((m.segment for m in doc.messages if m.trigger == "proximity"), "nearby_devices")
            key = f"geo:{doc.campaign.id}:{customer.uuid}:{now:%Y-%m-%d}"
            return handle(customer, doc.campaign.id, segment, key, "geo_report", "", now)
    return "not near a stop"
