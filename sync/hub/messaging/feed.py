"""Truck registrations, consent withdrawals and group joins folded into the hub's customer profiles."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sync.hub.customers import (MARKETING_CHANNELS, HubCustomer, identity, join_group, normalized_pairs,
                                record_consent, upsert_profile)
from truck_pos.errors import InvalidInput


def apply_up_message(kind: str, truck: str, body: dict[str, Any]) -> HubCustomer | None:
    """Fold a stored registration / consent / group_join from a truck into the profiles (others: None)."""
    if kind not in ("registration", "consent", "group_join"):
        return None
    source = f"truck:{truck}"
    ref = body["customer_ref"]
    if kind == "registration":
        ids = [("truck_ref", ref)]
        for k in ("email", "phone"):
            try:
                ids += normalized_pairs([(k, body.get(k))])
            except InvalidInput:
                pass  # the truck normalized it already; a bad value must not lose the registration
        customer, _ = upsert_profile(ids, body.get("first_name") if isinstance(body.get("first_name"), str) else None, source)
        consent = body["consent"]
        at = _when(consent.get("at"))
        channels = [c for c, k in (("email", "email"), ("sms", "phone")) if identity(customer, k)]
        for channel in channels:
            record_consent(customer, channel, bool(consent.get("granted")), source=source,
                           wording_version=str(consent.get("wording_version", "")), at=at)
        return customer
    customer, _ = upsert_profile([("truck_ref", ref)], source=source)
    if kind == "consent":
        for channel in MARKETING_CHANNELS:
            record_consent(customer, channel, bool(body["granted"]), source=source,
                           wording_version=str(body.get("wording_version", "")), at=_when(body.get("at")))
    else:
        join_group(customer, body["group"], _when(body.get("joined_at")))
    return customer


def _when(text: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return datetime.now(timezone.utc)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
