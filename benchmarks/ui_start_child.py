"""Child of bench_ui_start.py: start the register (or a bare Kivy label as the floor), report the first frame.

Prints one JSON line: seconds from interpreter start to the first drawn frame, the process's CPU seconds by then,
and VmRSS in MB.
"""

from __future__ import annotations

import json
import os
import sys
import time

T0 = float(os.environ.get("BENCH_T0", time.time()))
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main(kind: str, db_path: str, key_file: str = "") -> None:
    from truck_pos.__main__ import configure_kivy, hold_collector, keep_for_life, sqlite_only

    if kind == "floor":  # a bare Kivy window: nothing of ours
        configure_kivy(False, "800x480")
        from kivy.app import App
        from kivy.uix.label import Label

        class Bare(App):
            def build(self):
                return Label(text="hello")

        report_first_frame(kind)
        Bare().run()
        return
    # The register, in the order truck-pos's main() starts it: services first, then the window.
    sqlite_only()
    hold_collector()
    from truck_pos.bootstrap import build
    from truck_pos.config import load_settings

    env = {"TRUCK_POS_STORE_PATH": db_path}
    if key_file:  # the owner's campaign key: held bundles are verified again at start
        env["TRUCK_POS_SECURITY_CAMPAIGN_PUBLIC_KEY_FILE"] = key_file
    services = build(load_settings(env=env), agent=False)  # as main() without --sync
    keep_for_life()
    configure_kivy(False, "800x480")
    from truck_pos.ui.app import TruckPosApp

    report_first_frame(kind)
    TruckPosApp(services, require_login=False).run()
    services.close()


def report_first_frame(kind: str) -> None:
    """Print the figures at the first drawn frame (the window exists once kivy.core.window is imported)."""
    from kivy.app import App
    from kivy.clock import Clock
    from kivy.core.window import Window

    def first_frame(*_):
        Window.unbind(on_flip=first_frame)
        elapsed = time.time() - T0
        cpu = time.process_time()  # this process's CPU (all threads) to the first frame: less swayed by a busy machine
        # Let the frame settle, then report and leave.
        Clock.schedule_once(lambda dt: (print(json.dumps({"kind": kind, "first_frame_s": elapsed, "cpu_s": cpu, "rss_mb": rss_mb()})),
                                        App.get_running_app().stop()), 0.5)

    Window.bind(on_flip=first_frame)

if __name__ == "__main__":
    main(*sys.argv[1:4])
