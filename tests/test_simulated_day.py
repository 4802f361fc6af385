"""The acceptance story, shortened: one simulated day through the real services, a real mosquitto and the hub.

The expected figures come from the simulation's own plan (devtools.simulation.expected_figures), computed with
the campaign's published rules, never read back from the store.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter

import pytest

from sync.hub.models import HUB_MODELS, open_hub_database
from devtools.simulation import SimConfig, run_day

pytestmark = pytest.mark.mqtt

ORDERS = int(os.environ.get("TRUCK_POS_SIM_ORDERS", "150"))
PG_URL = os.environ.get("TRUCK_POS_TEST_PG", "")  # the hub on PostgreSQL when set, else on a SQLite file


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    lines: list[str] = []
    if PG_URL:
        db = open_hub_database(PG_URL)
        db.drop_tables(HUB_MODELS, safe=True)  # a fresh hub
        db.close()
    result = run_day(SimConfig(orders=ORDERS, seed=11, out=tmp_path_factory.mktemp("simday"), say=lines.append, hub_db=PG_URL))
    print("\n".join(lines))
    return result


@pytest.mark.parametrize("figure", ["orders", "lines", "mobile_orders", "codes_used", "net_cents", "segments",
                                    "redemptions", "goal_customers", "goal_sales_cents", "truck_money"])
def test_the_report_equals_the_figures_computed_from_the_days_own_inputs(day, figure):
    assert day.actual[figure] == day.expected[figure]


def test_the_hub_only_nightly_equals_the_plan(day):
    """Orders, amounts, discounts, voids and refunds as the plan made them, from nothing but the hub's database."""
    planned = day.expected["money"]
    assert planned["voids"] > 0 and planned["refunds"] > 0 and planned["discount_cents"] > 0
    assert day.reconcile.money == day.actual["money"] == planned
    assert (day.reconcile.orders, day.reconcile.sales_cents) == (len(day.plan), planned["net_cents"])


def test_the_day_exercised_every_path_of_the_story(day):
    plan = day.plan
    assert len(plan) == ORDERS
    tenders = Counter(o.tender for o in plan)
    assert tenders["cash"] and tenders["card"] and tenders["prepaid"]  # mobile orders sent by the hub
    assert set(day.expected["redemptions"]) == {"facebook", "twitter"}
    assert day.expected["segments"]["nearby_devices"][0] > 0  # customers the truck saw nearby came to the window
    refused = [o for o in plan if o.code and not o.code_applies]
    assert len(day.refused_codes) == len(refused) > 0  # unknown codes and the twitter code out of its window
    assert any("FREE-LUNCH-99" in r for r in day.refused_codes)
    assert any("outage" in line for line in day.narrative) and any("network back" in line for line in day.narrative)


def test_the_hub_has_every_order_exactly_once_and_reconcile_finds_nothing_missing(day):
    assert len(day.hub_order_keys) == len(set(day.hub_order_keys)) == ORDERS
    assert set(day.hub_order_keys) == set(day.truck_order_uuids) == {o.uuid for o in day.plan}
    r = day.reconcile
    assert r.reconciled and r.truck_rows and r.missing_on_hub == [] and r.missing_on_truck == [] and r.seq_gaps == []
    assert r.orders == ORDERS and r.mobile_orders == day.expected["mobile_orders"]


def test_proximity_events_are_exactly_the_trace_ground_truth(day):
    # rotation trace: every phone stops at the truck, rotates its address twice and comes back once
    assert sorted(day.proximity_customers) == sorted(f"c-{p}" for p in day.trace_people)


def test_every_pickup_is_handed_over_once(day):
    assert day.pickups == Counter(handed_over=sum(not o.after for o in day.plan))  # voided/refunded ones are not collected
    assert day.handed_over_twice == []  # no pickup entry left in another state
    assert any("already collected" in line for line in day.narrative)  # a second scan is refused


def test_the_nightly_reports_and_charts_are_written(day, output_dir):
    names = {p.name for p in day.files}
    assert {"summary.json", "summary.csv", "report.txt", "report.csv", "sales_by_segment.png", "goal_window.png"} <= names
    for p in day.files:
        assert p.stat().st_size > 0
        if p.suffix in (".png", ".txt"):
            shutil.copy(p, output_dir / f"simulated_day_{p.name}")
