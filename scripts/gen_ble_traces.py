#!/usr/bin/env python3
"""Generate realistic BLE advertisement traces with ground truth (tests/data/ble/).

Radio model: log-distance path loss (n = 2.2) from each phone's true RSSI at 1 m (phone models
differ by +-4 dB; the app advertises its calibrated value, off by ~1 dB), a slowly wandering body
/ pocket loss, Gaussian noise and occasional deep multipath fades; reports below -95 dBm are lost;
each advertisement (every 0.2-0.35 s) is received with the scan duty cycle's probability, or, in
"sparse" traces, BlueZ-style de-duplication leaves one report every 2-6 s. Phones rotate their
MAC address; tokens follow the phone's (slightly wrong) clock.

Scenarios: stoppers (walk up, stop at the window, leave), edge walkers (pass 16-24 m away), noisy
multipath, address rotation with a return visit, a crowd of non-registered devices (some
advertising our UUID with unknown or forged tokens), sparse BlueZ reports.

Ground truth per registered person: kind (stopper / edge_walker), ``enter_range_t`` (radio
range: the mean signal, i.e. path loss plus the slow body loss but not fast fading, first reaches
the level the phone's own calibration puts at 10 m), ``enter_10m_t`` (geometry), ``stop_s``.

Usage: python scripts/gen_ble_traces.py [OUT_DIR]   (default tests/data/ble; deterministic)
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from truck_pos.domain.tokens import SERVICE_UUID, derive_token, encode_service_data, slot_of  # noqa: E402

START_UNIX = 1780333080.0  # 2026-06-01T16:58:00Z: a token slot boundary falls inside each trace
SLOT_S = 300
NEAR_ENTER_M = 10.0  # "entering range" in the ground truth (matches the default near_enter_m)
PATH_LOSS_N = 2.2
SENSITIVITY_DBM = -95
FIELDS = ("t_s", "address", "rssi_dbm", "service_uuid", "service_data_hex", "tx_power_dbm")


def test_secret(device_id: str) -> bytes:
    """An obviously fake, reproducible per-device secret for test devices."""
    return hashlib.sha256(b"truck_pos TEST ONLY secret " + device_id.encode()).digest()


def random_mac(rng: random.Random) -> str:
    """A random resolvable-private-style address (top bits 01)."""
    octets = [rng.randrange(256) for _ in range(6)]
    octets[0] = (octets[0] & 0x3F) | 0x40
    return ":".join(f"{o:02X}" for o in octets)


@dataclass
class Person:
    """One phone carried along a piecewise-linear path [(t, x, y)] (truck window at the origin)."""

    path: list[tuple[float, float, float]]
    device_id: str | None  # None: not registered
    kind: str
    rng: random.Random
    p1m_true: float = -59.0
    advertises_uuid: bool = True
    forged: bool = False
    rotations: list[float] = field(default_factory=list)  # times the MAC changes
    clock_skew_s: float = 0.0
    enter_radio_t: float | None = None  # set by emit(): mean signal first at the 10 m level

    def position(self, t: float) -> tuple[float, float] | None:
        p = self.path
        if t < p[0][0] or t > p[-1][0]:
            return None
        for (t0, x0, y0), (t1, x1, y1) in zip(p, p[1:]):
            if t0 <= t <= t1:
                f = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)
                return x0 + f * (x1 - x0), y0 + f * (y1 - y0)
        return None

    def enter_range_t(self, step: float = 0.05) -> float | None:
        t = self.path[0][0]
        while t <= self.path[-1][0]:
            x, y = self.position(t)  # type: ignore[misc]
            if math.hypot(x, y) <= NEAR_ENTER_M:
                return round(t, 2)
            t += step
        return None


def walk(points: list[tuple[float, float]], speed: float, t0: float, stops: dict[int, float] | None = None) -> list[tuple[float, float, float]]:
    """Timed path through ``points`` at ``speed`` m/s, pausing ``stops[i]`` seconds at point i."""
    stops = stops or {}
    t, path = t0, [(t0, *points[0])]
    for i, (a, b) in enumerate(zip(points, points[1:])):
        if stops.get(i):
            t += stops[i]
            path.append((t, *a))
        t += math.dist(a, b) / speed
        path.append((t, *b))
    return path


def stopper(rng: random.Random, i: int, t0: float, stop_s: float, prefix: str = "cust") -> Person:
    side = rng.choice((-1, 1))
    start = (side * rng.uniform(30, 45), rng.uniform(3, 15))
    window = (rng.uniform(-1.5, 1.5), rng.uniform(1.0, 2.5))
    away = (-side * rng.uniform(30, 45), rng.uniform(3, 15))
    path = walk([start, window, away], rng.uniform(1.1, 1.5), t0, {1: stop_s})
    return Person(path, f"{prefix}-{i:03d}", "stopper", rng, p1m_true=-59 + rng.uniform(-4, 4), clock_skew_s=rng.uniform(-40, 40))


def edge_walker(rng: random.Random, i: int, t0: float, registered: bool = True) -> Person:
    y = rng.uniform(16, 24)
    x0 = rng.choice((-1, 1)) * 45
    path = walk([(x0, y), (-x0, y + rng.uniform(-2, 2))], rng.uniform(1.0, 1.6), t0)
    return Person(path, f"walk-{i:03d}" if registered else None, "edge_walker", rng, p1m_true=-59 + rng.uniform(-4, 4),
                  clock_skew_s=rng.uniform(-40, 40))


def loiterer(rng: random.Random, t0: float, duration: float) -> Person:
    """A non-registered device milling around 2-40 m away (headphones, watches, other phones)."""
    pts = [(rng.uniform(-40, 40), rng.uniform(1, 40)) for _ in range(4)]
    path = walk(pts, rng.uniform(0.3, 1.2), t0)
    path = [(t0 + (t - t0) * duration / max(path[-1][0] - t0, 1), x, y) for t, x, y in path]
    kind = rng.random()
    return Person(path, None, "unregistered", rng, p1m_true=-59 + rng.uniform(-6, 6),
                  advertises_uuid=kind < 0.3, forged=kind < 0.1)


def emit(person: Person, sigma_db: float, fade_p: float, sparse: bool, duty: float) -> list[tuple]:
    """The reports a scanner at the window would log for this person's phone."""
    rng = person.rng
    rows: list[tuple] = []
    interval = rng.uniform(0.2, 0.35)
    measured = round(person.p1m_true + rng.gauss(0, 1)) if person.device_id else None
    secret = test_secret(person.device_id) if person.device_id else None
    t, body, next_report = person.path[0][0] + rng.uniform(0, interval), rng.gauss(0, 2), 0.0
    rotations, mac = sorted(person.rotations), random_mac(rng)
    while t <= person.path[-1][0]:
        if rotations and t >= rotations[0]:
            rotations.pop(0)
            mac = random_mac(rng)
        body += 0.05 * (rng.gauss(0, 2) - body)  # slow random walk around 0 dB
        x, y = person.position(t)  # type: ignore[misc]
        d = max(math.hypot(x, y), 0.3)
        mean_rssi = person.p1m_true - 10 * PATH_LOSS_N * math.log10(d) + body
        level = (measured if measured is not None else -59) - 10 * PATH_LOSS_N * math.log10(NEAR_ENTER_M)
        if person.enter_radio_t is None and mean_rssi >= level:
            person.enter_radio_t = round(t, 2)
        rssi = mean_rssi + rng.gauss(0, sigma_db)
        if rng.random() < fade_p:
            rssi -= rng.uniform(8, 20)
        received = rssi >= SENSITIVITY_DBM and (t >= next_report if sparse else rng.random() < duty)
        if received:
            if sparse:
                next_report = t + rng.uniform(2, 6)
            rows.append(report(person, t, mac, round(rssi), secret, measured, rng))
        t += interval + rng.uniform(0, 0.01)
    return rows


def report(person: Person, t: float, mac: str, rssi: int, secret: bytes | None, measured: int | None, rng: random.Random) -> tuple:
    if secret is not None:
        token = derive_token(secret, slot_of(START_UNIX + t + person.clock_skew_s, SLOT_S))
        return (round(t, 3), mac, rssi, SERVICE_UUID, encode_service_data(token, measured).hex(), "")
    if person.advertises_uuid:
        token = rng.randbytes(8) if person.forged else hashlib.sha256(mac.encode()).digest()[:8]
        return (round(t, 3), mac, rssi, SERVICE_UUID, encode_service_data(token).hex(), "")
    return (round(t, 3), mac, rssi, "", "", rng.choice(("", "", "4", "-8", "12")))


SCENARIOS = {
    # name: (sigma_db, fade_p, sparse)
    "stoppers": (4.0, 0.05, False),
    "edge_walkers": (4.0, 0.05, False),
    "multipath": (7.0, 0.15, False),
    "rotation": (4.0, 0.05, False),
    "crowd": (4.0, 0.05, False),
    "sparse": (4.0, 0.05, True),
}


def people_for(name: str, rng: random.Random) -> list[Person]:
    """The people in one scenario."""
    if name == "stoppers":
        return [stopper(rng, i, rng.uniform(0, 480), rng.choice((12, 20, 45, 90, 180))) for i in range(24)]
    if name == "edge_walkers":
        return [edge_walker(rng, i, rng.uniform(0, 840)) for i in range(400)]
    if name in ("multipath", "sparse"):
        return [stopper(rng, i, rng.uniform(0, 480), rng.choice((15, 30, 90))) for i in range(15)] + \
               [edge_walker(rng, 500 + i, rng.uniform(0, 540)) for i in range(60)]
    if name == "rotation":
        out = []
        for i in range(8):
            t0 = rng.uniform(0, 120)
            first = stopper(rng, i, t0, 60, prefix="rot")
            back = stopper(rng, i, first.path[-1][0] + 30, 40, prefix="rot")
            first.path += back.path  # leaves, comes back in the same window
            first.rotations = [t0 + 40, back.path[0][0] + 50]  # new MAC mid-stop, both visits
            out.append(first)
        return out
    if name == "crowd":
        return [stopper(rng, i, rng.uniform(0, 360), 60, prefix="crowd") for i in range(10)] + \
               [loiterer(rng, rng.uniform(0, 300), 300) for _ in range(100)]
    raise KeyError(name)


def truth_for(people: list[Person]) -> list[dict]:
    out = []
    for p in people:
        if p.device_id is None:
            continue
        stops = [round(b[0] - a[0], 1) for a, b in zip(p.path, p.path[1:]) if (a[1], a[2]) == (b[1], b[2])]
        out.append({"device_id": p.device_id, "kind": p.kind, "enter_range_t": p.enter_radio_t,
                    "enter_10m_t": p.enter_range_t(),
                    "stop_s": max(stops, default=0.0), "mac_rotations": len(p.rotations)})
    return out


def generate(name: str, seed: int = 6) -> tuple[list[tuple], dict]:
    """Rows (sorted by time) and the ground truth of one scenario."""
    rng = random.Random(f"{seed}:{name}")
    sigma, fade, sparse = SCENARIOS[name]
    people = people_for(name, rng)
    rows = sorted((r for p in people for r in emit(p, sigma, fade, sparse, duty=0.6)), key=lambda r: r[0])
    truth = {"scenario": name, "enter_range": "first time the phone's mean signal (path loss + slow body loss, "
             "without fast fading) reached the level its advertised calibration puts at near_enter_m", "start_unix": START_UNIX, "slot_s": SLOT_S, "near_enter_m": NEAR_ENTER_M,
             "sparse": sparse, "people": truth_for(people)}
    return rows, truth


def busy_hour(seed: int = 7) -> list[tuple]:
    """A one-hour busy trace (benchmark input; not committed): 120 customers, 600 passers-by, 200 others."""
    rng = random.Random(seed)
    people = [stopper(rng, i, rng.uniform(0, 3400), rng.uniform(15, 240), prefix="bench") for i in range(120)]
    people += [edge_walker(rng, i, rng.uniform(0, 3500)) for i in range(600)]
    people += [loiterer(rng, rng.uniform(0, 3300), 300) for _ in range(200)]
    return sorted((r for p in people for r in emit(p, 4.0, 0.05, False, 0.6)), key=lambda r: r[0])


def registered_devices(truths: list[dict]) -> list[dict]:
    ids = sorted({p["device_id"] for t in truths for p in t["people"]})
    return [{"device_id": d, "customer_ref": f"c-{d}", "segment": "nearby_devices", "secret": test_secret(d).hex()} for d in ids]


def main(out_dir: str = str(ROOT / "tests" / "data" / "ble")) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    truths = []
    for name in SCENARIOS:
        rows, truth = generate(name)
        with open(out / f"{name}.csv.gz", "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, \
                io.TextIOWrapper(gz, encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(FIELDS)
            w.writerows(rows)
        (out / f"{name}.truth.json").write_text(json.dumps(truth, indent=1) + "\n", "utf-8")
        truths.append(truth)
        print(f"{name}: {len(rows)} reports, {len(truth['people'])} registered people")
    (out / "devices.json").write_text(json.dumps(registered_devices(truths), indent=1) + "\n", "utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])
