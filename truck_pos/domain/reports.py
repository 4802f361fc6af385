"""Report figures from plain rows. Pure.

Attribution of an order to a segment: the segment of the code redeemed on it (the first, if
stacked), else the customer's segment, else ``walk_in``. Sales are net of discounts, before tax.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

WALK_IN = "walk_in"
SOLD = ("paid", "handed_over")


@dataclass(frozen=True)
class OrderRow:
    uuid: str
    created_utc: datetime
    status: str
    customer_ref: str | None
    stop: str
    net_cents: int  # subtotal - discounts


@dataclass(frozen=True)
class LineRow:
    order_uuid: str
    sku: str
    name: str
    quantity: int
    net_cents: int  # gross - discount share


@dataclass(frozen=True)
class RedemptionRow:
    order_uuid: str
    segment: str
    channel: str
    redeemed_utc: datetime
    amount_cents: int


@dataclass(frozen=True)
class ProductSegment:
    sku: str
    name: str
    segment: str
    units: int
    net_cents: int


@dataclass(frozen=True)
class ChannelFigures:
    channel: str
    reach: int | None
    redemptions: int
    discount_cents: int

    @property
    def conversion(self) -> float | None:
        return self.redemptions / self.reach if self.reach else None


@dataclass(frozen=True)
class GroupActivity:
    group: str
    stop: str
    orders: int
    customers: int
    net_cents: int


def sold(orders: Iterable[OrderRow]) -> list[OrderRow]:
    return [o for o in orders if o.status in SOLD]


def attribute(orders: Iterable[OrderRow], redemptions: Iterable[RedemptionRow], customer_segments: Mapping[str, str]) -> dict[str, str]:
    """order uuid -> segment, by the attribution rule above."""
    first: dict[str, RedemptionRow] = {}
    for r in sorted(redemptions, key=lambda r: r.redeemed_utc):
        first.setdefault(r.order_uuid, r)
    result = {}
    for o in orders:
        if o.uuid in first:
            result[o.uuid] = first[o.uuid].segment
        elif o.customer_ref and o.customer_ref in customer_segments:
            result[o.uuid] = customer_segments[o.customer_ref]
        else:
            result[o.uuid] = WALK_IN
    return result


def sales_by_product_segment(orders: Iterable[OrderRow], lines: Iterable[LineRow], redemptions: Iterable[RedemptionRow],
                             customer_segments: Mapping[str, str]) -> list[ProductSegment]:
    """Units and net sales per (product, segment), sold orders only, sorted by segment then sku."""
    kept = sold(orders)
    segment_of = attribute(kept, redemptions, customer_segments)
    units: dict[tuple[str, str], list] = defaultdict(lambda: ["", 0, 0])
    for line in lines:
        seg = segment_of.get(line.order_uuid)
        if seg is None:
            continue
        acc = units[(line.sku, seg)]
        acc[0], acc[1], acc[2] = line.name, acc[1] + line.quantity, acc[2] + line.net_cents
    return sorted((ProductSegment(sku, v[0], seg, v[1], v[2]) for (sku, seg), v in units.items()), key=lambda p: (p.segment, p.sku))


def sales_by_segment(rows: Iterable[ProductSegment]) -> dict[str, tuple[int, int]]:
    """segment -> (units, net cents)."""
    out: dict[str, tuple[int, int]] = {}
    for r in rows:
        u, c = out.get(r.segment, (0, 0))
        out[r.segment] = (u + r.units, c + r.net_cents)
    return out


def channel_figures(redemptions: Iterable[RedemptionRow], sold_uuids: set[str], reach: Mapping[str, int | None]) -> list[ChannelFigures]:
    """Redemptions on sold orders and conversion (redemptions / reach) per channel."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in redemptions:
        if r.order_uuid in sold_uuids:
            counts[r.channel][0] += 1
            counts[r.channel][1] += r.amount_cents
    channels = sorted(set(counts) | set(reach))
    return [ChannelFigures(c, reach.get(c), counts[c][0], counts[c][1]) for c in channels]


def window_figures(orders: Iterable[OrderRow], start_utc: datetime, end_utc: datetime) -> tuple[int, int]:
    """(customers = sold orders, net cents) with start <= created < end."""
    inside = [o for o in sold(orders) if start_utc <= o.created_utc < end_utc]
    return len(inside), sum(o.net_cents for o in inside)


def uplift(current_cents: int, baseline_days_cents: list[int]) -> tuple[int | None, float | None]:
    """(baseline average cents, uplift fraction) against previous days; (None, None) without history."""
    if not baseline_days_cents:
        return None, None
    baseline = sum(baseline_days_cents) // len(baseline_days_cents)
    return baseline, ((current_cents - baseline) / baseline if baseline else None)


def group_activity(orders: Iterable[OrderRow], memberships: Mapping[str, list[str]]) -> list[GroupActivity]:
    """Per (group, stop): sold orders by members, distinct members, net sales."""
    acc: dict[tuple[str, str], list] = defaultdict(lambda: [0, set(), 0])
    for o in sold(orders):
        for group in memberships.get(o.customer_ref or "", []):
            a = acc[(group, o.stop)]
            a[0] += 1
            a[1].add(o.customer_ref)
            a[2] += o.net_cents
    return sorted((GroupActivity(g, s, v[0], len(v[1]), v[2]) for (g, s), v in acc.items()), key=lambda x: (x.group, -x.orders, x.stop))


@dataclass(frozen=True)
class MoneyRow:
    """An order as both sides know it: its ``order`` message or row (cents as charged)."""

    uuid: str
    total_cents: int
    discount_cents: int
    tax_cents: int
    tax_included: bool = False  # tax_mode inclusive: the prices (and so the sales) contain the tax

    @property
    def sales_cents(self) -> int:
        """What the order sold for, after discounts, as priced (before tax unless prices include it)."""
        return self.total_cents - (0 if self.tax_included else self.tax_cents)


@dataclass(frozen=True)
class ChangeRow:
    """A void or refund of an order (``order_voided`` / ``order_refunded``)."""

    order_uuid: str
    kind: str  # voided | refunded
    amount_cents: int
    tax_cents: int


@dataclass(frozen=True)
class DayMoney:
    """A day's money, each figure labelled the same way on the truck, at the hub and in the nightly.

    Sales are as priced (subtotal - discounts: before tax, or tax included when the truck's prices
    include it): gross = before discounts; voids and refunds = the sales they undo; net = gross -
    discounts - voids - refunds (the sales the day kept, as the reports screen shows them); tax =
    the tax on what the day kept. A void or refund counts on the day of its order.
    """

    orders: int = 0
    gross_cents: int = 0
    discount_cents: int = 0
    voids: int = 0
    void_cents: int = 0
    refunds: int = 0
    refund_cents: int = 0
    net_cents: int = 0
    tax_cents: int = 0

    LABELS = (("orders", "orders rung up"), ("gross_cents", "gross sales (before discounts)"), ("discount_cents", "discounts"),
              ("voids", "voided orders"), ("void_cents", "voids"), ("refunds", "refunded orders"),
              ("refund_cents", "refunds"), ("net_cents", "net sales (kept)"), ("tax_cents", "tax (on net sales)"))


def day_money(orders: Iterable[MoneyRow], changes: Iterable[ChangeRow]) -> DayMoney:
    """The day's labelled money from its orders and the voids/refunds of those orders (one change per order)."""
    by_uuid = {o.uuid: o for o in orders}
    undone: dict[str, ChangeRow] = {}
    for c in changes:
        if c.order_uuid in by_uuid:
            undone.setdefault(c.order_uuid, c)  # an order is voided or refunded once; a replay counts once
    voids = [c for c in undone.values() if c.kind == "voided"]
    refunds = [c for c in undone.values() if c.kind == "refunded"]
    gross = sum(o.sales_cents + o.discount_cents for o in by_uuid.values())
    discounts = sum(o.discount_cents for o in by_uuid.values())

    def undone_sales(c: ChangeRow) -> int:  # amounts are the money given back, tax included
        return c.amount_cents - (0 if by_uuid[c.order_uuid].tax_included else c.tax_cents)

    void_cents = sum(undone_sales(c) for c in voids)
    refund_cents = sum(undone_sales(c) for c in refunds)
    tax = sum(o.tax_cents for o in by_uuid.values()) - sum(c.tax_cents for c in undone.values())
    return DayMoney(len(by_uuid), gross, discounts, len(voids), void_cents, len(refunds), refund_cents,
                    gross - discounts - void_cents - refund_cents, tax)
