"""Reports on a generated campaign day equal the figures computed here, independently, from the raw rows."""

from __future__ import annotations

import csv
import io
import random
import sqlite3
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from campaign_support import build_services, install
from truck_pos.domain.codes import CodeAccepted, PersonalCode, issue_personal_code
from truck_pos.services.reports import render_csv, render_png, render_table
from truck_pos.store.proximity_models import ProximityEvent, RegisteredDevice

DAY = "2026-06-01"
SKUS = ["taco-al-pastor", "taco-fish", "bowl-burrito", "bowl-nacho", "side-chips", "drink-soda", "drink-horchata"]
OPEN_UTC = datetime(2026, 6, 1, 15, 30, tzinfo=timezone.utc)  # 10:30 CDT


def ring(svc, rng, customer=None, code=None):
    tid = svc.register.open_ticket().id
    for _ in range(rng.randint(1, 4)):
        svc.register.add_item(tid, rng.choice(SKUS), rng.randint(1, 2))
    if customer:
        svc.register.set_customer(tid, customer)
    result = svc.redemption.apply_code(tid, code) if code else None
    if code and not isinstance(result, CodeAccepted):
        svc.register.remove_discounts(tid)
    return svc.register.pay_card(tid)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Three ordinary days before the campaign, then a campaign day with codes, customers and groups."""
    from truck_pos.clock import FakeClock

    owner = Ed25519PrivateKey.generate()
    clock = FakeClock(OPEN_UTC - timedelta(days=3))
    path = tmp_path_factory.mktemp("reports")
    svc = build_services(path, clock, owner)
    rng = random.Random(7)
    for back in (3, 2, 1):
        clock.set(OPEN_UTC - timedelta(days=back))
        for _ in range(rng.randint(8, 14)):
            clock.advance(minutes=rng.randint(3, 15))
            ring(svc, rng)
    clock.set(OPEN_UTC - timedelta(hours=1))
    install(svc, owner)
    registrants = [svc.registration.register(email=f"r{i}@example.com")[0] for i in range(6)]
    for ref in registrants[:3]:
        svc.registration.join_group(ref, "Acme Corporation, Accounting")
    svc.registration.join_group(registrants[3], "Night Shift Nurses")
    devices = [f"d-{i}" for i in range(5)]
    for i, ref in enumerate(devices):
        RegisteredDevice.create(device_id=f"dev{i}", customer_ref=ref, secret=b"x" * 16)
        ProximityEvent.create(key=f"{ref}:summer-launch", customer_ref=ref, campaign_id="summer-launch",
                              first_seen_utc=OPEN_UTC, segment="nearby_devices")
    svc.staff.add("Maria", "9999", "manager")
    clock.set(OPEN_UTC)
    paid = []
    for n in range(70):
        clock.advance(minutes=rng.randint(1, 4))
        kind = rng.random()
        if kind < 0.25:
            paid.append(ring(svc, rng, code=rng.choice(["FB-LIKE-10", "TW-FOLLOW-1", "NOPE"])))
        elif kind < 0.45:
            paid.append(ring(svc, rng, customer=rng.choice(registrants), code=rng.choice([None, "THANKS-JOIN"])))
        elif kind < 0.6:
            ref = rng.choice(devices)
            code = issue_personal_code(PersonalCode("summer-launch", "nearby_devices", ref), owner)
            paid.append(ring(svc, rng, code=code if rng.random() < 0.7 else None, customer=ref))
        else:
            paid.append(ring(svc, rng))
    svc.register.void_order(paid[5].order_uuid, "9999", "customer left")
    clock.set(datetime(2026, 6, 2, 3, 0, tzinfo=timezone.utc))  # 22:00 CDT, still the same business day
    yield svc, str(path / "truck.db")
    svc.close()


def independent_figures(db_path: str):
    con = sqlite3.connect(db_path)
    q = lambda sql, *a: con.execute(sql, a).fetchall()  # noqa: E731
    orders = {u: (cust, stop) for u, cust, stop in q(
        "select uuid, customer_ref, stop from \"order\" where business_day=? and status in ('paid','handed_over')", DAY)}
    seg_of_customer = dict(q("select customer_ref, segment from registered_device"))
    seg_of_customer.update(dict(q("select ref, segment from customer")))
    first_redemption = {}
    for order_uuid, segment, ts in q("select order_uuid, segment, redeemed_utc from redemption order by redeemed_utc"):
        first_redemption.setdefault(order_uuid, segment)
    segment = {u: first_redemption.get(u) or seg_of_customer.get(c or "") or "walk_in" for u, (c, _) in orders.items()}
    products = defaultdict(lambda: [0, 0])
    for u, sku, qty, gross, disc in q("select o.uuid, l.sku, l.quantity, l.gross_cents, l.discount_cents from order_line l "
                                      "join \"order\" o on o.id = l.order_id where o.business_day=?", DAY):
        if u in orders:
            products[(sku, segment[u])][0] += qty
            products[(sku, segment[u])][1] += gross - disc
    channels = defaultdict(lambda: [0, 0])
    for u, channel, amount in q("select order_uuid, channel, amount_cents from redemption"):
        if u in orders:
            channels[channel][0] += 1
            channels[channel][1] += amount
    window = q("select count(*), sum(subtotal_cents - discount_cents) from \"order\" where status in ('paid','handed_over') "
               "and created_utc >= ? and created_utc < ?", "2026-06-01T16:00:00.000000+00:00", "2026-06-01T17:00:00.000000+00:00")[0]
    history = []
    for d in ("2026-05-31", "2026-05-30", "2026-05-29"):
        cents = q("select sum(subtotal_cents - discount_cents) from \"order\" where status in ('paid','handed_over') and "
                  "created_utc >= ? and created_utc < ? and stop = 'Main St & 5th'",
                  f"{d}T16:00:00.000000+00:00", f"{d}T17:00:00.000000+00:00")[0][0]
        if cents:
            history.append(cents)
    groups = defaultdict(lambda: [0, set(), 0])
    for u, name, cust, stop, net in q(
            "select o.uuid, g.name, c.ref, o.stop, o.subtotal_cents - o.discount_cents from \"order\" o "
            "join customer c on c.ref = o.customer_ref join group_membership m on m.customer_id = c.id "
            "join customer_group g on g.id = m.group_id where o.business_day = ?", DAY):
        if u in orders:
            groups[(name, stop)][0] += 1
            groups[(name, stop)][1].add(cust)
            groups[(name, stop)][2] += net
    con.close()
    return products, channels, window, history, groups


def test_day_report_equals_figures_from_the_raw_rows(generated):
    svc, db_path = generated
    products, channels, window, history, groups = independent_figures(db_path)
    report = svc.reports.day_report(DAY)
    assert {(p.sku, p.segment): [p.units, p.net_cents] for p in report.products} == dict(products)
    assert {c.channel: [c.redemptions, c.discount_cents] for c in report.channels if c.redemptions} == dict(channels)
    assert {"walk_in", "facebook_likers", "nearby_devices", "pos_registrants"} <= set(report.segments)
    goal = report.goals[0]
    assert (goal.customers, goal.sales_cents) == (window[0], window[1])
    assert goal.baseline_cents == sum(history) // len(history) and len(history) == 3
    assert goal.uplift == pytest.approx((window[1] - goal.baseline_cents) / goal.baseline_cents)
    assert {(g.group, g.stop): [g.orders, g.customers, g.net_cents] for g in report.groups} == \
        {k: [v[0], len(v[1]), v[2]] for k, v in groups.items()}
    proximity = next(c for c in report.channels if c.channel == "proximity")
    assert proximity.reach == 5 and proximity.conversion == proximity.redemptions / 5


def test_register_goal_line_is_cheap_and_readable(generated):
    svc, _ = generated
    progress = svc.reports.goal_progress(DAY)
    assert progress.line().startswith("first hour: ") and "/ 40 customers" in progress.line() and "/ $600" in progress.line()
    assert progress.baseline_cents is None  # the register screen skips the history queries


def test_report_renders_as_table_csv_and_png(generated, output_dir):
    svc, _ = generated
    report = svc.reports.campaign_report()
    text = render_table(report)
    assert "facebook_likers" in text and "goal window" in text and "Acme Corporation, Accounting" in text
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert sum(int(r["cents"]) for r in rows if r["table"] == "product_segment") == report.net_cents
    (output_dir / "campaign_report.txt").write_text(text, "utf-8")
    paths = render_png(report, output_dir / "campaign_report")
    assert [p.name for p in paths] == ["sales_by_segment.png", "goal_window.png"]
    assert all(p.stat().st_size > 5000 for p in paths)


def test_reports_without_a_campaign_or_before_it_starts_are_empty_not_errors(tmp_path):
    from truck_pos.clock import FakeClock

    from campaign_support import build_services, demo_document, install

    owner = Ed25519PrivateKey.generate()
    svc = build_services(tmp_path, FakeClock(datetime(2026, 5, 20, 17, 0, tzinfo=timezone.utc)), owner)
    try:
        assert svc.reports.campaign_report().title == "No active campaign"
        assert svc.reports.goal_progress() is None
        install(svc, owner, demo_document())
        report = svc.reports.campaign_report()  # starts 2026-06-01: no days yet
        assert report.days == [] and report.orders == 0 and "Summer launch" in render_table(report)
        assert render_png(report, tmp_path / "charts")
    finally:
        svc.close()
