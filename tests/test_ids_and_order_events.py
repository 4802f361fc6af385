"""Ids the truck builds stay within the contract; voids and refunds go up as events; caches see other connections."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from sync import protocol
from sync.hub import Hub, HubConfig
from sync.hub.figures import truck_day_money
from sync.hub.models import HubMessage, open_hub_database
from tests.campaign_support import build_services, demo_document, install, owner, write_public_key  # noqa: F401
from truck_pos.domain.bundle import sign_bundle
from truck_pos.domain.codes import CodeAccepted, PersonalCode, issue_personal_code
from truck_pos.store.outbox import Outbox

LONG_TRUCK = "T" + "r" * 63  # 64: the longest id TRUCK_ID_RE and the envelope allow
LONG_CAMPAIGN = "c" * 64  # campaign ids are 1-64 characters in a bundle
LONG_SEGMENT = "s" * 64  # segment names are 1-64 characters
LONG_CUSTOMER = "k" * 255  # a personal code carries up to 255 bytes per field
LONG_CODE = "Q" * 32  # segment codes are 3-32 characters


def long_campaign() -> dict:
    doc = demo_document(id=LONG_CAMPAIGN)
    doc["segments"] = [
        {"name": LONG_SEGMENT, "channel": "email", "code": LONG_CODE, "benefit": {"kind": "percent_off", "percent": 10}},
        {"name": "p" * 64, "channel": "proximity", "benefit": {"kind": "amount_off", "amount_cents": 100}},
    ]
    return doc


def sell(services, code: str, sku: str = "bowl-burrito") -> str:
    t = services.register.open_ticket()
    services.register.add_item(t.id, sku, 2)
    assert isinstance(services.redemption.apply_code(t.id, code), CodeAccepted)
    return services.register.pay_card(t.id).order_uuid


def test_every_message_of_the_longest_ids_fits_the_contract(tmp_path, clock, owner):
    services = build_services(tmp_path, clock, owner, truck_id=LONG_TRUCK)
    try:
        install(services, owner, long_campaign())
        personal = issue_personal_code(PersonalCode(LONG_CAMPAIGN, "p" * 64, LONG_CUSTOMER, LONG_TRUCK), owner)
        assert len(personal) > 800  # campaign, segment and truck at 64, customer at 255
        sell(services, LONG_CODE)
        sell(services, personal)
        rows = list(Outbox.select().order_by(Outbox.seq))
        open_hub_database(f"sqlite:///{tmp_path / 'hub.db'}")
        hub = Hub(HubConfig(), clock=clock)
        for row in rows:
            raw = protocol.encode(protocol.envelope(truck=LONG_TRUCK, seq=row.seq, kind=row.kind, key=row.key,
                                                    ts=row.created_utc, body=row.payload))
            checked = protocol.check(raw, direction="up", truck=LONG_TRUCK, kind=row.kind)
            assert checked.ok, (row.kind, checked.reason)
            assert hub.ingest(protocol.up_topic(LONG_TRUCK, row.kind), raw)[0] == "new"
        redemptions = [r.payload for r in rows if r.kind == "redemption"]
        assert [r["code"] for r in redemptions] == [LONG_CODE, personal.replace("-", "")]
        assert redemptions[1]["customer_ref"] == LONG_CUSTOMER
    finally:
        services.close()


def test_bounded_ids_are_stable_distinct_and_short():
    assert protocol.bounded_id("redemption", "u", "FB10") == "redemption:u:FB10"  # short ids stay readable
    a, b = protocol.bounded_id("redemption", "u", "X" * 500), protocol.bounded_id("redemption", "u", "X" * 499 + "Y")
    assert a == protocol.bounded_id("redemption", "u", "X" * 500) and a != b
    assert all(len(i) <= protocol.MAX_ID_LEN for i in (a, b, protocol.bounded_id("x" * 300, "\x00")))
    assert protocol.bounded_id("a\x07b").isprintable()


@pytest.fixture
def manager(services):
    services.staff.add("Maria", "9999", "manager")
    return "9999"


def ring(services, *items: tuple[str, int]) -> str:
    t = services.register.open_ticket()
    for sku, qty in items:
        services.register.add_item(t.id, sku, qty)
    return services.register.pay_card(t.id).order_uuid


def test_void_and_refund_go_up_in_the_same_transaction_and_the_day_adds_up(services, manager, tmp_path, clock):
    kept, voided, refunded = ring(services, ("taco-fish", 2)), ring(services, ("bowl-nacho", 1)), ring(services, ("drink-soda", 3))
    services.register.void_order(voided, manager, "wrong order")
    services.register.refund_order(refunded, manager, "cold")
    rows = {r.kind: r for r in Outbox.select()}
    assert rows["order_voided"].payload["order_id"] == voided and rows["order_voided"].payload["manager"] == "Maria"
    assert rows["order_refunded"].payload["reason"] == "cold"
    # by hand from the demo menu: taco-fish 450 x2, bowl-nacho 950, drink-soda 300 x3; 8.25 % tax on top (74 on 900)
    money = services.register.day_summary()["money"]
    assert money == {"orders": 3, "gross_cents": 900 + 950 + 900, "discount_cents": 0, "voids": 1, "void_cents": 950,
                     "refunds": 1, "refund_cents": 900, "net_cents": 900, "tax_cents": 74}
    # the hub, from the envelopes alone, says the same
    open_hub_database(f"sqlite:///{tmp_path / 'hub.db'}")
    hub = Hub(HubConfig(), clock=clock)
    for row in Outbox.select().order_by(Outbox.seq):
        env = protocol.envelope(truck="truck-test", seq=row.seq, kind=row.kind, key=row.key, ts=row.created_utc, body=row.payload)
        assert hub.ingest(protocol.up_topic("truck-test", row.kind), protocol.encode(env))[0] == "new"
    now = clock.now()
    hub_money = truck_day_money("truck-test", now - timedelta(hours=1), now + timedelta(hours=1))
    assert hub_money.__dict__ == money
    assert HubMessage.select().where(HubMessage.kind == "order_voided").count() == 1


def test_a_void_that_fails_writes_no_event(services, manager, monkeypatch):
    order = ring(services, ("taco-fish", 1))

    def broken_audit(*a, **kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services.staff, "audit", broken_audit)
    with pytest.raises(RuntimeError):
        services.register.void_order(order, manager, "x")
    assert not Outbox.select().where(Outbox.kind == "order_voided").exists()


def test_after_commit_hooks_see_the_committed_order_and_cannot_break_the_sale(services, settings):
    seen = []

    def from_another_connection(order_uuid: str) -> None:
        with sqlite3.connect(settings.database_path) as other:
            seen.append(other.execute('SELECT status FROM "order" WHERE uuid = ?', (order_uuid,)).fetchone())

    def broken(order_uuid: str) -> None:
        raise RuntimeError("printer bug")

    services.register.after_commit_hooks[:0] = [broken, from_another_connection]
    ring(services, ("taco-fish", 1))
    assert seen == [("paid",)]


def test_a_campaign_installed_by_another_process_is_seen_by_the_next_code_check(tmp_path, clock, owner):
    services = build_services(tmp_path, clock, owner)
    try:
        t = services.register.open_ticket()
        services.register.add_item(t.id, "bowl-burrito", 1)
        assert "unknown code" in services.redemption.apply_code(t.id, "FB-LIKE-10").reason
        raw = sign_bundle(demo_document(), owner)
        with sqlite3.connect(services.settings.database_path) as other:  # what truck-pos-sync's install writes
            other.execute("UPDATE campaign_bundle SET active = 0")
            other.execute("INSERT INTO campaign_bundle (campaign_id, raw, issued_utc, installed_utc, source, active) "
                          "VALUES (?, ?, ?, ?, 'mqtt', 1)", ("summer-launch", raw, clock.now().isoformat(), clock.now().isoformat()))
        assert isinstance(services.redemption.apply_code(t.id, "FB-LIKE-10"), CodeAccepted)
    finally:
        services.close()


def test_day_money_counts_a_replayed_change_once_and_ignores_changes_of_other_days():
    from truck_pos.domain.reports import ChangeRow, MoneyRow, day_money

    orders = [MoneyRow("a", 1082, 100, 82), MoneyRow("b", 541, 0, 41)]  # a: 1100 - 100 + 82 tax; b: 500 + 41
    changes = [ChangeRow("b", "refunded", 541, 41), ChangeRow("b", "refunded", 541, 41), ChangeRow("old", "voided", 999, 9)]
    money = day_money(orders, changes)
    assert (money.orders, money.gross_cents, money.discount_cents, money.refunds, money.refund_cents, money.voids) == (
        2, 1100 + 500, 100, 1, 500, 0)
    assert (money.net_cents, money.tax_cents) == (1000, 82)


def test_with_tax_included_in_prices_the_truck_the_hub_and_the_reports_screen_agree(tmp_path, clock):
    from truck_pos.bootstrap import build
    from truck_pos.config import load_settings

    services = build(load_settings(env={"TRUCK_POS_STORE_PATH": str(tmp_path / "t.db"), "TRUCK_POS_TRUCK_ID": "truck-test",
                                        "TRUCK_POS_TRUCK_TAX_MODE": "inclusive"}), clock=clock)
    try:
        services.staff.add("Maria", "9999", "manager")
        kept, refunded = ring(services, ("taco-fish", 2)), ring(services, ("bowl-nacho", 1))
        services.register.refund_order(refunded, "9999", "cold")
        # by hand: prices include 8.25 % tax; fish 900 holds 900 - round(900 / 1.0825) = 69 of tax, nacho 950 holds 72
        expected = {"orders": 2, "gross_cents": 900 + 950, "discount_cents": 0, "voids": 0, "void_cents": 0, "refunds": 1,
                    "refund_cents": 950, "net_cents": 900, "tax_cents": 69}
        assert services.register.day_summary()["money"] == expected
        assert services.reports.day_report().net_cents == expected["net_cents"]
        open_hub_database(f"sqlite:///{tmp_path / 'hub.db'}")
        hub = Hub(HubConfig(), clock=clock)
        for row in Outbox.select().order_by(Outbox.seq):
            env = protocol.envelope(truck="truck-test", seq=row.seq, kind=row.kind, key=row.key, ts=row.created_utc, body=row.payload)
            hub.ingest(protocol.up_topic("truck-test", row.kind), protocol.encode(env))
        now = clock.now()
        assert truck_day_money("truck-test", now - timedelta(hours=1), now + timedelta(hours=1)).__dict__ == expected
    finally:
        services.close()
