"""Register mutants left by test_register_edges.py: the whole `order` body, override audit rows, discount removal,
split-tender refunds, the limits a ticket can reach, and what the completion hooks see.

Expected bodies use the key names of sync/PROTOCOL.md ("Bodies": order, order_voided / order_refunded, audit) and
the Discount / tender fields of the domain; amounts are worked out here from the demo menu's prices and the
README's tax rule (per line, after the line's share of the discounts, spread in proportion, rounded half up).
"""

from __future__ import annotations

import logging

import pytest

from truck_pos.domain.order import Discount
from truck_pos.errors import InvalidInput, NotAuthorized, NotFound
from truck_pos.services.register import RegisterService
from truck_pos.store.models import AuditLog, Order, Staff, Tender
from truck_pos.store.outbox import Outbox

NOON = "2026-06-01T17:00:00+00:00"  # the clock fixture


def outbox_bodies(kind: str) -> list[dict]:
    return [r.payload for r in Outbox.select().where(Outbox.kind == kind).order_by(Outbox.seq)]


def staff_id(name: str) -> int:
    return Staff.get(Staff.name == name).id


def test_the_order_body_carries_every_documented_field_with_its_name(services, staff_pin):
    reg = services.register
    reg.stop = "Main St & 5th"
    sam = services.staff.login(staff_pin)
    t = reg.open_ticket()
    reg.add_item(t.id, "taco-al-pastor", 2, ("Extra cheese",))  # (375 + 75) x 2 = 900, 8.25 %
    reg.add_item(t.id, "drink-soda")  # 300, 8.25 %
    reg.set_customer(t.id, "cust-42")
    reg.apply_discount(t.id, Discount("Acme 1.00 off", 100, code="ACME1", segment="acme", source="code"))
    # the 100 off spreads 900 : 300 -> 75 / 25; tax 825 x 8.25 % = 68.06 -> 68, 275 x 8.25 % = 22.69 -> 23
    reg.add_tender(t.id, "card", 500, "auth-1")
    paid = reg.pay_cash(t.id, 1000, staff=sam)  # due 1200 - 100 + 91 - 500 = 691: change 309
    assert (paid.total_cents, paid.change_cents) == (1191, 309)
    assert outbox_bodies("order") == [{
        "order_id": paid.order_uuid, "truck": "truck-test", "number": 1, "business_day": "2026-06-01",
        "channel": "counter", "status": "paid", "paid_at": NOON, "stop": "Main St & 5th", "customer_ref": "cust-42",
        "staff": "Sam", "tax_mode": "exclusive",
        "subtotal_cents": 1200, "discount_cents": 100, "tax_cents": 91, "total_cents": 1191,
        "lines": [
            {"sku": "taco-al-pastor", "name": "Al Pastor Taco", "quantity": 2, "unit_price_cents": 375,
             "modifiers": [{"name": "Extra cheese", "price_cents": 75}],
             "gross_cents": 900, "discount_cents": 75, "tax_cents": 68},
            {"sku": "drink-soda", "name": "Mexican Coke", "quantity": 1, "unit_price_cents": 300, "modifiers": [],
             "gross_cents": 300, "discount_cents": 25, "tax_cents": 23},
        ],
        "discounts": [{"label": "Acme 1.00 off", "code": "ACME1", "segment": "acme", "source": "code",
                       "amount_cents": 100}],
        "tenders": [{"kind": "card", "amount_cents": 500, "tendered_cents": 500, "change_cents": 0},
                    {"kind": "cash", "amount_cents": 691, "tendered_cents": 1000, "change_cents": 309}],
    }]
    order = Order.get(Order.uuid == paid.order_uuid)
    assert (order.stop, order.customer_ref, order.staff.name, order.channel) == ("Main St & 5th", "cust-42", "Sam",
                                                                                    "counter")
    with pytest.raises(NotFound):  # a paid ticket is closed
        reg.ticket(t.id)


def test_each_override_is_audited_with_its_own_manager_staff_and_applied_amount(services, manager_pin, staff_pin):
    reg = services.register
    sam = services.staff.login(staff_pin)
    t = reg.open_ticket()
    reg.add_item(t.id, "drink-water", 4)  # 4 x 150 = 600, no tax
    reg.apply_discount(t.id, Discount("Comp", 100, source="group"))  # same label, not an override
    reg.apply_discount(t.id, Discount("Comp", 200, source="override"), manager_pin=manager_pin, staff=sam)
    t = reg.apply_discount(t.id, Discount("Spill", 50, source="override"), manager_pin=manager_pin)
    assert [e["label"] for e in t.meta["overrides"]] == ["Comp", "Spill"]  # the second keeps the first
    paid = reg.pay_card(t.id)
    assert paid.total_cents == 250
    rows = list(AuditLog.select().where(AuditLog.action == "override").order_by(AuditLog.id))
    maria, sam_id = staff_id("Maria"), staff_id("Sam")
    assert [(r.manager_id, r.staff_id, r.target, r.details) for r in rows] == [
        (maria, sam_id, paid.order_uuid, {"label": "Comp", "amount_cents": 200, "number": 1}),
        (maria, None, paid.order_uuid, {"label": "Spill", "amount_cents": 50, "number": 1}),
    ]
    sent = [b for b in outbox_bodies("audit") if b["action"] == "override"]
    assert [(b["manager"], b["staff"], b["target"], b["details"]["amount_cents"]) for b in sent] == [
        ("Maria", "Sam", paid.order_uuid, 200), ("Maria", None, paid.order_uuid, 50)]


def test_an_override_without_a_manager_pin_is_refused_and_nothing_changes(services, manager_pin, staff_pin):
    reg = services.register
    t = reg.open_ticket()
    reg.add_item(t.id, "drink-water")
    for pin in (None, staff_pin):
        with pytest.raises(NotAuthorized) as exc:
            reg.apply_discount(t.id, Discount("Comp", 100, source="override"), manager_pin=pin)
        assert str(exc.value).startswith("Discount override needs a manager PIN")
    assert reg.ticket(t.id).discounts == () and reg.ticket(t.id).meta == {}
    denied = [a.details for a in AuditLog.select().where(AuditLog.action == "manager_denied")]
    assert [d["action"] for d in denied] == ["discount override", "discount override"]


def test_discount_amounts_zero_is_allowed_and_negative_refused_with_exact_words(services):
    reg = services.register
    t = reg.open_ticket()
    reg.add_item(t.id, "drink-water")
    for bad in (-1, 1.5):
        with pytest.raises(InvalidInput) as exc:
            reg.apply_discount(t.id, Discount("bad", bad))  # type: ignore[arg-type]
        assert str(exc.value) == "A discount cannot be negative"
    t = reg.apply_discount(t.id, Discount("nothing off", 0, source="group"))  # zero is not negative
    assert t.discounts == (Discount("nothing off", 0, source="group"),) and t.totals.total_cents == 150


def test_discount_meta_travels_with_the_ticket_and_removal_by_source_drops_only_the_named_keys(services):
    reg = services.register
    t = reg.open_ticket()
    reg.add_item(t.id, "drink-soda", 2)  # 600
    reg.apply_discount(t.id, Discount("CODE1", 50, code="CODE1"), meta={"redemption": {"code": "CODE1"}})
    reg.apply_discount(t.id, Discount("Acme", 100, source="group"), meta={"group": "Acme"})
    t = reg.apply_discount(t.id, Discount("Points", 25, source="loyalty"), meta={"loyalty": 25})
    assert t.meta == {"redemption": {"code": "CODE1"}, "group": "Acme", "loyalty": 25}
    t = reg.remove_discounts(t.id, sources=("group", "loyalty"), meta_keys=("group", "loyalty"))
    assert [d.label for d in t.discounts] == ["CODE1"] and t.meta == {"redemption": {"code": "CODE1"}}
    t = reg.remove_discounts(t.id, sources=("group",))  # nothing of that source left; meta stays
    assert [d.label for d in t.discounts] == ["CODE1"] and t.meta == {"redemption": {"code": "CODE1"}}
    t = reg.remove_discounts(t.id)  # everything
    assert t.discounts == () and t.meta == {}
    assert reg.ticket(t.id).totals.discount_cents == 0


def test_completing_needs_the_whole_amount_and_names_what_is_due(services):
    reg = services.register
    t = reg.open_ticket()
    reg.add_item(t.id, "drink-soda")  # 325 with tax
    reg.add_tender(t.id, "card", 100)
    with pytest.raises(InvalidInput) as exc:
        reg.complete(t.id)
    assert str(exc.value) == "$2.25 is still due"
    with pytest.raises(InvalidInput) as exc:
        reg.pay_cash(t.id, 200)
    assert str(exc.value) == "Cash $2.00 is short of the $2.25 due"
    assert reg.ticket(t.id).tenders[0].amount_cents == 100  # the short cash changed nothing
    with pytest.raises(InvalidInput) as exc:
        reg.add_tender(t.id, "card", 0)
    assert str(exc.value) == "Enter an amount greater than zero"
    paid = reg.pay_cash(t.id, 225)
    assert paid.change_cents == 0 and Order.select().count() == 1


def test_a_free_ticket_completes_without_a_tender(services):
    reg = services.register
    t = reg.open_ticket()
    reg.add_item(t.id, "drink-soda")
    reg.apply_discount(t.id, Discount("On the house", 325, source="group"))  # 300 off the line: tax 0
    paid = reg.pay_cash(t.id, 0)
    assert (paid.total_cents, paid.change_cents) == (0, 0)
    t2 = reg.open_ticket()
    reg.add_item(t2.id, "drink-soda")
    reg.apply_discount(t2.id, Discount("On the house", 300, source="group"))
    reg.pay_card(t2.id)
    assert [b["tenders"] for b in outbox_bodies("order")] == [[], []]
    assert Tender.select().count() == 0


def test_a_refund_returns_every_tender_including_one_cent_and_audits_the_staff(services, manager_pin, staff_pin):
    reg = services.register
    sam = services.staff.login(staff_pin)
    t = reg.open_ticket()
    reg.add_item(t.id, "drink-soda")  # 325
    reg.add_tender(t.id, "card", 1)
    paid = reg.pay_cash(t.id, 1000)  # cash applies 324, change 676
    with pytest.raises(NotAuthorized) as exc:
        reg.refund_order(paid.order_uuid, staff_pin, "cold")
    assert str(exc.value).startswith("Refund needs a manager PIN")
    denied = AuditLog.select().where(AuditLog.action == "manager_denied").get()
    assert denied.details["action"] == "refund"  # the audit's action names (PROTOCOL.md "audit")
    assert reg.refund_order(paid.order_uuid, manager_pin, "cold", staff=sam) == 325
    back = [(x.kind, x.amount_cents, x.tendered_cents, x.reference)
            for x in Tender.select().where(Tender.amount_cents < 0).order_by(Tender.id)]
    assert back == [("card", -1, -1, "refund"), ("cash", -324, -324, "refund")]
    assert Order.get(Order.uuid == paid.order_uuid).status == "refunded"
    audit = AuditLog.get(AuditLog.action == "refund")
    assert (audit.staff_id, audit.manager_id, audit.target) == (staff_id("Sam"), staff_id("Maria"), paid.order_uuid)
    assert outbox_bodies("order_refunded")[0]["amount_cents"] == 325
    money = reg.day_summary()["money"]
    assert (money["refunds"], money["refund_cents"]) == (1, 300)  # the sale undone, before tax (DayMoney)


def test_a_void_is_audited_with_staff_and_manager_and_the_order_leaves_the_sales(services, manager_pin, staff_pin):
    reg = services.register
    sam = services.staff.login(staff_pin)
    t = reg.open_ticket()
    reg.add_item(t.id, "drink-water")
    paid = reg.pay_card(t.id)
    with pytest.raises(NotAuthorized) as exc:
        reg.void_order(paid.order_uuid, staff_pin, "wrong item")
    assert str(exc.value).startswith("Void needs a manager PIN")
    denied = AuditLog.select().where(AuditLog.action == "manager_denied").get()
    assert denied.details["action"] == "void"  # the audit's action names (PROTOCOL.md "audit")
    assert Order.get(Order.uuid == paid.order_uuid).status == "paid"
    reg.void_order(paid.order_uuid, manager_pin, "wrong item", staff=sam)
    assert Order.get(Order.uuid == paid.order_uuid).status == "voided"
    audit = AuditLog.get(AuditLog.action == "void")
    assert (audit.staff_id, audit.manager_id, audit.target, audit.details) == (
        staff_id("Sam"), staff_id("Maria"), paid.order_uuid, {"reason": "wrong item", "number": 1, "total_cents": 150})
    assert outbox_bodies("order_voided")[0]["amount_cents"] == 150
    with pytest.raises(InvalidInput) as exc:
        reg.void_order(paid.order_uuid, manager_pin, "again")
    assert str(exc.value) == "Order #1 is voided and cannot be changed"


def test_day_summary_counts_handed_over_as_sales_and_an_empty_day_as_zeros(services, manager_pin):
    reg = services.register
    t = reg.open_ticket()
    reg.add_item(t.id, "drink-soda", 2)  # 600
    reg.apply_discount(t.id, Discount("Acme", 100, source="group"))  # 500, tax 41.25 -> 41
    handed = reg.pay_card(t.id)
    Order.update(status="handed_over").where(Order.uuid == handed.order_uuid).execute()
    t = reg.open_ticket()
    reg.add_item(t.id, "drink-water")
    reg.pay_cash(t.id, 200)  # 150 cash
    s = reg.day_summary("2026-06-01")
    assert {k: v for k, v in s.items() if k != "money"} == {
        "business_day": "2026-06-01", "orders": 2, "sales_cents": 541 + 150, "tax_cents": 41, "discount_cents": 100,
        "voided": 0, "refunded": 0, "by_tender": {"card": 541, "cash": 150}}
    assert reg.day_summary() == s  # no day: today's
    empty = reg.day_summary("2026-05-31")
    assert {k: v for k, v in empty.items() if k != "money"} == {
        "business_day": "2026-05-31", "orders": 0, "sales_cents": 0, "tax_cents": 0, "discount_cents": 0,
        "voided": 0, "refunded": 0, "by_tender": {}}


def test_a_ticket_is_refused_past_200_lines_or_a_million_dollars(services):
    reg = services.register
    items = [{"sku": f"item-{i}", "name": f"Item {i}", "price_cents": 100, "tax_rate_bp": 0} for i in range(201)]
    items.append({"sku": "big", "name": "Big", "price_cents": 10**7, "tax_rate_bp": 0})  # $100,000
    services.menu.load({"categories": [{"name": "All", "items": items[:150]}, {"name": "More", "items": items[150:]}]})
    t = reg.open_ticket()
    for i in range(200):
        t = reg.add_item(t.id, f"item-{i}")
    assert len(t.lines) == 200  # the bound itself is allowed
    with pytest.raises(InvalidInput) as exc:
        reg.add_item(t.id, "item-200")
    assert str(exc.value) == "A ticket holds at most 200 lines; start a second ticket"
    big = reg.open_ticket()
    big = reg.add_item(big.id, "big", 10)  # exactly $1,000,000.00: allowed
    assert big.totals.total_cents == 10**8
    with pytest.raises(InvalidInput) as exc:
        reg.set_quantity(big.id, 0, 11)
    assert str(exc.value) == "A ticket cannot be more than $1,000,000.00"
    assert reg.ticket(big.id).lines[0].quantity == 10


def test_completion_hooks_see_the_written_order_with_its_id_and_number(services):
    reg = services.register
    reg.stop = "Pier 9"
    seen = []
    reg.completion_hooks.append(lambda order, ticket, totals, now: seen.append(
        (order.id, order.uuid, order.number, order.business_day, order.status, order.channel, order.stop,
         order.total_cents, now.isoformat())))
    for _ in range(2):
        t = reg.open_ticket()
        reg.add_item(t.id, "drink-water")
        reg.pay_card(t.id)
    stored = [(o.id, o.uuid) for o in Order.select().order_by(Order.id)]
    assert seen == [(stored[0][0], stored[0][1], 1, "2026-06-01", "paid", "counter", "Pier 9", 150, NOON),
                    (stored[1][0], stored[1][1], 2, "2026-06-01", "paid", "counter", "Pier 9", 150, NOON)]


def test_an_order_written_inside_a_callers_transaction_wakes_the_hooks_only_when_told(services):
    reg = services.register
    woken = []
    reg.after_commit_hooks.append(woken.append)
    t = reg.open_ticket()
    t = reg.add_item(t.id, "drink-water")
    t = reg.add_tender(t.id, "prepaid", 150)
    with services.db.atomic():
        paid = reg.write_order(t, None, "mobile")
        assert woken == []
    assert woken == []  # the caller says when it committed
    reg.committed(paid.order_uuid)
    assert woken == [paid.order_uuid]
    assert outbox_bodies("order")[0]["channel"] == "mobile" and outbox_bodies("order")[0]["staff"] is None


def test_recent_orders_lists_the_newest_twenty_by_default(services):
    reg = services.register
    for _ in range(21):
        t = reg.open_ticket()
        reg.add_item(t.id, "drink-water")
        reg.pay_card(t.id)
    assert [o.number for o in reg.recent_orders()] == list(range(21, 1, -1))


def test_a_register_built_with_its_defaults_has_no_stop_and_turns_the_day_at_four(services, clock):
    # README [truck]: stop = today's stop (none unless set); business_day_start_hour defaults to 4
    plain = RegisterService(services.db, clock, services.staff, services.menu, truck_id="truck-plain",
                            timezone="America/Chicago", tax_mode="exclusive")
    clock.set(clock.now().replace(day=2, hour=9, minute=30))  # 04:30 CDT on June 2
    assert plain.today() == "2026-06-02"
    t = plain.open_ticket()
    plain.add_item(t.id, "drink-water")
    paid = plain.pay_card(t.id)
    assert paid.business_day == "2026-06-02"
    body = outbox_bodies("order")[0]
    assert (body["truck"], body["stop"], body["business_day"]) == ("truck-plain", "", "2026-06-02")
    late = RegisterService(services.db, clock, services.staff, services.menu, truck_id="truck-late",
                           timezone="America/Chicago", tax_mode="exclusive", day_start_hour=6)
    assert late.today() == "2026-06-01"  # 04:30 is before a 06:00 start: still yesterday's trading day


def test_refusals_on_empty_closed_or_unknown_things_say_exactly_why(services, manager_pin):
    reg = services.register
    empty = reg.open_ticket()
    for act in (lambda: reg.add_tender(empty.id, "cash", 100), lambda: reg.pay_cash(empty.id, 100),
                lambda: reg.pay_card(empty.id), lambda: reg.complete(empty.id)):
        with pytest.raises(InvalidInput) as exc:
            act()
        assert str(exc.value) == "The ticket is empty"
    t = reg.add_item(empty.id, "drink-water")
    with pytest.raises(InvalidInput) as exc:
        reg.remove_line(t.id, 1)
    assert str(exc.value) == "That line is not on the ticket"
    reg.cancel(t.id)
    reg.cancel(t.id)  # twice, or a ticket never opened: nothing to drop, no error
    reg.cancel("never-opened")
    with pytest.raises(NotFound) as exc:
        reg.ticket(t.id)
    assert str(exc.value) == "That ticket is closed or unknown"
    with pytest.raises(NotFound) as exc:
        reg.refund_order("no-such-uuid", manager_pin, "x")
    assert str(exc.value) == "No such order"


def test_the_staff_member_and_card_reference_reach_the_order_on_every_payment_path(services, staff_pin):
    reg = services.register
    sam = services.staff.login(staff_pin)
    free = reg.open_ticket()
    reg.add_item(free.id, "drink-soda")
    reg.apply_discount(free.id, Discount("On the house", 300, source="group"))
    reg.pay_cash(free.id, 0, staff=sam)  # nothing due: completes at once
    card = reg.open_ticket()
    reg.add_item(card.id, "drink-water")
    reg.pay_card(card.id, staff=sam)  # no reference given
    free_card = reg.open_ticket()
    reg.add_item(free_card.id, "drink-water")
    reg.apply_discount(free_card.id, Discount("On the house", 150, source="group"))
    reg.pay_card(free_card.id, staff=sam)
    assert [b["staff"] for b in outbox_bodies("order")] == ["Sam", "Sam", "Sam"]
    assert [o.staff.name for o in Order.select().order_by(Order.id)] == ["Sam", "Sam", "Sam"]
    assert [(x.kind, x.amount_cents, x.reference) for x in Tender.select()] == [("card", 150, "")]


def test_a_change_event_cuts_a_long_manager_name_to_the_contracts_200(services):
    services.staff.add("M" * 250, "8888", "manager")
    reg = services.register
    t = reg.open_ticket()
    reg.add_item(t.id, "drink-water")
    paid = reg.pay_card(t.id)
    reg.void_order(paid.order_uuid, "8888", "spilled")
    assert outbox_bodies("order_voided")[0]["manager"] == "M" * 200  # SCHEMAS: manager Str(max=200)


def test_a_failing_after_commit_hook_is_logged_with_the_hook_and_the_order(services, caplog):
    def broken_printer_wakeup(order_uuid):
        raise RuntimeError("printer gone")

    services.register.after_commit_hooks[:] = [broken_printer_wakeup]
    with caplog.at_level(logging.ERROR, logger="truck_pos.services.register"):
        t = services.register.open_ticket()
        services.register.add_item(t.id, "drink-water")
        paid = services.register.pay_card(t.id)
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    message = record.getMessage()
    assert message.startswith("after-commit hook ") and "broken_printer_wakeup" in message
    assert message.endswith(f" failed for order {paid.order_uuid}")
