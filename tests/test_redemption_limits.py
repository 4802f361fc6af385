"""Redemption at the register: the limits checked again inside the order's transaction, and what goes up.

Expected values come from the campaign rules in README.md ("Codes at the register": a personal code is single use
unless its segment sets ``uses_per_customer``; a shared code with ``uses_per_customer`` needs the customer) and the
``redemption`` body in sync/PROTOCOL.md, worked out by hand from the demo campaign (bowl-burrito $10.95,
drink-soda $3.00), never read back from the code under test.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from campaign_support import build_services, demo_document, install, owner  # noqa: F401 (fixtures)
from sync.protocol import bounded_id
from truck_pos.domain.campaign import normalize
from truck_pos.domain.codes import NEEDS_CUSTOMER, CodeAccepted, PersonalCode, issue_personal_code
from truck_pos.errors import InvalidInput
from truck_pos.store.campaign_models import Redemption
from truck_pos.store.outbox import Outbox

STOP = "Elm St & 3rd"
BODY_FIELDS = {"redemption_id", "order_id", "truck", "campaign_id", "segment", "channel", "kind", "code",
               "customer_ref", "amount_cents", "redeemed_at", "stop", "uses_per_customer"}  # sync/PROTOCOL.md


@pytest.fixture
def make(tmp_path, clock, owner):
    """make(doc) -> services on a fresh database with ``doc`` installed (closed after the test)."""
    made = []

    def _make(doc=None):
        (tmp_path / f"s{len(made)}").mkdir()
        services = build_services(tmp_path / f"s{len(made)}", clock, owner, TRUCK_POS_TRUCK_STOP=STOP)
        made.append(services)
        if doc is not False:
            install(services, owner, doc)
        return services

    yield _make
    for services in made:
        services.close()


def segment(doc, name):
    return next(s for s in doc["segments"] if s["name"] == name)


def ticket(svc, *skus, customer=None):
    tid = svc.register.open_ticket().id
    for sku in skus:
        svc.register.add_item(tid, sku)
    if customer:
        svc.register.set_customer(tid, customer)
    return tid


def bodies():
    return [(o.key, o.payload) for o in Outbox.select().where(Outbox.kind == "redemption").order_by(Outbox.seq)]


# --- what goes up ---------------------------------------------------------------------------------------------
def test_a_segment_redemption_sends_every_documented_field(make, clock):
    svc = make()
    tid = ticket(svc, "bowl-burrito", "drink-soda", customer="c-5")
    result = svc.redemption.apply_code(tid, "fb like 10")
    assert isinstance(result, CodeAccepted)
    assert svc.register.ticket(tid).discounts[0].label == result.label
    paid = svc.register.pay_card(tid)
    [(key, body)] = bodies()
    assert key == bounded_id("redemption", paid.order_uuid, "FBLIKE10")
    assert body == {
        "redemption_id": bounded_id(paid.order_uuid, "FBLIKE10"), "order_id": paid.order_uuid, "truck": "truck-test",
        "campaign_id": "summer-launch", "segment": "facebook_likers", "channel": "facebook", "kind": "segment",
        "code": "FBLIKE10", "customer_ref": "c-5", "amount_cents": 140,  # 10 % of $13.95, half up
        "redeemed_at": clock.now().isoformat(), "stop": STOP, "uses_per_customer": None}
    assert set(body) == BODY_FIELDS
    row = Redemption.get()
    assert (row.order_uuid, row.campaign_id, row.segment, row.channel, row.kind, row.code, row.customer_ref,
            row.amount_cents, row.redeemed_utc, row.stop) == (
        paid.order_uuid, "summer-launch", "facebook_likers", "facebook", "segment", "FBLIKE10", "c-5", 140,
        clock.now(), STOP)


def test_a_customer_attached_after_the_code_is_the_one_recorded(make):
    svc = make()
    tid = ticket(svc, "bowl-burrito")
    assert isinstance(svc.redemption.apply_code(tid, "FBLIKE10"), CodeAccepted)
    svc.register.set_customer(tid, "c-late")
    svc.register.pay_card(tid)
    [(_, body)] = bodies()
    assert body["customer_ref"] == "c-late" == Redemption.get().customer_ref
    assert body["amount_cents"] == 110  # 10 % of $10.95 = 109.5, half up


def test_uses_per_customer_sent_up_is_the_segments_limit(make):
    doc = demo_document()
    segment(doc, "facebook_likers")["uses_per_customer"] = 2
    svc = make(doc)
    tid = ticket(svc, "bowl-burrito", customer="c-1")
    svc.redemption.apply_code(tid, "FBLIKE10")
    svc.register.pay_card(tid)
    tid = ticket(svc, "drink-soda", customer="c-1")
    assert isinstance(svc.redemption.apply_code(tid, "THANKS-JOIN"), CodeAccepted)
    svc.register.pay_card(tid)
    assert [(b["code"], b["uses_per_customer"], b["amount_cents"]) for _, b in bodies()] == [
        ("FBLIKE10", 2, 110), ("THANKSJOIN", 1, 300)]


def test_a_personal_code_is_single_use_upstream_and_belongs_to_its_customer(make, owner, clock):
    svc = make()
    code = issue_personal_code(PersonalCode("summer-launch", "nearby_devices", "c-42"), owner)
    tid = ticket(svc, "bowl-burrito")
    result = svc.redemption.apply_code(tid, code)
    assert isinstance(result, CodeAccepted) and result.amount_cents == 164  # 15 % of $10.95 = 164.25
    assert svc.register.ticket(tid).customer_ref == "c-42"  # the code names its customer: it is attached
    paid = svc.register.pay_card(tid)
    code = normalize(code)  # stored as typed-insensitive text (README: case, spaces and dashes do not matter)
    [(key, body)] = bodies()
    assert key == bounded_id("redemption", paid.order_uuid, code) and len(key) <= 64
    assert body["redemption_id"] == bounded_id(paid.order_uuid, code)
    assert (body["kind"], body["customer_ref"], body["uses_per_customer"], body["code"], body["channel"]) == (
        "personal", "c-42", 1, code, "proximity")
    assert Redemption.get().code == code


def test_a_personal_code_on_another_customers_ticket_counts_for_the_codes_customer(make, owner):
    svc = make()
    code = issue_personal_code(PersonalCode("summer-launch", "nearby_devices", "c-42"), owner)
    tid = ticket(svc, "bowl-burrito", customer="c-1")
    assert isinstance(svc.redemption.apply_code(tid, code), CodeAccepted)
    svc.register.pay_card(tid)
    [(_, body)] = bodies()
    assert body["customer_ref"] == "c-42" == Redemption.get().customer_ref


def test_a_personal_code_follows_its_segments_uses_per_customer(make, owner):
    doc = demo_document()
    segment(doc, "nearby_devices")["uses_per_customer"] = 3
    svc = make(doc)
    code = issue_personal_code(PersonalCode("summer-launch", "nearby_devices", "c-42"), owner)
    for n in range(3):
        tid = ticket(svc, "bowl-burrito")
        assert isinstance(svc.redemption.apply_code(tid, code), CodeAccepted), n
        svc.register.pay_card(tid)
    assert [b["uses_per_customer"] for _, b in bodies()] == [3, 3, 3]
    assert not isinstance(svc.redemption.apply_code(ticket(svc, "bowl-burrito"), code), CodeAccepted)


def test_stacked_codes_each_go_up_with_their_own_amount(make):
    svc = make(demo_document(stacking=True))
    tid = ticket(svc, "bowl-burrito", "drink-soda", customer="c-1")
    assert isinstance(svc.redemption.apply_code(tid, "FBLIKE10"), CodeAccepted)
    assert isinstance(svc.redemption.apply_code(tid, "THANKS-JOIN"), CodeAccepted)
    svc.register.pay_card(tid)
    got = sorted((b["code"], b["amount_cents"], b["customer_ref"]) for _, b in bodies())
    assert got[1] == ("THANKSJOIN", 300, "c-1")  # the free soda
    assert got[0][0] == "FBLIKE10" and got[0][1] in (110, 140)  # 10 % of the burrito, or of both (order of stacking)
    assert Redemption.select().count() == 2


# --- the limits, checked again in the order's transaction --------------------------------------------------------
def test_a_per_customer_limit_reached_on_another_ticket_stops_the_second_sale(make):
    svc = make()
    a = ticket(svc, "drink-soda", customer="c-1")
    b = ticket(svc, "drink-soda", "bowl-burrito", customer="c-1")
    other = ticket(svc, "drink-soda", customer="c-2")
    for t in (a, b, other):
        assert isinstance(svc.redemption.apply_code(t, "THANKS-JOIN"), CodeAccepted)
    svc.register.pay_card(a)
    with pytest.raises(InvalidInput, match=r"Code THANKSJOIN: already used by this customer"):
        svc.register.pay_card(b)
    svc.register.pay_card(other)  # another customer's use is not this customer's
    svc.register.clear_tenders(b)
    svc.register.remove_discounts(b)
    svc.register.pay_card(b)
    assert sorted(r.customer_ref for r in Redemption.select()) == ["c-1", "c-2"]
    assert svc.redemption.apply_code(ticket(svc, "drink-soda", customer="c-1"), "THANKS-JOIN").reason.startswith("already used")


def test_uses_per_customer_of_two_allows_exactly_two(make):
    doc = demo_document()
    segment(doc, "facebook_likers")["uses_per_customer"] = 2
    svc = make(doc)
    tickets = [ticket(svc, "bowl-burrito", customer="c-1") for _ in range(3)]
    for t in tickets:
        assert isinstance(svc.redemption.apply_code(t, "FBLIKE10"), CodeAccepted)
    svc.register.pay_card(tickets[0])
    svc.register.pay_card(tickets[1])
    with pytest.raises(InvalidInput, match="already used by this customer"):
        svc.register.pay_card(tickets[2])
    assert Redemption.select().count() == 2


def test_a_total_of_two_uses_allows_exactly_two_across_tickets(make):
    doc = demo_document()
    segment(doc, "facebook_likers")["total_uses"] = 2
    svc = make(doc)
    tickets = [ticket(svc, "bowl-burrito", customer=f"c-{n}") for n in range(3)]
    for t in tickets:
        assert isinstance(svc.redemption.apply_code(t, "FBLIKE10"), CodeAccepted)
    svc.register.pay_card(tickets[0])
    svc.register.pay_card(tickets[1])
    with pytest.raises(InvalidInput, match=r"Code FBLIKE10: limit reached \(2 uses\)"):
        svc.register.pay_card(tickets[2])
    assert Redemption.select().count() == 2


def test_a_limit_added_by_a_new_campaign_version_applies_to_a_ticket_already_holding_the_code(make, owner):
    svc = make()
    tid = ticket(svc, "bowl-burrito")
    assert isinstance(svc.redemption.apply_code(tid, "FBLIKE10"), CodeAccepted)
    doc = demo_document(version=2)
    segment(doc, "facebook_likers")["uses_per_customer"] = 1
    install(svc, owner, doc)
    with pytest.raises(InvalidInput, match="Code FBLIKE10: " + NEEDS_CUSTOMER):
        svc.register.pay_card(tid)
    svc.register.clear_tenders(tid)
    svc.register.set_customer(tid, "c-9")  # with the customer it sells, counted for them
    svc.register.pay_card(tid)
    assert Redemption.get().customer_ref == "c-9"


def test_the_ticket_customer_is_checked_when_the_code_was_added_before_them(make, owner):
    doc = demo_document(version=2)
    segment(doc, "facebook_likers")["uses_per_customer"] = 1
    svc = make()
    first = ticket(svc, "bowl-burrito")
    second = ticket(svc, "bowl-burrito")
    for t in (first, second):
        assert isinstance(svc.redemption.apply_code(t, "FBLIKE10"), CodeAccepted)  # no per-customer limit yet
        svc.register.set_customer(t, "c-3")
    install(svc, owner, doc)
    svc.register.pay_card(first)
    with pytest.raises(InvalidInput, match="already used by this customer"):
        svc.register.pay_card(second)


def test_a_code_of_a_campaign_no_longer_active_is_recorded_without_its_old_limits(make, owner):
    doc = demo_document()
    segment(doc, "facebook_likers")["total_uses"] = 1
    svc = make(doc)
    tickets = [ticket(svc, "bowl-burrito") for _ in range(2)]
    for t in tickets:
        assert isinstance(svc.redemption.apply_code(t, "FBLIKE10"), CodeAccepted)
    svc.register.pay_card(tickets[0])
    autumn = demo_document(id="autumn", version=2)  # another campaign, same segment names and limits
    segment(autumn, "facebook_likers")["total_uses"] = 1
    segment(autumn, "facebook_likers")["uses_per_customer"] = 5
    install(svc, owner, autumn)
    svc.register.pay_card(tickets[1])  # its limit is the old campaign's, which the truck no longer holds
    assert [(b["campaign_id"], b["uses_per_customer"]) for _, b in bodies()] == [
        ("summer-launch", None), ("summer-launch", None)]


# --- the check before the code goes on ----------------------------------------------------------------------------
def test_without_a_campaign_the_refusal_is_the_documented_one(make):
    svc = make(False)
    assert svc.redemption.apply_code(ticket(svc, "bowl-burrito"), "FB-LIKE-10").reason == (
        "unknown code (no campaign is active)")  # README, Troubleshooting


def test_a_rolled_back_sale_does_not_use_up_the_last_shared_use(make):
    doc = demo_document()
    segment(doc, "facebook_likers")["total_uses"] = 1
    svc = make(doc)

    def printer_jammed(order, ticket_, totals, now):  # a later hook fails: the whole order rolls back
        raise InvalidInput("kitchen printer jammed")

    tid = ticket(svc, "bowl-burrito")
    assert isinstance(svc.redemption.apply_code(tid, "FB-LIKE-10"), CodeAccepted)
    svc.register.completion_hooks.append(printer_jammed)
    with pytest.raises(InvalidInput, match="printer jammed"):
        svc.register.pay_card(tid)
    svc.register.completion_hooks.remove(printer_jammed)
    assert Redemption.select().count() == 0
    other = ticket(svc, "taco-fish")
    assert isinstance(svc.redemption.apply_code(other, "FB-LIKE-10"), CodeAccepted)
    svc.register.pay_card(other)
    assert svc.redemption.apply_code(ticket(svc, "taco-fish"), "FB-LIKE-10").reason == "limit reached (1 use)"


def test_a_per_customer_use_is_remembered_for_the_next_ticket_of_that_customer(make):
    doc = demo_document()
    segment(doc, "facebook_likers")["uses_per_customer"] = 2
    svc = make(doc)
    for _ in range(2):
        tid = ticket(svc, "bowl-burrito", customer="c-1")
        assert isinstance(svc.redemption.apply_code(tid, "FB-LIKE-10"), CodeAccepted)
        svc.register.pay_card(tid)
    assert svc.redemption.apply_code(ticket(svc, "bowl-burrito", customer="c-1"), "FB-LIKE-10").reason == (
        "limit reached for this customer (2 uses)")
    assert isinstance(svc.redemption.apply_code(ticket(svc, "bowl-burrito", customer="c-2"), "FB-LIKE-10"), CodeAccepted)


def test_a_redemption_recorded_directly_defaults_to_no_stop_and_no_customer(make, clock):
    svc = make()
    entry = {"code": "FBLIKE10", "kind": "segment", "campaign_id": "summer-launch", "segment": "facebook_likers",
             "channel": "facebook", "customer_ref": None}
    order = "0f0e0d0c-0b0a-4908-8706-050403020100"
    assert svc.redemption.record_redemption(order, entry, 75, clock.now()) is True
    assert svc.redemption.record_redemption(order, entry, 75, clock.now()) is False  # a replay changes nothing
    [(key, body)] = bodies()
    assert (body["stop"], body["customer_ref"], body["amount_cents"], body["order_id"]) == ("", None, 75, order)
    assert (Redemption.get().stop, Redemption.get().customer_ref) == ("", None)
    assert svc.redemption.usage.total[("summer-launch", "facebook_likers")] == 1


# --- round 2: the survivors of the first recheck ------------------------------------------------------------------
def test_a_personal_code_is_single_use_even_when_two_tickets_of_other_customers_race_for_it(make, owner):
    svc = make()  # nearby_devices sets no uses_per_customer: a personal code is single use (README)
    code = issue_personal_code(PersonalCode("summer-launch", "nearby_devices", "c-42"), owner)
    a = ticket(svc, "bowl-burrito", customer="c-1")
    b = ticket(svc, "bowl-burrito", customer="c-2")
    for t in (a, b):
        assert isinstance(svc.redemption.apply_code(t, code), CodeAccepted)
    svc.register.pay_card(a)
    with pytest.raises(InvalidInput, match="already used by this customer"):
        svc.register.pay_card(b)
    assert [r.customer_ref for r in Redemption.select()] == ["c-42"]


def test_a_unique_code_is_not_blocked_by_other_codes_used_before(make, owner):
    import random

    from truck_pos.domain.codeset import encode_codes, make_codes

    doc = demo_document(version=3)
    seg = segment(doc, "twitter_followers")
    seg.pop("valid_from"), seg.pop("valid_until")
    codes = make_codes(3, random.Random(5).choice)
    seg["unique_codes"] = encode_codes(doc["id"], [normalize(c) for c in codes])
    svc = make(doc)
    first = ticket(svc, "bowl-burrito")
    svc.redemption.apply_code(first, "FB-LIKE-10")
    svc.register.pay_card(first)  # another campaign code used first
    second = ticket(svc, "bowl-burrito")
    assert isinstance(svc.redemption.apply_code(second, codes[0]), CodeAccepted)
    svc.register.pay_card(second)  # the other redemption is not this code's use
    third = ticket(svc, "bowl-burrito")
    assert isinstance(svc.redemption.apply_code(third, codes[1]), CodeAccepted)
    svc.register.pay_card(third)  # nor is another unique code's
    assert Redemption.select().count() == 3


def test_a_total_limit_counts_only_its_own_segment(make):
    doc = demo_document()
    segment(doc, "facebook_likers")["total_uses"] = 1
    svc = make(doc)
    soda = ticket(svc, "drink-soda", customer="c-1")
    fb = ticket(svc, "bowl-burrito")
    svc.redemption.apply_code(soda, "THANKS-JOIN")
    assert isinstance(svc.redemption.apply_code(fb, "FB-LIKE-10"), CodeAccepted)
    svc.register.pay_card(soda)  # a use of another segment
    svc.register.pay_card(fb)  # still the first of facebook_likers' one use
    assert Redemption.select().count() == 2


def test_a_segment_for_this_truck_only_is_accepted_here(make):
    doc = demo_document()
    segment(doc, "facebook_likers")["trucks"] = ["truck-test"]
    svc = make(doc)
    assert isinstance(svc.redemption.apply_code(ticket(svc, "bowl-burrito"), "FB-LIKE-10"), CodeAccepted)


def test_a_group_code_refuses_a_customer_outside_the_group_and_takes_a_members_personal_code(make, owner):
    doc = demo_document()
    segment(doc, "acme_accounting")["trucks"] = ["*"]
    svc = make(doc)
    member, _ = svc.registration.register(email="dee@acme.example")
    svc.registration.join_group(member, "ACME Corporation, Accounting")
    outsider, _ = svc.registration.register(email="sam@elsewhere.example")
    assert svc.redemption.apply_code(ticket(svc, "bowl-burrito", customer=outsider), "ACME-ACCT").reason.startswith(
        "code for members of Acme Corporation, Accounting")
    assert isinstance(svc.redemption.apply_code(ticket(svc, "bowl-burrito", customer=member), "ACME-ACCT"), CodeAccepted)
    personal = issue_personal_code(PersonalCode("summer-launch", "acme_accounting", member), owner)
    assert isinstance(svc.redemption.apply_code(ticket(svc, "bowl-burrito"), personal), CodeAccepted)
    stranger = issue_personal_code(PersonalCode("summer-launch", "acme_accounting", outsider), owner)
    assert svc.redemption.apply_code(ticket(svc, "bowl-burrito"), stranger).reason.startswith("code for members of")
