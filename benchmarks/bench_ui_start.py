"""UI cold start and memory: the register with a week of orders vs a bare Kivy window, same run.

Needs a display (starts Xvfb when $DISPLAY is unset). Prints time from process start to the first
drawn frame with the menu, and resident memory then; goal <= 2.5 s and <= 150 MB on the dev machine.
Usage: python benchmarks/bench_ui_start.py [--orders-per-day 400] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = Path(__file__).with_name("ui_start_child.py")


def seed_week(db_path: Path, per_day: int) -> int:
    """A week of realistic orders through the register service (a fake clock walks the days)."""
    from datetime import datetime, timedelta, timezone

    from truck_pos.bootstrap import build
    from truck_pos.clock import FakeClock
    from truck_pos.config import load_settings
    from truck_pos.store.db import close_database

    clock = FakeClock(datetime(2026, 6, 1, 16, 0, tzinfo=timezone.utc))
    services = build(load_settings(env={"TRUCK_POS_STORE_PATH": str(db_path)}), clock=clock)
    skus = [e.sku for e in services.menu.items()]
    n = 0
    for day in range(7):
        clock.set(datetime(2026, 6, 1, 16, 0, tzinfo=timezone.utc) + timedelta(days=day))
        for i in range(per_day):
            t = services.register.open_ticket()
            for k in range(1 + i % 4):
                t = services.register.add_item(t.id, skus[(i + k) % len(skus)])
            services.register.pay_card(t.id)
            clock.advance(seconds=20)
            n += 1
    services.close()
    close_database()
    return n


def run_child(kind: str, db: Path, env: dict) -> dict:
    env = {**env, "BENCH_T0": repr(time.time())}
    out = subprocess.run([sys.executable, str(CHILD), kind, str(db)], env=env, capture_output=True, text=True, timeout=120)
    line = [x for x in out.stdout.splitlines() if x.startswith("{")]
    if not line:
        raise SystemExit(f"{kind} did not start:\n{out.stderr[-2000:]}")
    return json.loads(line[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders-per-day", type=int, default=400)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    xvfb = None
    if not env.get("DISPLAY"):
        if not shutil.which("Xvfb"):
            raise SystemExit("no display: install xvfb or set DISPLAY")
        r, w = os.pipe()
        xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", "800x480x24", "-nolisten", "tcp"],
                                pass_fds=(w,), stderr=subprocess.DEVNULL)
        os.close(w)
        env["DISPLAY"] = ":" + os.fdopen(r).readline().strip()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "week.db"
            orders = seed_week(db, args.orders_per_day)
            env["KIVY_HOME"] = str(Path(tmp) / "kivy")
            results = {"floor": [], "register": []}
            for _ in range(args.runs):
                for kind in results:
                    results[kind].append(run_child(kind, db, env))
    finally:
        if xvfb:
            xvfb.terminate()
    print(f"UI cold start: {orders} orders (a week) in the database, {args.runs} runs, medians")
    print(f"{'app':28} {'first frame s':>14} {'RSS MB':>8}")
    med = {}
    for kind, label in (("floor", "bare Kivy label (floor)"), ("register", "truck_pos register")):
        t = statistics.median(r["first_frame_s"] for r in results[kind])
        m = statistics.median(r["rss_mb"] for r in results[kind])
        med[kind] = (t, m)
        print(f"{label:28} {t:14.2f} {m:8.1f}")
    print(f"ratio register/floor: start {med['register'][0] / med['floor'][0]:.2f}, memory {med['register'][1] / med['floor'][1]:.2f}"
          f"  (goals: register <= 2.5 s, <= 150 MB)")


if __name__ == "__main__":
    main()
