#!/usr/bin/env python3
"""Simulated streets for BLE proximity, from a radio model that owes nothing to the detector.

The detector (truck_pos.domain.proximity) is never imported here, and none of its settings are
read: the channel below is a textbook one with its own constants (:class:`Radio`).

Channel, per advertisement, receiver at the serving window (origin), street on the y > 0 side:
- dual-slope log-distance path loss: exponent 2.0 up to a 6 m breakpoint, 3.2 beyond (ground
  reflection and the crowd), from the phone's true RSSI at 1 m (hardware spread, sigma 2.5 dB);
- log-normal shadowing (sigma 3.5 dB) correlated over 3 m of position (Gudmundson): a phone that
  stands still keeps its shadow value;
- body loss: phone in hand 0-2 dB, in a pocket 4-9 dB, in a bag 8-14 dB;
- fast fading per advertisement (channel hopping): Rician, K falling from 9 dB at 1 m to 0 dB
  (as much scattered power as direct) at 15 m and beyond;
- multipath/blockage bursts: ~1 per minute per phone, 0.5-3 s, 8-20 dB extra loss;
- receiver: sensitivity -97 dBm, 75 % of advertisements received (collisions, channel); 0.1 % of
  reports carry RSSI +127 (HCI "not available");
- phones: advertising interval 100-350 ms, a 0.2-1 s gap when the app restarts advertising at
  each slot (on the phone's clock), new MAC address every 8-15 minutes; the advertised calibration
  (RSSI at 1 m) is off from the truth by up to +-6 dB, 10 % advertise none, 2 % advertise garbage
  (-128, +20); clocks off by N(0, 20 s), and 15 % a whole slot off.
- reporting: "dense" = every received advertisement (BlueZ DuplicateData=True); "sparse" = BlueZ
  de-duplication: a phone is reported when its address or data change, or when its RSSI moved 8 dB
  or more from the last reported value (BlueZ's RSSI_THRESHOLD).

People (all registered, with ground truth): window arrivals (walk along the street, turn to the
window, stand 0.6-1.5 m from it for 20-240 s, leave), passers-by (walk past at 12-40 m),
edge-standers (stand 15-25 m away for 1-10 minutes); plus unregistered phones (no service data)
and a few phones advertising our UUID with tokens no truck knows.

Usage: python scripts/gen_ble_streets.py [--seed N] [--minutes M] [--mode dense|sparse] [OUT.csv.gz]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import hmac
import io
import json
import math
import random
from dataclasses import dataclass, field

# The phone-side contract (docs/ble-advertising.md), restated here so the street does not borrow
# the truck's code: HMAC-SHA256(secret, DOMAIN || int64be(slot))[:8] behind a version byte.
SERVICE_UUID = "7c0f5a3e-1b2d-4c6e-9a8f-2d4b6e8f0a1c"
DOMAIN = b"truck_pos/ble/v1"
SLOT_S = 300
START_UNIX = 1780333080.0  # 2026-06-01T16:58:00Z: a slot boundary falls two minutes in
FIELDS = ("t_s", "address", "rssi_dbm", "service_uuid", "service_data_hex", "tx_power_dbm")


@dataclass(frozen=True)
class Radio:
    """The street's channel constants (textbook values; see the module docstring)."""

    n_near: float = 2.0
    n_far: float = 3.2
    breakpoint_m: float = 6.0
    shadow_sigma_db: float = 3.5
    shadow_corr_m: float = 3.0
    hw_sigma_db: float = 2.5
    calib_error_db: float = 6.0
    k_db_at_1m: float = 9.0
    k_zero_m: float = 15.0
    burst_per_s: float = 1 / 60
    burst_s: tuple[float, float] = (0.5, 3.0)
    burst_db: tuple[float, float] = (8.0, 20.0)
    sensitivity_dbm: float = -97.0
    receive_p: float = 0.75
    rssi_unavailable_p: float = 0.001
    sparse_delta_db: float = 8.0


RADIO = Radio()


def token_of(secret: bytes, slot: int) -> bytes:
    """The phone's 8-byte token for a slot (the published formula)."""
    return hmac.new(secret, DOMAIN + slot.to_bytes(8, "big", signed=True), hashlib.sha256).digest()[:8]


def street_secret(device_id: str) -> bytes:
    """An obviously fake, reproducible secret for a simulated phone."""
    return hashlib.sha256(b"truck_pos TEST ONLY street secret " + device_id.encode()).digest()


def mean_loss_db(d: float, r: Radio = RADIO) -> float:
    """Dual-slope path loss relative to 1 m."""
    d = max(d, 0.3)
    if d <= r.breakpoint_m:
        return 10 * r.n_near * math.log10(d)
    return 10 * r.n_near * math.log10(r.breakpoint_m) + 10 * r.n_far * math.log10(d / r.breakpoint_m)


@dataclass
class Person:
    """One phone on a timed piecewise-linear path [(t, x, y)]."""

    pid: str
    kind: str  # arrival | passer_by | edge_stander | unregistered | stranger
    path: list[tuple[float, float, float]]
    rng: random.Random
    registered: bool = True
    truth: dict = field(default_factory=dict)

    def position(self, t: float) -> tuple[float, float] | None:
        p = self.path
        if t < p[0][0] or t > p[-1][0]:
            return None
        for (t0, x0, y0), (t1, x1, y1) in zip(p, p[1:]):
            if t0 <= t <= t1:
                f = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)
                return x0 + f * (x1 - x0), y0 + f * (y1 - y0)
        return None

    def first_within(self, metres: float, step: float = 0.02) -> float | None:
        t = self.path[0][0]
        while t <= self.path[-1][0]:
            x, y = self.position(t)  # type: ignore[misc]
            if math.hypot(x, y) <= metres:
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
    if stops.get(len(points) - 1):
        path.append((t + stops[len(points) - 1], *points[-1]))
    return path


def arrival(rng: random.Random, pid: str, t0: float) -> Person:
    side = rng.choice((-1, 1))
    lane = rng.uniform(3, 12)
    turn = rng.uniform(-6, 6)
    spot = (rng.uniform(-1.0, 1.0), rng.uniform(0.6, 1.5))
    points = [(side * 45, lane), (turn, lane), spot, (rng.uniform(-6, 6), lane), (-side * 45, lane)]
    stand = rng.uniform(20, 240)
    p = Person(pid, "arrival", walk(points, rng.uniform(1.0, 1.5), t0, {2: stand}), rng)
    p.truth = {"reach_3m_t": p.first_within(3.0), "stand_s": round(stand, 1)}
    return p


def passer_by(rng: random.Random, pid: str, t0: float) -> Person:
    y = rng.uniform(12, 40)
    side = rng.choice((-1, 1))
    p = Person(pid, "passer_by", walk([(side * 60, y), (-side * 60, y + rng.uniform(-1, 1))], rng.uniform(0.9, 1.6), t0), rng)
    p.truth = {"closest_m": round(y, 1)}
    return p


def edge_stander(rng: random.Random, pid: str, t0: float) -> Person:
    r, a = rng.uniform(15, 25), rng.uniform(0.15, math.pi - 0.15)
    x, y = r * math.cos(a), r * math.sin(a)
    come = ((r + 30) * math.cos(a), (r + 30) * math.sin(a))  # from farther out: never nearer than where they stand
    stand = rng.uniform(60, 600)
    p = Person(pid, "edge_stander", walk([come, (x, y), come], rng.uniform(1.0, 1.4), t0, {1: stand}), rng)
    p.truth = {"stand_m": round(r, 1), "stand_s": round(stand, 1)}
    return p


def wanderer(rng: random.Random, pid: str, t0: float, kind: str) -> Person:
    pts = [(rng.uniform(-40, 40), rng.uniform(1, 40)) for _ in range(4)]
    return Person(pid, kind, walk(pts, rng.uniform(0.4, 1.3), t0, {1: rng.uniform(10, 120)}), rng, registered=False)


def random_mac(rng: random.Random) -> str:
    octets = [rng.randrange(256) for _ in range(6)]
    octets[0] = (octets[0] & 0x3F) | 0x40  # resolvable private address
    return ":".join(f"{o:02X}" for o in octets)


def emit(p: Person, mode: str, r: Radio = RADIO) -> list[tuple]:
    """The reports the truck's scanner would hand bleak for this person's phone."""
    rng = p.rng
    interval = rng.uniform(0.1, 0.35)
    p1m = -59.0 + rng.gauss(0, r.hw_sigma_db)
    body = rng.choices([rng.uniform(0, 2), rng.uniform(4, 9), rng.uniform(8, 14)], [0.4, 0.4, 0.2])[0]
    u = rng.random()
    calib: int | None = round(p1m + rng.uniform(-r.calib_error_db, r.calib_error_db))
    if u < 0.10:
        calib = None
    elif u < 0.12:
        calib = rng.choice((-128, 20))
    skew = rng.gauss(0, 20) + (rng.choice((-1, 1)) * SLOT_S if rng.random() < 0.15 else 0.0)
    secret = street_secret(p.pid) if p.kind != "stranger" else rng.randbytes(32)
    p.truth.update(carry_loss_db=round(body, 1), calib_error_db=None if calib is None or calib in (-128, 20) else round(calib - p1m, 1),
                   clock_skew_s=round(skew, 1))
    rows: list[tuple] = []
    t_end = p.path[-1][0]
    t = p.path[0][0] + rng.uniform(0, interval)
    shadow, last_xy = rng.gauss(0, r.shadow_sigma_db), p.position(t)
    mac, next_mac = random_mac(rng), t + rng.uniform(0, 900)
    burst_until, burst_db = -1.0, 0.0
    last_slot, reported = None, None  # sparse: (mac, data, rssi) last reported
    while t <= t_end:
        if t >= next_mac:
            mac, next_mac = random_mac(rng), t + rng.uniform(480, 900)
        slot = math.floor((START_UNIX + t + skew) / SLOT_S)
        if last_slot is not None and slot != last_slot:
            t += rng.uniform(0.2, 1.0)  # the app restarts advertising with the new token
            last_slot = slot
            continue
        last_slot = slot
        x, y = p.position(t) or last_xy  # type: ignore[misc]
        moved = math.dist((x, y), last_xy)  # type: ignore[arg-type]
        rho = math.exp(-moved / r.shadow_corr_m)
        shadow = rho * shadow + math.sqrt(1 - rho * rho) * rng.gauss(0, r.shadow_sigma_db)
        last_xy = (x, y)
        d = max(math.hypot(x, y), 0.3)
        k_db = max(0.0, r.k_db_at_1m * (1 - math.log10(max(d, 1.0)) / math.log10(r.k_zero_m)))
        k = 10 ** (k_db / 10)
        los = math.sqrt(k / (k + 1))
        s = math.sqrt(1 / (2 * (k + 1)))
        fade = 20 * math.log10(max(math.hypot(los + rng.gauss(0, s), rng.gauss(0, s)), 1e-3))
        if t > burst_until and rng.random() < r.burst_per_s * interval:
            burst_until, burst_db = t + rng.uniform(*r.burst_s), rng.uniform(*r.burst_db)
        rssi = p1m - mean_loss_db(d, r) - body + shadow + fade - (burst_db if t <= burst_until else 0.0)
        if rssi >= r.sensitivity_dbm and rng.random() < r.receive_p:
            data = (bytes([1]) + token_of(secret, slot) + (b"" if calib is None else (calib & 0xFF).to_bytes(1, "big"))).hex() \
                if p.kind != "unregistered" else ""
            value = 127 if rng.random() < r.rssi_unavailable_p else round(rssi)
            if mode == "dense" or reported is None or reported[:2] != (mac, data) or \
                    (value != 127 and abs(value - reported[2]) >= r.sparse_delta_db):
                rows.append((round(t, 3), mac, value, SERVICE_UUID if data else "", data, ""))
                if value != 127:
                    reported = (mac, data, value)
        t += interval + rng.uniform(0, 0.01)
    return rows


@dataclass
class Street:
    """One simulated street: its reports (time-sorted), registered devices and ground truth."""

    seed: int
    mode: str
    minutes: float
    rows: list[tuple]
    devices: list[dict]
    people: list[dict]
    start_unix: float = START_UNIX
    slot_s: int = SLOT_S


def people_of(seed: int, minutes: float) -> list[Person]:
    """Who walks by in ``minutes`` (the same people whatever the reporting mode)."""
    rng = random.Random(f"street:{seed}")
    span = minutes * 60
    per_h = {"arrival": 60, "passer_by": 300, "edge_stander": 30, "unregistered": 60, "stranger": 10}
    out = []
    for kind, rate in per_h.items():
        for i in range(max(1, round(rate * minutes / 60))):
            prng = random.Random(f"{seed}:{kind}:{i}")
            t0 = rng.uniform(-60, span - 90)
            pid = f"s{seed}-{kind[:3]}-{i:03d}"
            if kind == "arrival":
                out.append(arrival(prng, pid, t0))
            elif kind == "passer_by":
                out.append(passer_by(prng, pid, t0))
            elif kind == "edge_stander":
                out.append(edge_stander(prng, pid, t0))
            else:
                out.append(wanderer(prng, pid, t0, kind))
    return out


def street(seed: int, mode: str = "dense", minutes: float = 60.0) -> Street:
    """Generate a street (deterministic for a seed); reports before t=0 or after the end are cut."""
    if mode not in ("dense", "sparse"):
        raise ValueError("mode is dense or sparse")
    people = people_of(seed, minutes)
    span = minutes * 60
    rows = sorted((row for p in people for row in emit(p, mode) if 0 <= row[0] <= span), key=lambda row: row[0])
    registered = [p for p in people if p.registered and p.kind != "stranger"]
    devices = [{"device_id": p.pid, "customer_ref": f"c-{p.pid}", "segment": "nearby_devices", "secret": street_secret(p.pid).hex()}
               for p in registered]
    truth = [{"device_id": p.pid, "kind": p.kind, **p.truth} for p in registered]
    return Street(seed, mode, minutes, rows, devices, truth)


IN_TIME_S = 1.5  # an arrival counts when its event comes no later than this after reaching 3 m


def score(s: Street, first_event_t: dict[str, float]) -> dict:
    """Judge a detector's first event per device (trace seconds) against the street's ground truth.

    ``detected``: window arrivals with an event no later than 1.5 s after reaching 3 m (an event on
    the way in, before 3 m, counts: that person does reach the window); ``false``: passers-by and
    edge-standers with any event; ``median_latency_s``: event time - time at 3 m over all detected.
    """
    arrivals = [p for p in s.people if p["kind"] == "arrival" and p["reach_3m_t"] is not None
                and 0 <= p["reach_3m_t"] <= s.minutes * 60 - 5]
    lat = sorted(first_event_t[p["device_id"]] - p["reach_3m_t"] for p in arrivals if p["device_id"] in first_event_t)
    in_time = sum(1 for x in lat if x <= IN_TIME_S)
    others = [p for p in s.people if p["kind"] in ("passer_by", "edge_stander")]
    false = sorted(p["device_id"] for p in others if p["device_id"] in first_event_t)
    return {"arrivals": len(arrivals), "in_time": in_time, "in_time_pct": round(100.0 * in_time / max(len(arrivals), 1), 1),
            "ever": len(lat), "median_latency_s": round(lat[len(lat) // 2], 2) if lat else None,
            "others": len(others), "false": len(false), "false_ids": false,
            "false_passers": sum(1 for p in others if p["kind"] == "passer_by" and p["device_id"] in first_event_t),
            "false_standers": sum(1 for p in others if p["kind"] == "edge_stander" and p["device_id"] in first_event_t)}


def write(s: Street, path: str) -> None:
    """A ``.csv.gz`` trace (truck_pos.devices.ble_fake.load_trace reads it) and ``.truth.json`` beside it."""
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, \
            io.TextIOWrapper(gz, encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(FIELDS)
        w.writerows(s.rows)
    meta = {"seed": s.seed, "mode": s.mode, "minutes": s.minutes, "start_unix": s.start_unix, "slot_s": s.slot_s,
            "devices": s.devices, "people": s.people}
    with open(path.removesuffix(".csv.gz") + ".truth.json", "w", encoding="utf-8") as fh:
        json.dump(meta, fh, indent=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--mode", choices=("dense", "sparse"), default="dense")
    ap.add_argument("out", nargs="?", default="street.csv.gz")
    a = ap.parse_args()
    s = street(a.seed, a.mode, a.minutes)
    write(s, a.out)
    kinds = {}
    for p in s.people:
        kinds[p["kind"]] = kinds.get(p["kind"], 0) + 1
    print(f"seed {a.seed} {a.mode} {a.minutes:g} min: {len(s.rows)} reports; people {kinds}")


if __name__ == "__main__":
    main()
