"""The pickup window in the real Kivy app under Xvfb: a non-ASCII claim, scanned and typed, is refused, not a crash.

The scan arrives as bytes on a real pseudo-terminal read by the serial scanner; the typed claims are X key
events (xdotool) into the claim field after an X click on it. The genuine claim typed the same way then hands
the order over, so the input path itself is shown to work.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

try:
    from tests.test_ui import display  # noqa: F401  (the session's Xvfb)
except ImportError:  # the fixture lives in a shared conftest: pytest finds it there
    pass
from test_scanner_pty import Pty
from truck_pos.bootstrap import build
from truck_pos.config import load_settings
from truck_pos.store.models import Order

pytestmark = pytest.mark.ui
CHILD = Path(__file__).with_name("pickup_ui_child.py")
ROOT = CHILD.parents[2]
REFUSED = "Not a pickup code from this system"


def test_non_ascii_claims_scanned_and_typed_are_refused_and_the_window_keeps_working(tmp_path, display):  # noqa: F811
    db = tmp_path / "truck.db"
    services = build(load_settings(env={"TRUCK_POS_STORE_PATH": str(db)}), print_autostart=False)
    ticket = services.register.open_ticket()
    services.register.add_item(ticket.id, "taco-fish")
    paid = services.register.pay_cash(ticket.id, 10_000)
    claim = services.pickup.claim_for(Order.get(Order.uuid == paid.order_uuid))
    services.close()

    pty = Pty(tmp_path / "truckpos-scanner")
    out = tmp_path / "result.json"
    env = {**os.environ, "DISPLAY": display, "PYTHONPATH": str(ROOT), "KIVY_HOME": str(tmp_path / "kivy"),
           "SCANNER_PORT": str(pty.link)}
    # Codes that crashed the window: Unicode digits pass isdigit(), then signing encodes ASCII (or compare_digest
    # gets a non-ASCII str). Scanned: the day in fullwidth digits; typed: an Arabic-Indic number and an accent.
    fields = claim.split(".")
    scanned = ".".join(fields[:2] + [fields[2].translate(str.maketrans("0123456789", "０１２３４５６７８９"))] + fields[3:])
    typed = ".".join(fields[:3] + [fields[3].translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))] + fields[4:]) + "é"
    child = subprocess.Popen([sys.executable, str(CHILD), str(db), claim, typed, str(out)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        ready = Path(f"{out}.scanner-ready")
        for _ in range(600):
            if ready.exists() or child.poll() is not None:
                break
            time.sleep(0.1)
        assert ready.exists(), child.communicate(timeout=30)[0][-3000:]
        # A home-made QR as a serial scanner sends it: UTF-8 and CR LF.
        pty.write(scanned.encode() + b"\r\n")
        Path(f"{out}.scanned").write_text("1")
        log = child.communicate(timeout=120)[0]
    finally:
        if child.poll() is None:
            child.kill()
        pty.unplug()
    assert out.exists(), log[-3000:]
    result = json.loads(out.read_text("utf-8"))
    assert result["ok"], result.get("error")
    assert result["typed_field"] == typed  # the typed text really reached the field
    assert result["messages"] == {"scanned": REFUSED, "typed": REFUSED,
                                  "genuine": f"Order #{paid.order_number} - hand it over"}
    assert "No printer configured (2 waiting)" in result["status"] and "ready" not in result["status"]  # never "ready"
    services = build(load_settings(env={"TRUCK_POS_STORE_PATH": str(db)}), print_autostart=False)
    try:
        assert Order.get(Order.uuid == paid.order_uuid).status == "handed_over"
    finally:
        services.close()
