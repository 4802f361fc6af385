"""One simulated day (DESIGN.md "One day in the life") through the real services, a real mosquitto and the hub.

``scripts/simulate_day --orders 400 --seed 7 --out sim-out`` runs it; ``run_day(SimConfig(...))`` is
the same from Python (tests/test_simulated_day.py). Time is a FakeClock: the day happens in
simulated time, and every real wait (the broker, the hub, the agent) is a poll with a timeout.

The plan (orders, lines, codes, tenders, mobile orders, pickups, voids and refunds) is drawn from
``seed`` before anything runs; ``expected_figures(plan)`` computes the report's figures and the
day's money from the plan alone, with its own arithmetic (the campaign's published rules and the
README's tax rule), so a test can compare them with what the truck reported and, above all, with
the owner's nightly, which reads nothing but the hub's database.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import secrets
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from fractions import Fraction
from math import floor
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sync.owner import nightly
from sync.agent import AgentConfig, SyncAgent
from sync.hub import Hub, HubConfig
from sync.hub.models import HubMessage, HubMobileOrder, open_hub_database
from sync.agent.inbound import menu_handler, mobile_order_handler, mobile_ticket
from devtools.local_broker import FLEET_ACL, REPO, MosquittoBroker
from sync.transport import BrokerLogin
from truck_pos.bootstrap import Services, build, campaign_handler
from truck_pos.clock import FakeClock
from truck_pos.config import load_settings
from truck_pos.devices.ble import BleScanner
from truck_pos.devices.ble_fake import load_trace, replay_all
from truck_pos.domain.bundle import sign_bundle
from truck_pos.domain.codes import CodeRefused
from truck_pos.errors import NotAuthorized, TruckPosError
from truck_pos.services.reports import render_csv, render_png, render_table
from truck_pos.store import outbox
from truck_pos.store.models import Order
from truck_pos.store.print_models import PickupEntry
from truck_pos.store.proximity_models import ProximityEvent

TZ = "America/Chicago"
DAY = date(2026, 6, 1)  # inside the demo campaign (2026-06-01 10:00 .. 06-07 22:00 local)
TRUCK = "truck-sim"
CAMPAIGN_FILE = REPO / "tests" / "data" / "campaigns" / "demo_campaign.json"
BLE_DIR = REPO / "tests" / "data" / "ble"
TRACE = "rotation"  # 8 phones, address rotation and a return visit: exactly one event each
MENU_FILE = REPO / "truck_pos" / "data" / "demo_menu.json"
SKUS = ["taco-al-pastor", "taco-carnitas", "taco-veggie", "taco-fish", "bowl-burrito", "bowl-nacho", "quesadilla",
        "side-chips", "side-guac", "side-elote", "drink-horchata", "drink-soda", "drink-water"]
# The campaign's codes as the owner wrote them (demo_campaign.json): code -> (segment, channel).
FB, TW, BOGUS = "FB-LIKE-10", "TW-FOLLOW-1", "FREE-LUNCH-99"
STAFF_PIN = "4821"
MANAGER_PIN = "7305"
AFTER_SHARE = 0.03  # of counter orders voided, and as many refunded, right after they are paid


def local(hh: int, mm: int = 0, day: date = DAY) -> datetime:
    """A local wall-clock time of the simulated day, in UTC."""
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=ZoneInfo(TZ)).astimezone(timezone.utc)


@dataclass
class SimConfig:
    orders: int = 400
    seed: int = 7
    out: Path = Path("sim-out")
    hub_db: str = ""  # default: sqlite:///<out>/hub.db; a postgresql:// URL works too
    mobile_share: float = 0.12
    outage: tuple[float, float] = (0.45, 0.6)  # the broker is down for these fractions of the rush
    say: Callable[[str], None] = print
    wait_s: float = 60.0  # the longest any real wait may take


@dataclass
class PlannedOrder:
    """One order as the simulation intends it; everything the expected figures need."""

    n: int
    at: datetime
    channel: str  # counter | mobile
    lines: list[tuple[str, int]]
    code: str | None = None  # typed at the register (counter)
    code_applies: bool = False  # what the owner's rules say (planned, not asked of the register)
    tender: str = "card"  # card | cash | prepaid
    customer_ref: str | None = None
    after: str = ""  # "" | void | refund: what a manager does to it right after it is paid
    uuid: str = ""  # filled once rung up


@dataclass
class DayResult:
    plan: list[PlannedOrder]
    expected: dict[str, Any]
    actual: dict[str, Any]
    hub_order_keys: list[str]
    truck_order_uuids: list[str]
    reconcile: nightly.TruckDay
    proximity_customers: list[str]  # one entry per event
    trace_people: list[str]
    pickups: Counter  # outcome -> count
    handed_over_twice: list[str]
    refused_codes: list[str]
    files: list[Path]
    narrative: list[str] = field(default_factory=list)


# --- the plan ------------------------------------------------------------------------------------
def menu_prices() -> dict[str, int]:
    doc = json.loads(MENU_FILE.read_text("utf-8"))
    return {i["sku"]: i["price_cents"] for c in doc["categories"] for i in c["items"]}


def menu_tax_rates() -> dict[str, int]:
    doc = json.loads(MENU_FILE.read_text("utf-8"))
    return {i["sku"]: i.get("tax_rate_bp", 0) for c in doc["categories"] for i in c["items"]}


def trace_window() -> tuple[datetime, datetime, list[str]]:
    truth = json.loads((BLE_DIR / f"{TRACE}.truth.json").read_text("utf-8"))
    rows = load_trace(BLE_DIR / f"{TRACE}.csv.gz")
    start = datetime.fromtimestamp(truth["start_unix"], timezone.utc)
    return start, start + timedelta(seconds=rows[-1].t_s + 31), [p["device_id"] for p in truth["people"]]


def plan_day(orders: int, seed: int, mobile_share: float = 0.12) -> list[PlannedOrder]:
    """The day's orders, deterministic in ``seed``: 10:45-13:45 local, none while the BLE trace replays."""
    rng = random.Random(seed)
    prices = menu_prices()
    open_at, close_at = local(10, 45), local(13, 45)
    busy_from, busy_to, people = trace_window()
    span = (close_at - open_at).total_seconds() - (busy_to - busy_from).total_seconds()
    step = span / max(orders, 1)
    tw_from, tw_to = local(11), local(12)  # TW-FOLLOW-1's own window
    plan, t = [], open_at
    for n in range(orders):
        t = t + timedelta(seconds=step)
        if busy_from <= t < busy_to:
            t = busy_to + (t - busy_from)
        lines = [(sku, rng.randint(1, 3)) for sku in rng.sample(SKUS, rng.randint(1, 3))]
        subtotal = sum(prices[s] * q for s, q in lines)
        o = PlannedOrder(n, t.replace(microsecond=0), "counter", lines, tender=rng.choice(["cash", "card", "card"]))
        roll = rng.random()
        if roll < mobile_share:
            o.channel, o.tender, o.customer_ref = "mobile", "prepaid", f"app-{n:04d}"
        elif roll < mobile_share + 0.15:
            o.code, o.code_applies = FB, True
        elif roll < mobile_share + 0.25:
            o.code = TW
            o.code_applies = tw_from <= o.at < tw_to and subtotal >= 800
        elif roll < mobile_share + 0.27:
            o.code = BOGUS
        elif t >= busy_to and roll < mobile_share + 0.33:
            o.customer_ref = "c-" + rng.choice(people)  # a registered phone the truck saw nearby
        plan.append(o)
    after = random.Random(seed * 7919 + 1)  # its own stream: adding voids left the rest of the plan as it was
    for o in plan:
        if o.channel == "counter":
            roll = after.random()
            o.after = "void" if roll < AFTER_SHARE else "refund" if roll < 2 * AFTER_SHARE else ""
    return plan


def in_outage(plan: list[PlannedOrder], o: PlannedOrder, outage: tuple[float, float]) -> bool:
    return int(len(plan) * outage[0]) <= o.n < int(len(plan) * outage[1])


def planned_tax(lines: list[tuple[int, int]], discount: int) -> int:
    """The README's tax rule, worked out here on its own: per line (gross, rate bp), on the line's share of the
    discount (largest remainder), exclusive, rounded half up."""
    total = sum(g for g, _ in lines)
    exact = [Fraction(discount * g, total) if total else Fraction(0) for g, _ in lines]
    shares = [floor(x) for x in exact]
    for i in sorted(range(len(lines)), key=lambda i: (-(exact[i] - shares[i]), i))[: discount - sum(shares)]:
        shares[i] += 1
    return sum(floor(Fraction((g - d) * rate, 10_000) + Fraction(1, 2)) for (g, rate), d in zip(lines, shares))


def expected_figures(plan: list[PlannedOrder]) -> dict[str, Any]:
    """What the report must say, computed from the plan with the campaign's published rules."""
    prices, rates = menu_prices(), menu_tax_rates()
    money = dict.fromkeys(("orders", "gross_cents", "discount_cents", "voids", "void_cents", "refunds", "refund_cents",
                           "net_cents", "tax_cents"), 0)
    segments_of_code = {FB: ("facebook_likers", "facebook"), TW: ("twitter_followers", "twitter")}
    goal_from, goal_to = local(11), local(12)
    segs: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    channels: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    out = {"orders": 0, "lines": 0, "net_cents": 0, "mobile_orders": 0, "codes_used": 0, "goal_customers": 0,
           "goal_sales_cents": 0}
    for o in plan:
        subtotal = sum(prices[s] * q for s, q in o.lines)
        discount = 0
        if o.code_applies:
            discount = (subtotal * 10 + 50) // 100 if o.code == FB else min(100, subtotal)
        net = subtotal - discount
        money["orders"] += 1
        money["gross_cents"] += subtotal
        money["discount_cents"] += discount
        if o.after:
            money["voids" if o.after == "void" else "refunds"] += 1
            money["void_cents" if o.after == "void" else "refund_cents"] += net
            continue  # undone: not a sale in any report
        money["net_cents"] += net
        money["tax_cents"] += planned_tax([(prices[s] * q, rates[s]) for s, q in o.lines], discount)
        if o.code_applies:  # redemptions on orders that stayed sold
            channels[segments_of_code[o.code][1]][0] += 1
            channels[segments_of_code[o.code][1]][1] += discount
            out["codes_used"] += 1
        segment = (segments_of_code[o.code][0] if o.code_applies else
                   "nearby_devices" if o.customer_ref and o.customer_ref.startswith("c-") else "walk_in")
        segs[segment][0] += sum(q for _, q in o.lines)
        segs[segment][1] += net
        out["orders"] += 1
        out["lines"] += len(o.lines)
        out["net_cents"] += net
        out["mobile_orders"] += o.channel == "mobile"
        if goal_from <= o.at < goal_to:
            out["goal_customers"] += 1
            out["goal_sales_cents"] += net
    out["money"] = out["truck_money"] = money
    out["segments"] = {k: tuple(v) for k, v in sorted(segs.items())}
    out["redemptions"] = {k: tuple(v) for k, v in sorted(channels.items())}
    return out


def actual_figures(svc: Services, day: str) -> dict[str, Any]:
    """The same figures, read from the services' own report."""
    report = svc.reports.day_report(day)
    orders = list(Order.select().where(Order.business_day == day, Order.status.in_(("paid", "handed_over"))))
    goal = report.goals[0] if report.goals else None
    return {"orders": report.orders, "lines": sum(len(o.lines) for o in orders), "net_cents": report.net_cents,
            "mobile_orders": sum(o.channel == "mobile" for o in orders),
            "codes_used": sum(c.redemptions for c in report.channels),
            "goal_customers": goal.customers if goal else 0, "goal_sales_cents": goal.sales_cents if goal else 0,
            "truck_money": dataclasses.asdict(report.money), "money": None,  # money: the hub's, set by owner_nightly
            "segments": dict(sorted(report.segments.items())),
            "redemptions": {c.channel: (c.redemptions, c.discount_cents) for c in report.channels if c.redemptions}}


# --- running it ----------------------------------------------------------------------------------
def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll a real-world condition (broker, hub, agent) with a bound; RuntimeError names what did not happen."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.02)


class Day:
    """The moving parts of one simulated day; ``run()`` tells the story step by step."""

    def __init__(self, cfg: SimConfig):
        self.cfg = cfg
        self.say = cfg.say
        self.out = Path(cfg.out)
        self.out.mkdir(parents=True, exist_ok=True)
        for stale in ("truck.db", "truck.db-wal", "truck.db-shm", "hub.db", "hub.db-wal", "hub.db-shm"):
            (self.out / stale).unlink(missing_ok=True)
        self.clock = FakeClock(local(21, 0, DAY - timedelta(days=1)))
        self.owner = Ed25519PrivateKey.generate()  # the owner's signing key; made for this run, never written
        pub = self.out / "owner.pub.pem"
        pub.write_bytes(self.owner.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
        passwords = {"hub": secrets.token_urlsafe(12), TRUCK: secrets.token_urlsafe(12)}
        self.broker = MosquittoBroker(self.out / "broker", users=passwords, acl_file=FLEET_ACL)
        self.hub_login = BrokerLogin("127.0.0.1", self.broker.port, "hub", passwords["hub"], keepalive_s=5)
        self.truck_login = BrokerLogin("127.0.0.1", self.broker.port, TRUCK, passwords[TRUCK], keepalive_s=5)
        env = {"TRUCK_POS_STORE_PATH": str(self.out / "truck.db"), "TRUCK_POS_TRUCK_ID": TRUCK,
               "TRUCK_POS_TRUCK_TIMEZONE": TZ, "TRUCK_POS_SECURITY_CAMPAIGN_PUBLIC_KEY_FILE": str(pub)}
        self.svc = build(load_settings(env=env), clock=self.clock)
        self.hub_db = open_hub_database(cfg.hub_db or f"sqlite:///{self.out / 'hub.db'}")
        if HubMessage.select().where(HubMessage.truck == TRUCK).exists():
            self.svc.close()
            self.hub_db.close()
            raise TruckPosError(f"the hub database already holds messages of {TRUCK} (an earlier simulated day); "
                             "give --hub-db an empty database")
        self.hub: Hub | None = None
        self.agent: SyncAgent | None = None
        self.installed: list[str] = []
        self.pickups: Counter = Counter()
        self.refused: list[str] = []
        self.narrative: list[str] = []

    def tell(self, text: str) -> None:
        line = f"[{self.clock.now().astimezone(ZoneInfo(TZ)):%a %H:%M}] {text}"
        self.narrative.append(line)
        self.say(line)

    # --- steps ---------------------------------------------------------------------------------
    def night_before(self) -> None:
        self.broker.start()
        self.hub = Hub(HubConfig(self.hub_login, "truck-pos-hub-sim", shared=False, ack_interval_s=0.1,
                                 reconnect_min_s=0.1, reconnect_max_s=0.5), clock=self.clock).start()
        wait_for(self.hub.connected.is_set, self.cfg.wait_s, "the hub to connect")
        doc = json.loads(CAMPAIGN_FILE.read_text("utf-8"))
        doc["devices"] = [d for d in json.loads((BLE_DIR / "devices.json").read_text("utf-8"))
                          if d["device_id"].startswith(TRACE[:3])]
        self.svc.campaigns.on_installed.append(lambda d: self.installed.append(d["id"]))
        self.hub.publish_campaign(TRUCK, doc["id"], sign_bundle(doc, self.owner)).wait_for_publish(10)
        self.tell(f"owner signs campaign {doc['id']!r} ({len(doc['segments'])} segments, {len(doc['devices'])} "
                  "registered phones) and publishes it, retained")
        self.agent = SyncAgent(self.svc.db, self.clock, AgentConfig(TRUCK, self.truck_login, max_inflight=50, reconnect_min_s=0.1,
                                                                    reconnect_max_s=0.5, ack_timeout_s=2.0),
                               on_campaign=campaign_handler(self.svc.campaigns), on_menu=menu_handler(self.svc.menu),
                               on_mobile_order=mobile_order_handler(self.svc.register, self.svc.db), poll_s=0.05).start()
        wait_for(lambda: self.installed, self.cfg.wait_s, "the truck to verify and install the campaign")
        self.tell(f"truck verified the signature and installed {self.installed[0]!r}; "
                  f"{self.svc.proximity.registered_count()} phones can be recognised")

    def opening(self) -> None:
        self.clock.set(local(10, 30))
        self.svc.staff.add("Sam", STAFF_PIN)
        self.svc.staff.add("Maria", MANAGER_PIN, "manager")
        try:
            self.svc.staff.login("0000")
        except NotAuthorized as exc:
            self.tell(f"a wrong PIN is refused: {exc}")
        self.staff = self.svc.staff.login(STAFF_PIN)
        goal = self.svc.reports.goal_progress()
        self.tell(f"{self.staff.name} logs in; {self.svc.campaigns.status_line()}; goal {goal.line() if goal else '-'}; "
                  f"sync {'online' if self.agent and self.agent.status().connected else 'offline'}")

    def proximity(self) -> list[str]:
        start, _, people = trace_window()
        self.clock.set(start)
        prox = self.svc.proximity
        scanner = BleScanner(prox.on_advertisement, clock=self.clock)  # bleak's callback path, fed by the replay
        replay_all(load_trace(BLE_DIR / f"{TRACE}.csv.gz"), scanner.detection_callback, self.clock, start.timestamp(),
                   tick=prox.tick)
        events = list(ProximityEvent.select())
        self.tell(f"BLE trace {TRACE!r} replayed: {len(events)} proximity events for {len(people)} phones "
                  f"(address rotation, a return visit); the cloud can now send each a code")
        return people

    def ring_up(self, o: PlannedOrder) -> None:
        reg = self.svc.register
        if o.channel == "mobile":
            body = self.mobile_body(o)
            self.hub.send_mobile_order(TRUCK, body)
            wait_for(lambda: Order.select().where(Order.uuid == body["order_id"]).exists(), self.cfg.wait_s,
                     f"mobile order {o.n} to reach the truck")
            o.uuid = body["order_id"]
            return
        ticket = reg.open_ticket()
        for sku, qty in o.lines:
            reg.add_item(ticket.id, sku, qty)
        if o.customer_ref:
            reg.set_customer(ticket.id, o.customer_ref)
        if o.code:
            result = self.svc.redemption.apply_code(ticket.id, o.code)
            if isinstance(result, CodeRefused):
                self.refused.append(f"{o.code}: {result.reason}")
                if len(self.refused) == 1:
                    self.tell(f"code {o.code} refused at the register: {result.reason}")
        if o.tender == "cash":
            due = reg.ticket(ticket.id).totals.total_cents
            o.uuid = reg.pay_cash(ticket.id, -(-due // 500) * 500, self.staff).order_uuid  # next $5 up
        else:
            o.uuid = reg.pay_card(ticket.id, self.staff, reference=f"card-{o.n}").order_uuid
        if o.after == "void":
            reg.void_order(o.uuid, MANAGER_PIN, "customer changed their mind", self.staff)
        elif o.after == "refund":
            reg.refund_order(o.uuid, MANAGER_PIN, "food was cold", self.staff)

    def mobile_body(self, o: PlannedOrder) -> dict[str, Any]:
        items = {e.sku: e for e in self.svc.menu.items()}  # the ordering app's copy of the menu
        body = {"order_id": str(uuid.UUID(int=random.Random(f"{self.cfg.seed}:{o.n}").getrandbits(128), version=4)),
                "lines": [{"sku": s, "name": items[s].name, "quantity": q, "unit_price_cents": items[s].price_cents,
                           "tax_rate_bp": items[s].tax_rate_bp} for s, q in o.lines],
                "customer_ref": o.customer_ref, "claim": f"M{o.n:03d}", "payment_ref": f"app-pay-{o.n}", "total_cents": 0}
        body["total_cents"] = mobile_ticket(body, self.svc.register.tax_mode).totals.total_cents  # what the app charged
        return body

    def pickup_due(self, ready: list[tuple[datetime, PlannedOrder]], until: datetime) -> None:
        while ready and ready[0][0] <= until:
            _, o = ready.pop(0)
            order = Order.get(Order.uuid == o.uuid)
            result = self.svc.pickup.scan(self.svc.pickup.claim_for(order))
            self.pickups[result.outcome] += 1

    def lunch_rush(self, plan: list[PlannedOrder]) -> list[str]:
        people: list[str] = []
        _, busy_to, _ = trace_window()
        ready: list[tuple[datetime, PlannedOrder]] = []
        outage_on = False
        for o in plan:
            if not people and o.at >= busy_to:
                people = self.proximity()
            down = in_outage(plan, o, self.cfg.outage)
            if down and not outage_on:
                self.clock.set(o.at)
                self.broker.kill()
                outage_on = True
                self.tell(f"network outage: the broker is gone (killed); selling goes on "
                          f"({outbox.counts()['queued']} rows waiting)")
            elif not down and outage_on:
                self.clock.set(o.at)
                self.broker.start()
                outage_on = False
                wait_for(lambda: self.agent.status().connected and self.hub.connected.is_set(), self.cfg.wait_s,
                         "the truck and the hub to reconnect")
                self.tell(f"network back: the agent reconnects and drains {outbox.counts()['queued']} queued rows")
            if down and o.channel == "mobile":
                o.channel, o.tender = "counter", "card"  # the app cannot reach the truck: the customer walks up
                o.customer_ref = None
            self.clock.set(o.at)
            self.pickup_due(ready, o.at)
            self.ring_up(o)
            if not o.after:  # a voided or refunded order is not collected
                ready.append((o.at + timedelta(minutes=4), o))
            if o.n and o.n % max(1, len(plan) // 4) == 0:
                goal = self.svc.reports.goal_progress()
                self.tell(f"{o.n} orders so far; {goal.line() if goal else ''}")
        if not people:
            people = self.proximity()
        self.clock.set(local(14, 15))
        self.pickup_due(ready, self.clock.now())
        again = self.svc.pickup.scan(self.svc.pickup.claim_for(Order.get(Order.uuid == plan[0].uuid)))
        self.tell(f"lunch over: {len(plan)} orders; a second scan of order #1's receipt says: {again.message}")
        return people

    def drain(self) -> None:
        self.clock.set(local(22, 0))
        wait_for(lambda: outbox.counts()["queued"] == 0 and outbox.counts()["unacked"] == 0, self.cfg.wait_s,
                 "the outbox to drain and the hub to ack everything")
        self.tell(f"outbox drained: {outbox.counts()['acked']} rows acked by the hub")

    def owner_nightly(self) -> tuple[nightly.TruckDay, dict[str, Any], list[Path]]:
        start, end = nightly.day_window(DAY, TZ)
        days = nightly.pull_day(start, end, [TRUCK], progress=False)
        day = nightly.reconcile(days[TRUCK], nightly.truck_outbox(self.out / "truck.db", start, end),
                                nightly.hub_keys(TRUCK, start, end))
        files = nightly.write_reports(nightly.summary(DAY, days), self.out / "nightly")
        report = self.svc.reports.day_report(DAY.isoformat())
        (self.out / "report.txt").write_text(render_table(report), "utf-8")
        (self.out / "report.csv").write_text(render_csv(report), "utf-8")
        files += [self.out / "report.txt", self.out / "report.csv", *render_png(report, self.out / "charts")]
        self.tell(f"owner's nightly: hub has {day.orders} orders, net sales ${day.sales_cents / 100:,.2f} after "
                  f"{day.money['voids']} voids and {day.money['refunds']} refunds; "
                  f"{'reconciled, nothing missing' if day.reconciled else 'NOT reconciled'}")
        actual = actual_figures(self.svc, DAY.isoformat())
        actual["money"] = day.money  # the hub's alone (pull_day reads only the hub database)
        return day, actual, files

    def close(self) -> None:
        for stop in (self.agent.stop if self.agent else None, self.hub.stop if self.hub else None, self.broker.kill,
                     self.svc.close, self.hub_db.close):
            if stop is not None:
                try:
                    stop()
                except Exception:  # noqa: BLE001 - tearing down; the first error already told the story
                    pass


def run_day(cfg: SimConfig) -> DayResult:
    """Run the whole day; the result carries the plan, the expected and the reported figures."""
    plan = plan_day(cfg.orders, cfg.seed, cfg.mobile_share)
    day = Day(cfg)
    try:
        day.night_before()
        day.opening()
        people = day.lunch_rush(plan)
        day.drain()
        reconciled, actual, files = day.owner_nightly()
        hub_keys = [k for (k,) in HubMessage.select(HubMessage.key).where(HubMessage.kind == "order").tuples()]
        truck_uuids = [u for (u,) in Order.select(Order.uuid).tuples()]
        events = [e.customer_ref for e in ProximityEvent.select()]
        undone = {o.uuid for o in plan if o.after}
        twice = [e.order_uuid for e in PickupEntry.select() if e.state != "handed_over" and e.order_uuid not in undone]
        mobile_pending = HubMobileOrder.select().where(HubMobileOrder.delivered_utc.is_null()).count()
        if mobile_pending:
            day.tell(f"{mobile_pending} mobile orders not confirmed by the truck")
        return DayResult(plan, expected_figures(plan), actual, hub_keys, truck_uuids, reconciled, events, people,
                         day.pickups, twice, day.refused, files, day.narrative)
    finally:
        day.close()


def print_figures(result: DayResult, say: Callable[[str], None] = print) -> None:
    e, a = result.expected, result.actual
    say("")
    say(f"{'figure':<22}{'expected':>18}{'reported':>18}")
    for key in ("orders", "lines", "mobile_orders", "codes_used", "net_cents", "goal_customers", "goal_sales_cents"):
        say(f"{key:<22}{e[key]:>18}{a[key]:>18}{'' if e[key] == a[key] else '   MISMATCH'}")
    for seg in sorted(set(e["segments"]) | set(a["segments"])):
        say(f"{'segment ' + seg:<34}{str(e['segments'].get(seg)):>14}{str(a['segments'].get(seg)):>18}")
    for key in e["money"]:
        say(f"{'money ' + key:<22}{e['money'][key]:>18}{a['money'][key]:>18}"
            f"{'' if e['money'][key] == a['money'][key] == a['truck_money'][key] else '   MISMATCH (hub/truck)'}")
    for ch in sorted(set(e["redemptions"]) | set(a["redemptions"])):
        say(f"{'redeemed via ' + ch:<34}{str(e['redemptions'].get(ch)):>14}{str(a['redemptions'].get(ch)):>18}")
    say(f"hub orders {len(result.hub_order_keys)} (distinct {len(set(result.hub_order_keys))}); truck orders "
        f"{len(result.truck_order_uuids)}; refused codes {len(result.refused_codes)}; pickups {dict(result.pickups)}")
    say("files: " + ", ".join(str(p) for p in result.files))


def main(argv: list[str] | None = None) -> int:
    """``scripts/simulate_day``: run the day, print the story and the figures; exit 1 on a mismatch."""
    p = argparse.ArgumentParser(prog="simulate_day", description=__doc__.splitlines()[0])
    p.add_argument("--orders", type=int, default=400)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", default="sim-out", help="directory for the databases, reports and charts")
    p.add_argument("--hub-db", default="", help="hub database URL (default: sqlite:///OUT/hub.db)")
    args = p.parse_args(argv)
    try:
        result = run_day(SimConfig(orders=args.orders, seed=args.seed, out=Path(args.out), hub_db=args.hub_db))
    except (TruckPosError, RuntimeError) as exc:  # RuntimeError: mosquitto missing, or a bounded wait ran out
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print_figures(result)
    ok = result.expected == result.actual and result.reconcile.reconciled
    print("figures match" if ok else "MISMATCH between the plan and the report", file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
