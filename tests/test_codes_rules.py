"""Code rules through the real register and SQLite: windows, limits, reasons, replay, recording."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from campaign_support import bare_svc, owner, svc, build_services, demo_document, install  # noqa: F401 (fixtures)
from truck_pos.domain.codes import CodeAccepted, CodeRefused, PersonalCode, issue_personal_code
from truck_pos.errors import InvalidInput
from truck_pos.store.campaign_models import Redemption
from truck_pos.store.outbox import Outbox

NOON_CDT = datetime(2026, 6, 1, 17, 0, tzinfo=timezone.utc)




def ticket_with(svc, *skus: str) -> str:
    ticket = svc.register.open_ticket()
    for sku in skus:
        svc.register.add_item(ticket.id, sku)
    return ticket.id


def sell(svc, skus=("bowl-burrito",), code: str | None = None, customer: str | None = None):
    tid = ticket_with(svc, *skus)
    if customer:
        svc.register.set_customer(tid, customer)
    result = svc.redemption.apply_code(tid, code) if code else None
    paid = svc.register.pay_card(tid)
    return result, paid


def test_segment_code_discounts_the_ticket_and_is_recorded_with_the_order(svc):
    tid = ticket_with(svc, "bowl-burrito", "drink-soda")
    result = svc.redemption.apply_code(tid, "fb like 10")
    assert isinstance(result, CodeAccepted) and result.amount_cents == 140  # 10 % of 13.95, half up
    ticket = svc.register.ticket(tid)
    assert ticket.totals.discount_cents == 140 and ticket.discounts[0].segment == "facebook_likers"
    paid = svc.register.pay_card(tid)
    row = Redemption.get(Redemption.order_uuid == paid.order_uuid)
    assert (row.segment, row.channel, row.amount_cents) == ("facebook_likers", "facebook", 140)
    kinds = [o.kind for o in Outbox.select().order_by(Outbox.seq)]
    assert kinds == ["redemption", "order"]


def test_free_item_and_minimum_spend(svc):
    tid = ticket_with(svc, "taco-veggie")
    svc.register.set_customer(tid, "c-1")
    assert svc.redemption.apply_code(tid, "THANKS-JOIN").reason.startswith("add the free item")
    svc.register.add_item(tid, "drink-soda")
    assert svc.redemption.apply_code(tid, "THANKS-JOIN").amount_cents == 300
    tid2 = ticket_with(svc, "taco-veggie")
    assert "minimum spend $8.00" in svc.redemption.apply_code(tid2, "TW-FOLLOW-1").reason


@pytest.mark.parametrize("moment, expected", [
    (datetime(2026, 6, 1, 16, 0, tzinfo=timezone.utc), None),  # 11:00 CDT: first instant, accepted
    (datetime(2026, 6, 1, 17, 0, tzinfo=timezone.utc), None),  # 12:00 CDT: last instant, accepted
    (datetime(2026, 6, 1, 15, 59, 59, tzinfo=timezone.utc), "not valid until 11:00"),
    (datetime(2026, 6, 1, 17, 0, 0, 1, tzinfo=timezone.utc), "expired at 12:00"),
    (datetime(2026, 6, 2, 16, 0, tzinfo=timezone.utc), "expired at Jun 1 12:00"),
])
def test_window_edges_are_included_and_refusals_name_the_local_time(svc, clock, moment, expected):
    clock.set(moment)
    result = svc.redemption.apply_code(ticket_with(svc, "bowl-burrito"), "TW-FOLLOW-1")
    if expected is None:
        assert isinstance(result, CodeAccepted)
    else:
        assert result == CodeRefused(expected)


def test_plain_refusals(svc, owner):
    tid = ticket_with(svc, "bowl-burrito")
    assert svc.redemption.apply_code(tid, "NOPE-123").reason == "unknown code"
    assert svc.redemption.apply_code(tid, "ACME-ACCT").reason == "code for another truck (truck-2)"
    other_truck = issue_personal_code(PersonalCode("summer-launch", "nearby_devices", "c-1", "truck-2"), owner)
    assert svc.redemption.apply_code(tid, other_truck).reason == "code for another truck (truck-2)"
    assert isinstance(svc.redemption.apply_code(tid, "FB-LIKE-10"), CodeAccepted)
    assert svc.redemption.apply_code(tid, "FB-LIKE-10").reason == "that code is already on this ticket"
    assert "one code per order" in svc.redemption.apply_code(tid, "THANKS-JOIN").reason


def test_stacking_allowed_when_the_campaign_says_so(tmp_path, clock, owner):
    services = build_services(tmp_path, clock, owner)
    try:
        install(services, owner, demo_document(stacking=True))
        tid = ticket_with(services, "bowl-burrito", "drink-soda")
        services.register.set_customer(tid, "c-1")
        assert isinstance(services.redemption.apply_code(tid, "FB-LIKE-10"), CodeAccepted)
        assert isinstance(services.redemption.apply_code(tid, "THANKS-JOIN"), CodeAccepted)
    finally:
        services.close()


def test_personal_code_is_single_use_and_the_second_use_says_when(svc, clock, owner):
    code = issue_personal_code(PersonalCode("summer-launch", "nearby_devices", "c-42"), owner)
    clock.set(datetime(2026, 6, 1, 16, 42, tzinfo=timezone.utc))  # 11:42 CDT
    result, paid = sell(svc, code=code)
    assert isinstance(result, CodeAccepted) and result.customer_ref == "c-42" and result.kind == "personal"
    clock.advance(minutes=30)
    again = svc.redemption.apply_code(ticket_with(svc, "bowl-burrito"), code.lower())
    assert again == CodeRefused("already used at 11:42")


def test_no_active_campaign_means_unknown_code(tmp_path, clock, owner):
    services = build_services(tmp_path, clock, owner)
    try:
        assert "unknown code" in services.redemption.apply_code(ticket_with(services, "taco-fish"), "FB-LIKE-10").reason
    finally:
        services.close()


def test_replaying_the_same_redemption_has_one_effect(svc):
    result, paid = sell(svc, code="FB-LIKE-10")
    entry = {"code": result.code, "kind": result.kind, "campaign_id": result.campaign_id, "segment": result.segment,
             "channel": result.channel, "customer_ref": None}
    before = svc.redemption.usage.total[("summer-launch", "facebook_likers")]
    for _ in range(2):
        assert svc.redemption.record_redemption(paid.order_uuid, entry, 110, NOON_CDT) is False
    assert Redemption.select().count() == 1
    assert Outbox.select().where(Outbox.kind == "redemption").count() == 1
    assert svc.redemption.usage.total[("summer-launch", "facebook_likers")] == before == 1


def test_two_open_tickets_cannot_both_take_the_last_use(tmp_path, clock, owner):
    doc = demo_document()
    doc["segments"][0]["total_uses"] = 1
    services = build_services(tmp_path, clock, owner)
    try:
        install(services, owner, doc)
        a, b = ticket_with(services, "bowl-burrito"), ticket_with(services, "bowl-nacho")
        assert isinstance(services.redemption.apply_code(a, "FB-LIKE-10"), CodeAccepted)
        assert isinstance(services.redemption.apply_code(b, "FB-LIKE-10"), CodeAccepted)
        services.register.pay_card(a)
        with pytest.raises(InvalidInput, match="limit reached"):
            services.register.pay_card(b)
        services.register.clear_tenders(b)
        services.register.remove_discounts(b)
        services.register.pay_card(b)  # sells without the code
        assert Redemption.select().count() == 1
        assert services.redemption.apply_code(ticket_with(services, "taco-fish"), "FB-LIKE-10").reason == "limit reached (1 use)"
    finally:
        services.close()


def test_a_sale_rolled_back_after_the_hook_does_not_use_up_the_code(svc, owner):
    code = issue_personal_code(PersonalCode("summer-launch", "nearby_devices", "c-7"), owner)

    def printer_jammed(order, ticket, totals, now):  # a later hook fails: the whole order rolls back
        raise InvalidInput("kitchen printer jammed")

    svc.register.completion_hooks.append(printer_jammed)
    tid = ticket_with(svc, "bowl-burrito")
    assert isinstance(svc.redemption.apply_code(tid, code), CodeAccepted)
    with pytest.raises(InvalidInput):
        svc.register.pay_card(tid)
    svc.register.completion_hooks.remove(printer_jammed)
    assert Redemption.select().count() == 0
    assert isinstance(svc.redemption.apply_code(ticket_with(svc, "taco-fish"), code), CodeAccepted)


def test_a_group_code_is_for_group_members_only(tmp_path, clock, owner):
    doc = demo_document()
    doc["segments"][4]["trucks"] = ["*"]
    services = build_services(tmp_path, clock, owner)
    try:
        install(services, owner, doc)
        tid = ticket_with(services, "bowl-burrito")
        assert services.redemption.apply_code(tid, "ACME-ACCT").reason.startswith("code for members of Acme Corporation, Accounting")
        ref, _ = services.registration.register(email="dee@acme.example")
        services.registration.join_group(ref, "ACME Corporation, Accounting")
        services.register.set_customer(tid, ref)
        assert isinstance(services.redemption.apply_code(tid, "ACME-ACCT"), CodeAccepted)
    finally:
        services.close()


def test_a_segment_window_never_reaches_outside_the_campaign(clock):
    from truck_pos.domain.bundle import BundleRefused
    from truck_pos.domain.campaign import parse_campaign

    doc = demo_document()
    doc["segments"][0]["valid_until"] = "2026-12-31T00:00"
    assert parse_campaign(doc, "America/Chicago").segments[0].valid_until_utc == datetime(2026, 6, 8, 3, 0, tzinfo=timezone.utc)
    doc["segments"][0].update(valid_from="2027-01-01T00:00", valid_until="2027-01-02T00:00")
    with pytest.raises(BundleRefused, match="segments\\[0\\] window"):
        parse_campaign(doc, "America/Chicago")


def test_code_on_an_empty_or_partly_paid_ticket_is_refused_plainly(svc):
    tid = svc.register.open_ticket().id
    assert svc.redemption.apply_code(tid, "FB-LIKE-10").reason == "add the items first, then the code"
    svc.register.add_item(tid, "bowl-burrito")
    svc.register.add_tender(tid, "cash", 500)
    assert svc.redemption.apply_code(tid, "FB-LIKE-10").reason.startswith("payment has started")


def test_a_percent_code_follows_items_added_after_it(svc):
    tid = ticket_with(svc, "bowl-burrito", "drink-soda")
    assert svc.redemption.apply_code(tid, "fb like 10").amount_cents == 140
    svc.register.add_item(tid, "bowl-burrito")
    [again] = svc.redemption.reapply_codes(tid)
    assert isinstance(again, CodeAccepted) and again.amount_cents == 249  # 10 % of 24.90
    ticket = svc.register.ticket(tid)
    assert [d.amount_cents for d in ticket.discounts] == [249] and len(ticket.meta["redemptions"]) == 1


def test_a_one_per_customer_code_needs_the_customer_and_then_works_once(svc):
    tid = ticket_with(svc, "bowl-burrito", "drink-soda")
    for _ in range(4):  # the issue's 4/4 anonymous uses: now none
        assert svc.redemption.apply_code(tid, "THANKS-JOIN") == CodeRefused(
            "this code needs the customer: scan their QR or look them up")
    svc.register.set_customer(tid, "c-7")
    assert isinstance(svc.redemption.apply_code(tid, "THANKS-JOIN"), CodeAccepted)
    svc.register.pay_card(tid)
    again = ticket_with(svc, "bowl-burrito", "drink-soda")
    svc.register.set_customer(again, "c-7")
    assert svc.redemption.apply_code(again, "THANKS-JOIN").reason.startswith("already used")
