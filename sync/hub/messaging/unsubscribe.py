"""Unsubscribe: signed links (email/push), STOP replies (SMS), and the consent change going down to the trucks."""

from __future__ import annotations

import hmac
import logging
import uuid
from datetime import datetime
from typing import Any

from sync.hub import customers as cu
from sync.hub.messaging.campaigns import CONSENT_OF
from sync.hub.messaging.models import HubConsentDown, HubSend
from sync.hub.models import HubTruck, hub_database

log = logging.getLogger(__name__)

STOP_WORDS = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE")
START_WORDS = ("START", "UNSTOP", "YES")
_NS = uuid.UUID("9d1c7a52-55a3-4c51-a0a6-2f3e64f2a4b1")


def make_token(secret: bytes, send_id: int, send_key: str) -> str:
    """The unsubscribe token of one send: its id and a MAC only the hub can make."""
    mac = hmac.digest(secret, f"unsubscribe:{send_id}:{send_key}".encode(), "sha256").hex()[:24]  # one C call
    return f"{send_id}.{mac}"


def link(base_url: str, secret: bytes, send_id: int, send_key: str) -> str:
    """The unsubscribe link put in an email or push message (served by the hub's web part at /u/<token>)."""
    return f"{base_url}/u/{make_token(secret, send_id, send_key)}"


def unsubscribe(secret: bytes, token: str, now: datetime) -> tuple[bool, str]:
    """Withdraw the consent the message's channel used; returns (done, sentence for the page). Never raises."""
    sid, _, mac = (token or "")[:200].partition(".")
    row = HubSend.get_or_none(HubSend.id == int(sid)) if sid.isdigit() and len(sid) < 19 else None
    if row is None or not hmac.compare_digest(make_token(secret, row.id, row.key), f"{sid}.{mac}"):
        return False, "This unsubscribe link is not valid (it may have been cut short)."
    if row.customer is None:
        return False, "This message was not sent to a person."
    channel = CONSENT_OF.get(row.channel, row.channel)
    with hub_database.atomic():
        withdraw(row.customer, channel, source=f"unsubscribe:{row.campaign_id}", now=now)
        HubSend.update(unsubscribed_at=now).where(HubSend.id == row.id, HubSend.unsubscribed_at.is_null()).execute()
    return True, f"You will get no more {channel} messages from us."


def sms_reply(phone: str, text: str, now: datetime) -> str:
    """An SMS sent to our number (Twilio's inbound webhook): STOP withdraws, START grants again; returns the reply."""
    word = "".join((text or "").split()).upper()[:20]
    customer = cu.find("phone", phone or "")
    if customer is None or word not in STOP_WORDS + START_WORDS:
        return ""
    with hub_database.atomic():
        if word in STOP_WORDS:
            withdraw(customer, "sms", source="sms:STOP", now=now)
            _latest_sms(customer, now)
            return "You are unsubscribed and will get no more messages. Reply START to subscribe again."
        cu.record_consent(customer, "sms", True, source="sms:START", wording_version="sms-start", at=now)
        queue_down(customer, "sms", True, "sms-start", now)
    return "You are subscribed again. Reply STOP to unsubscribe."


def _latest_sms(customer: cu.HubCustomer, now: datetime) -> None:
    """Count the STOP against the last SMS the person got (the report's "unsubscribed")."""
    last = (HubSend.select(HubSend.id)
            .where(HubSend.customer == customer, HubSend.channel == "sms", HubSend.sent_at.is_null(False))
            .order_by(HubSend.sent_at.desc()).first())
    if last is not None:
        HubSend.update(unsubscribed_at=now).where(HubSend.id == last.id, HubSend.unsubscribed_at.is_null()).execute()


def withdraw(customer: cu.HubCustomer, channel: str, *, source: str, now: datetime) -> None:
    """Record the withdrawal and queue it for the trucks."""
    cu.record_consent(customer, channel, False, source=source, wording_version="withdrawal", at=now)
    queue_down(customer, channel, False, "withdrawal", now)


def queue_down(customer: cu.HubCustomer, channel: str, granted: bool, wording: str, now: datetime) -> int:
    """One ``consent`` down body per truck reference the customer has (trucks know people by those)."""
    refs = [i.value for i in cu.HubIdentity.select()
            .where(cu.HubIdentity.customer == customer, cu.HubIdentity.kind == "truck_ref")]
    for ref in refs:
        body = {"customer_ref": ref, "granted": granted, "channel": channel, "wording_version": wording,
                "at": now.isoformat(), "source": "hub"}
        HubConsentDown.create(key=str(uuid.uuid4()), body=body, created_at=now)
    return len(refs)


def publish_pending(publish: Any, now: datetime, limit: int = 500) -> int:
    """Send queued consent changes to every known truck (``publish(truck, kind, body, key)``); marks them published."""
    rows = list(HubConsentDown.select().where(HubConsentDown.published_at.is_null()).order_by(HubConsentDown.id).limit(limit))
    trucks = [t.truck for t in HubTruck.select(HubTruck.truck)]
    for row in rows:
        for truck in trucks:
            publish(truck, "consent", row.body, str(uuid.uuid5(_NS, f"{row.key}:{truck}")))
        HubConsentDown.update(published_at=now).where(HubConsentDown.id == row.id).execute()
    return len(rows)

