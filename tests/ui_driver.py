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
from kivy.uix.stencilview import StencilView  # noqa: E402

from truck_pos.bootstrap import build  # noqa: E402
from truck_pos.config import load_settings  # noqa: E402
from truck_pos.ui.app import TruckPosApp  # noqa: E402


def visible(w) -> bool:
    """On screen, not faded out, not disabled, its centre inside the window and inside every clipping
    (scrolling) parent, so a finger could really reach it."""
    x, y = w.to_window(*w.center)
    node = w.parent
    while node is not None and node is not node.parent and hasattr(node, "opacity"):
        if node.opacity == 0:
            return False
        if isinstance(node, StencilView):
            left, bottom = node.to_window(node.x, node.y)
            if not (left <= x < left + node.width and bottom <= y < bottom + node.height):
                return False
        node = node.parent
    return not w.disabled and w.opacity > 0 and 0 <= x < Window.width and 0 <= y < Window.height


def find_button(root, text: str):
    """An enabled button showing ``text`` (exact match first, else prefix); the topmost layer first
    (keyboard, popups, then the screen)."""
    for top in Window.children:
        buttons = [w for w in top.walk(restrict=True) if hasattr(w, "trigger_action") and visible(w)]
        for match in (lambda t: t == text, lambda t: t.startswith(text)):
            for w in buttons:
                if match(str(getattr(w, "text", ""))):
                    return w
    raise LookupError(f"no enabled button {text!r} on screen")


def _parents(w):
    while w.parent is not None and w.parent is not w:
        w = w.parent
        yield w


class X:
    """Real input: xdotool sends X events (XTEST) to the Kivy window; we count the touches Kivy delivered."""

    ups = 0
    expected = 0

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
    def click(cls, widget) -> None:
        x, y = cls.point(widget)
        if os.environ.get("UI_DEBUG"):
            print("click", repr(getattr(widget, "text", widget)), x, y, widget.pos, widget.size,
                  [(type(p).__name__, tuple(p.pos), tuple(p.size)) for p in _parents(widget) if hasattr(p, "pos")], flush=True)
        # Two X requests, as a finger would: the pointer arrives, then presses (SDL drops a press that
        # comes in the same burst as the motion that brought the pointer there).
        subprocess.run(["xdotool", "mousemove", "--window", cls.wid, str(x), str(y)], check=True)

        def press():  # run by the step loop once Kivy has had a frame to see the pointer arrive
            subprocess.run(["xdotool", "click", "1"], check=True)
            cls.expected += 1
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


CAMPAIGN_SCENARIOS = {"story"}


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


BEFORE = {"login_and_manager_void": _two_staff}
SCENARIOS = {name[len("scenario_"):]: fn for name, fn in globals().items() if name.startswith("scenario_")}


def main(name: str, db_path: str, out_dir: str) -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env = {"TRUCK_POS_STORE_PATH": db_path, "TRUCK_POS_TRUCK_NAME": "Taco Cloud"}
    clock = None
    if name in CAMPAIGN_SCENARIOS:
        clock, env, owner = _campaign_setup(out, env)
    services = build(load_settings(env=env), clock=clock)
    if name in CAMPAIGN_SCENARIOS:
        from campaign_support import install

        install(services, owner)
    before = BEFORE.get(name)
    if before is not None:  # the state the app finds when it starts (staff, customers, balances)
        before(services)
    app = TruckPosApp(services, require_login=os.environ.get("UI_LOGIN", "0") == "1")
    result: dict = {"scenario": name, "ok": False}
    state = {"steps": None, "waiting": None, "since": 0.0}
    settle = float(os.environ.get("UI_SETTLE", "0.3"))  # ScrollView delivers a tap's release 0.2 s later

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
                if now - state["since"] > 15:
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
            state["since"] = time.monotonic()
            if isinstance(action, Until):
                state["waiting"] = action
                Clock.schedule_once(step, 0.05)
                return
            follow = action()
            if callable(follow):  # the second half of a tap: press once the pointer has arrived
                state["steps"] = _chain(follow, state["steps"])
                Clock.schedule_once(step, 0.06)
                return
            Clock.schedule_once(step, settle)
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
