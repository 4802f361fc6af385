"""The Kivy register under a real X server (Xvfb): taps through the real widgets, checks the database."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from truck_pos.store.db import close_database, open_database
from truck_pos.store.models import Order

pytestmark = pytest.mark.ui
DRIVER = Path(__file__).with_name("ui_driver.py")
ROOT = DRIVER.parent.parent


@pytest.fixture(scope="session")
def display():
    """Use $DISPLAY if there is one, else start our own Xvfb for the session."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    if not shutil.which("Xvfb"):
        pytest.skip("no display and no Xvfb (apt-get install xvfb)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            pass_fds=(write_fd,), stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        number = f.readline().strip()
    yield f":{number}"
    proc.terminate()
    proc.wait(10)


def run_scenario(name: str, tmp_path: Path, output_dir: Path, display: str, login: bool = False) -> dict:
    """Run one scenario of tests/ui_driver.py in its own process; its log must be quiet (no CRITICAL)."""
    db = tmp_path / "ui.db"
    env = {**os.environ, "DISPLAY": display, "PYTHONPATH": str(ROOT), "KIVY_HOME": str(tmp_path / "kivy"),
           "UI_LOGIN": "1" if login else "0"}
    proc = subprocess.run([sys.executable, str(DRIVER), name, str(db), str(output_dir)], env=env,
                          capture_output=True, text=True, timeout=180)
    result_file = output_dir / f"{name}.json"
    assert result_file.exists(), f"driver crashed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    result = json.loads(result_file.read_text())
    assert result["ok"], result.get("error")
    log = proc.stdout + proc.stderr
    assert "CRITICAL" not in log and "xclip" not in log and "xsel --version" not in log, log[-3000:]
    result["db"] = db
    return result


def orders(db: Path) -> list[Order]:
    open_database(db)
    try:
        return list(Order.select().order_by(Order.id))
    finally:
        close_database()


def test_tapping_items_and_cash_pays_the_order(tmp_path, output_dir, display):
    result = run_scenario("ring_up_cash", tmp_path, output_dir, display)
    assert "Total $11.91" in result["totals"]  # 2 x 3.75 + 3.50 = 11.00 + 8.25 % tax
    assert result["message"] == "Order #1 paid. Change due: $8.09"
    [order] = orders(result["db"])
    assert order.total_cents == 1191 and order.status == "paid"
    assert [(ln.sku, ln.quantity) for ln in order.lines] == [("taco-al-pastor", 2), ("drink-horchata", 1)]
    assert [(t.kind, t.tendered_cents, t.change_cents) for t in order.tenders] == [("cash", 2000, 809)]
    for shot in ("register_ticket", "register_cash", "register_paid"):
        assert (output_dir / f"{shot}.png").stat().st_size > 1000


def test_quick_cash_buttons_are_the_next_round_amounts() -> None:
    """Exact, then the next whole $1, $5, $10, $20 above the total (the issue's $12.72 example)."""
    from truck_pos.domain.cash import quick_cash_amounts

    assert quick_cash_amounts(1272) == [1272, 1300, 1500, 2000]
    assert quick_cash_amounts(309) == [309, 400, 500, 1000, 2000]
    assert quick_cash_amounts(2000) == [2000, 2100, 2500, 3000, 4000]
    assert quick_cash_amounts(0) == []


def test_short_cash_shows_the_reason_and_keeps_the_ticket(tmp_path, output_dir, display):
    result = run_scenario("short_cash_is_refused", tmp_path, output_dir, display)
    assert result["message"] == "Cash $5.00 is short of the $10.28 due"
    assert result["lines"] == 1
    assert result["after_card"] == "Order #1 paid by card: $10.28"
    [order] = orders(result["db"])
    assert [t.kind for t in order.tenders] == ["card"]


def test_login_then_a_void_needs_a_manager_pin(tmp_path, output_dir, display):
    result = run_scenario("login_and_manager_void", tmp_path, output_dir, display, login=True)
    assert result["wrong_pin"] == "Wrong PIN"
    assert (result["after_login"], result["staff"]) == ("register", "Sam")
    assert result["staff_void"] == "Void needs a manager PIN"
    assert result["manager_void"] == "Order voided"
    assert result["after_lock"] == "login"
    [order] = orders(result["db"])
    assert order.status == "voided" and order.staff.name == "Sam"


def test_pickup_window_hands_over_once_and_refuses_garbage(tmp_path, output_dir, display):
    result = run_scenario("pickup_scan", tmp_path, output_dir, display)
    assert result["first_scan"] == "Order #1 - hand it over"
    assert "already collected" in result["second_scan"]
    assert result["garbage"] and "#1" not in result["garbage"]
    [first, second] = orders(result["db"])
    assert (first.status, second.status) == ("handed_over", "paid")


def test_the_whole_register_story_through_the_widgets(tmp_path, output_dir, display):
    """First start (manager created on the screen), a refused code and a code typed on the on-screen
    keyboard, cash with change, reprint, pickup scan, manager void, sign-up on the customer-facing screen
    (no staff controls, https QR), back through the PIN, reports."""
    result = run_scenario("story", tmp_path, output_dir, display, login=True)
    assert result["first_screen"] == "setup"
    assert result["name_field"] == "Maria" and result["field_above_keyboard"] is True
    assert result["setup_prompt"] == "Type the same PIN again."
    assert (result["after_setup"], result["staff"]) == ("register", "Maria")
    assert result["welcome"] == "Welcome, Maria. You are the manager of this register."
    assert result["refused"] == "Refused: unknown code"
    assert result["code_above_keyboard"] is True
    # Burrito Bowl 10.95 + Mexican Coke 3.00 = 13.95; 10 % off = 1.40 (rounded half up); tax 8.25 % of 12.55
    assert result["accepted"] == "facebook likers: Summer launch: 10% off (-$1.40)"
    assert result["totals"] == "Subtotal $13.95\nSummer launch: 10% off -$1.40\nTax $1.03\n[b]Total $13.58[/b]"
    assert result["paid"] == "Order #1 paid. Change due: $6.42"
    assert result["reprint"] == "Receipt sent to the printer"
    assert result["pickup"] == "Order #1 - hand it over"
    assert result["void"] == "Order voided"
    assert result["chrome_height"] == 0  # the customer sees no status bar and no staff navigation
    assert result["qr_url"] == "https://hub.example.com/t/truck-demo"
    assert result["email_above_keyboard"] is True
    assert result["registered"] == "Welcome! Today's code: THANKS-JOIN\nJoined Acme Corporation, Accounting"
    assert "facebook_likers" in result["segments"]
    assert result["goal_after"] == "first hour: 1 / 40 customers, $12.55 / $600"
    first, second = orders(result["db"])
    assert (first.status, second.status) == ("handed_over", "voided")
    assert first.discount_cents == 140 and first.staff.name == "Maria" and first.staff.role == "manager"
    open_database(result["db"])
    try:
        from truck_pos.store.campaign_models import Customer

        [customer] = Customer.select()
        assert (customer.email, customer.phone) == ("ada@example.com", None)
    finally:
        close_database()
    for shot in ("setup", "setup_keyboard", "register_code_keyboard", "register_code_refused", "orders", "pickup",
                 "customer_keyboard", "customer", "reports"):
        assert (output_dir / f"{shot}.png").stat().st_size > 1000


def test_customer_scanned_group_discount_loyalty_and_card(tmp_path, output_dir, display):
    """Ana (signed up earlier, Acme group, 30 points synced) is attached by scanning her QR; the group's 5 %
    and a 20-point reward apply; a declined card records nothing; an approved one keeps the last 4; she
    withdraws consent; a second ticket finds her by phone; points are earned at each sale, offline."""
    result = run_scenario("customers", tmp_path, output_dir, display)
    assert result["reward_before"] is True  # no customer, no reward button
    assert result["found"] == "a…@example.com · Acme Corporation, Accounting · 30 pts · offers: yes"
    assert result["line"] == result["found"]
    # Quesadilla 8.50 + Horchata 3.50 = 12.00; group 5 % = 0.60; tax 8.25 % per line on 11.40 -> 0.94
    assert result["totals"] == ("Subtotal $12.00\nAcme Corporation, Accounting: 5% off -$0.60\nTax $0.94\n"
                                "[b]Total $12.34[/b]")
    assert result["after_withdraw"].endswith("offers: no")
    # reward 2.00 more: 9.40 net, spread 6.66 / 2.74 -> tax 0.55 + 0.23
    assert result["with_reward"] == ("Subtotal $12.00\nAcme Corporation, Accounting: 5% off -$0.60\n"
                                     "Reward 20 pts -$2.00\nTax $0.78\n[b]Total $10.18[/b]")
    assert result["tiny_text"]["ticket_with_customer"] == [] and result["small_targets"]["ticket_with_customer"] == []
    assert result["card_prompt"] == ["Charge $10.18 on the card terminal", "Then tell the register what the terminal said."]
    assert result["declined"] == "Card declined. Nothing was recorded; the ticket is still open."
    assert result["lines_after_decline"] == 2
    assert result["approved"] == "Order #1 paid by card: $10.18"
    assert result["by_phone"] == "a…@example.com · Acme Corporation, Accounting · 20 pts · offers: no"
    assert result["totals2"] == "Subtotal $3.00\nAcme Corporation, Accounting: 5% off -$0.15\nTax $0.24\n[b]Total $3.09[/b]"
    assert result["quick"] == ["Exact", "$4.00", "$5.00", "$10.00", "$20.00"]
    assert result["paid2"] == "Order #2 paid. Change due: $0.00"
    assert result["balance"] == 30 - 20 + 10 + 3  # 1 point per whole dollar paid: $10.18 -> 10, $3.09 -> 3
    # Her registrant code (one free Mexican Coke per customer): the first makes a $0.00 ticket that
    # completes without the cash pad; the second is refused because she is on the ticket.
    assert result["code_free"] == "pos registrants: Summer launch: free drink-soda (-$3.00)"
    assert (result["total_free"], result["cash_button_free"]) == (0, "Complete")
    assert result["paid_free"] == "Order #3 paid. Change due: $0.00" and result["popup_after_free"] is False
    assert result["code_again"] == "Refused: already used at 11:30"
    assert (result["total_again"], result["cash_button_again"]) == (309, "Cash")
    open_database(result["db"])
    try:
        from truck_pos.store.loyalty_models import LoyaltyEntry
        from truck_pos.store.outbox import Outbox

        first, second, free = Order.select().order_by(Order.id)
        assert (free.total_cents, list(free.tenders), free.customer_ref) == (0, [], result["ref"])
        assert [(t.kind, t.amount_cents, t.reference) for t in first.tenders] == [("card", 1018, "card ****4242")]
        assert sorted((d.segment, d.amount_cents) for d in first.discounts) == [
            ("group:Acme Corporation, Accounting", 60), ("loyalty", 200)]
        assert (first.customer_ref, second.customer_ref) == (result["ref"], result["ref"])
        assert [(e.kind, e.points) for e in LoyaltyEntry.select().order_by(LoyaltyEntry.id)] == [
            ("redeem", -20), ("earn", 10), ("earn", 3)]
        kinds = [o.kind for o in Outbox.select().order_by(Outbox.seq)]
        assert kinds.count("loyalty") == 3 and kinds.count("consent") == 1 and kinds.count("order") == 3
    finally:
        close_database()
    for shot in ("customer_attached", "register_group_and_reward", "card_terminal", "card_declined"):
        assert (output_dir / f"{shot}.png").stat().st_size > 1000


def test_a_spanish_speaking_staff_member_gets_a_spanish_register(tmp_path, output_dir, display):
    result = run_scenario("spanish", tmp_path, output_dir, display, login=True)
    assert result["nav"] == ["Caja", "Entrega", "Vista cliente", "Pedidos", "Informes", "Menú", "Bloquear"]
    assert result["buttons"] == ["Borrar", "Tarjeta", "Efectivo"]
    assert result["totals"] == "Subtotal $8.50\nImpuesto $0.70\n[b]Total $9.20[/b]"
    assert result["cash_title"] == "Efectivo — a pagar $9.20"
    assert result["paid"] == "Pedido #1 pagado. Cambio: $0.00"
    assert result["after_lock"] == "Enter your PIN"  # locked: back to English for the next person


def test_five_taps_a_second_for_ten_seconds_are_all_counted(tmp_path, output_dir, display):
    result = run_scenario("tap_rate", tmp_path, output_dir, display)
    assert result["lines"] == [["drink-horchata", 25], ["drink-soda", 25]]


def test_every_screen_fits_800x480_with_finger_sized_targets(tmp_path, output_dir, display):
    """No touch target under 48 px, no text under 14 px, no status slot spilling (long truck name), icons shown."""
    result = run_scenario("layout", tmp_path, output_dir, display)
    for where, small in result["small_targets"].items():
        assert small == [], where
    for where, tiny in result["tiny_text"].items():
        assert tiny == [], where
    for where, spilled in result["status_overflow"].items():
        assert spilled == [], where
    for where, no_icon in result["status_icons"].items():  # every slot: an icon drawn beside its text
        assert no_icon == [], where
    assert len(result["small_targets"]) == 11  # every screen and popup was visited
    assert result["chart_labels"] == ["walk_in", "$4.75"]  # the chart was drawn (its 14 px labels were audited)
    assert result["keyboard_rows"] == 5 and {"@", ".com", "Enter", "Del"} <= set(result["keyboard_keys"])


def test_modifier_choice_and_sold_out_toggle(tmp_path, output_dir, display):
    result = run_scenario("modifiers_and_sold_out", tmp_path, output_dir, display)
    assert result["lines"] == [["Al Pastor Taco", ["Extra cheese"]]]
    assert result["total"] == 487  # (3.75 + 0.75) + 8.25 % tax
    assert result["menu_message"] == "Baja Fish Taco is sold out"
    assert result["fish_disabled"] == [True]


START_SPY = '''
import gc, json, sys, threading
from truck_pos import __main__ as entry

seen = {}

def spy(self, *args):
    seen["held"] = not gc.isenabled()  # held from main() until this frame
    seen["threads_before"] = sorted(t.name for t in threading.enumerate())
    first_frame(self, *args)
    from kivy.clock import Clock

    def report(dt):
        seen.update(collecting=gc.isenabled(), frozen=gc.get_freeze_count(),
                    threads_after=sorted(t.name for t in threading.enumerate()))
        print(json.dumps(seen))
        self.stop()

    Clock.schedule_once(report, 0.2)

spy.__name__ = "_first_frame"  # Kivy keeps a bound handler as a weak method, found again by its name
configure_kivy = entry.configure_kivy

def configure_then_spy(*args):  # the UI is imported only after main() has configured Kivy
    configure_kivy(*args)
    global first_frame
    from truck_pos.ui.app import TruckPosApp
    first_frame = TruckPosApp._first_frame
    TruckPosApp._first_frame = spy

entry.configure_kivy = configure_then_spy
sys.exit(entry.main([]))
'''


def test_truck_pos_starts_with_the_collector_held_and_releases_it_at_the_first_frame(tmp_path, display):
    """`truck-pos` itself: no collection while it starts; at the first frame the start's objects are frozen, the
    collector runs again (a day of collections from then on), and the print worker starts only then."""
    env = {**os.environ, "DISPLAY": display, "PYTHONPATH": str(ROOT), "KIVY_HOME": str(tmp_path / "kivy"),
           "TRUCK_POS_STORE_PATH": str(tmp_path / "truck.db"), "TRUCK_POS_PRINTER_KIND": "dummy"}
    proc = subprocess.run([sys.executable, "-c", START_SPY], env=env, capture_output=True, text=True, timeout=120)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("{")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    seen = json.loads(lines[-1])
    assert seen["held"] is True
    assert seen["collecting"] is True
    assert seen["frozen"] > 10_000  # modules, classes, services and widgets made by the start
    assert "print-queue" not in seen["threads_before"] and "print-queue" in seen["threads_after"]
