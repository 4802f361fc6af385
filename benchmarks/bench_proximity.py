#!/usr/bin/env python3
"""Proximity pipeline throughput on a generated 1-hour busy trace, against a parse-only floor.

Rows: (1) floor: parse each advertisement's service data and nothing else; (2) pipeline:
parse + token resolution + filter + a tick every 0.5 s of trace time (pure domain);
(3) service: ProximityService.on_advertisement/tick (lock, customer lookup, events written to a
real SQLite file in one transaction each). Only reports carrying our service data are fed,
as BleScanner.detection_callback passes on. Best of 3 runs; prints ads/s and the ratio to the floor.

Usage: python benchmarks/bench_proximity.py
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from truck_pos.clock import FakeClock  # noqa: E402
from truck_pos.devices.ble import Advertisement  # noqa: E402
from truck_pos.domain.proximity import ProximityFilter  # noqa: E402
from truck_pos.domain.tokens import SERVICE_UUID, TokenTable, parse_service_data  # noqa: E402

GOAL_ADS_S = 20_000


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_ble_traces", ROOT / "scripts" / "gen_ble_traces.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gen_ble_traces"] = mod
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def best_of(fn, ads, n=3) -> float:
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        fn(ads)
        best = min(best, time.perf_counter() - t0)
    return best


def floor(ads) -> None:
    for a in ads:
        parse_service_data(a.service_data)


def make_pipeline(devices, slot_s):
    def pipeline(ads) -> None:
        table = TokenTable(devices, slot_s=slot_s)
        f = ProximityFilter()
        next_tick = ads[0].t_s
        for a in ads:
            if a.t_s >= next_tick:
                f.tick(a.t_s)
                next_tick = a.t_s + 0.5
            sd = parse_service_data(a.service_data)
            if sd is None:
                continue
            dev = table.resolve(sd.token, a.t_s)
            if dev is not None:
                f.observe(dev, a.t_s, a.rssi_dbm, sd.measured_power_dbm, a.tx_power_dbm)
    return pipeline


def make_service(device_dicts, start_unix):
    from truck_pos.bootstrap import build
    from truck_pos.config import load_settings

    tmp = tempfile.mkdtemp(prefix="bench-ble-")
    clock = FakeClock(datetime.fromtimestamp(start_unix, timezone.utc))
    svc = build(load_settings(env={"TRUCK_POS_STORE_PATH": f"{tmp}/truck.db"}), clock=clock, load_demo=False)
    svc.proximity.load_devices(device_dicts)

    def service(ads) -> None:
        from truck_pos.store.outbox import Outbox
        from truck_pos.store.proximity_models import ProximityEvent

        with svc.db.atomic():
            ProximityEvent.delete().execute()
            Outbox.delete().execute()
        prox = svc.proximity
        prox._written.clear()
        prox._filter = ProximityFilter(prox._filter.settings)
        next_tick = ads[0].t_s
        for a in ads:
            if a.t_s >= next_tick:
                prox.tick(a.t_s)
                next_tick = a.t_s + 0.5
            prox.on_advertisement(a)
    return service, svc


def main() -> int:
    gen = load_generator()
    rows = gen.busy_hour()
    start = gen.START_UNIX
    ads = [Advertisement(start + r[0], r[1], r[2], bytes.fromhex(r[4]), None) for r in rows if r[3] == SERVICE_UUID]
    ids = sorted({f"bench-{i:03d}" for i in range(120)} | {f"walk-{i:03d}" for i in range(600)})
    device_dicts = [{"device_id": d, "customer_ref": f"c-{d}", "secret": gen.test_secret(d).hex()} for d in ids]
    devices = [(d["device_id"], bytes.fromhex(d["secret"])) for d in device_dicts]
    service, svc = make_service(device_dicts, start)
    try:
        t_floor = best_of(floor, ads)
        t_pipe = best_of(make_pipeline(devices, gen.SLOT_S), ads)
        t_svc = best_of(service, ads)
        events = svc.proximity.events_written // 3  # best_of ran the service 3 times
    finally:
        svc.close()
    n = len(ads)
    print(f"1-hour busy trace: {len(rows)} reports, {n} with our service data, {len(devices)} registered devices, "
          f"{events} events per run")
    print(f"{'stage':34} {'ads/s':>12} {'x floor':>8}")
    for name, t in [("floor: parse service data only", t_floor), ("pipeline: resolve + filter + tick", t_pipe),
                    ("service: + lock, events in SQLite", t_svc)]:
        print(f"{name:34} {n / t:12,.0f} {t_floor / t:8.2f}")
    ok = n / t_svc >= GOAL_ADS_S
    print(f"goal >= {GOAL_ADS_S:,} ads/s through the service: {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
