"""Registration at the truck: one customer per person, consent with its wording, groups, outbox rows."""

from __future__ import annotations

import pytest

from campaign_support import bare_svc, owner, svc  # noqa: F401 (fixtures)
from truck_pos.domain.codes import CodeAccepted
from truck_pos.errors import InvalidInput, TruckPosError
from truck_pos.services.registration import normalize_email, normalize_phone
from truck_pos.store.campaign_models import Consent, Customer, GroupMembership
from truck_pos.store.models import Order
from truck_pos.store.outbox import Outbox




@pytest.mark.parametrize("typed, stored", [
    ("(312) 555-0100", "+13125550100"), ("312.555.0100", "+13125550100"), ("+1 312 555 0100", "+13125550100"),
    ("0044 20 7946 0958", "+442079460958"),
])
def test_phone_numbers_in_any_format_meet(typed, stored):
    assert normalize_phone(typed) == stored


def test_bad_contact_details_get_a_plain_message():
    with pytest.raises(InvalidInput, match="email"):
        normalize_email("not-an-address")
    with pytest.raises(InvalidInput, match="phone"):
        normalize_phone("12")


def test_registration_stores_consent_and_gives_todays_registrant_code(svc, clock):
    ref, code = svc.registration.register(email="Ana@Example.com", consent=True, wording_version="2026-05")
    assert code == "THANKS-JOIN"
    customer = Customer.get(Customer.ref == ref)
    assert (customer.email, customer.segment) == ("ana@example.com", "pos_registrants")
    consent = Consent.get(Consent.customer == customer)
    assert consent.granted and consent.wording_version == "2026-05" and consent.ts_utc == clock.now()
    row = Outbox.get(Outbox.kind == "registration")
    assert row.payload["consent"] == {"granted": True, "wording_version": "2026-05", "at": clock.now().isoformat()}


def test_duplicate_registrations_resolve_to_one_customer(svc):
    a, _ = svc.registration.register(email=" ANA@example.COM ", phone="(312) 555-0100")
    b, _ = svc.registration.register(email="ana@example.com")
    c, _ = svc.registration.register(phone="+1 312-555-0100")
    d, _ = svc.registration.register(email="other@example.com", phone="312 555 0100")
    assert a == b == c == d  # a known phone with a new email is still the same person
    assert Customer.get(Customer.ref == a).email == "ana@example.com"  # the first email is kept
    assert Customer.select().count() == 1
    assert Outbox.select().where(Outbox.kind == "registration").count() == 4


def test_registration_needs_consent_and_a_contact(svc):
    with pytest.raises(InvalidInput, match="consent"):
        svc.registration.register(email="a@b.co", consent=False)
    with pytest.raises(InvalidInput, match="email address or a phone"):
        svc.registration.register()
    assert Customer.select().count() == 0 and Outbox.select().count() == 0


def test_consent_withdrawal_is_recorded_and_synced(svc):
    ref, _ = svc.registration.register(phone="3125550100")
    assert svc.registration.has_consent(ref)
    svc.registration.withdraw_consent(ref)
    assert not svc.registration.has_consent(ref)
    body = Outbox.get(Outbox.kind == "consent").payload
    assert body["customer_ref"] == ref and body["granted"] is False


def test_joining_a_group_is_idempotent(svc):
    ref, _ = svc.registration.register(email="bo@acme.example")
    assert svc.registration.join_group(ref, "Acme Corporation,  Accounting") is True
    assert svc.registration.join_group(ref, "acme corporation, accounting") is False
    assert svc.registration.groups_of(ref) == ["Acme Corporation, Accounting"]
    assert Outbox.select().where(Outbox.kind == "group_join").count() == 1


def test_a_group_members_discount_applies_when_the_register_attaches_them(svc):
    """Through the product's entry point: the register attaches the customer (as a scan or a lookup does),
    the group discount lands on the ticket, follows the items, and is recorded with the paid order."""
    ref, _ = svc.registration.register(email="bo@acme.example", phone="312 555 0199")
    svc.registration.join_group(ref, "Acme Corporation, Accounting")
    tid = svc.register.open_ticket().id
    svc.register.add_item(tid, "bowl-burrito")
    ticket, card = svc.customers.attach(tid, f"https://hub.example.com/c/{ref}")  # the customer's QR
    assert card.groups == ("Acme Corporation, Accounting",)
    [discount] = ticket.discounts
    assert (discount.amount_cents, discount.source) == (55, "group")  # the campaign's 5 % of 10.95, half up
    svc.register.add_item(tid, "drink-soda")  # 13.95 -> 5 % = 0.6975 -> 0.70
    ticket, _refused = svc.customers.reprice(tid)
    assert [d.amount_cents for d in ticket.discounts] == [70]
    paid = svc.register.pay_card(tid)
    order = Order.get(Order.uuid == paid.order_uuid)
    assert order.customer_ref == ref and order.discount_cents == 70
    assert [(d.segment, d.amount_cents) for d in order.discounts] == [("group:Acme Corporation, Accounting", 70)]
    other = svc.register.open_ticket().id
    svc.register.add_item(other, "bowl-burrito")
    assert svc.customers.attach(other, "(312) 555-0199")[1].ref == ref  # by phone, any format
    assert svc.customers.attach(other, "BO@acme.example")[1].ref == ref  # by email, any case


def test_attaching_refuses_unknown_and_garbage_input_without_changing_the_ticket(svc):
    tid = svc.register.open_ticket().id
    svc.register.add_item(tid, "bowl-burrito")
    for text in ("", "https://hub.example.com/c/c-0000000000000000", "nobody@example.com", "x" * 100_000,
                 "\x00\udcff☃", "12"):
        with pytest.raises(TruckPosError):
            svc.customers.attach(tid, text)
    assert svc.register.ticket(tid).customer_ref is None and svc.register.ticket(tid).discounts == ()


def test_registrant_code_redeems_once_per_registered_customer(svc):
    ref, code = svc.registration.register(email="cy@example.com")
    results = []
    for _ in range(2):
        tid = svc.register.open_ticket().id
        svc.register.add_item(tid, "drink-soda")
        svc.register.add_item(tid, "taco-fish")  # a $0.00 ticket cannot be tendered by the register yet
        svc.register.set_customer(tid, ref)
        results.append(svc.redemption.apply_code(tid, code))
        svc.register.pay_card(tid)
    assert isinstance(results[0], CodeAccepted)
    assert results[1].reason.startswith("already used at ")
    assert Order.select().where(Order.customer_ref == ref).count() == 2
    assert GroupMembership.select().count() == 0


def test_registration_bodies_pass_the_sync_schemas(services):
    from sync import protocol
    from truck_pos.store.outbox import Outbox

    ref, _ = services.registration.register(email="Ada@Example.com", consent=True)
    services.registration.join_group(ref, "Acme Corporation, Accounting")
    services.registration.withdraw_consent(ref)
    rows = list(Outbox.select().where(Outbox.kind.in_(("registration", "group_join", "consent"))))
    assert sorted(r.kind for r in rows) == ["consent", "group_join", "registration"]
    for row in rows:
        assert protocol.body_problem(row.kind, row.payload) == "", row.kind
