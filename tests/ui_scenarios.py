"""The register scenarios: ringing up, cash and card, login and void, pickup, first start and the whole story."""

from __future__ import annotations

from pathlib import Path

from ui_input import Until, X, key_taps, screenshot, tap, tap_widget, type_digits

def scenario_ring_up_cash(app, out: Path, result: dict):
    """Tap two tacos and a drink, pay cash with a quick $20 button, see the change."""
    for _ in range(2):  # an item with options asks which; none chosen
        yield lambda: tap(app, "Al Pastor Taco")
        yield lambda: tap(app, "Add Al Pastor Taco")
    yield lambda: tap(app, "Drinks")
    yield lambda: tap(app, "Horchata")
    yield lambda: result.update(totals=app.register_screen.totals.text)
    yield lambda: screenshot(out, "register_ticket")
    yield lambda: tap(app, "Cash")
    yield lambda: screenshot(out, "register_cash")
    yield lambda: tap(app, "$20.00")
    yield lambda: result.update(message=app.register_screen.message.text)
    yield lambda: screenshot(out, "register_paid")


def scenario_short_cash_is_refused(app, out: Path, result: dict):
    """Typing less cash than due shows the reason and keeps the ticket."""
    yield lambda: tap(app, "Bowls")
    yield lambda: tap(app, "Loaded Nachos")
    yield lambda: tap(app, "Cash")
    yield lambda: tap(app, "5")
    yield lambda: tap(app, "00")
    yield lambda: tap(app, "Take cash")
    yield lambda: result.update(message=app.register_screen.message.text, lines=len(app.register_screen.ticket.lines))
    yield lambda: screenshot(out, "register_short_cash")
    yield lambda: tap(app, "Cancel")
    yield from card_approved(app, "")
    yield lambda: result.update(after_card=app.register_screen.message.text)


def _two_staff(services) -> None:
    services.staff.add("Sam", "1234", "staff")
    services.staff.add("Maria", "9999", "manager")


def scenario_login_and_manager_void(app, out: Path, result: dict):
    """Wrong PIN, staff login, sell, void refused for staff, approved by manager, lock."""
    yield lambda: screenshot(out, "login")
    yield from type_digits(app, "4321")
    yield lambda: tap(app, "Log in")
    yield lambda: result.update(wrong_pin=app.login_screen.message.text)
    yield from type_digits(app, "1234")
    yield lambda: tap(app, "Log in")
    yield lambda: result.update(after_login=app.screens.current, staff=app.staff.name)
    yield lambda: tap(app, "Bowls")
    yield lambda: tap(app, "Quesadilla")
    yield from card_approved(app, "")
    yield lambda: tap(app, "Orders")
    yield lambda: tap(app, "#1")
    yield lambda: tap(app, "Void")
    yield from type_digits(app, "1234")
    yield lambda: tap(app, "Approve void")
    yield lambda: result.update(staff_void=app.screens.current_screen.message.text)
    yield lambda: tap(app, "Void")
    yield from type_digits(app, "9999")
    yield lambda: screenshot(out, "manager_pin")
    yield lambda: tap(app, "Approve void")
    yield lambda: result.update(manager_void=app.screens.current_screen.message.text)
    yield lambda: screenshot(out, "orders_voided")
    yield lambda: tap(app, "Lock")
    yield lambda: result.update(after_lock=app.screens.current)


def scenario_pickup_scan(app, out: Path, result: dict):
    """Sell two orders, mark one ready, scan its claim at the window, scan it again."""
    paid = []
    for sku in ("taco-veggie", "taco-fish"):
        t = app.services.register.open_ticket()
        t = app.services.register.add_item(t.id, sku)
        paid.append(app.services.register.pay_card(t.id))
    from truck_pos.store.models import Order

    claim = app.services.pickup.claim_for(Order.get(Order.uuid == paid[0].order_uuid))
    yield lambda: tap(app, "Pickup")
    yield lambda: tap(app, "#1")  # preparing -> ready
    yield lambda: screenshot(out, "pickup_ready")
    yield lambda: tap_widget(app.screens.current_screen.claim)
    yield lambda: X.type(claim)
    yield lambda: result.update(claim_field=app.screens.current_screen.claim.text, claim=claim)
    yield Until(lambda: app.screens.current_screen.message.text)
    yield lambda: result.update(first_scan=app.screens.current_screen.message.text)
    yield lambda: screenshot(out, "pickup_handed_over")
    yield lambda: X.type(claim)
    yield Until(lambda: "already" in app.screens.current_screen.message.text)
    yield lambda: result.update(second_scan=app.screens.current_screen.message.text)
    yield lambda: X.type("garbage%%")
    yield Until(lambda: "already" not in app.screens.current_screen.message.text)
    yield lambda: result.update(garbage=app.screens.current_screen.message.text)


def scenario_story(app, out: Path, result: dict):
    """The acceptance story at the register: login, a code, a refused code, cash with change, reprint,
    pickup scan, manager void, customer registration, reports."""
    yield lambda: result.update(first_screen=app.screens.current)
    yield lambda: screenshot(out, "setup")
    yield lambda: tap_widget(app.screens.current_screen.name_field)
    yield from key_taps(app, "maria")
    yield lambda: screenshot(out, "setup_keyboard")
    yield lambda: result.update(name_field=app.screens.current_screen.name_field.text,
                                field_above_keyboard=_above_keyboard(app, app.screens.current_screen.name_field))
    yield lambda: tap(app, "Hide")
    yield from type_digits(app, "9999")
    yield lambda: tap(app, "Next")
    yield lambda: result.update(setup_prompt=app.screens.current_screen.prompt.text)
    yield from type_digits(app, "9999")
    yield lambda: tap(app, "Set up this register")
    yield lambda: result.update(after_setup=app.screens.current, staff=app.staff.name if app.staff else None,
                                welcome=app.register_screen.message.text)
    yield lambda: app.services.staff.add("Sam", "1234", "staff")
    yield lambda: tap(app, "Bowls")
    yield lambda: tap(app, "Burrito Bowl")
    yield lambda: tap(app, "Add Burrito Bowl")
    yield lambda: tap(app, "Drinks")
    yield lambda: tap(app, "Mexican Coke")
    yield lambda: tap(app, "Code")
    yield from key_taps(app, "NOSUCH")
    yield lambda: tap(app, "Enter")
    yield lambda: result.update(refused=app.register_screen.code_result.text)
    yield lambda: screenshot(out, "register_code_refused")
    yield lambda: tap_widget(app.register_screen.code_field)
    yield from key_taps(app, "FBLIKE10")
    yield lambda: result.update(code_above_keyboard=_above_keyboard(app, app.register_screen.code_field))
    yield lambda: screenshot(out, "register_code_keyboard")
    yield lambda: tap(app, "Enter")
    yield lambda: result.update(accepted=app.register_screen.message.text, totals=app.register_screen.totals.text,
                                goal_before=app.register_screen.goal.text)
    yield lambda: screenshot(out, "register_code_applied")
    yield lambda: tap(app, "Cash")
    yield lambda: tap(app, "$20.00")
    yield lambda: result.update(paid=app.register_screen.message.text, goal_after=app.register_screen.goal.text)
    yield lambda: tap(app, "Done")
    yield lambda: tap(app, "Orders")
    yield lambda: tap(app, "#1")
    yield lambda: tap(app, "Reprint")
    yield lambda: result.update(reprint=app.screens.current_screen.message.text)
    yield lambda: screenshot(out, "orders")
    yield lambda: tap(app, "Pickup")
    yield lambda: tap(app, "#1")
    yield lambda: screenshot(out, "pickup")
    yield lambda: tap_widget(app.screens.current_screen.claim)
    yield lambda: X.type(_claim_of_first_order(app))
    yield Until(lambda: "#1" in app.screens.current_screen.message.text)
    yield lambda: result.update(pickup=app.screens.current_screen.message.text)
    yield lambda: tap(app, "Register")
    yield lambda: tap(app, "Tacos")
    yield lambda: tap(app, "Veggie Taco")
    yield from card_approved(app, "")
    yield lambda: tap(app, "Orders")
    yield lambda: tap(app, "#2")
    yield lambda: tap(app, "Void")
    yield from type_digits(app, "9999")
    yield lambda: tap(app, "Approve void")
    yield lambda: result.update(void=app.screens.current_screen.message.text)
    yield lambda: tap(app, "Customer view")
    yield lambda: result.update(chrome_height=app.chrome.height, qr_url=app.screens.current_screen.qr_url)
    yield lambda: tap_widget(app.screens.current_screen.email)
    yield from key_taps(app, "ada@example")
    yield lambda: tap(app, ".com")
    yield lambda: result.update(email_above_keyboard=_above_keyboard(app, app.screens.current_screen.email))
    yield lambda: screenshot(out, "customer_keyboard")
    yield lambda: tap(app, "Hide")
    yield lambda: tap_widget(app.screens.current_screen.group)
    yield from key_taps(app, "acme corporation, accounting")
    yield lambda: tap(app, "Hide")
    yield lambda: tap_widget(app.screens.current_screen.consent)
    yield lambda: tap(app, "Sign me up")
    yield lambda: result.update(registered=app.screens.current_screen.result.text,
                                signup_message=app.screens.current_screen.message.text,
                                consent_ticked=app.screens.current_screen.consent.active)
    yield lambda: screenshot(out, "customer")
    yield lambda: tap(app, "Staff")
    yield from type_digits(app, "9999")
    yield lambda: tap(app, "Log in")
    yield lambda: tap(app, "Reports")
    yield lambda: result.update(headline=app.screens.current_screen.headline.text,
                                segments=app.screens.current_screen.segments.text)
    yield lambda: screenshot(out, "reports")


def _claim_of_first_order(app) -> str:
    from truck_pos.store.models import Order

    return app.services.pickup.claim_for(Order.get(Order.number == 1))


def _above_keyboard(app, field) -> bool:
    """The field is entirely inside the window and above the docked keyboard."""
    x, y = field.to_window(field.x, field.y)
    return app.keyboard.shown and y >= app.keyboard.top and y + field.height <= app.root.height


def card_approved(app, last4: str):
    yield lambda: tap(app, "Card")
    yield lambda: tap(app, "Approved")
    yield from type_digits(app, last4)
    yield lambda: tap(app, "Record approval")



def scenario_modifiers_and_sold_out(app, out: Path, result: dict):
    """An item with options gets a choice; a sold-out toggle greys the item on the register."""
    yield lambda: tap(app, "Al Pastor Taco")
    yield lambda: tap(app, "Extra cheese")
    yield lambda: screenshot(out, "register_modifiers")
    yield lambda: tap(app, "Add Al Pastor Taco")
    yield lambda: result.update(lines=[(ln.name, [m.name for m in ln.modifiers]) for ln in app.register_screen.ticket.lines],
                                total=app.register_screen.ticket.totals.total_cents)
    yield lambda: tap(app, "Menu")
    yield lambda: tap(app, "Baja Fish Taco")
    yield lambda: result.update(menu_message=app.screens.current_screen.message.text)
    yield lambda: screenshot(out, "menu_sold_out")
    yield lambda: tap(app, "Register")
    yield lambda: result.update(fish_disabled=[w.disabled for w in app.register_screen.grid.children if getattr(w, "sku", "") == "taco-fish"])
