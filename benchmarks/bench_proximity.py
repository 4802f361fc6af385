#!/usr/bin/env python3
"""Proximity on simulated streets: detection table (detector v2 vs a naive EMA) and throughput vs a parse-only floor.

Streets come from scripts/gen_ble_streets.py (an independent radio model; 60 minutes each, dense =
every advertisement reported as with BlueZ DuplicateData, sparse = BlueZ's de-duplicated reports).
Detector v2 runs through the product's full path: bleak's own ``BLEDevice``/``AdvertisementData``
-> ``BleScanner.detection_callback`` -> ``ProximityService`` -> events in SQLite, read back from
the outbox rows (their time is when the event fired). The naive EMA baseline (per report, alpha
0.3 on RSSI, fire under 3 m with the phone's calibration taken as is) runs on the same reports.

Throughput (on the dense street of the first seed): floor = parse each report's service data;
service = ``ProximityService.on_advertisement`` + a tick every 0.5 s, events in a real SQLite file,
committed by the service's writer thread as while the radio runs (timed until the last one is
committed), and again with every event committed on the report's thread. Interleaved, best of 3;
prints ads/s and the ratio to the floor, wall and CPU (goal >= 0.5).

Usage: python benchmarks/bench_proximity.py [--seeds 1,2,3,4,5] [--minutes 60] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.gen_ble_streets import SERVICE_UUID, Street, score, street  # noqa: E402
from truck_pos.clock import FakeClock  # noqa: E402
from truck_pos.devices.ble import Advertisement, BleScanner  # noqa: E402
from truck_pos.devices.ble_fake import TraceRow, replay_all  # noqa: E402
from truck_pos.domain.tokens import TokenTable, parse_service_data  # noqa: E402

TUNED_ON = {1, 2}  # seeds the detector's defaults were chosen on; the others are held out
GOALS = {"dense": 80.0, "sparse": 50.0}


def fresh_services(start_unix: float):
    from truck_pos.bootstrap import build
    from truck_pos.config import load_settings

    tmp = tempfile.mkdtemp(prefix="bench-ble-")
    clock = FakeClock(datetime.fromtimestamp(start_unix, timezone.utc))
    return build(load_settings(env={"TRUCK_POS_STORE_PATH": f"{tmp}/truck.db"}), clock=clock, load_demo=False), clock


def rows_of(s: Street) -> list[TraceRow]:
    return [TraceRow(t, mac, rssi, u, bytes.fromhex(d), int(tx) if tx else None) for t, mac, rssi, u, d, tx in s.rows]


def full_path(s: Street) -> dict[str, float]:
    """device_id -> street time of its first event, through bleak types, BleScanner and the service (SQLite)."""
    from truck_pos.store.outbox import Outbox

    svc, clock = fresh_services(s.start_unix)
    try:
        prox = svc.proximity
        prox.load_devices(s.devices)
        scanner = BleScanner(prox.on_advertisement, clock=clock)
        replay_all(rows_of(s), scanner.detection_callback, clock, s.start_unix, tick=prox.tick)
        return {r.payload["customer_ref"][2:]: r.created_utc.timestamp() - s.start_unix
                for r in Outbox.select().where(Outbox.kind == "proximity")}
    finally:
        svc.close()


def naive_ema(s: Street, alpha: float = 0.3, n: float = 2.2, enter_m: float = 3.0) -> dict[str, float]:
    """The baseline: per-report EMA of RSSI, distance from the advertised calibration as is (else -59)."""
    table = TokenTable([(d["device_id"], bytes.fromhex(d["secret"])) for d in s.devices], slot_s=s.slot_s)
    ema: dict[str, float] = {}
    fired: dict[str, float] = {}
    for t, _mac, rssi, u, data, _tx in s.rows:
        if u != SERVICE_UUID:
            continue
        sd = parse_service_data(bytes.fromhex(data))
        dev = sd and table.resolve(sd.token, s.start_unix + t)
        if not dev or dev in fired:
            continue
        ema[dev] = rssi if dev not in ema else ema[dev] + alpha * (rssi - ema[dev])
        p1m = sd.measured_power_dbm if sd.measured_power_dbm is not None else -59
        if 10 ** ((p1m - ema[dev]) / (10 * n)) <= enter_m:
            fired[dev] = t
    return fired


def detection_table(seeds: list[int], minutes: float) -> list[dict]:
    rows = []
    for mode in ("dense", "sparse"):
        for seed in seeds:
            s = street(seed, mode, minutes)
            v2, ema = score(s, full_path(s)), score(s, naive_ema(s))
            rows.append({"mode": mode, "seed": seed, "held_out": seed not in TUNED_ON, "reports": len(s.rows),
                         "arrivals": v2["arrivals"], "others": v2["others"],
                         "v2_in_time_pct": v2["in_time_pct"], "v2_ever": v2["ever"], "v2_median_latency_s": v2["median_latency_s"],
                         "v2_false": v2["false"], "ema_in_time_pct": ema["in_time_pct"], "ema_false": ema["false"]})
            print(f"{mode:6} seed {seed}{'' if seed not in TUNED_ON else '*'}  {len(s.rows):7d} reports  "
                  f"{v2['arrivals']:3d} arrivals  {v2['others']:3d} passers-by+standers  | v2 in time "
                  f"{v2['in_time_pct']:5.1f} %  false {v2['false']:2d}  median latency {v2['median_latency_s']} s  "
                  f"| naive EMA in time {ema['in_time_pct']:5.1f} %  false {ema['false']:2d}", flush=True)
    return rows


def best_of(fn, n: int = 3, timer=time.perf_counter) -> float:
    best = math.inf
    for _ in range(n):
        t0 = timer()
        fn()
        best = min(best, timer() - t0)
    return best


def throughput(s: Street, rounds: int = 3) -> dict:
    ads = [Advertisement(s.start_unix + t, mac, rssi, bytes.fromhex(d), None) for t, mac, rssi, u, d, _ in s.rows if u == SERVICE_UUID]

    def floor() -> None:
        for a in ads:
            parse_service_data(a.service_data)

    svc, _clock = fresh_services(s.start_unix)
    svc.proximity.load_devices(s.devices)
    events = []

    def service(writer: bool) -> None:
        from truck_pos.domain.proximity import ProximityFilter
        from truck_pos.store.outbox import Outbox
        from truck_pos.store.proximity_models import ProximityEvent

        with svc.db.atomic():
            ProximityEvent.delete().execute()
            Outbox.delete().execute()
        prox = svc.proximity
        prox._written.clear()
        prox._filter = ProximityFilter(prox._filter.settings)
        if writer:  # as while the radio runs: events committed on the writer thread; timed until the last is
            prox.start_event_writer()
        next_tick = ads[0].t_s
        for a in ads:
            if a.t_s >= next_tick:
                prox.tick(a.t_s)
                next_tick = a.t_s + 0.5
            prox.on_advertisement(a)
        prox.stop_event_writer()  # writes what is queued, joins
        events.append(ProximityEvent.select().count())

    def writer() -> None:
        service(True)

    def in_place() -> None:
        service(False)

    # Interleaved, best of ``rounds`` each: a busy moment of the shared machine hits every stage alike.
    # CPU time (process-wide: the writer thread's too) leaves out waiting for the disk (one fsync per event:
    # WAL, synchronous=FULL), which on a busy machine is most of the wall time of writing events in place.
    stages = {"floor": floor, "service": writer, "in_place": in_place}
    wall = {k: math.inf for k in stages}
    cpu = {k: math.inf for k in stages}
    try:
        for _ in range(rounds):
            for k, fn in stages.items():
                w0, c0 = time.perf_counter(), time.process_time()
                fn()
                wall[k] = min(wall[k], time.perf_counter() - w0)
                cpu[k] = min(cpu[k], time.process_time() - c0)
    finally:
        svc.close()
    n = len(ads)
    out = {"ads": n, "events": events[-1], "events_all_runs": sorted(set(events))}
    for k in stages:
        out[f"{k}_ads_s"], out[f"cpu_{k}_ads_s"] = round(n / wall[k]), round(n / cpu[k])
        out[f"{k}_ratio"], out[f"cpu_{k}_ratio"] = round(wall["floor"] / wall[k], 3), round(cpu["floor"] / cpu[k], 3)
    out["ratio"], out["cpu_ratio"] = out["service_ratio"], out["cpu_service_ratio"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1,2,3,4,5")
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--json", default="")
    a = ap.parse_args(argv)
    seeds = [int(x) for x in a.seeds.split(",")]
    print(f"streets: {len(seeds)} seeds x dense/sparse, {a.minutes:g} min each (* = seed the defaults were tuned on)")
    table = detection_table(seeds, a.minutes)
    for mode, goal in GOALS.items():
        rows = [r for r in table if r["mode"] == mode]
        worst = min(r["v2_in_time_pct"] for r in rows)
        false = sum(r["v2_false"] for r in rows)
        print(f"goal {mode}: >= {goal:g} % in time on every street (worst {worst:.1f} %): {'met' if worst >= goal else 'NOT met'}; "
              f"0 false events (total {false}): {'met' if false == 0 else 'NOT met'}")
    tp = throughput(street(seeds[0], "dense", a.minutes))
    print(f"throughput on the dense street of seed {seeds[0]}: {tp['ads']} reports with our service data, {tp['events']} events "
          f"(every run: {tp['events_all_runs']}); best of 3, interleaved; load average {os.getloadavg()[0]:.1f}")
    print(f"{'stage':52} {'wall ads/s':>11} {'x floor':>8} {'CPU ads/s':>11} {'x floor':>8}")
    for k, label in [("floor", "floor: parse service data only"),
                     ("service", "service: resolve + detector + SQLite (writer thread)"),
                     ("in_place", "service, events written on the report's thread")]:
        print(f"{label:52} {tp[k + '_ads_s']:>11,} {tp[k + '_ratio']:>8.2f} {tp['cpu_' + k + '_ads_s']:>11,} "
              f"{tp['cpu_' + k + '_ratio']:>8.2f}")
    print(f"goal >= 0.5x the floor (service): wall {'met' if tp['ratio'] >= 0.5 else 'NOT met'} ({tp['ratio']:.2f}x), "
          f"CPU {'met' if tp['cpu_ratio'] >= 0.5 else 'NOT met'} ({tp['cpu_ratio']:.2f}x)")
    if a.json:
        Path(a.json).write_text(json.dumps({"table": table, "throughput": tp}, indent=1) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
