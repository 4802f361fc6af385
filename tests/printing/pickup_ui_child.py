"""The real Kivy app on an X display, pickup window, driven by X input events (xdotool) and a serial scanner.

Usage: SCANNER_PORT=/path python pickup_ui_child.py DB_PATH CLAIM TYPED OUT_JSON
Steps: open the pickup window; the scanner (a pty the parent writes to) reads a non-ASCII claim; an X click
on the claim field and typed text (Kivy text-input events) enter a non-ASCII claim, X Return submits it; then
the genuine claim is typed with X key events. Records what the
message line showed after each step; the parent checks it and the database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from pathlib import Path

os.environ.setdefault("KIVY_NO_ARGS", "1")
from truck_pos.__main__ import configure_kivy  # noqa: E402

configure_kivy(fullscreen=False, size="800x480")

from kivy.clock import Clock  # noqa: E402
from kivy.core.window import Window  # noqa: E402

from truck_pos.bootstrap import build  # noqa: E402
from truck_pos.config import load_settings  # noqa: E402
from truck_pos.ui.app import TruckPosApp  # noqa: E402

def xdotool(*args: str) -> str:
    return subprocess.run(["xdotool", *args], check=True, capture_output=True, text=True, timeout=20).stdout


def click(widget) -> None:
    """A real X pointer click at the widget's centre (X counts y from the top, Kivy from the bottom)."""
    x, y = widget.to_window(*widget.center)
    win = xdotool("search", "--sync", "--pid", str(os.getpid())).split()[0]
    xdotool("mousemove", "--window", win, str(int(x)), str(int(Window.height - y)), "click", "1")


def main(db_path: str, claim: str, typed: str, out_json: str) -> int:
    env = {"TRUCK_POS_STORE_PATH": db_path, "TRUCK_POS_SCANNER_KIND": "serial",
           "TRUCK_POS_SCANNER_PORT": os.environ["SCANNER_PORT"], "TRUCK_POS_TRUCK_ID": "truck-demo"}
    services = build(load_settings(env=env), print_autostart=False)
    app = TruckPosApp(services, require_login=False)
    result: dict = {"ok": False, "messages": {}}
    ready_flag = Path(out_json + ".scanner-ready")
    go_flag = Path(out_json + ".scanned")

    def screen():
        return app.screens.get_screen("pickup")

    def record(name: str):
        return lambda: result["messages"].__setitem__(name, screen().message.text)

    def wait_for(predicate, limit: int = 100):
        for _ in range(limit):
            if predicate():
                return
            yield None
        raise AssertionError(f"timed out waiting; field {screen().claim.text!r}, message {screen().message.text!r}")

    def steps():
        yield lambda: app.go("pickup")
        yield from wait_for(lambda: services.scanner.wait_connected(0))
        yield lambda: ready_flag.write_text("1")  # the parent now writes the non-ASCII scan on the pty
        yield from wait_for(lambda: go_flag.exists() and screen().message.text != "")
        yield record("scanned")
        yield lambda: click(screen().claim)
        yield from wait_for(lambda: screen().claim.focus)
        # X keyboards under Xvfb have no keys for these characters (xdotool's remapped keycodes do not reach
        # SDL), so the text comes through Kivy's own text-input event, the one SDL raises for typed text.
        for ch in typed:
            yield lambda ch=ch: Window.dispatch("on_textinput", ch)
        yield from wait_for(lambda: screen().claim.text == typed)
        yield lambda: result.__setitem__("typed_field", screen().claim.text)
        yield lambda: xdotool("key", "Return")
        yield from wait_for(lambda: screen().claim.text == "")
        yield record("typed")
        yield lambda: click(screen().claim)
        yield from wait_for(lambda: screen().claim.focus)
        yield lambda: xdotool("type", "--delay", "10", claim)
        yield from wait_for(lambda: screen().claim.text == claim)
        yield lambda: xdotool("key", "Return")
        yield from wait_for(lambda: "hand it over" in screen().message.text)
        yield record("genuine")
        # The status bar (refreshed by the app every second) with [printer] kind = none and two jobs waiting.
        yield from wait_for(lambda: "No printer configured" in app.status.text)
        yield lambda: result.__setitem__("status", app.status.text)

    plan = steps()

    def step(dt):
        try:
            action = next(plan)
            if action is not None:
                action()
            Clock.schedule_once(step, 0.05)
        except StopIteration:
            result["ok"] = True
            app.stop()
        except Exception:
            result["error"] = traceback.format_exc()
            app.stop()

    Clock.schedule_once(step, 0.5)
    app.run()
    services.close()
    Path(out_json).write_text(json.dumps(result, ensure_ascii=False, indent=2), "utf-8")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
