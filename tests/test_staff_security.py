"""Manager-only discount overrides (audited inside the sale) and the wrong-PIN backoff and lockout per terminal.

The expected waits come from the rule as written in the issue and the staff module's docstring, modelled
here on its own: two free tries, then 1 s, 2 s, 4 s ... (doubling), locked at the tenth wrong PIN in a row.
"""

from __future__ import annotations

import pytest

from truck_pos.domain.order import Discount
from truck_pos.errors import NotAuthorized
from truck_pos.services.staff import StaffService
from truck_pos.store.models import AuditLog, Order
from truck_pos.store.outbox import Outbox


def model_wait(failures: int) -> int:
    """Independent model of the backoff: seconds to wait after ``failures`` wrong PINs in a row."""
    return 0 if failures <= 2 else 2 ** (failures - 3)


def ring(services, sku="bowl-burrito"):
    t = services.register.open_ticket()
    return services.register.add_item(t.id, sku)


def test_an_override_needs_a_manager_pin(services, manager_pin, staff_pin):
    t = ring(services)
    override = Discount("Comp: long wait", 300, source="override")
    for pin in (None, staff_pin, "0000"):
        with pytest.raises(NotAuthorized, match="Discount override needs a manager PIN"):
            services.register.apply_discount(t.id, override, manager_pin=pin)
    assert services.register.ticket(t.id).discounts == ()
    services.clock.advance(60)  # past the wait the wrong tries above earned
    services.register.apply_discount(t.id, override, manager_pin=manager_pin)
    assert services.register.ticket(t.id).totals.discount_cents == 300


def test_an_override_is_audited_in_the_sales_transaction(services, manager_pin, staff_pin):
    sam = services.staff.login(staff_pin)
    t = ring(services)
    services.register.apply_discount(t.id, Discount("Comp", 250, source="override"), manager_pin=manager_pin, staff=sam)
    paid = services.register.pay_card(t.id, sam)
    rows = list(AuditLog.select().where(AuditLog.action == "override"))
    assert len(rows) == 1
    row = rows[0]
    assert (row.target, row.manager.name, row.staff.name) == (paid.order_uuid, "Maria", "Sam")
    assert row.details == {"label": "Comp", "amount_cents": 250, "number": paid.order_number}
    assert Outbox.select().where(Outbox.kind == "audit").count() >= 1


def test_a_sale_that_rolls_back_leaves_no_override_audit_row(services, manager_pin):
    def broken(order, ticket, totals, now):
        raise RuntimeError("disk full")

    t = ring(services)
    services.register.apply_discount(t.id, Discount("Comp", 250, source="override"), manager_pin=manager_pin)
    services.register.completion_hooks.append(broken)
    with pytest.raises(RuntimeError):
        services.register.pay_card(t.id)
    assert Order.select().count() == 0
    assert AuditLog.select().where(AuditLog.action == "override").count() == 0


def test_wrong_pins_back_off_exponentially_then_lock_until_a_manager_unlocks(services, manager_pin, staff_pin):
    staff, clock = services.staff, services.clock
    for failures in range(1, 10):
        with pytest.raises(NotAuthorized, match="needs a manager PIN"):
            staff.require_manager(f"{failures:04d}", "void")
        wait = model_wait(failures)
        if wait:
            # even the right PIN is refused inside the wait, and says how long to wait
            with pytest.raises(NotAuthorized, match=f"wait {wait} s"):
                staff.require_manager(manager_pin, "void")
            assert staff.pin_status() == f"Too many wrong PINs: wait {wait} s"
            clock.advance(wait - 1)
            with pytest.raises(NotAuthorized, match="wait 1 s"):
                staff.login(staff_pin)
            clock.advance(1)
        assert staff.pin_status() == ""
    with pytest.raises(NotAuthorized, match="locked: ask a manager"):
        staff.require_manager("1010", "void")  # the tenth wrong PIN in a row
    clock.advance(3600)
    with pytest.raises(NotAuthorized, match="ask a manager to unlock"):
        staff.login(staff_pin)
    clock.advance(MAX_WAIT)
    with pytest.raises(NotAuthorized, match="ask a manager to unlock"):
        staff.require_manager(manager_pin, "void")  # approving an action does not get past the lock
    assert staff.pin_status() == "Locked after too many wrong PINs: ask a manager to unlock"
    with pytest.raises(NotAuthorized, match="Unlocking needs a manager PIN"):
        staff.unlock(staff_pin)
    clock.advance(MAX_WAIT)
    assert staff.login(manager_pin).name == "Maria"  # the manager's PIN on the login pad unlocks the register
    assert staff.login(staff_pin).name == "Sam"
    assert AuditLog.select().where(AuditLog.action == "pin_unlock").count() == 1


MAX_WAIT = 300


def test_two_hundred_guesses_never_find_the_manager_pin(services, manager_pin):
    staff, clock = services.staff, services.clock
    refused_after_lock = 0
    for guess in range(200):
        pin = f"{guess:04d}" if f"{guess:04d}" != manager_pin else "0001"
        try:
            staff.require_manager(pin, "refund")
        except NotAuthorized as exc:
            refused_after_lock += "ask a manager" in str(exc)
        clock.advance(MAX_WAIT)  # the attacker waits out every backoff
    assert refused_after_lock >= 190
    with pytest.raises(NotAuthorized, match="ask a manager"):
        staff.require_manager(manager_pin, "refund")


def test_a_staff_login_does_not_clear_the_count_but_the_lock_survives_a_restart(services, manager_pin, staff_pin):
    staff, clock = services.staff, services.clock
    for i in range(9):
        with pytest.raises(NotAuthorized):
            staff.require_manager(f"{i:04d}", "void")
        clock.advance(MAX_WAIT)
        staff.login(staff_pin)  # a known staff PIN between guesses does not reset the count
    with pytest.raises(NotAuthorized, match="locked"):
        staff.require_manager("0009", "void")
    restarted = StaffService(services.db, clock, terminal="register")
    with pytest.raises(NotAuthorized, match="ask a manager"):
        restarted.login(staff_pin)
    other_terminal = StaffService(services.db, clock, terminal="window-2")
    assert other_terminal.login(staff_pin).name == "Sam"
