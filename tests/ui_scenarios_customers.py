"""Scenarios for customers at the register, Spanish staff, the tap rate and the 800x480 layout audit."""

from __future__ import annotations

import subprocess
from pathlib import Path

from kivy.uix.label import Label

from truck_pos.ui.widgets import TouchButton
from ui_scenarios import card_approved
from ui_input import Until, X, audit, find_button, key_taps, screenshot, tap, tap_widget, type_digits

def _known_customer(services) -> None:
    """Ana signed up earlier (with her group); the hub last told this truck she has 30 points."""
    from datetime import timedelta

    ref, _code = services.registration.register(email="ana@example.com", phone="(312) 555-0100", consent=True)
    services.registration.join_group(ref, "Acme Corporation, Accounting")
    services.loyalty.set_synced_balance(ref, 30, services.clock.now() - timedelta(hours=1))


def scenario_customers(app, out: Path, result: dict):
    """Attach Ana by scanning her QR: group discount, a reward from her points, a declined card, then an
    approved one; withdraw her consent; a second ticket finds her by phone and pays exact cash."""
    from truck_pos.store.campaign_models import Customer

    ref = Customer.get(Customer.email == "ana@example.com").ref
    result["ref"] = ref
    screen = app.register_screen
    yield lambda: tap(app, "Bowls")
    yield lambda: tap(app, "Quesadilla")
    yield lambda: tap(app, "Drinks")
    yield lambda: tap(app, "Horchata")
    yield lambda: result.update(reward_before=screen.reward_btn.disabled)
    yield lambda: tap(app, "Customer")
    yield lambda: X.type(app.services.customers.customer_url(ref))  # the QR from her customer page
    yield Until(lambda: screen.popup is not None and screen.popup.result.text)
    yield lambda: result.update(found=screen.popup.result.text, line=screen.customer_line.text, totals=screen.totals.text)
    yield lambda: screenshot(out, "customer_attached")
    yield lambda: tap(app, "Stop offers")
    yield lambda: result.update(after_withdraw=screen.popup.result.text)
    yield lambda: tap(app, "Close")
    yield lambda: tap(app, "Reward")
    yield lambda: result.update(with_reward=screen.totals.text)
    yield lambda: audit(app, result, "ticket_with_customer")
    yield lambda: screenshot(out, "register_group_and_reward")
    yield lambda: tap(app, "Card")
    yield lambda: result.update(card_prompt=[w.text for w in screen.popup.body.walk() if isinstance(w, Label)][:2])
    yield lambda: screenshot(out, "card_terminal")
    yield lambda: tap(app, "Declined")
    yield lambda: result.update(declined=screen.message.text, lines_after_decline=len(screen.ticket.lines))
    yield lambda: screenshot(out, "card_declined")
    yield from card_approved(app, "4242")
    yield lambda: result.update(approved=screen.message.text)
    yield lambda: tap(app, "Drinks")
    yield lambda: tap(app, "Mexican Coke")
    yield lambda: tap(app, "Customer")
    yield from key_taps(app, "3125550100")
    yield lambda: tap(app, "Enter")
    yield lambda: result.update(by_phone=screen.popup.result.text, totals2=screen.totals.text)
    yield lambda: tap(app, "Close")
    yield lambda: tap(app, "Cash")
    yield lambda: result.update(quick=[b.text for b in screen.popup.walk() if isinstance(b, TouchButton)][:5])
    yield lambda: tap(app, "Exact")
    yield lambda: result.update(paid2=screen.message.text, balance=app.services.loyalty.balance(ref))
    yield lambda: tap(app, "Done")
    for attempt in ("free", "again"):  # her registrant code: one free Mexican Coke per customer
        yield lambda: tap(app, "Mexican Coke")
        yield lambda: tap(app, "Customer")
        yield lambda: X.type(app.services.customers.customer_url(ref))
        yield Until(lambda: screen.popup is not None and screen.popup.result.text)
        yield lambda: tap(app, "Close")
        yield lambda: tap(app, "Code")
        yield from key_taps(app, "THANKSJOIN")
        yield lambda: tap(app, "Enter")
        yield lambda a=attempt: result.update({f"code_{a}": (screen.code_result.text if screen.popup else screen.message.text),
                                               f"total_{a}": screen.ticket.totals.total_cents,
                                               f"cash_button_{a}": screen.cash_btn.text})
        if attempt == "free":
            yield lambda: tap(app, "Complete")  # $0.00: no cash pad, no change popup
            yield lambda: result.update(paid_free=screen.message.text, popup_after_free=screen.popup is not None)
    yield lambda: screenshot(out, "code_once_per_customer")


def _spanish_staff(services) -> None:
    services.staff.add("Lucía", "2468", "staff", language="es")


def scenario_spanish(app, out: Path, result: dict):
    """A Spanish-speaking staff member logs in: the register speaks Spanish until the next lock."""
    screen = app.register_screen
    yield from type_digits(app, "2468")
    yield lambda: tap(app, "Log in")
    yield lambda: result.update(nav=[b.text for b in app.nav.values()],
                                buttons=[screen.clear_btn.text, screen.card_btn.text, screen.cash_btn.text])
    yield lambda: tap(app, "Bowls")
    yield lambda: tap(app, "Quesadilla")
    yield lambda: result.update(totals=screen.totals.text)
    yield lambda: tap(app, "Efectivo")
    yield lambda: result.update(cash_title=screen.popup.title)
    yield lambda: screenshot(out, "spanish_cash")
    yield lambda: tap(app, "Exacto")
    yield lambda: result.update(paid=screen.message.text)
    yield lambda: screenshot(out, "spanish_paid")
    yield lambda: tap(app, "Listo")
    yield lambda: tap(app, "Bloquear")
    yield lambda: result.update(after_lock=app.login_screen.prompt.text)


def scenario_tap_rate(app, out: Path, result: dict):
    """5 taps a second on two item buttons for 10 s, from one xdotool process (no waiting between taps)."""
    yield lambda: tap(app, "Drinks")
    taps = []

    def start():
        targets = [X.point(find_button(app.root, name)) for name in ("Horchata", "Mexican Coke")]
        chain = []
        for i in range(50):
            x, y = targets[i % 2]
            chain += ["mousemove", "--window", X.wid, str(x), str(y), "sleep", "0.1", "click", "1", "sleep", "0.1"]
        taps.append(subprocess.Popen(["xdotool", *chain]))
        X.expected += 50

    yield start
    yield lambda: taps[0].wait(60)
    yield Until(lambda: sum(ln.quantity for ln in app.register_screen.ticket.lines) >= 50, timeout=5)
    yield lambda: result.update(lines=[(ln.sku, ln.quantity) for ln in app.register_screen.ticket.lines],
                                touches=X.ups)



def scenario_layout(app, out: Path, result: dict):
    """Every screen and popup at 800x480 with a long truck name: targets, text sizes, the status bar."""
    yield lambda: audit(app, result, "register")
    yield lambda: screenshot(out, "layout_register")
    yield lambda: tap(app, "Sides")  # one sale first, so the orders, pickup and the chart have something to show
    yield lambda: tap(app, "Elote")
    yield from card_approved(app, "")
    for nav, name in (("Pickup", "pickup"), ("Orders", "orders"), ("Reports", "reports"), ("Menu", "menu")):
        yield lambda nav=nav: tap(app, nav)
        yield lambda name=name: audit(app, result, name)
        yield lambda name=name: screenshot(out, f"layout_{name}")
    yield lambda: result.update(chart_labels=[w.text for w in app.screens.get_screen("reports").chart.labels])
    yield lambda: tap(app, "Register")
    yield lambda: tap(app, "Tacos")
    yield lambda: tap(app, "Veggie Taco")
    for button, name, close in (("Cash", "cash", "Cancel"), ("Card", "card", "Cancel"), ("Code", "code", "Close"),
                                ("Customer", "attach", "Close")):
        yield lambda b=button: tap(app, b)
        yield lambda name=name: audit(app, result, name)
        yield lambda name=name: screenshot(out, f"layout_{name}")
        yield lambda c=close: tap(app, c)
    yield lambda: tap(app, "Customer view")
    yield lambda: audit(app, result, "customer_view")
    yield lambda: tap_widget(app.screens.current_screen.email)
    yield lambda: audit(app, result, "customer_keyboard")
    yield lambda: result.update(keyboard_rows=len(app.keyboard.children), keyboard_keys=[
        b.key for b in app.keyboard.walk(restrict=True) if hasattr(b, "key")])
