"""Runs the real Kivy app in this process and drives it through its widgets (used by test_ui.py).

Usage: python ui_driver.py SCENARIO DB_PATH OUTPUT_DIR
Writes OUTPUT_DIR/<scenario>.json with what the scenario observed and PNG screenshots.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")

from truck_pos.__main__ import configure_kivy  # noqa: E402

configure_kivy(fullscreen=False, size=os.environ.get("UI_SIZE", "800x480"))

from kivy.clock import Clock  # noqa: E402
from kivy.core.window import Window  # noqa: E402
from kivy.uix.modalview import ModalView  # noqa: E402
from kivy.uix.screenmanager import Screen  # noqa: E402
from kivy.uix.scrollview import ScrollView  # noqa: E402
from kivy.uix.stencilview import StencilView  # noqa: E402

from truck_pos.bootstrap import build  # noqa: E402
from truck_pos.config import load_settings  # noqa: E402
from truck_pos.ui.app import TruckPosApp  # noqa: E402
from truck_pos.ui.widgets import TouchButton  # noqa: E402
from kivy.uix.label import Label  # noqa: E402


def visible(w) -> bool:
    """On screen, not faded out, not disabled, its centre inside the window and inside every clipping
    (scrolling) parent, so a finger could really reach it."""
    x, y = w.to_window(*w.center)
    node = w.parent
    while node is not None and node is not node.parent and hasattr(node, "opacity"):
        if node.opacity == 0:
            return False
        if isinstance(node, Screen) and node.manager is not None and node.manager.current_screen is not node:
            return False  # a screen on its way out
        if isinstance(node, StencilView):
            left, bottom = node.to_window(node.x, node.y)
            if not (left <= x < left + node.width and bottom <= y < bottom + node.height):
                return False
        node = node.parent
    return not w.disabled and w.opacity > 0 and 0 <= x < Window.width and 0 <= y < Window.height


class NotReady(LookupError):
    """The target is not (yet) where a finger could tap it; the step loop tries again for a few seconds."""


def find_button(root, text: str):
    """An enabled button showing ``text`` (exact match first, else prefix); the topmost layer first
    (keyboard, popups, then the screen)."""
    for top in Window.children:
        if isinstance(top, ModalView) and not top._is_open:  # fading out after dismiss: neither there nor covering
            continue
        if isinstance(top, ModalView) and top._anim_alpha < 1:  # still opening: its content is not laid out yet
            raise NotReady(f"popup {getattr(top, 'title', '')!r} still opening")
        buttons = [w for w in top.walk(restrict=True) if hasattr(w, "trigger_action") and visible(w)]
        for match in (lambda t: t == text, lambda t: t.startswith(text)):
            for w in buttons:
                if match(str(getattr(w, "text", ""))):
                    return w
        if isinstance(top, ModalView):  # a popup covers everything below it: a finger cannot reach that
            break
    layers = [(type(t).__name__, getattr(t, "_is_open", None)) for t in Window.children]
    raise NotReady(f"no enabled button {text!r} on screen (layers {layers})")


def _parents(w):
    while w.parent is not None and w.parent is not w:
        w = w.parent
        yield w


SCROLL_SETTLE, QUICK_SETTLE = 0.3, 0.08


class X:
    """Real input: xdotool sends X events (XTEST) to the Kivy window; we count the touches Kivy delivered."""

    ups = 0
    expected = 0
    settle = QUICK_SETTLE

    @classmethod
    def start(cls) -> None:
        cls.wid = str(Window.get_window_info().window)
        Window.bind(on_touch_up=cls._up)

    @classmethod
    def _up(cls, *args) -> None:
        if os.environ.get("UI_DEBUG"):
            print("touch up", args[1].pos, flush=True)
        cls.ups += 1

    @classmethod
    def point(cls, widget) -> tuple[int, int]:
        wx, wy = widget.to_window(*widget.center)
        return int(wx), int(Window.height - wy)  # X counts y from the top, Kivy from the bottom

    @classmethod
    def click(cls, widget, steady: int = 0):
        x, y = cls.point(widget)
        if os.environ.get("UI_DEBUG"):
            print("click", repr(getattr(widget, "text", widget)), x, y, widget.pos, widget.size,
                  [(type(p).__name__, tuple(p.pos), tuple(p.size)) for p in _parents(widget) if hasattr(p, "pos")], flush=True)
        # Two X requests, as a finger would: the pointer arrives, then presses (SDL drops a press that
        # comes in the same burst as the motion that brought the pointer there).
        subprocess.run(["xdotool", "mousemove", "--window", cls.wid, str(x), str(y)], check=True)

        def press():  # run by the step loop once Kivy has had a frame to see the pointer arrive
            if cls.point(widget) != (x, y) or not visible(widget):  # the layout was still settling: follow it
                return cls.click(widget)
            if steady < 1:  # the same place over two frames (a scroll view may still be placing its content)
                return cls.click(widget, steady + 1)
            subprocess.run(["xdotool", "click", "1"], check=True)
            cls.expected += 1
            # Inside a scroll view Kivy delivers the release 0.2 s after the finger lifts: wait that long.
            cls.settle = SCROLL_SETTLE if any(isinstance(p, ScrollView) for p in _parents(widget)) else QUICK_SETTLE
        return press

    @classmethod
    def type(cls, text: str) -> None:
        """What a keyboard-mode scanner does: keys into the focused window, then Return."""
        subprocess.run(["xdotool", "windowfocus", "--sync", cls.wid], check=False)
        subprocess.run(["xdotool", "type", "--delay", "15", text], check=True)
        subprocess.run(["xdotool", "key", "Return"], check=True)


def tap(app, text: str):
    return X.click(find_button(app.root, text))


def tap_widget(widget):
    return X.click(widget)


def type_digits(app, digits: str):
    for d in digits:
        yield lambda d=d: tap(app, d)


def key_taps(app, text: str):
    """Type on the on-screen keyboard: one real tap per key."""
    for ch in text:
        key = {" ": "space"}.get(ch, ch)
        yield lambda k=key: X.click(next(b for b in app.keyboard.walk(restrict=True) if getattr(b, "key", None) == k))


def screenshot(out: Path, name: str) -> None:
    """Save the whole window (popups included) as OUTPUT_DIR/<name>.png."""
    made = Window.screenshot(name=str(out / f"{name}-tmp.png"))  # Kivy adds a counter to the name
    os.replace(made, out / f"{name}.png")


class Until:
    """A step that waits (up to ``timeout`` s) until ``check()`` is true."""

    def __init__(self, check, timeout: float = 10.0):
        self.check = check
        self.timeout = timeout


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


CAMPAIGN_SCENARIOS = {"story", "customers"}


def _campaign_setup(out: Path, env: dict):
    """Noon on the demo campaign's first day, and a fresh owner key the truck trusts (never committed)."""
    from datetime import datetime, timezone

    from campaign_support import write_public_key
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from truck_pos.clock import FakeClock

    owner = Ed25519PrivateKey.generate()
    pub = write_public_key(owner, Path(env["TRUCK_POS_STORE_PATH"]).with_suffix(".pub.pem"))
    return FakeClock(datetime(2026, 6, 1, 16, 30, tzinfo=timezone.utc)), {**env, "TRUCK_POS_SECURITY_CAMPAIGN_PUBLIC_KEY_FILE": str(pub)}, owner


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


def _chain(first, rest):
    yield first
    yield from rest


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


TOUCHABLE = ("Button", "ToggleButton", "CheckBox", "TextInput", "KeyField", "TouchButton")


def audit(app, result: dict, where: str) -> None:
    """Every visible touch target >= 48 px both ways; every visible text >= 14 px; status slots inside the bar."""
    small, tiny = [], []
    for top in Window.children:
        for w in top.walk(restrict=True):
            kind = type(w).__name__
            shown = w.width > 0 and w.height > 0 and visible_any(w)
            if not shown:
                continue
            if kind in TOUCHABLE and (w.width < 47.5 or w.height < 47.5):
                small.append(f"{kind} {str(getattr(w, 'text', ''))[:20]!r} {w.width:.0f}x{w.height:.0f}")
            if hasattr(w, "font_size") and getattr(w, "text", "") and w.font_size < 13.9:
                tiny.append(f"{kind} {str(w.text)[:20]!r} {w.font_size:.1f}px")
            if isinstance(w, Label) and not hasattr(w, "trigger_action") and w.text and w.texture_size[1] > w.height + 2:
                tiny.append(f"{kind} {str(w.text)[:20]!r} cut: {w.texture_size[1]:.0f} px of text in {w.height:.0f} px")
    result.setdefault("small_targets", {})[where] = small
    result.setdefault("tiny_text", {})[where] = tiny
    bar = app.status
    result.setdefault("status_overflow", {})[where] = [
        name for name, label in bar.labels.items()
        if label.texture_size[0] > label.width + 1 or label.right > Window.width + 1]


def visible_any(w) -> bool:
    """Like visible() but for any widget, disabled or not."""
    x, y = w.to_window(*w.center)
    node = w
    while node is not None and node is not node.parent and hasattr(node, "opacity"):
        if node.opacity == 0:
            return False
        if isinstance(node, Screen) and node.manager is not None and node.manager.current_screen is not node:
            return False
        node = node.parent
    return 0 <= x < Window.width and 0 <= y < Window.height


def scenario_layout(app, out: Path, result: dict):
    """Every screen and popup at 800x480 with a long truck name: targets, text sizes, the status bar."""
    yield lambda: audit(app, result, "register")
    yield lambda: screenshot(out, "layout_register")
    for nav, name in (("Pickup", "pickup"), ("Orders", "orders"), ("Reports", "reports"), ("Menu", "menu")):
        yield lambda nav=nav: tap(app, nav)
        yield lambda name=name: audit(app, result, name)
        yield lambda name=name: screenshot(out, f"layout_{name}")
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


BEFORE = {"login_and_manager_void": _two_staff, "customers": _known_customer, "spanish": _spanish_staff}
SCENARIO_ENV = {"layout": {"TRUCK_POS_TRUCK_NAME": "The Very Long Named Taco Cloud Food Truck Company of Chicago"}}
CAMPAIGN_DOCS = {"customers": {"loyalty": {"points_per_dollar": 1, "rewards": [{"points": 20, "cents": 200}]}}}
SCENARIOS = {name[len("scenario_"):]: fn for name, fn in globals().items() if name.startswith("scenario_")}


def main(name: str, db_path: str, out_dir: str) -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env = {"TRUCK_POS_STORE_PATH": db_path, "TRUCK_POS_TRUCK_NAME": "Taco Cloud", **SCENARIO_ENV.get(name, {})}
    clock = None
    if name in CAMPAIGN_SCENARIOS:
        clock, env, owner = _campaign_setup(out, env)
    services = build(load_settings(env=env), clock=clock)
    if name in CAMPAIGN_SCENARIOS:
        from campaign_support import demo_document, install

        install(services, owner, demo_document(**CAMPAIGN_DOCS.get(name, {})))
    before = BEFORE.get(name)
    if before is not None:  # the state the app finds when it starts (staff, customers, balances)
        before(services)
    app = TruckPosApp(services, require_login=os.environ.get("UI_LOGIN", "0") == "1")
    result: dict = {"scenario": name, "ok": False}
    state = {"steps": None, "waiting": None, "since": 0.0}
    settle = float(os.environ.get("UI_SETTLE", "0.1"))  # after a step that is not a tap (a screenshot, a record)

    def step(dt):
        try:
            if Clock.frames_displayed < 10:  # the first frames lay the window out; taps before that miss
                Clock.schedule_once(step, 0.05)
                return
            if state["steps"] is None:
                X.start()
                state["steps"] = SCENARIOS[name](app, out, result)
            now = time.monotonic()
            if X.ups < X.expected:  # a tap is on its way through X and Kivy: wait for it
                if now - state["since"] > 40:
                    raise TimeoutError(f"Kivy saw {X.ups} of {X.expected} taps")
                Clock.schedule_once(step, 0.02)
                return
            waiting = state["waiting"]
            if waiting is not None:
                if not waiting.check():
                    if now - state["since"] > waiting.timeout:
                        raise TimeoutError("condition not reached: " + (waiting.check.__doc__ or repr(waiting.check)))
                    Clock.schedule_once(step, 0.05)
                    return
                state["waiting"] = None
            action = next(state["steps"])
            if not state.get("retrying"):
                state["since"] = time.monotonic()
            if isinstance(action, Until):
                state["waiting"] = action
                Clock.schedule_once(step, 0.05)
                return
            try:
                follow = action()
            except NotReady:
                if time.monotonic() - state["since"] > 5:
                    raise
                state["steps"] = _chain(action, state["steps"])
                state["retrying"] = True
                Clock.schedule_once(step, 0.1)
                return
            state["retrying"] = False
            if callable(follow):  # the second half of a tap: press once the pointer has arrived
                state["steps"] = _chain(follow, state["steps"])
                Clock.schedule_once(step, 0.06)
                return
            Clock.schedule_once(step, X.settle if follow is None else settle)
            X.settle = settle
        except StopIteration:
            result["ok"] = True
            app.stop()
        except Exception:
            result["error"] = traceback.format_exc()
            app.stop()

    app.bind(on_start=lambda *_: Clock.schedule_once(step, 0.8))  # after the first layout passes
    app.run()
    services.close()
    (out / f"{name}.json").write_text(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
