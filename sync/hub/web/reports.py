"""Console figures from ingested truck messages: fleet rows, first-hour goal per truck, segments, redemptions."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import peewee

from sync.hub.models import HubMessage, HubMobileOrder, HubTruck
from markupsafe import Markup

from sync.hub.web import campaigns, places
from sync.hub.models import HubDoubleSpend
from sync.hub.web.models import HubWebCampaign, HubWebPublish

try:  # optional part of the hub (imported here so its tables are registered before create_web_tables)
    from sync.hub.messaging import report as messaging_report
except ImportError:  # pragma: no cover - depends on what is installed
    messaging_report = None

MAX_ROWS = 20_000  # messages of one kind read for a report page (newest first)


def double_spends(limit: int = 200) -> list[HubDoubleSpend]:
    """Uses beyond what a code allows, as the hub flagged them when the second use arrived (sync/hub/spends.py)."""
    return list(HubDoubleSpend.select().order_by(HubDoubleSpend.flagged_utc.desc()).limit(limit))


def fleet_rows(now: datetime) -> list[dict[str, Any]]:
    """Per truck: online/offline, last message, ack gaps (backlog), unconfirmed mobile orders, campaign loaded."""
    rows = []
    for truck in campaigns.fleet():
        t = HubTruck.get_or_none(HubTruck.truck == truck)
        last = HubMessage.select(peewee.fn.MAX(HubMessage.received_utc), peewee.fn.MAX(HubMessage.seq)).where(
            HubMessage.truck == truck).tuples().first() or (None, None)
        waiting = HubMobileOrder.select().where(HubMobileOrder.truck == truck, HubMobileOrder.delivered_utc.is_null()).count()
        loaded = "-"
        for msg in (HubMessage.select(HubMessage.body).where(HubMessage.truck == truck, HubMessage.kind == "campaign_status",
                                                             HubMessage.status == "ok").order_by(HubMessage.id.desc()).limit(20)):
            if (msg.body or {}).get("accepted"):
                loaded = str(msg.body.get("campaign_id"))
                break
        published = HubWebPublish.select().where(HubWebPublish.truck == truck).order_by(HubWebPublish.id.desc()).first()
        seen = t.last_seen_utc if t else None
        rows.append({"truck": truck, "online": bool(t and t.status == "online"),
                     "last_sync": last[0].strftime("%Y-%m-%d %H:%M UTC") if last[0] else "never",
                     "last_seen": seen.strftime("%Y-%m-%d %H:%M UTC") if seen else "never",
                     "gap": max(0, (last[1] or 0) - (t.contiguous_seq if t else 0)), "mobile_waiting": waiting,
                     "campaign": loaded, "published": published.campaign_id if published else "-"})
    return rows


def _bodies(kind: str) -> list[dict[str, Any]]:
    query = (HubMessage.select(HubMessage.truck, HubMessage.body).where(HubMessage.kind == kind, HubMessage.status == "ok")
             .order_by(HubMessage.id.desc()).limit(MAX_ROWS))
    return [{**(m.body or {}), "truck": (m.body or {}).get("truck") or m.truck} for m in query]


def goal_rows(order_bodies: list[dict[str, Any]], goal: dict[str, Any] | None, tz: str) -> list[dict[str, Any]]:
    """Customers and sales inside the goal's local window, per truck and business day, against the goal."""
    if not goal:
        return []
    start, end = time.fromisoformat(goal["start"]), time.fromisoformat(goal["end"])
    zone = ZoneInfo(tz)
    figures: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for body in order_bodies:
        if body.get("status") != "paid" or not body.get("paid_at"):
            continue
        try:
            paid = datetime.fromisoformat(body["paid_at"]).astimezone(zone)
        except (TypeError, ValueError):
            continue
        if start <= paid.time() < end:
            f = figures[(body["truck"], body.get("business_day", paid.date().isoformat()))]
            f[0] += 1
            f[1] += int(body.get("total_cents", 0))
    return [{"truck": truck, "day": day, "customers": c, "sales_cents": s, "goal_customers": goal.get("customers"),
             "goal_sales_cents": goal.get("sales_cents"),
             "met": (goal.get("customers") is None or c >= goal["customers"])
             and (goal.get("sales_cents") is None or s >= goal["sales_cents"])}
            for (truck, day), (c, s) in sorted(figures.items())]


def segment_rows(redemptions: list[dict[str, Any]], order_bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per campaign and segment: redemptions, the discount they gave, and the sales of the orders they were on."""
    seen: dict[str, dict[str, Any]] = {}
    for body in redemptions:
        seen.setdefault(str(body.get("redemption_id")), body)
    totals = {str(o.get("order_id")): int(o.get("total_cents", 0)) for o in order_bodies if o.get("status") == "paid"}
    table: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    orders: dict[tuple[str, str], set[str]] = defaultdict(set)
    for body in seen.values():
        key = (str(body.get("campaign_id")), str(body.get("segment")))
        table[key][0] += 1
        table[key][1] += int(body.get("amount_cents", 0))
        orders[key].add(str(body.get("order_id")))
    return [{"campaign": c, "segment": s, "redemptions": n, "discount_cents": a,
             "sales_cents": sum(totals.get(o, 0) for o in orders[(c, s)])} for (c, s), (n, a) in sorted(table.items())]


def known_stops() -> dict[str, tuple[float, float]]:
    """Stops with coordinates from the campaign documents (newest wins for a name)."""
    stops: dict[str, tuple[float, float]] = {}
    for row in HubWebCampaign.select().order_by(HubWebCampaign.updated_utc):
        stop = row.document.get("stop")
        if isinstance(stop, dict) and isinstance(stop.get("lat"), (int, float)) and isinstance(stop.get("lon"), (int, float)):
            stops[str(stop.get("name") or row.campaign_id)[:200]] = (float(stop["lat"]), float(stop["lon"]))
    return stops


def reach_rows(campaign_id: str) -> list[Any] | None:
    """Reach and conversion per segment, channel and variant from the messaging tools (None when not installed)."""
    if messaging_report is None:
        return None
    rows, _tests = messaging_report.build(campaign_id)
    return rows


def overview(tz: str) -> dict[str, Any]:
    """Everything the reports page shows."""
    latest = HubWebCampaign.select().where(HubWebCampaign.published_utc.is_null(False)).order_by(
        HubWebCampaign.published_utc.desc()).first()
    goal = (latest.document.get("goal") if latest else None) or None
    redemptions, order_bodies = _bodies("redemption"), _bodies("order")
    stops = known_stops()
    points = places.group_points(_bodies("group_join"), stops)
    return {"campaign": latest.campaign_id if latest else "", "goal": goal,
            "goals": goal_rows(order_bodies, goal, tz), "segments": segment_rows(redemptions, order_bodies),
            "doubles": double_spends(),
            "reach": reach_rows(latest.campaign_id) if latest else None,
            "map": Markup(places.svg(points, stops)),  # noqa: S704 - built by places.svg with every text escaped
            "suggestions": places.suggest(points, stops)[:5]}
