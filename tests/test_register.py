"""The register service on a real SQLite database: ring-up, durability, refusals, manager actions."""

from __future__ import annotations

import pytest

from truck_pos.domain.order import Discount
from truck_pos.errors import InvalidInput, NotAuthorized
from truck_pos.store.models import AuditLog, Order, OrderLine, Tender
from truck_pos.store.outbox import Outbox


def ring(services, *items):
    t = services.register.open_ticket()
    for sku in items:
        t = services.register.add_item(t.id, sku)
    return t


def test_paid_order_is_written_with_lines_tenders_and_one_outbox_row(services):
    t = ring(services, "taco-al-pastor", "taco-al-pastor", "drink-water")
    paid = services.register.pay_cash(t.id, 2000)
    order = Order.get(Order.uuid == paid.order_uuid)
    assert order.status == "paid" and order.number == 1 and order.total_cents == 962
    assert [(ln.sku, ln.quantity) for ln in order.lines] == [("taco-al-pastor", 2), ("drink-water", 1)]
    assert [(x.kind, x.amount_cents, x.change_cents) for x in order.tenders] == [("cash", 962, 1038)]
    rows = list(Outbox.select())
    assert len(rows) == 1 and rows[0].key == order.uuid and rows[0].kind == "order"
    assert rows[0].payload["total_cents"] == 962 and len(rows[0].payload["lines"]) == 2
    assert paid.change_cents == 1038


def test_every_column_the_prepared_write_path_stores_reads_back_through_the_models(services, clock, staff_pin):
    """The hot path skips peewee's SQL and most conversions: the rows must read back as peewee wrote them."""
    from truck_pos.store.print_models import PickupEntry, PrintJob

    cook = services.staff.login(staff_pin)
    t = services.register.open_ticket()
    t = services.register.add_item(t.id, "taco-al-pastor", 2, ("Extra cheese",))
    t = services.register.add_item(t.id, "drink-water")
    t = services.register.apply_discount(t.id, Discount("staff meal", 100, source="group"))
    paid = services.register.pay_cash(t.id, 5000, cook)
    order = Order.get(Order.uuid == paid.order_uuid)
    now = clock.now()
    assert (order.created_utc, order.paid_utc, order.business_day) == (now, now, "2026-06-01")
    assert order.staff.name == "Sam"
    # 2 x (3.75 + 0.75) + 1.50 = 10.50, less 1.00 = 9.50 before tax
    assert (order.subtotal_cents, order.discount_cents) == (1050, 100)
    lines = [(ln.position, ln.sku, ln.quantity, ln.unit_price_cents, ln.modifiers, ln.tax_rate_bp)
             for ln in order.lines]
    assert lines == [(0, "taco-al-pastor", 2, 375, [{"name": "Extra cheese", "price_cents": 75}], 825),
                     (1, "drink-water", 1, 150, [], 0)]
    assert [(d.label, d.amount_cents, d.code) for d in order.discounts] == [("staff meal", 100, None)]
    assert [(x.kind, x.tendered_cents, x.reference) for x in order.tenders] == [("cash", 5000, "")]
    jobs = PrintJob.select().where(PrintJob.order_uuid == order.uuid).order_by(PrintJob.id)
    assert [(j.kind, j.reprint, j.status, j.attempts, j.created_utc, j.next_attempt_utc, j.last_error)
            for j in jobs] == [("receipt", False, "pending", 0, now, now, ""), ("kitchen", False, "pending", 0, now, now, "")]
    entry = PickupEntry.get(PickupEntry.order_uuid == order.uuid)
    assert (entry.number, entry.state, entry.created_utc, entry.channel) == (paid.order_number, "preparing", now, "counter")
    row = Outbox.get(Outbox.key == order.uuid)
    assert row.created_utc == now and row.payload["staff"] == "Sam" and row.payload["paid_at"] == now.isoformat()
    assert row.payload["lines"][0]["modifiers"] == [{"name": "Extra cheese", "price_cents": 75}]
    stored = services.db.execute_sql('SELECT created_utc, paid_utc FROM "order"').fetchone()
    assert stored == ("2026-06-01T17:00:00.000000+00:00",) * 2  # ISO-8601 UTC text, so it sorts
    clock.advance(minutes=1)
    reg = services.register
    later = reg.pay_card(reg.add_item(reg.open_ticket().id, "drink-water").id)
    jobs = PrintJob.select().where(PrintJob.order_uuid == later.order_uuid)
    assert {j.created_utc for j in jobs} == {Order.get(Order.uuid == later.order_uuid).created_utc}
    assert {j.created_utc for j in jobs} == {clock.now()}


def test_order_numbers_restart_each_business_day(services, clock):
    first = services.register.pay_card(ring(services, "drink-soda").id)
    second = services.register.pay_card(ring(services, "drink-soda").id)
    clock.advance(hours=24)
    next_day = services.register.pay_card(ring(services, "drink-soda").id)
    assert (first.order_number, second.order_number, next_day.order_number) == (1, 2, 1)
    assert next_day.business_day != first.business_day


def test_a_sale_after_midnight_belongs_to_the_previous_business_day(services, clock):
    from datetime import datetime, timezone

    clock.set(datetime(2026, 6, 2, 6, 30, tzinfo=timezone.utc))  # 01:30 in Chicago
    paid = services.register.pay_card(ring(services, "drink-soda").id)
    assert paid.business_day == "2026-06-01"


def test_split_tender_card_then_cash(services):
    t = ring(services, "bowl-burrito")  # 1095 + 90 tax
    services.register.add_tender(t.id, "card", 500)
    paid = services.register.pay_cash(t.id, 1000)
    order = Order.get(Order.uuid == paid.order_uuid)
    assert sorted((x.kind, x.amount_cents) for x in order.tenders) == [("card", 500), ("cash", 685)]
    assert paid.change_cents == 315


@pytest.mark.parametrize(
    "action, message",
    [
        (lambda s, t: s.register.add_item(t.id, "no-such-thing"), "Unknown item"),
        (lambda s, t: s.register.add_item(t.id, "drink-soda", -1), "Quantity"),
        (lambda s, t: s.register.add_item(t.id, "drink-soda", 0), "Quantity"),
        (lambda s, t: s.register.set_quantity(t.id, 0, -3), "Quantity"),
        (lambda s, t: s.register.remove_line(t.id, 5), "not on the ticket"),
        (lambda s, t: s.register.pay_cash(t.id, 100), r"short of the \$3.25 due"),
        (lambda s, t: s.register.complete(t.id), "still due"),
        (lambda s, t: s.register.add_item(t.id, "taco-veggie", 1, ("Gold leaf",)), "has no option"),
        (lambda s, t: s.register.add_tender(t.id, "card", 10_000), "more than"),
        (lambda s, t: s.register.apply_discount(t.id, Discount("bad", -5)), "negative"),
    ],
)
def test_bad_input_is_refused_clearly_and_changes_nothing(services, action, message):
    t = ring(services, "drink-soda")
    before = services.register.ticket(t.id)
    with pytest.raises(InvalidInput, match=message):
        action(services, t)
    assert services.register.ticket(t.id) == before
    assert Order.select().count() == 0 and Outbox.select().count() == 0


def test_sold_out_item_is_refused(services):
    services.menu.set_sold_out("taco-fish", True)
    with pytest.raises(InvalidInput, match="sold out"):
        ring(services, "taco-fish")


def test_empty_ticket_cannot_be_paid(services):
    t = services.register.open_ticket()
    with pytest.raises(InvalidInput, match="empty"):
        services.register.pay_cash(t.id, 100)


def test_void_needs_a_manager_and_is_audited(services, manager_pin, staff_pin):
    paid = services.register.pay_card(ring(services, "drink-soda").id)
    with pytest.raises(NotAuthorized, match="manager"):
        services.register.void_order(paid.order_uuid, staff_pin, "mistake")
    with pytest.raises(NotAuthorized):
        services.register.void_order(paid.order_uuid, "0000", "mistake")
    assert Order.get(Order.uuid == paid.order_uuid).status == "paid"
    services.register.void_order(paid.order_uuid, manager_pin, "customer left")
    assert Order.get(Order.uuid == paid.order_uuid).status == "voided"
    actions = [a.action for a in AuditLog.select().order_by(AuditLog.id)]
    assert actions == ["manager_denied", "manager_denied", "void"]
    audit_rows = [r for r in Outbox.select() if r.kind == "audit"]
    assert audit_rows[-1].payload["action"] == "void" and audit_rows[-1].payload["manager"] == "Maria"
    with pytest.raises(InvalidInput, match="voided"):
        services.register.void_order(paid.order_uuid, manager_pin, "again")


def test_refund_returns_the_money_to_its_tenders(services, manager_pin):
    paid = services.register.pay_cash(ring(services, "bowl-nacho").id, 2000)
    assert services.register.refund_order(paid.order_uuid, manager_pin, "cold food") == paid.total_cents
    order = Order.get(Order.uuid == paid.order_uuid)
    assert order.status == "refunded"
    assert sum(t.amount_cents for t in Tender.select().where(Tender.order == order)) == 0
    assert services.register.day_summary()["refunded"] == 1


def test_wrong_pin_is_refused_and_audited(services, staff_pin):
    with pytest.raises(NotAuthorized, match="Wrong PIN"):
        services.staff.login("4321")
    assert services.staff.login(staff_pin).name == "Sam"
    assert AuditLog.select().where(AuditLog.action == "login_failed").count() == 1


def test_pins_are_stored_hashed_and_unique(services, staff_pin):
    from truck_pos.store.models import Staff

    row = Staff.get(Staff.name == "Sam")
    assert staff_pin.encode() not in bytes(row.pin_hash)
    with pytest.raises(InvalidInput, match="already used"):
        services.staff.add("Other", staff_pin)
    with pytest.raises(InvalidInput, match="4 to 8 digits"):
        services.staff.add("Short", "12")


def test_a_failing_completion_hook_rolls_the_whole_order_back(services):
    def broken(order, ticket, totals, now):
        raise RuntimeError("disk full")

    services.register.completion_hooks.append(broken)
    t = ring(services, "drink-soda")
    with pytest.raises(RuntimeError):
        services.register.pay_card(t.id)
    assert Order.select().count() == 0 and OrderLine.select().count() == 0 and Outbox.select().count() == 0
    services.register.completion_hooks.clear()
    services.register.clear_tenders(t.id)
    assert services.register.pay_card(t.id).order_number == 1


def test_day_summary_counts_sales_by_tender(services):
    services.register.pay_cash(ring(services, "drink-soda").id, 500)
    services.register.pay_card(ring(services, "drink-horchata").id)
    summary = services.register.day_summary()
    assert summary["orders"] == 2
    assert summary["sales_cents"] == summary["by_tender"]["cash"] + summary["by_tender"]["card"]


def test_a_sold_out_flag_set_by_another_process_reaches_the_register_within_a_second(services, settings, monkeypatch):
    import sqlite3
    import time

    ring(services, "taco-fish")  # index built
    other = sqlite3.connect(settings.database_path)
    other.execute("UPDATE menu_item SET sold_out = 1 WHERE sku = 'taco-fish'")
    other.commit()
    other.close()
    later = time.monotonic() + services.menu.RECHECK_S
    monkeypatch.setattr(time, "monotonic", lambda: later)
    with pytest.raises(InvalidInput, match="sold out"):
        ring(services, "taco-fish")


def test_a_ticket_that_costs_nothing_completes_without_a_tender(services, manager_pin):
    t = ring(services, "drink-water")
    services.register.apply_discount(t.id, Discount("Free water", 150, source="override"), manager_pin=manager_pin)
    paid = services.register.pay_cash(t.id, 0)
    order = Order.get(Order.uuid == paid.order_uuid)
    assert (order.total_cents, order.status, list(order.tenders)) == (0, "paid", [])
    t2 = ring(services, "drink-water")
    services.register.apply_discount(t2.id, Discount("Free water", 150, source="override"), manager_pin=manager_pin)
    assert services.register.pay_card(t2.id).total_cents == 0
