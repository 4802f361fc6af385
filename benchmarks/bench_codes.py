#!/usr/bin/env python3
"""Code check vs a plain dict lookup, with 1k / 10k / 100k issued codes in the index.

    python benchmarks/bench_codes.py [--sizes 1000,10000,100000] [--rounds 7]

The floor is ``dict.get(code)`` on a dict of the same size, measured in the same run; the code
check is ``CodeIndex.check`` (normalize the typed text, look it up, window, truck, stacking and
limit rules, benefit amount). Prints median microseconds per check and the ratio. Also shows a
personal code (one Ed25519 verification) for scale. Never fails on time: read the ratio.
"""

from __future__ import annotations

import argparse
import random
import statistics
import string
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from truck_pos.domain.bundle import b64u_encode, raw_public_key  # noqa: E402
from truck_pos.domain.campaign import normalize, parse_campaign  # noqa: E402
from truck_pos.domain.codes import CheckContext, CodeIndex, PersonalCode, UsageCounts, issue_personal_code  # noqa: E402
from truck_pos.domain.order import TicketLine  # noqa: E402

TZ = "America/Chicago"
NOW = datetime(2026, 6, 1, 17, 0, tzinfo=timezone.utc)
LINES = (TicketLine("bowl-burrito", "Burrito Bowl", 1095, 1, 825), TicketLine("drink-soda", "Mexican Coke", 300, 1, 825))
DOCUMENT = {
    "format": 1, "id": "bench", "name": "Bench", "issued_at": "2026-05-31T20:00:00Z",
    "valid_from": "2026-06-01T10:00", "valid_until": "2026-06-07T22:00",
    "segments": [{"name": "facebook_likers", "channel": "facebook", "code": "FB-LIKE-10", "total_uses": 10**9,
                  "uses_per_customer": 5, "benefit": {"kind": "percent_off", "percent": 10}},
                 {"name": "nearby_devices", "channel": "proximity", "benefit": {"kind": "amount_off", "amount_cents": 150}}],
}


def issued_codes(n: int, rng: random.Random) -> list[str]:
    alphabet = string.ascii_uppercase + string.digits
    return ["-".join("".join(rng.choice(alphabet) for _ in range(4)) for _ in range(3)) for _ in range(n)]


def median_us(fn, items: list[str], rounds: int) -> float:
    """Median over rounds of the mean time per call (µs)."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for item in items:
            fn(item)
        samples.append((time.perf_counter_ns() - start) / len(items) / 1000)
    return statistics.median(samples)


def run(sizes: list[int], rounds: int = 7, probes: int = 20_000) -> list[dict]:
    rng = random.Random(1)
    campaign = parse_campaign(DOCUMENT, TZ)
    usage = UsageCounts()
    rows = []
    for n in sizes:
        codes = issued_codes(n, rng)
        index = CodeIndex(campaign, {c: "facebook_likers" for c in codes})
        plain = {normalize(c): i for i, c in enumerate(codes)}
        typed = [rng.choice(codes).lower() for _ in range(probes)]  # staff type in any case
        normalized = [normalize(t) for t in typed]
        ctx = CheckContext(NOW, TZ, "truck-1", LINES, customer_ref="c-1")
        check = median_us(lambda t: index.check(t, ctx, usage), typed, rounds)
        floor = median_us(plain.get, normalized, rounds)
        rows.append({"codes": n, "check_us": check, "dict_us": floor, "ratio": check / floor})
    return rows


def personal_us(rounds: int = 5, probes: int = 300) -> float:
    key = Ed25519PrivateKey.generate()
    doc = dict(DOCUMENT)
    doc["code_public_key"] = b64u_encode(raw_public_key(key.public_key()))
    index = CodeIndex(parse_campaign(doc, TZ))
    codes = [issue_personal_code(PersonalCode("bench", "nearby_devices", f"c-{i}"), key) for i in range(probes)]
    ctx = CheckContext(NOW, TZ, "truck-1", LINES)
    return median_us(lambda t: index.check(t, ctx, UsageCounts()), codes, rounds)


def goal_progress_us(orders: int = 20_000, rounds: int = 50) -> tuple[float, float]:
    """(median µs of ReportsService.goal_progress with ``orders`` over 60 days, median µs of ``SELECT 1``)."""
    import tempfile
    import uuid
    from datetime import timedelta

    from truck_pos.clock import FakeClock
    from truck_pos.services.campaigns import CampaignService
    from truck_pos.services.reports import ReportsService
    from truck_pos.store.db import open_database
    from truck_pos.store.models import Order

    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(Path(tmp) / "bench.db")
        start = NOW - timedelta(days=60)
        rows = [{"uuid": str(uuid.uuid4()), "business_day": (start + timedelta(minutes=4 * i)).date().isoformat(), "number": i,
                 "status": "paid", "created_utc": start + timedelta(minutes=4 * i), "paid_utc": start + timedelta(minutes=4 * i),
                 "subtotal_cents": 1000 + i % 700, "tax_cents": 80, "total_cents": 1080 + i % 700, "tax_mode": "exclusive"}
                for i in range(orders)]
        with db.atomic():
            for k in range(0, len(rows), 500):
                Order.insert_many(rows[k:k + 500]).execute()
        clock = FakeClock(NOW)
        campaigns = CampaignService(db, clock, public_keys=[], truck_id="truck-1", timezone=TZ)
        campaigns._active = (parse_campaign({**DOCUMENT, "goal": {"start": "11:00", "end": "12:00", "customers": 40}}, TZ), None)
        reports = ReportsService(db, clock, campaigns, timezone=TZ)
        goal = median_us(lambda _: reports.goal_progress(), [""] * 20, rounds)
        floor = median_us(lambda _: db.execute_sql("select 1").fetchone(), [""] * 20, rounds)
        db.close()
    return goal, floor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    rows = run([int(s) for s in args.sizes.split(",")], args.rounds)
    print(f"{'issued codes':>12} | {'code check µs':>13} | {'dict.get µs':>11} | {'ratio':>6}")
    for r in rows:
        print(f"{r['codes']:>12,} | {r['check_us']:>13.2f} | {r['dict_us']:>11.3f} | {r['ratio']:>6.1f}")
    spread = max(r["check_us"] for r in rows) / min(r["check_us"] for r in rows)
    print(f"flatness: slowest/fastest code check across sizes = {spread:.2f}")
    print(f"personal code (Ed25519 verify + rules): {personal_us():.0f} µs median")
    goal, floor = goal_progress_us()
    print(f"register goal line (20k orders in the store): {goal:.0f} µs median vs SELECT 1 {floor:.0f} µs (ratio {goal / floor:.1f})")


if __name__ == "__main__":
    main()
