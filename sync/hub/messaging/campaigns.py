"""Campaigns at the hub: store the document, make a job per scheduled message, expand a due job into sends."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sync.hub import customers as cu
from sync.hub.messaging import audiences
from sync.hub.messaging.document import BROADCAST, HubCampaignDoc, Message, parse_document, truck_document
from sync.hub.messaging.models import PENDING, SKIPPED, HubCampaign, HubSend, HubSendJob
from sync.hub.models import hub_database

# Which consent a channel needs (a webhook hands the message to the owner's CRM, which writes email).
CONSENT_OF = {"email": "email", "sms": "sms", "push": "push", "webhook": "email"}
IDENTITY_OF = {"email": "email", "sms": "phone"}
_cache: dict[tuple[str, str], HubCampaignDoc] = {}


def schedule(document: dict[str, Any], now: datetime, default_tz: str = "UTC") -> HubCampaignDoc:
    """Check and store a campaign; one job per scheduled message (re-scheduling moves jobs not yet started)."""
    doc = parse_document(document, default_tz)
    cid = doc.campaign.id
    with hub_database.atomic():
        row = HubCampaign.get_or_none(HubCampaign.campaign_id == cid)
        if row is None:
            HubCampaign.create(campaign_id=cid, document=document, truck_document=truck_document(document), scheduled_at=now)
        else:
            HubCampaign.update(document=document, truck_document=truck_document(document), scheduled_at=now).where(
                HubCampaign.id == row.id).execute()
        for m in doc.messages:
            if m.trigger != "schedule":
                continue
            key = f"{cid}:{m.id}"
            HubSendJob.insert(key=key, campaign_id=cid, message_id=m.id, due_at=m.due_at).on_conflict_ignore().execute()
            HubSendJob.update(due_at=m.due_at).where(HubSendJob.key == key, HubSendJob.state == PENDING).execute()
    return doc


def campaign_doc(campaign_id: str | None) -> HubCampaignDoc | None:
    """The stored campaign, parsed (cached per stored version), or None."""
    if not campaign_id:
        return None
    row = HubCampaign.get_or_none(HubCampaign.campaign_id == campaign_id)
    if row is None:
        return None
    stamp = (campaign_id, hashlib.sha256(json.dumps(row.document, sort_keys=True).encode()).hexdigest())
    doc = _cache.get(stamp)
    if doc is None:
        doc = parse_document(row.document, row.document.get("timezone", "UTC"))
        if len(_cache) > 64:
            _cache.clear()
        _cache[stamp] = doc
    return doc


def variant_for(message: Message, customer_uuid: str) -> str:
    """A stable A/B assignment: the same person always gets the same variant of a message."""
    if len(message.variants) == 1:
        return message.variants[0].name
    point = int(hashlib.sha256(f"{message.id}:{customer_uuid}".encode()).hexdigest()[:8], 16) % 100
    for v in message.variants:
        point -= v.split
        if point < 0:
            return v.name
    return message.variants[-1].name


def _subscription_json(sub: cu.HubPushSubscription) -> str:
    """A push subscription as the JSON the push adapter takes."""
    return json.dumps({"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}})


def addresses(channel: str, ids: list[int]) -> dict[int, str]:
    """Per customer id, where ``channel`` reaches them (customers without one are absent)."""
    if channel in IDENTITY_OF:
        out: dict[int, str] = {}
        for cid, value in (cu.HubIdentity.select(cu.HubIdentity.customer, cu.HubIdentity.value)
                           .where(cu.HubIdentity.kind == IDENTITY_OF[channel], cu.HubIdentity.customer.in_(ids))
                           .order_by(cu.HubIdentity.id.desc()).tuples()):
            out[cid] = value  # the oldest wins (iterated newest first)
        return out
    if channel == "push":
        subs: dict[int, str] = {}
        for sub in (cu.HubPushSubscription.select().where(cu.HubPushSubscription.customer.in_(ids))
                    .order_by(cu.HubPushSubscription.id)):
            subs[sub.customer_id] = _subscription_json(sub)  # the newest wins
        return subs
    return {c.id: c.uuid for c in cu.HubCustomer.select().where(cu.HubCustomer.id.in_(ids))}


def consents(channel: str, ids: list[int]) -> dict[int, bool]:
    """Per customer id, the current decision for the consent ``channel`` needs."""
    out: dict[int, bool] = {}
    for cid, granted in (cu.HubConsent.select(cu.HubConsent.customer, cu.HubConsent.granted)
                         .where(cu.HubConsent.channel == CONSENT_OF.get(channel, channel), cu.HubConsent.customer.in_(ids))
                         .order_by(cu.HubConsent.at, cu.HubConsent.id).tuples()):
        out[cid] = granted
    return out


def expand(doc: HubCampaignDoc, message: Message, now: datetime) -> int:
    """Make the send rows of a due message (one per recipient, or one post); safe to run again."""
    cid = doc.campaign.id
    base = dict(campaign_id=cid, message_id=message.id, segment=message.segment, channel=message.channel,
                due_at=now, code_mode=message.code, state=PENDING)
    if message.channel in BROADCAST:
        HubSend.insert(key=f"{cid}:{message.id}:post", variant=message.variants[0].name, **base).on_conflict_ignore().execute()
        return 1
    people = audiences.members(doc.audiences[message.segment], now)
    rows: list[dict[str, Any]] = []
    for start in range(0, len(people), 1000):
        chunk = people[start:start + 1000]
        ids = [c.id for c in chunk]
        where, allowed = addresses(message.channel, ids), consents(message.channel, ids)
        for c in chunk:
            row = {**base, "key": f"{cid}:{message.id}:{c.uuid}", "customer": c.id, "recipient": where.get(c.id, ""),
                   "variant": variant_for(message, c.uuid)}
            if not allowed.get(c.id):
                row.update(state=SKIPPED, error=f"no {CONSENT_OF[message.channel]} consent")
            elif not row["recipient"]:
                row.update(state=SKIPPED, error=f"no {message.channel} address")
            rows.append(row)
    for start in range(0, len(rows), 500):
        with hub_database.atomic():
            HubSend.insert_many(rows[start:start + 500]).on_conflict_ignore().execute()
    return len(rows)

