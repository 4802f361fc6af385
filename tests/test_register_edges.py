"""Register edges that mutation testing found unpinned: limits, exact refusals, change events, summaries, hooks.

Expected figures are worked out here from the demo menu's prices and the 8.25 % tax (half up), and from the
contract in sync/PROTOCOL.md (quantity 1-99, order amounts up to $1,000,000.00), never read back from the service.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest

from truck_pos.domain.order import Discount
from truck_pos.errors import InvalidInput, NotFound
from truck_pos.store.models import AuditLog, Order, Tender
from truck_pos.store.outbox import Outbox

SODA, SODA_TAX = 300, 25  # Mexican Coke $3.00; 8.25 % of 300 = 24.75 -> 25 (half up)
HORCHATA, HORCHATA_TAX = 350, 29  # 28.875 -> 29


def ring(services, *items):
    t = services.register.open_ticket()
    for sku in items:
        t = services.register.add_item(t.id, sku)
    return t


def outbox_rows(kind: str) -> list[Outbox]:
    return list(Outbox.select().where(Outbox.kind == kind).order_by(Outbox.seq))


def test_quantity_bounds_are_the_contracts_1_to_99_and_merged_lines_count(services):
    reg = services.register
    t = reg.open_ticket()
    t = reg.add_item(t.id, "drink-soda", 99)
    assert t.lines[0].quantity == 99
    with pytest.raises(InvalidInput) as exc:
        reg.add_item(t.id, "drink-soda", 1)  # merges into the same line: 100
    assert str(exc.value) == "At most 99 Mexican Coke on one line (this would make 100)"
    with pytest.raises(InvalidInput) as exc:
        reg.add_item(t.id, "drink-water", 100)
    assert str(exc.value) == "Quantity must be a whole number from 1 to 99"
    for bad in (True, 2.0, "3"):
        with pytest.raises(InvalidInput):
            reg.add_item(t.id, "drink-water", bad)
    t = reg.add_item(t.id, "drink-water", 1)
    t = reg.set_quantity(t.id, 1, 99)
    assert [ln.quantity for ln in t.lines] == [99, 99]
    with pytest.raises(InvalidInput):
        reg.set_quantity(t.id, 1, 100)
    t = reg.set_quantity(t.id, 0, 0)  # 0 takes the line off
    assert [ln.sku for ln in t.lines] == ["drink-water"]
    for index in (1, -1, "0"):
        with pytest.raises(InvalidInput, match="That line is not on the ticket"):
            reg.set_quantity(t.id, index, 2)
    t = reg.remove_line(t.id, 0)
    assert t.lines == ()


def test_discount_bounds_and_sources_are_refused_with_exact_words(services):
    reg = services.register
    t = ring(services, "drink-soda")
    with pytest.raises(InvalidInput) as exc:
        reg.apply_discount(t.id, Discount("huge", 10**8 + 1))
    assert str(exc.value) == "A discount cannot be more than $1,000,000.00"
    with pytest.raises(InvalidInput) as exc:
        reg.apply_discount(t.id, Discount("odd", 5, source="gift"))
    assert str(exc.value) == "Unknown discount source 'gift'"
    with pytest.raises(InvalidInput, match="negative"):
        reg.apply_discount(t.id, Discount("float", 1.5))  # type: ignore[arg-type]
    t = reg.apply_discount(t.id, Discount("all of it", 10**8, source="group"))  # the bound itself is allowed
    assert t.totals.total_cents == 0
    t = reg.remove_discounts(t.id)
    assert t.discounts == () and t.totals.total_cents == SODA + SODA_TAX


def test_a_ticket_with_payment_started_cannot_change_until_the_payment_is_cleared(services):
    reg = services.register
    t = ring(services, "drink-soda")
    reg.add_tender(t.id, "card", 100)
    for change in (lambda: reg.add_item(t.id, "drink-water"), lambda: reg.remove_line(t.id, 0),
                   lambda: reg.apply_discount(t.id, Discount("x", 1, source="group"))):
        with pytest.raises(InvalidInput) as exc:
            change()
        assert str(exc.value) == "Payment has started; finish or clear the payment before changing the ticket"
    t = reg.clear_tenders(t.id)
    assert t.tenders == () and len(reg.add_item(t.id, "drink-water").lines) == 2
    empty = reg.open_ticket()
    with pytest.raises(InvalidInput, match="The ticket is empty"):
        reg.add_tender(empty.id, "cash", 100)
    with pytest.raises(InvalidInput, match="The ticket is empty"):
        reg.complete(empty.id)
    reg.cancel(empty.id)
    with pytest.raises(NotFound, match="That ticket is closed or unknown"):
        reg.ticket(empty.id)


def test_cash_change_numbers_and_the_paid_record_follow_the_menu_and_tax(services):
    reg = services.register
    paid = reg.pay_cash(ring(services, "drink-soda").id, 500)
    assert (paid.order_number, paid.business_day, paid.total_cents, paid.change_cents) == (1, "2026-06-01", 325, 175)
    exact = reg.pay_cash(ring(services, "drink-soda").id, 325)
    assert (exact.order_number, exact.change_cents) == (2, 0)
    card = reg.pay_card(ring(services, "drink-horchata").id, reference="auth-77")
    tender = Tender.get(Tender.order == Order.get(Order.uuid == card.order_uuid))
    assert (tender.kind, tender.amount_cents, tender.reference) == ("card", HORCHATA + HORCHATA_TAX, "auth-77")
    body = outbox_rows("order")[-1].payload
    assert (body["number"], body["status"], body["channel"], body["total_cents"], body["tax_cents"]) == \
        (3, "paid", "counter", 379, 29)
    assert body["tenders"] == [{"kind": "card", "amount_cents": 379, "tendered_cents": 379, "change_cents": 0}]
    assert body["lines"][0]["gross_cents"] == 350 and body["lines"][0]["quantity"] == 1
    first = outbox_rows("order")[0]
    assert first.key == paid.order_uuid and first.payload["tenders"][0]["change_cents"] == 175


def test_void_and_refund_send_the_documented_change_events(services, manager_pin, clock):
    reg = services.register
    voided = reg.pay_card(ring(services, "drink-soda").id)
    seen = []
    reg.status_hooks.append(lambda order, status: seen.append((order.uuid, status)))
    reg.void_order(voided.order_uuid, manager_pin, "r" * 600)
    event = outbox_rows("order_voided")[0]
    assert event.key == f"order_voided:{voided.order_uuid}"
    assert event.payload == {"order_id": voided.order_uuid, "truck": "truck-test", "business_day": "2026-06-01",
                             "number": 1, "amount_cents": 325, "tax_cents": 25, "reason": "r" * 500,
                             "manager": "Maria", "ts": clock.now().isoformat()}
    refunded = reg.pay_cash(ring(services, "drink-soda", "drink-horchata").id, 1000)
    assert reg.refund_order(refunded.order_uuid, manager_pin, "cold") == 704  # 650 + tax 24.75 + 28.875 -> 54
    event = outbox_rows("order_refunded")[0]
    assert (event.payload["amount_cents"], event.payload["number"], event.payload["reason"]) == (704, 2, "cold")
    assert seen == [(voided.order_uuid, "voided"), (refunded.order_uuid, "refunded")]
    negative = Tender.select().where(Tender.amount_cents < 0).get()
    assert (negative.amount_cents, negative.tendered_cents, negative.reference) == (-704, -704, "refund")
    audits = {a.action: a.details for a in AuditLog.select()}
    assert audits["refund"] == {"reason": "cold", "number": 2, "amount_cents": 704}
    assert audits["void"]["total_cents"] == 325 and audits["void"]["number"] == 1
    with pytest.raises(InvalidInput) as exc:
        reg.refund_order(refunded.order_uuid, manager_pin, "again")
    assert str(exc.value) == "Order #2 is refunded and cannot be changed"
    with pytest.raises(NotFound, match="No such order"):
        reg.void_order("no-such-uuid", manager_pin, "x")


def test_an_order_handed_over_can_be_refunded_but_not_voided(services, manager_pin):
    reg = services.register
    paid = reg.pay_card(ring(services, "drink-water").id)  # water: no tax, $1.50
    Order.update(status="handed_over").where(Order.uuid == paid.order_uuid).execute()
    with pytest.raises(InvalidInput) as exc:
        reg.void_order(paid.order_uuid, manager_pin, "late")
    assert str(exc.value) == "Order #1 is handed over and cannot be changed"
    assert reg.refund_order(paid.order_uuid, manager_pin, "late") == 150


def test_day_summary_counts_each_status_and_tender_exactly(services, manager_pin):
    reg = services.register
    reg.pay_cash(ring(services, "drink-soda").id, 500)  # 325 cash
    reg.pay_card(ring(services, "drink-horchata").id)  # 379 card
    v = reg.pay_card(ring(services, "drink-water").id)  # 150, voided
    r = reg.pay_cash(ring(services, "drink-water").id, 150)  # 150, refunded
    reg.void_order(v.order_uuid, manager_pin, "x")
    reg.refund_order(r.order_uuid, manager_pin, "y")
    s = reg.day_summary()
    assert (s["business_day"], s["orders"], s["sales_cents"], s["tax_cents"], s["discount_cents"]) == \
        ("2026-06-01", 2, 704, 54, 0)
    assert (s["voided"], s["refunded"], s["by_tender"]) == (1, 1, {"cash": 325, "card": 379})
    assert reg.day_summary("2026-05-31")["orders"] == 0
    assert [o.number for o in reg.recent_orders(limit=3)] == [4, 3, 2]
    assert reg.find_order("2026-06-01", 2).total_cents == 379
    with pytest.raises(NotFound) as exc:
        reg.find_order("2026-06-01", 9)
    assert str(exc.value) == "No order #9 on 2026-06-01"


def test_the_business_day_turns_at_four_local_time(services, clock):
    # 03:59 Chicago (CDT, UTC-5) on June 2 is still June 1's trading day; 04:00 is June 2's
    clock.set(datetime(2026, 6, 2, 8, 59, tzinfo=timezone.utc))
    assert services.register.today() == "2026-06-01"
    clock.set(datetime(2026, 6, 2, 9, 0, tzinfo=timezone.utc))
    assert services.register.today() == "2026-06-02"
    assert services.register.pay_card(ring(services, "drink-water").id).business_day == "2026-06-02"


def test_a_failing_after_commit_hook_is_logged_and_the_sale_stays_paid(services, caplog):
    woken = []

    def broken(order_uuid):
        raise RuntimeError("printer gone")

    services.register.after_commit_hooks[:] = [broken, woken.append]
    with caplog.at_level(logging.ERROR):
        paid = services.register.pay_card(ring(services, "drink-water").id)
    assert woken == [paid.order_uuid]
    assert Order.get(Order.uuid == paid.order_uuid).status == "paid"
    assert any("after-commit hook" in r.getMessage() for r in caplog.records)


def test_an_override_is_audited_with_the_amount_actually_applied(services, manager_pin, staff_pin):
    reg = services.register
    sam = services.staff.login(staff_pin)
    t = ring(services, "drink-water")  # $1.50, no tax
    reg.apply_discount(t.id, Discount("Comp", 500, source="override"), manager_pin=manager_pin, staff=sam)
    paid = reg.pay_card(t.id)
    audit = AuditLog.get(AuditLog.action == "override")
    assert audit.target == paid.order_uuid
    assert audit.details == {"label": "Comp", "amount_cents": 150, "number": 1}  # capped at the ticket's 150
    assert audit.manager.name == "Maria"
