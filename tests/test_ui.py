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
    db = tmp_path / "ui.db"
    env = {**os.environ, "DISPLAY": display, "PYTHONPATH": str(ROOT), "KIVY_HOME": str(tmp_path / "kivy"),
           "UI_LOGIN": "1" if login else "0"}
    proc = subprocess.run([sys.executable, str(DRIVER), name, str(db), str(output_dir)], env=env,
                          capture_output=True, text=True, timeout=120)
    result_file = output_dir / f"{name}.json"
    assert result_file.exists(), f"driver crashed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    result = json.loads(result_file.read_text())
    assert result["ok"], result.get("error")
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


def test_short_cash_shows_the_reason_and_keeps_the_ticket(tmp_path, output_dir, display):
    result = run_scenario("short_cash_is_refused", tmp_path, output_dir, display)
    assert result["message"] == "Cash $5.00 is short of the $10.28 due"
    assert result["lines"] == 1
    assert result["after_card"].startswith("Order #1 paid by card")
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
    assert "#1" in result["first_scan"]
    assert "already collected" in result["second_scan"]
    assert result["garbage"]
    [first, second] = orders(result["db"])
    assert (first.status, second.status) == ("handed_over", "paid")


def test_the_whole_register_story_through_the_widgets(tmp_path, output_dir, display):
    """Login, a refused code with its reason, a code, cash with change, reprint, pickup, manager void,
    registration at the customer screen, reports."""
    result = run_scenario("story", tmp_path, output_dir, display, login=True)
    assert result["refused"] == "Refused: unknown code"
    assert result["accepted"].startswith("facebook likers: ") and "-$1.40" in result["accepted"]
    assert "-$1.40" in result["totals"]
    assert result["paid"].startswith("Order #1 paid. Change due: $")
    assert result["reprint"] == "Receipt sent to the printer"
    assert "#1" in result["pickup"] and "already" not in result["pickup"]
    assert result["void"] == "Order voided"
    assert result["registered"].startswith("Welcome!") and "Joined Acme Corporation, Accounting" in result["registered"]
    assert "facebook_likers" in result["segments"]
    assert "customers" in result["goal_after"]
    first, second = orders(result["db"])
    assert (first.status, second.status) == ("handed_over", "voided")
    assert first.discount_cents == 140
    for shot in ("register_code_applied", "register_code_refused", "orders", "pickup", "customer", "reports"):
        assert (output_dir / f"{shot}.png").stat().st_size > 1000


def test_modifier_choice_and_sold_out_toggle(tmp_path, output_dir, display):
    result = run_scenario("modifiers_and_sold_out", tmp_path, output_dir, display)
    assert result["lines"] == [["Al Pastor Taco", ["Extra cheese"]]]
    assert result["total"] == 487  # (3.75 + 0.75) + 8.25 % tax
    assert result["menu_message"] == "Baja Fish Taco is sold out"
    assert result["fish_disabled"] == [True]
