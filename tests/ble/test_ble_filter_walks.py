"""Designed walks against the plain model of tests/ble/test_ble_filter_model.py, and the detector's arithmetic.

Random streams seldom reach some rules: a brisk approach (the lead), a quick step in after standing far (approach
support), BlueZ-sparse walks, reports at exactly a zone edge or exactly at the sparse rate, a customer who steps back
beyond the window exit, a waiting customer whose estimate ages out on a close report, silence. Each walk runs under
every setting of the model test; the model decides, report by report (mutation testing found these rules unpinned).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_ble_filter_model import SETTINGS_LIST, agree, median, slope

from truck_pos.domain.proximity import FilterSettings, _median, _slope

T0 = 1_780_333_080.0


def path(key, start, every, metres, p1m=-59.0, measured=-59, tx=None, tick=0.0):  # tick: seconds after each report
    """Reports every ``every`` seconds of a phone at the given distances (log-distance with its own exponent 2.2)."""
    return [(key, T0 + start + i * every, p1m - 22.0 * math.log10(d), measured, tx, tick) for i, d in enumerate(metres)]


def glide(a, b, n):
    return [a + (b - a) * i / (n - 1) for i in range(n)]


# Designed walks for the rules random streams seldom reach: a brisk approach (the lead), a quick step in after
# standing far (approach support), BlueZ-sparse walks, a customer who steps back beyond the window exit and returns,
# a phone whose calibration changes mid-visit, two phones at once, reports sharing a timestamp, silence.
SCENARIOS = {
    "brisk_approach": path("a", 0, 0.25, glide(30, 1, 40) + [1.0] * 12),
    "slow_approach": path("a", 0, 0.25, glide(14, 2, 70) + [2.0] * 8),
    "stand_far_then_step_in": path("a", 0, 0.5, [25] * 10 + [2.5] * 8),
    "step_in_even_history": path("a", 0, 0.5, [25] * 5 + [9] * 4 + [2.0] * 6),
    "sparse_walk": path("a", 0, 1.5, [20, 12, 7, 3, 1.2, 1.2]),
    "sparse_at_window": path("a", 0, 2.0, [1.2, 1.2, 1.2, 1.5]),
    "sparse_slow": path("a", 0, 0.9, glide(9, 3, 9)),
    "back_and_return": path("a", 0, 0.3, [1.0] * 15 + [11] * 15 + [13] * 15 + [1.0] * 15 + [16] * 20 + [40] * 20
                            + [1.0] * 15),
    "calibration_changes": path("a", 0, 0.3, [6] * 10, measured=-45) + path("a", 3.0, 0.3, [6] * 10, measured=-72)
                           + path("a", 6.0, 0.3, [6] * 10, measured=None, tx=-20),
    "two_phones": sorted(path("a", 0, 0.3, glide(20, 1, 50)) + path("b", 0.1, 0.4, glide(3, 30, 40)), key=lambda r: r[1]),
    "same_timestamp": [r for r in path("a", 0, 0.5, [2.0] * 8) for _ in (0, 1)],
    "silence_and_back": path("a", 0, 0.3, [1.5] * 10, tick=None)[:-1] + path("a", 2.7, 0.3, [1.5], tick=15.01)
                        + path("a", 20, 0.3, [1.5] * 10, tick=None),
    # reports at exactly the zone edges of the default and boundary settings (22 dB = 10 m, 44 dB = 100 m at 2.2)
    "exact_edges": [("a", T0 + 0.3 * i, rssi, -59, None, 0.0) for i, rssi in enumerate(
        [-81.0] * 6 + [-70.0] * 12 + [-103.0] * 8 + [-103.5] * 8 + [-81.0] * 8 + [-120.0] + [-110.0] * 12)],
    # a far phone: fars, a burst of close reports, fars again; the fars before the burst age out of the last second
    # first, so the estimate turns close on a far report (the close ones are no longer among the last two)
    "far_close_far": [("a", T0 + t, -59.0 - v, -59, None, None) for t, v in
                      [(0.0, 40), (0.1, 40), (0.2, 40), (0.3, 40), (0.4, 40), (0.5, 0), (0.6, 0), (0.7, 0), (0.8, 0),
                       (1.05, 40), (1.25, 40), (1.45, 40)]],
    # served at the window, then three reports beyond the exit among older close ones: the estimate stays at the
    # window until the close ones age out, on a close report (the far ones are no longer among the last two)
    "window_waiter_fades_out": [("a", T0 - 6.0 + 0.3 * i, -64.0, -59, None, None) for i in range(19)]
                               + [("a", T0 + t, -59.0 - v, -59, None, None) for t, v in
                                  [(-0.65, 5), (-0.3, 5), (-0.05, 5), (0.1, 40), (0.2, 40), (0.3, 40), (0.4, 5),
                                   (1.08, 5), (1.2, 5)]],
    # a beyond-exit report exactly median_s before a close one (sparse_n = 1 reads the estimate from the last second)
    "beyond_exactly_a_second_ago": [("a", T0 - 3.0 + 0.3 * i, -64.0, -59, None, None) for i in range(9)]
                                   + [("a", T0 - 0.6, -69.0, -59, None, None), ("a", T0 - 0.3, -69.0, -59, None, None),
                                      ("a", T0, -99.0, -59, None, None), ("a", T0 + 1.0, -69.0, -59, None, None)],
    # standing at 5.2 m (inside the sparse zone, outside the window) with exactly 12 reports in every 6 s (2 a second:
    # not fewer): dense, so it never fires there
    "exactly_2_hz_at_5_m": path("a", 0, 6.0 / 11.5, [5.2] * 30),
    # a sparse phone whose third report comes exactly at the rate (3 reports in 1.5 s) or a nanosecond sooner
    "rate_3_in_1_5_s": [("a", t, rssi, -59, None, None) for t, rssi in [(0.0, -89.0), (0.75, -69.0), (1.5, -69.0)]],
    "rate_3_in_1_5_s_less_a_ns": [("a", t, rssi, -59, None, None)
                                  for t, rssi in [(0.0, -89.0), (0.75, -69.0), (1.5 - 1e-9, -69.0)]],
    # two reports of a sparse phone: at 8 m (inside the sparse zone, outside near at 5 m), then just outside
    "sparse_two_reports": path("a", 0, 2.0, [8.0, 11.0]),
    # a sparse phone at exactly the sparse zone's edge (10 m = 22 dB in the settings whose sparse zone is 10 m),
    # after a report from outside / from its first report on
    "sparse_exact_edge": path("a", 0, 1.5, [100.0, 10.0, 10.0, 10.0]),
    "sparse_first_at_edge": path("a", 0, 2.0, [10.0, 10.0, 10.0]),
    # standing at 10 m (22 dB) then stepping in to 22 - 8 = 14 dB: exactly approach_db closer in the setting with 8 dB
    "step_in_exactly_approach_db": [("a", T0 + 0.5 * i, rssi, -59, None, None)
                                    for i, rssi in enumerate([-81.0] * 10 + [-73.0] * 6)],
    # a close report exactly median_s before a far one, among far ones (sparse_n = 1 reads the last second)
    "close_exactly_a_second_ago": [("a", T0 + t, -59.0 - v, -59, None, None)
                                   for t, v in [(-0.6, 40), (-0.3, 40), (0.0, 0), (1.0, 40)]],
    # exactly sparse_rate_hz (2 a second) since the first report: 4 reports in 2.0 s is not "fewer", 4 in 2 s less
    # a nanosecond is (times near 0 so a nanosecond is representable); the last second holds 3 reports, the sparse
    # estimate only the last 2, so the two readings differ
    "exact_rate": [("a", t, rssi, -59, None, None) for t, rssi in [(0.0, -60.0), (1.1, -64.0), (1.5, -70.0), (2.0, -66.0)]],
    "exact_rate_less_a_ns": [("a", t, rssi, -59, None, None)
                             for t, rssi in [(0.0, -60.0), (1.1, -64.0), (1.5, -70.0), (2.0 - 1e-9, -66.0)]],
    "fade_at_window": path("a", 0, 0.25, [2.0] * 12 + [60] * 3 + [2.0] * 12 + [13] * 8 + [2.0] * 4),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
@pytest.mark.parametrize("s", SETTINGS_LIST, ids=range(len(SETTINGS_LIST)))
def test_designed_walks_match_the_plain_model(name, s):
    agree(s, SCENARIOS[name])


def test_the_designed_walks_fire_where_the_rules_say():
    # Not vacuous: the walks reach the rules they are for (the model decides; this only checks they are reached).
    d = FilterSettings()
    assert agree(d, SCENARIOS["brisk_approach"]) and agree(d, SCENARIOS["sparse_walk"])
    assert len(agree(d, SCENARIOS["back_and_return"])) == 2  # one visit, then gone beyond the near exit: a new one
    assert len(agree(d, SCENARIOS["silence_and_back"])) == 2


# The detector's two pieces of arithmetic against the model's plain definitions (random streams rarely make an even
# number of "earlier" reports decide an approach, or a slope decide a lead).


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(-50, 120), min_size=1, max_size=12))
def test_median_is_the_middle_value_or_the_mean_of_the_two_middle_ones(values):
    assert _median(list(values)) == median(values)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 80), st.floats(-20, 80)), min_size=0, max_size=10), st.sampled_from([0.0, 1.0, 3.0, 6.0]))
def test_slope_is_the_least_squares_slope_over_a_long_enough_stretch(points, min_span):
    points = sorted((0.25 * k, v) for k, v in points)  # report times on a 0.25 s grid, exact in binary
    t0 = 1_780_333_080.0  # real epoch seconds: a slope must not depend on where time starts
    got = _slope([t0 + t for t, _ in points], [v for _, v in points], min_span)
    assert got == pytest.approx(slope(points, min_span), rel=1e-6, abs=1e-6)


def test_slope_edges():
    assert _slope([0.0, 1.0], [10.0, 0.0], 0.0) == 0.0  # two points: no slope
    assert _slope([0.0, 1.0, 2.0], [20.0, 10.0, 0.0], 2.0) == pytest.approx(-10.0)  # three points spanning exactly min_span
    assert _slope([0.0, 1.0, 2.0], [20.0, 10.0, 0.0], 2.01) == 0.0  # ... but not less
    assert _slope([5.0, 5.0, 5.0], [1.0, 2.0, 3.0], 0.0) == 0.0  # no spread in time
    assert _slope([0.0, 0.5, 3.0, 4.0], [0.0, 9.0, 3.0, 8.0], 4.0) == pytest.approx(128 / 179)  # cov 8 / var 11.1875, by hand
