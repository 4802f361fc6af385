"""UI cold start and memory: the register vs a bare Kivy window in the same run; a day vs a year of orders.

Needs a display (starts its own Xvfb at 800x480 when $DISPLAY is unset). Each child process reports the
time from its interpreter start to the first drawn frame, and its resident memory then.
Goals (issue #20): register start <= 1.5x the bare window; RSS <= bare + 25 MB; RSS flat from a day to a
year of orders. Goals are reported, not asserted.
Usage: python benchmarks/bench_ui_start.py [--orders-per-day 400] [--days 365] [--runs 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import compileall
import json
import math
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
KINDS = (("floor", "bare Kivy window (floor)"), ("day", "register, 1 day of orders"), ("year", "register, a year of orders"),
         ("campaign", "register, 1 day + a held campaign"))
CAMPAIGN = ROOT / "tests" / "data" / "campaigns" / "demo_campaign.json"


def _moved_to_today(doc: object, days: int | None = None) -> object:
    """The demo campaign with every date moved so its week starts today (a held campaign, not an expired one)."""
    from datetime import date, datetime

    if days is None:
        days = (date.today() - date(2026, 6, 1)).days
    if isinstance(doc, dict):
        return {k: _moved_to_today(v, days) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_moved_to_today(v, days) for v in doc]
    if isinstance(doc, str) and doc[:4].isdigit() and doc[4:5] == "-" and "T" in doc:
        from datetime import timedelta

        z = doc.endswith("Z")
        moved = datetime.fromisoformat(doc.rstrip("Z")) + timedelta(days=days)
        return moved.isoformat(timespec="minutes" if len(doc.rstrip("Z")) == 16 else "seconds") + ("Z" if z else "")
    return doc


def hold_campaign(day_db: Path, db_path: Path, key_file: Path) -> None:
    """A copy of the day's database holding the signed demo campaign (verified again at every start)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from truck_pos.bootstrap import build
    from truck_pos.config import load_settings
    from truck_pos.domain.bundle import sign_bundle
    from truck_pos.store.db import close_database

    shutil.copyfile(day_db, db_path)
    key = Ed25519PrivateKey.generate()  # made for this run, never stored
    key_file.write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    services = build(load_settings(env={"TRUCK_POS_STORE_PATH": str(db_path),
                                        "TRUCK_POS_SECURITY_CAMPAIGN_PUBLIC_KEY_FILE": str(key_file)}),
                     print_autostart=False)
    result = services.campaigns.install_bundle(sign_bundle(_moved_to_today(json.loads(CAMPAIGN.read_text("utf-8"))), key))
    if not result.accepted:
        raise SystemExit(f"demo campaign refused: {result.reason}")
    services.close()
    close_database()


def seed(db_path: Path, per_day: int, days: int) -> int:
    """One day of orders through the register service, then copied day by day in SQL (a year in seconds)."""
    from datetime import datetime, timezone

    from truck_pos.bootstrap import build
    from truck_pos.clock import FakeClock
    from truck_pos.config import load_settings
    from truck_pos.store.db import close_database

    clock = FakeClock(datetime(2026, 6, 1, 16, 0, tzinfo=timezone.utc))
    services = build(load_settings(env={"TRUCK_POS_STORE_PATH": str(db_path)}), clock=clock, print_autostart=False)
    skus = [e.sku for e in services.menu.items()]
    for i in range(per_day):
        t = services.register.open_ticket()
        for k in range(1 + i % 4):
            t = services.register.add_item(t.id, skus[(i + k) % len(skus)])
        services.register.pay_card(t.id)
        clock.advance(seconds=20)
    db = services.db
    day0 = services.register.today()
    cols = "business_day, number, status, channel, created_utc, paid_utc, subtotal_cents, discount_cents, tax_cents, " \
           "total_cents, tax_mode, staff_id, customer_ref, stop, note"
    db.execute_sql("PRAGMA synchronous=OFF")  # seeding only; the register opens it again with FULL
    with db.atomic():
        for d in range(1, days):
            db.execute_sql(f'INSERT INTO "order" (uuid, {cols}) SELECT uuid || ?, date(business_day, ?), '
                           f'{cols.split(", ", 1)[1]} FROM "order" WHERE business_day = ?', (f"-{d}", f"-{d} days", day0))
            for table, rest in (("order_line", "position, sku, name, quantity, unit_price_cents, modifiers, tax_rate_bp, "
                                               "gross_cents, discount_cents, tax_cents"),
                                ("tender", "kind, amount_cents, tendered_cents, change_cents, reference")):
                picked = ", ".join(f"x.{c.strip()}" for c in rest.split(","))
                db.execute_sql(f'INSERT INTO {table} (order_id, {rest}) SELECT o2.id, {picked} FROM {table} x '
                               f'JOIN "order" o1 ON x.order_id = o1.id JOIN "order" o2 ON o2.uuid = o1.uuid || ? '
                               f'WHERE o1.business_day = ?', (f"-{d}", day0))
    n = db.execute_sql('SELECT COUNT(*) FROM "order"').fetchone()[0]
    services.close()
    close_database()
    return n


def run_child(kind: str, db: Path, env: dict, key_file: Path | None = None) -> dict:
    env = {**env, "BENCH_T0": repr(time.time())}
    extra = [str(key_file)] if key_file else []
    out = subprocess.run([sys.executable, str(CHILD), "floor" if kind == "floor" else "register", str(db), *extra], env=env,
                         capture_output=True, text=True, timeout=180)
    line = [x for x in out.stdout.splitlines() if x.startswith("{")]
    if not line:
        raise SystemExit(f"{kind} did not start:\n{out.stderr[-2000:]}")
    return json.loads(line[-1])


def table(results: dict[str, list[dict]]) -> dict:
    """Medians per kind and the ratios the goals are about."""
    med = {k: {"first_frame_s": statistics.median(r["first_frame_s"] for r in results[k]),
               "cpu_s": statistics.median(r["cpu_s"] for r in results[k]),
               "rss_mb": statistics.median(r["rss_mb"] for r in results[k])} for k, _ in KINDS}
    floor = med["floor"]
    return {"medians": med, "start_ratio": med["day"]["first_frame_s"] / floor["first_frame_s"],
            "start_cpu_ratio": med["day"]["cpu_s"] / floor["cpu_s"],
            "rss_over_floor_mb": med["day"]["rss_mb"] - floor["rss_mb"],
            "rss_year_minus_day_mb": med["year"]["rss_mb"] - med["day"]["rss_mb"],
            "campaign_start_ratio": med["campaign"]["first_frame_s"] / floor["first_frame_s"],
            "campaign_rss_over_floor_mb": med["campaign"]["rss_mb"] - floor["rss_mb"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders-per-day", type=int, default=400)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # Bytecode for our packages, as the appliance's `pip install` writes it (Kivy's came with its wheel). Without it a
    # child run with PYTHONDONTWRITEBYTECODE set (as here) compiles every module of ours at every start: ~0.1 s.
    for package in ("truck_pos", "sync"):
        compileall.compile_dir(ROOT / package, quiet=1)
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
            dbs = {"day": Path(tmp) / "day.db", "year": Path(tmp) / "year.db", "campaign": Path(tmp) / "campaign.db"}
            counts = {"day": seed(dbs["day"], args.orders_per_day, 1), "year": seed(dbs["year"], args.orders_per_day, args.days)}
            key_file = Path(tmp) / "owner.pub.pem"
            hold_campaign(dbs["day"], dbs["campaign"], key_file)
            env["KIVY_HOME"] = str(Path(tmp) / "kivy")
            results: dict[str, list[dict]] = {k: [] for k, _ in KINDS}
            for _ in range(args.runs):  # interleaved, so a busy moment hits every kind alike
                for kind, _label in KINDS:
                    results[kind].append(run_child(kind, dbs.get(kind, dbs["day"]), env,
                                                   key_file if kind == "campaign" else None))
    finally:
        if xvfb:
            xvfb.terminate()
            xvfb.wait(10)
    figures = table(results)
    med = figures["medians"]
    print(f"UI cold start at 800x480: {counts['day']} orders (a day) and {counts['year']} ({args.days} days); "
          f"{args.runs} runs, medians")
    print(f"| {'app':33} | {'first frame s':>13} | {'RSS MB':>7} | {'CPU s':>6} |")
    print(f"|{'-' * 35}|{'-' * 15}|{'-' * 9}|{'-' * 8}|")
    for kind, label in KINDS:
        print(f"| {label:33} | {med[kind]['first_frame_s']:13.2f} | {med[kind]['rss_mb']:7.1f} | {med[kind]['cpu_s']:6.2f} |")
    ok = {"start": figures["start_ratio"] <= 1.5, "rss": figures["rss_over_floor_mb"] <= 25,
          "flat": abs(figures["rss_year_minus_day_mb"]) <= 5}
    print(f"start ratio register/floor {figures['start_ratio']:.2f} (goal <= 1.5: {'met' if ok['start'] else 'NOT met'}; "
          f"CPU seconds to the first frame {figures['start_cpu_ratio']:.2f}x); "
          f"RSS over floor {figures['rss_over_floor_mb']:+.1f} MB (goal <= 25: {'met' if ok['rss'] else 'NOT met'}); "
          f"year - day {figures['rss_year_minus_day_mb']:+.1f} MB (goal flat, within 5: {'met' if ok['flat'] else 'NOT met'})")
    print(f"with a held campaign (Ed25519 keys loaded at start): start {figures['campaign_start_ratio']:.2f}x, "
          f"RSS over floor {figures['campaign_rss_over_floor_mb']:+.1f} MB")
    if args.json:
        Path(args.json).write_text(json.dumps({**figures, "orders": counts, "runs": args.runs,
                                               "finite": all(math.isfinite(v) for m in med.values() for v in m.values())}))


if __name__ == "__main__":
    main()
