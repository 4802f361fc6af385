"""The detector's shortcuts change no decision: it agrees, report by report, with a plain model of its rules.

The detector skips the estimate for most reports (a far phone, one already served at the window) and
keeps no per-report counts; the model below recomputes everything from each phone's whole history on
every report, as the module docstring states the rules: sanity checks, calibration, the median of the
last ``median_s`` seconds (or of the last ``sparse_n`` reports when they are sparse), zones with
hysteresis, the arrival rule with its approach lead and supporting reports, silence.
Report streams come from hypothesis: phones walking up, standing, passing, fading, flooding, silent.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from truck_pos.domain.proximity import GONE, NEAR, WINDOW, FilterSettings, ProximityFilter

HISTORY = 48  # reports kept per phone (the module's documented bound)


def reference(measured, tx, default):
    """RSSI at 1 m as the docstring states it: the phone's calibration inside -75..-40 dBm, else its advertised TX
    power level - 41 dB if that lands inside the same range, else the default (garbage is no number at all)."""
    def usable(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and -75 <= v <= -40
    if usable(measured):
        return float(measured)
    if isinstance(tx, (int, float)) and usable(tx - 41):
        return float(tx - 41)
    return default


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def slope(points, min_span):
    n = len(points)
    if n < 3 or points[-1][0] - points[0][0] < min_span:
        return 0.0
    mt = sum(p[0] for p in points) / n
    ml = sum(p[1] for p in points) / n
    var = sum((p[0] - mt) ** 2 for p in points)
    return 0.0 if var <= 1e-9 else sum((p[0] - mt) * (p[1] - ml) for p in points) / var


class Model:
    def __init__(self, s: FilterSettings):
        self.s = s
        k = 10.0 * s.path_loss_exponent
        self.near_in, self.near_out = k * math.log10(s.near_enter_m), k * math.log10(s.near_exit_m)
        self.win_in, self.win_out = k * math.log10(s.window_enter_m), k * math.log10(s.window_exit_m)
        self.sparse_in = k * math.log10(s.sparse_enter_m)
        self.phones: dict[str, dict] = {}

    def observe(self, key, t, rssi, measured, tx):
        s, ph = self.s, self.phones.get(key)
        if not (-110 <= rssi <= 0 and math.isfinite(t)) or (ph is not None and t < ph["last"]):
            return None
        if ph is None or t - ph["last"] > s.silence_s:
            ph = self.phones[key] = {"hist": [], "zone": GONE, "arrived": False, "first": t, "outside": False}
        ph["last"] = t
        ref = reference(measured, tx, s.measured_power_dbm)
        p1m = s.measured_power_dbm + s.calibration_weight * (ref - s.measured_power_dbm)
        value = p1m - rssi
        ph["outside"] = ph["outside"] or value > self.sparse_in
        ph["hist"] = (ph["hist"] + [(t, value)])[-HISTORY:]
        recent = [p for p in ph["hist"] if p[0] >= t - s.trend_s]
        n = len(recent)
        sparse = s.sparse_n <= n < s.sparse_rate_hz * s.trend_s and n < s.sparse_rate_hz * (t - ph["first"] + 1e-9)
        if sparse:
            loss = median([v for _, v in recent[-s.sparse_n:]])
        else:
            loss = median([v for tt, v in ph["hist"] if tt >= t - s.median_s])
        ph["est"] = loss
        zone = ph["zone"]
        if loss <= self.win_in or (zone == WINDOW and loss <= self.win_out):
            zone = WINDOW
        elif loss <= self.near_in or (zone != GONE and loss <= self.near_out):
            zone = NEAR
        else:  # leaving for beyond the near exit ends the visit: a later approach is a new one (one arrival per visit)
            ph["arrived"] = ph["arrived"] and zone == GONE
            zone = GONE
        ph["zone"] = zone
        if ph["arrived"]:
            return None
        if sparse:
            win, ahead, needed = self.sparse_in, 0.0, s.sparse_support_n
            if n == s.sparse_n and not ph["outside"]:
                return None
        else:
            win = self.win_in
            sl = slope(recent, s.trend_s / 2)
            ahead = min(-sl * s.lead_s, s.lead_db) if sl <= -s.approach_rate_db_s else 0.0
            earlier = [v for tt, v in recent if t - tt > s.support_s]
            needed = s.support_n_approach if earlier and median(earlier) - loss >= s.approach_db else s.support_n
        if loss - ahead > win or sum(1 for tt, v in recent if t - tt <= s.support_s and v <= win) < needed:
            return None
        ph["arrived"] = True
        return (key, t, ph["first"], round(10.0 ** (loss / (10.0 * s.path_loss_exponent)), 2), round(p1m - loss, 1), zone)

    def tick(self, t):
        for ph in self.phones.values():  # silence makes a phone in range gone (a phone already gone stays as it is:
            if ph["zone"] != GONE and t - ph["last"] > self.s.silence_s:  # its next report is a new visit anyway)
                ph["zone"], ph["arrived"] = GONE, False

    def in_range(self):
        return {k for k, ph in self.phones.items() if ph["zone"] != GONE}


# A phone's level over time: glides toward targets (walking up or away), jumps (fades, peaks), garbage values.
LEVEL = st.one_of(st.floats(-100, -35), st.sampled_from([-95.0, -80.0, -70.0, -62.0, -55.0, 127.0, 20.0, -128.0]))
GAP = st.one_of(st.sampled_from([0.1, 0.15, 0.2, 0.25, 0.3]), st.sampled_from([0.0, 0.02, 0.35, 0.5, 0.9, 1.5, 3.0, 7.0, 16.0]))
TICK = st.one_of(st.none(), st.floats(0.0, 17.0))
STEP = st.tuples(st.sampled_from("aab"), GAP, LEVEL, st.sampled_from([-59, -59, -70, -45, None, -128, -75, -40, -39.5]),
                 st.sampled_from([None, -20, None, 1, -35]),
                 st.booleans(), TICK)
SETTINGS_LIST = [FilterSettings(), FilterSettings(sparse_rate_hz=0), FilterSettings(sparse_rate_hz=9.0),
                            FilterSettings(median_s=2.5, sparse_n=3, support_n=2, support_n_approach=1),
                            FilterSettings(near_enter_m=14, near_exit_m=16, window_enter_m=8, window_exit_m=9,
                                           sparse_enter_m=8.5, lead_db=8),
                            FilterSettings(silence_s=2.0, sparse_n=1, calibration_weight=1.0),
                            # the estimate is the last report, one supporting report after an approach, no lead
                            FilterSettings(median_s=0.25, support_n=3, support_n_approach=1, lead_db=0.0, approach_db=8.0),
                            # zone edges on exact path losses (near enter 10 m = 22 dB, near exit 100 m = 44 dB), a sparse
                            # zone reaching beyond the near entry (sparse enter 10 m), an arrival on one report
                            FilterSettings(near_exit_m=100.0, sparse_enter_m=10.0, support_n=1, support_n_approach=1),
                            FilterSettings(near_enter_m=5.0, sparse_enter_m=10.0),
                            # window edges on exact path losses (enter 10 m = 22 dB, exit 100 m = 44 dB)
                            FilterSettings(window_enter_m=10.0, near_enter_m=10.0, sparse_enter_m=10.0, window_exit_m=100.0,
                                           near_exit_m=100.0),
                            # an arrival on a phone's first report, the sparse estimate from its last three
                            FilterSettings(support_n=1, support_n_approach=1, sparse_n=3)]
SETTINGS = st.sampled_from(SETTINGS_LIST)


def walk(steps):
    """Each step: a phone, a gap, a target level and calibration; levels glide toward the target (walking)."""
    t, now = 1_780_333_080.0, {}
    for key, gap, target, measured, tx, jump, tick in steps:
        t += gap
        level = now.get(key, target)
        level = target if jump or abs(target) > 100 or target > 0 else level + 0.3 * (target - level)
        now[key] = level if -100 <= level <= 0 else now.get(key, -80.0)
        yield key, t, level, measured, tx, tick


def agree(s, stream) -> list:
    """Feed a stream of (key, t, rssi, measured, tx, tick) to the detector and the model; every decision agrees."""
    f, model, fired = ProximityFilter(s), Model(s), []
    for i, (key, t, rssi, measured, tx, tick) in enumerate(stream):
        a = f.observe(key, t, rssi, measured, tx)
        expected = model.observe(key, t, rssi, measured, tx)
        assert (None if a is None else (a.key, a.t_s, a.first_seen_s, a.distance_m, a.rssi_dbm, a.zone)) == expected, i
        fired += [expected] if expected else []
        assert f.zone_of(key) == (model.phones[key]["zone"] if key in model.phones else GONE), i
        if key in model.phones:
            assert f.estimate_db(key) == model.phones[key]["est"], i
        if tick is not None:
            f.tick(t + tick)
            model.tick(t + tick)
            assert f.in_range() == model.in_range(), i
    return fired


@settings(max_examples=300, deadline=None)
@given(SETTINGS, st.lists(STEP, min_size=20, max_size=600))
def test_every_decision_matches_the_plain_model(s, steps):
    agree(s, walk(steps))
