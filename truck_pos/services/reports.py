"""Campaign and day reports: gather rows from the store, compute with domain.reports, render table/CSV/PNG."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import peewee

from truck_pos.clock import Clock
from truck_pos.domain import reports as R
from truck_pos.domain.calendar import business_day
from truck_pos.domain.campaign import Campaign
from truck_pos.domain.money import format_cents
from truck_pos.services.campaigns import CampaignService
from truck_pos.store.campaign_models import Customer, CustomerGroup, GroupMembership, Redemption
from truck_pos.store.models import Order, OrderLine, Tender
from truck_pos.store.proximity_models import ProximityEvent, RegisteredDevice

BASELINE_DAYS = 7  # previous days at this stop with sales in the goal window
BASELINE_LOOKBACK = 28


@dataclass(frozen=True)
class GoalProgress:
    """How the goal window is going ("first hour: 23 / 40 customers, $410 / $600")."""

    label: str
    day: str
    customers: int
    customers_target: int | None
    sales_cents: int
    sales_target_cents: int | None
    baseline_cents: int | None = None
    uplift: float | None = None

    def line(self) -> str:
        parts = []
        if self.customers_target:
            parts.append(f"{self.customers} / {self.customers_target} customers")
        if self.sales_target_cents:
            parts.append(f"{format_cents(self.sales_cents, '$').replace('.00', '')} / "
                         f"{format_cents(self.sales_target_cents, '$').replace('.00', '')}")
        return f"{self.label}: " + ", ".join(parts)


@dataclass
class Report:
    """Everything the owner sees for a day or a campaign."""

    title: str
    days: list[str]
    products: list[R.ProductSegment]
    segments: dict[str, tuple[int, int]]
    channels: list[R.ChannelFigures]
    groups: list[R.GroupActivity]
    goals: list[GoalProgress] = field(default_factory=list)
    orders: int = 0
    net_cents: int = 0
    money: R.DayMoney = field(default_factory=R.DayMoney)


def day_money(days: list[str]) -> R.DayMoney:
    """Gross, discounts, voids, refunds, net and tax of orders rung up on these business days (see DayMoney)."""
    orders = list(Order.select(Order.uuid, Order.status, Order.total_cents, Order.discount_cents, Order.tax_cents,
                               Order.tax_mode).where(Order.business_day.in_(days)))
    refunded = dict(Tender.select(Order.uuid, peewee.fn.SUM(Tender.amount_cents)).join(Order)
                    .where(Order.business_day.in_(days), Order.status == "refunded", Tender.amount_cents < 0)
                    .group_by(Order.uuid).tuples())  # refund tenders are negative
    changes = [R.ChangeRow(o.uuid, o.status, o.total_cents if o.status == "voided" else -int(refunded.get(o.uuid, 0)),
                           o.tax_cents) for o in orders if o.status in ("voided", "refunded")]
    return R.day_money([R.MoneyRow(o.uuid, o.total_cents, o.discount_cents, o.tax_cents, o.tax_mode == "inclusive")
                        for o in orders], changes)


class ReportsService:
    """Reports for a business day or for the active (or a stored) campaign."""

    def __init__(self, db: peewee.Database, clock: Clock, campaigns: CampaignService, *, timezone: str,
                 day_start_hour: int = 4, stop: str = ""):
        self.db = db
        self.clock = clock
        self.campaigns = campaigns
        self.timezone = timezone
        self.day_start_hour = day_start_hour
        self.stop = stop

    def today(self) -> str:
        return business_day(self.clock.now(), self.timezone, self.day_start_hour).isoformat()

    # --- goal ------------------------------------------------------------------------------------
    def goal_window(self, day: str, campaign: Campaign) -> tuple[datetime, datetime]:
        """The goal's local window on a business day, in UTC (DST-correct)."""
        assert campaign.goal is not None
        d, tz = date.fromisoformat(day), ZoneInfo(self.timezone)
        start = datetime.combine(d, campaign.goal.start, tz)
        end = datetime.combine(d, campaign.goal.end, tz)
        if end <= start:
            end += timedelta(days=1)
        return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))

    # Raw SQL on purpose: the register screen asks often, and peewee's query building costs more than
    # SQLite here. Unary + keeps SQLite off the unselective status index so it ranges over created_utc.
    _WINDOW_SQL = ('SELECT COUNT(*), SUM(subtotal_cents - discount_cents) FROM "order" '
                   "WHERE created_utc >= ? AND created_utc < ? AND +status IN ('paid', 'handed_over')")

    def _window_sales(self, start: datetime, end: datetime, stop: str | None) -> tuple[int, int]:
        """(sold orders, net cents) created in [start, end), optionally at one stop."""
        params: list[Any] = [Order.created_utc.db_value(start), Order.created_utc.db_value(end)]
        sql = self._WINDOW_SQL
        if stop is not None:
            sql += " AND stop = ?"
            params.append(stop)
        count, cents = self.db.execute_sql(sql, params).fetchone()
        return int(count or 0), int(cents or 0)

    def goal_progress(self, day: str | None = None, *, with_baseline: bool = False) -> GoalProgress | None:
        """Progress against the active campaign's goal; cheap enough for the register screen (one indexed query)."""
        campaign = self.campaigns.active_campaign()
        if campaign is None or campaign.goal is None:
            return None
        return self._goal(campaign, day or self.today(), with_baseline)

    def _goal(self, campaign: Campaign, day: str, with_baseline: bool) -> GoalProgress:
        goal = campaign.goal
        assert goal is not None
        start, end = self.goal_window(day, campaign)
        customers, sales = self._window_sales(start, end, None)
        baseline = lift = None
        if with_baseline:
            history = []
            for back in range(1, BASELINE_LOOKBACK + 1):
                prev = (date.fromisoformat(day) - timedelta(days=back)).isoformat()
                n, cents = self._window_sales(*self.goal_window(prev, campaign), self.stop)
                if n:
                    history.append(cents)
                if len(history) == BASELINE_DAYS:
                    break
            baseline, lift = R.uplift(sales, history)
        return GoalProgress(goal.label, day, customers, goal.customers, sales, goal.sales_cents, baseline, lift)

    # --- reports ---------------------------------------------------------------------------------
    def day_report(self, day: str | None = None) -> Report:
        """Figures for one business day."""
        day = day or self.today()
        campaign = self.campaigns.active_campaign()
        return self._report(f"Business day {day}", [day], campaign)

    def campaign_report(self) -> Report:
        """Figures for the active campaign (or, before it starts, the next one), over its days so far."""
        campaign = self.campaigns.active_campaign() or next(iter(self.campaigns.upcoming()), None)
        if campaign is None:
            return self._report("No active campaign", [], None)
        first = business_day(campaign.valid_from_utc, self.timezone, self.day_start_hour)
        last = min(business_day(campaign.valid_until_utc, self.timezone, self.day_start_hour), date.fromisoformat(self.today()))
        days = [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
        return self._report(f"Campaign {campaign.name} ({campaign.id})", days, campaign)

    def _report(self, title: str, days: list[str], campaign: Campaign | None) -> Report:
        orders = [R.OrderRow(o.uuid, o.created_utc, o.status, o.customer_ref, o.stop, o.subtotal_cents - o.discount_cents)
                  for o in Order.select().where(Order.business_day.in_(days))]
        uuids = [o.uuid for o in orders]
        lines = [R.LineRow(ln.order.uuid, ln.sku, ln.name, ln.quantity, ln.gross_cents - ln.discount_cents)
                 for ln in OrderLine.select(OrderLine, Order).join(Order).where(Order.business_day.in_(days))]
        redemptions = [R.RedemptionRow(r.order_uuid, r.segment, r.channel, r.redeemed_utc, r.amount_cents)
                       for r in Redemption.select().where(Redemption.order_uuid.in_(uuids))]
        products = R.sales_by_product_segment(orders, lines, redemptions, self.customer_segments())
        sold_uuids = {o.uuid for o in R.sold(orders)}
        goals = [self._goal(campaign, d, True) for d in days] if campaign and campaign.goal else []
        return Report(title, days, products, R.sales_by_segment(products),
                      R.channel_figures(redemptions, sold_uuids, self.reach(campaign, days)),
                      R.group_activity(orders, self.memberships()), goals,
                      len(sold_uuids), sum(o.net_cents for o in R.sold(orders)), day_money(days))

    @staticmethod
    def customer_segments() -> dict[str, str]:
        """customer_ref -> segment: registered phones (nearby_devices) then truck registrations."""
        seg = {d.customer_ref: d.segment for d in RegisteredDevice.select(RegisteredDevice.customer_ref, RegisteredDevice.segment)}
        seg.update({c.ref: c.segment for c in Customer.select(Customer.ref, Customer.segment)})
        return seg

    @staticmethod
    def memberships() -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for ref, name in (GroupMembership.select(Customer.ref, CustomerGroup.name).join(Customer)
                          .switch(GroupMembership).join(CustomerGroup).tuples()):
            out.setdefault(ref, []).append(name)
        return out

    def reach(self, campaign: Campaign | None, days: list[str]) -> dict[str, int | None]:
        """Customers reached per channel: proximity events, registrants so far, else the bundle's audience."""
        if campaign is None:
            return {}
        reach: dict[str, int | None] = {}
        for seg in campaign.segments:
            if seg.channel == "proximity":
                n = ProximityEvent.select().where((ProximityEvent.campaign_id == campaign.id) & (ProximityEvent.segment == seg.name)).count()
            elif seg.name == "pos_registrants":
                n = Customer.select().where((Customer.segment == seg.name) & (Customer.created_utc <= campaign.valid_until_utc)).count()
            else:
                n = seg.audience
            reach[seg.channel] = None if n is None and reach.get(seg.channel) is None else (reach.get(seg.channel) or 0) + (n or 0)
        return reach


# --- rendering ----------------------------------------------------------------------------------
def render_table(report: Report) -> str:
    """A plain-text report for the terminal."""
    out = [report.title, f"orders {report.orders}, net sales {format_cents(report.net_cents)}", "", "money"]
    out += [f"  {label:<28}{getattr(report.money, key) if not key.endswith('cents') else format_cents(getattr(report.money, key)):>12}"
            for key, label in R.DayMoney.LABELS]
    out += ["", f"{'segment':<20}{'product':<24}{'units':>7}{'net sales':>12}"]
    out += [f"{p.segment:<20}{p.name[:23]:<24}{p.units:>7}{format_cents(p.net_cents):>12}" for p in report.products]
    out += ["", f"{'channel':<14}{'reach':>8}{'redeemed':>10}{'conversion':>12}{'discounts':>12}"]
    for c in report.channels:
        conv = f"{c.conversion:.1%}" if c.conversion is not None else "n/a"
        out.append(f"{c.channel:<14}{c.reach if c.reach is not None else 'n/a':>8}{c.redemptions:>10}{conv:>12}{format_cents(c.discount_cents):>12}")
    if report.goals:
        out += ["", "goal window"]
        for g in report.goals:
            up = f", baseline {format_cents(g.baseline_cents)}, uplift {g.uplift:+.0%}" if g.uplift is not None and g.baseline_cents is not None else ""
            out.append(f"  {g.day}  {g.line()}{up}")
    if report.groups:
        out += ["", f"{'group':<34}{'stop':<22}{'orders':>7}{'members':>8}{'net sales':>12}"]
        out += [f"{g.group[:33]:<34}{g.stop[:21]:<22}{g.orders:>7}{g.customers:>8}{format_cents(g.net_cents):>12}" for g in report.groups]
    return "\n".join(out) + "\n"


def render_csv(report: Report) -> str:
    """One CSV with a ``table`` column so every section fits one file."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["table", "key1", "key2", "count", "cents", "extra"])
    for key, label in R.DayMoney.LABELS:
        value = getattr(report.money, key)
        w.writerow(["money", key, label, "" if key.endswith("cents") else value, value if key.endswith("cents") else "", ""])
    for p in report.products:
        w.writerow(["product_segment", p.sku, p.segment, p.units, p.net_cents, p.name])
    for c in report.channels:
        w.writerow(["channel", c.channel, "", c.redemptions, c.discount_cents, "" if c.reach is None else c.reach])
    for g in report.goals:
        w.writerow(["goal", g.day, g.label, g.customers, g.sales_cents, "" if g.baseline_cents is None else g.baseline_cents])
    for a in report.groups:
        w.writerow(["group", a.group, a.stop, a.orders, a.net_cents, a.customers])
    return buf.getvalue()


def render_png(report: Report, directory: str | Path) -> list[Path]:
    """Charts: net sales by segment, and the goal window per day against its baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    fig, ax = plt.subplots(figsize=(7, 4))
    names = sorted(report.segments)
    ax.bar(names, [report.segments[n][1] / 100 for n in names], color="#3b7dd8")
    ax.set_ylabel("net sales ($)")
    ax.set_title(f"Sales by segment — {report.title}")
    fig.autofmt_xdate(rotation=20)
    paths.append(directory / "sales_by_segment.png")
    fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
    plt.close(fig)
    if report.goals:
        fig, ax = plt.subplots(figsize=(7, 4))
        days = [g.day for g in report.goals]
        ax.bar(days, [g.sales_cents / 100 for g in report.goals], label="goal window sales", color="#2a9d5c")
        ax.plot(days, [(g.baseline_cents or 0) / 100 for g in report.goals], "k--o", label="baseline (previous days)")
        target = report.goals[0].sales_target_cents
        if target:
            ax.axhline(target / 100, color="#d8553b", label="target")
        ax.set_ylabel("$")
        ax.set_title(f"Goal window: {report.goals[0].label}")
        ax.legend()
        paths.append(directory / "goal_window.png")
        fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
        plt.close(fig)
    return paths
