"""Runs the real Kivy app in this process and drives it through its widgets (used by test_ui.py).

Usage: python ui_driver.py SCENARIO DB_PATH OUTPUT_DIR
Writes OUTPUT_DIR/<scenario>.json with what the scenario observed and PNG screenshots.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")

from truck_pos.__main__ import configure_kivy  # noqa: E402

configure_kivy(fullscreen=False, size=os.environ.get("UI_SIZE", "800x480"))

from kivy.clock import Clock  # noqa: E402

import ui_scenarios  # noqa: E402
import ui_scenarios_customers  # noqa: E402
from truck_pos.bootstrap import build  # noqa: E402
from truck_pos.config import load_settings  # noqa: E402
from truck_pos.ui.app import TruckPosApp  # noqa: E402
from ui_input import NotReady, Until, X, _chain  # noqa: E402
from ui_scenarios import _two_staff  # noqa: E402
from ui_scenarios_customers import _known_customer, _spanish_staff  # noqa: E402

CAMPAIGN_SCENARIOS = {"story", "customers"}


def _campaign_setup(out: Path, env: dict):
    """Noon on the demo campaign's first day, and a fresh owner key the truck trusts (never committed)."""
    from datetime import datetime, timezone

    from campaign_support import write_public_key
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from truck_pos.clock import FakeClock

    owner = Ed25519PrivateKey.generate()
    pub = write_public_key(owner, Path(env["TRUCK_POS_STORE_PATH"]).with_suffix(".pub.pem"))
    env = {**env, "TRUCK_POS_SECURITY_CAMPAIGN_PUBLIC_KEY_FILE": str(pub)}
    return FakeClock(datetime(2026, 6, 1, 16, 30, tzinfo=timezone.utc)), env, owner


BEFORE = {"login_and_manager_void": _two_staff, "customers": _known_customer, "spanish": _spanish_staff}
SCENARIO_ENV = {"layout": {"TRUCK_POS_TRUCK_NAME": "The Very Long Named Taco Cloud Food Truck Company of Chicago"}}
CAMPAIGN_DOCS = {"customers": {"loyalty": {"points_per_dollar": 1, "rewards": [{"points": 20, "cents": 200}]}}}
SCENARIOS = {name[len("scenario_"):]: fn for module in (ui_scenarios, ui_scenarios_customers)
             for name, fn in vars(module).items() if name.startswith("scenario_")}


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

