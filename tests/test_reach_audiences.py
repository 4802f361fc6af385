"""Segment rules over profiles, evaluated at send time from what the trucks sent up (orders, visits)."""

from __future__ import annotations

from datetime import timedelta

from sync.hub import customers as cu
from sync.hub.messaging import audiences
from sync.hub.models import HubMessage
from tests.reach.db import hub_url  # noqa: F401 (fixture)
from tests.reach.world import utc

NOW = utc(2026, 6, 1, 18)


def test_rules_pick_people_by_registration_group_purchases_and_absence(hub_url):
    seq = iter(range(1, 1000))

    def order(ref: str, days_ago: int, status: str = "paid") -> None:
        n = next(seq)
        HubMessage.create(key=f"o{n}", truck="t", seq=n, kind="order", ts_utc=NOW - timedelta(days=days_ago), received_utc=NOW,
                          body={"order_id": f"o{n}", "customer_ref": ref, "status": status, "total_cents": 900})

    old = NOW - timedelta(days=90)
    regular, _ = cu.upsert_profile({"truck_ref": "c-reg", "email": "reg@example.com"}, "Reg", now=old)
    lapsed, _ = cu.upsert_profile({"truck_ref": "c-lap", "phone": "+13125550101"}, "Lap", now=old)
    once, _ = cu.upsert_profile({"truck_ref": "c-one"}, "One", now=old)
    imported, _ = cu.upsert_profile({"email": "csv@example.com"}, "Csv", now=old)  # never at a truck
    cu.join_group(imported, "Acme")
    cu.join_group(regular, "Acme")
    for days in (1, 5, 20):
        order("c-reg", days)
    order("c-reg", 2, status="voided")
    order("c-one", 3)
    order("c-lap", 45)

    names = lambda spec: sorted(c.first_name for c in audiences.members(spec, NOW))  # noqa: E731
    assert names({"rule": {"registered_at_truck": True}}) == ["Lap", "One", "Reg"]
    assert names({"rule": {"in_group": "Acme"}}) == ["Csv", "Reg"]
    assert names({"group": "Acme"}) == ["Csv", "Reg"]
    assert names({"rule": {"has": "email"}}) == ["Csv", "Reg"]
    assert names({"rule": {"registered_at_truck": True, "min_purchases": 2}}) == ["Reg"]  # the voided one does not count
    assert names({"rule": {"min_purchases": 4}}) == []
    assert names({"rule": {"min_purchases": 1, "days": 60}}) == ["Lap", "One", "Reg"]
    assert names({"rule": {"registered_at_truck": True, "not_seen_days": 30}}) == ["Lap"]
    cu.erase(regular, now=NOW)
    assert names({"group": "Acme"}) == ["Csv"]
