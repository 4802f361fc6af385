"""Double spends: a personal (or one-per-customer) code used more often than allowed across the fleet.

Trucks check limits offline, so two trucks that are both offline can each accept the same
personal code. The hub sees both redemptions when they arrive; ``record`` (called by ingest in
the redemption's own transaction) keeps every limited use and flags the use that goes over the
limit, naming the earlier order and this one. The owner's nightly lists the flags.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sync.hub.models import HubCodeUse, HubDoubleSpend


def allowed_uses(body: dict[str, Any]) -> int | None:
    """How often the code may be used by one holder: the truck's ``uses_per_customer``, else 1 for a personal code."""
    limit = body.get("uses_per_customer")
    if type(limit) is int and limit > 0:
        return limit
    return 1 if body.get("kind") == "personal" else None


def record(key: str, truck: str, body: dict[str, Any], now: datetime) -> HubDoubleSpend | None:
    """Keep a limited use; returns the flag when this use is one too many (call inside the ingest transaction)."""
    allowed = allowed_uses(body)
    holder = body.get("customer_ref") or body.get("code") or ""
    if allowed is None or not holder:
        return None
    of_holder = ((HubCodeUse.campaign_id == body["campaign_id"]) & (HubCodeUse.segment == body["segment"])
                 & (HubCodeUse.holder == holder))
    earlier = list(HubCodeUse.select().where(of_holder, HubCodeUse.order_id != body["order_id"])
                   .order_by(HubCodeUse.redeemed_at, HubCodeUse.id))
    HubCodeUse.create(redemption_key=key, truck=truck, order_id=body["order_id"], campaign_id=body["campaign_id"],
                      segment=body["segment"], holder=holder, code=body["code"], allowed=allowed,
                      redeemed_at=body["redeemed_at"])
    orders = {u.order_id for u in earlier}
    if len(orders) < allowed:
        return None
    first = earlier[0]
    return HubDoubleSpend.create(
        redemption_key=key, campaign_id=body["campaign_id"], segment=body["segment"], holder=holder, code=body["code"],
        first_truck=first.truck, first_order=first.order_id, first_at=first.redeemed_at, second_truck=truck,
        second_order=body["order_id"], second_at=body["redeemed_at"], flagged_utc=now)


def flagged(since_utc: datetime, until_utc: datetime) -> list[dict[str, Any]]:
    """The double spends flagged in a window, oldest first, each with both orders."""
    rows = (HubDoubleSpend.select().where(HubDoubleSpend.flagged_utc >= since_utc, HubDoubleSpend.flagged_utc < until_utc)
            .order_by(HubDoubleSpend.flagged_utc, HubDoubleSpend.id))
    return [{"code": r.code, "holder": r.holder, "campaign_id": r.campaign_id, "segment": r.segment,
             "first": {"truck": r.first_truck, "order_id": r.first_order, "at": r.first_at},
             "second": {"truck": r.second_truck, "order_id": r.second_order, "at": r.second_at}} for r in rows]
