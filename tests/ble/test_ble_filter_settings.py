"""Detector settings and its small public helpers at their exact edges (mutation testing found them unpinned).

Every limit below is the one `FilterSettings` states in its refusal message and the module docstring states for
the helpers: a bound that is allowed is accepted *at* the bound, one step past it is refused with that message.
"""

from __future__ import annotations

import math
import re

import pytest

from truck_pos.domain.proximity import (GONE, NEAR, WINDOW, ZONE_NAMES, Arrival, FilterSettings, ProximityFilter,
                                        distance_m, reference_power, sane_rssi)

ZONES_MSG = ("need 0 < window_enter_m <= window_exit_m, window_enter_m <= near_enter_m and "
             "near_enter_m <= near_exit_m")
MEDIAN_MSG = "need median_s <= trend_s"
POSITIVE_MSG = ("median_s, support_s, trend_s, silence_s and path_loss_exponent must be > 0, lead_s and lead_db >= 0")
WEIGHT_MSG = "need 0 <= calibration_weight <= 1, sparse_rate_hz >= 0, sparse_n and sparse_support_n >= 1"
SPARSE_MSG = "need window_enter_m <= sparse_enter_m <= window_exit_m"
SUPPORT_MSG = "need 1 <= support_n_approach <= support_n"
POWER_MSG = "measured_power_dbm must be within -75..-40"


@pytest.mark.parametrize("ok", [
    dict(window_enter_m=5.75, window_exit_m=5.75),  # window enter == exit (sparse enter must sit between them)
    dict(near_enter_m=15.0),  # near enter == exit
    dict(window_enter_m=5.0, near_enter_m=5.0, sparse_enter_m=5.75),  # window enter == near enter
    dict(median_s=6.0),  # == trend_s
    dict(lead_s=0.0), dict(lead_db=0.0), dict(calibration_weight=0.0), dict(calibration_weight=1.0),
    dict(sparse_rate_hz=0.0), dict(sparse_n=1), dict(sparse_support_n=1),
    dict(sparse_enter_m=4.8), dict(sparse_enter_m=12.0),  # at either end of the window zone
    dict(support_n_approach=1), dict(support_n=5, support_n_approach=5),
    dict(measured_power_dbm=-75.0), dict(measured_power_dbm=-40.0),
    dict(median_s=1e-6, support_s=1e-6, trend_s=1e-6, silence_s=1e-6, path_loss_exponent=1e-6),
    dict(window_enter_m=0.5), dict(window_enter_m=0.5, near_enter_m=0.5, sparse_enter_m=0.5),  # below 1 m
    dict(lead_s=0.5, lead_db=0.5),
])
def test_settings_at_their_documented_limits_are_accepted(ok):
    FilterSettings(**ok)


@pytest.mark.parametrize("bad, message", [
    (dict(window_enter_m=0.0, sparse_enter_m=5.0), ZONES_MSG), (dict(window_enter_m=-1.0, sparse_enter_m=5.0), ZONES_MSG),
    (dict(window_enter_m=6.0, window_exit_m=5.9, sparse_enter_m=5.95), ZONES_MSG),
    (dict(near_enter_m=15.01), ZONES_MSG), (dict(window_enter_m=5.0, near_enter_m=4.9, sparse_enter_m=5.5), ZONES_MSG),
    (dict(median_s=6.01), MEDIAN_MSG),
    (dict(median_s=0.0), POSITIVE_MSG), (dict(support_s=0.0), POSITIVE_MSG), (dict(trend_s=0.0, median_s=0.0), POSITIVE_MSG),
    (dict(silence_s=0.0), POSITIVE_MSG), (dict(path_loss_exponent=0.0), POSITIVE_MSG),
    (dict(lead_s=-0.01), POSITIVE_MSG), (dict(lead_db=-0.01), POSITIVE_MSG),
    (dict(calibration_weight=-0.01), WEIGHT_MSG), (dict(calibration_weight=1.01), WEIGHT_MSG),
    (dict(sparse_rate_hz=-0.01), WEIGHT_MSG), (dict(sparse_n=0), WEIGHT_MSG), (dict(sparse_support_n=0), WEIGHT_MSG),
    (dict(sparse_enter_m=4.79), SPARSE_MSG), (dict(sparse_enter_m=12.01), SPARSE_MSG),
    (dict(support_n_approach=0), SUPPORT_MSG), (dict(support_n_approach=4), SUPPORT_MSG),
    (dict(measured_power_dbm=-75.01), POWER_MSG), (dict(measured_power_dbm=-39.99), POWER_MSG),
])
def test_settings_one_step_past_a_limit_are_refused_with_the_limit_named(bad, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        FilterSettings(**bad)


def test_the_default_settings_are_the_documented_ones():
    # The numbers the module docstring and benchmarks/README.md speak of (exits 15 m near / 12 m window, ...).
    s = FilterSettings()
    assert (s.path_loss_exponent, s.measured_power_dbm, s.near_enter_m, s.near_exit_m, s.window_enter_m,
            s.window_exit_m) == (2.2, -59.0, 10.0, 15.0, 4.8, 12.0)
    assert (s.median_s, s.support_s, s.support_n, s.support_n_approach, s.trend_s, s.approach_db) == (1.0, 3.0, 3, 3, 6.0, 6.0)
    assert (s.lead_s, s.lead_db, s.approach_rate_db_s, s.silence_s, s.calibration_weight) == (2.0, 4.0, 2.0, 15.0, 0.3)
    assert (s.sparse_rate_hz, s.sparse_n, s.sparse_support_n, s.sparse_enter_m) == (2.0, 2, 1, 5.75)
    assert (GONE, NEAR, WINDOW) == (0, 1, 2) and ZONE_NAMES == ("gone", "near", "window")


@pytest.mark.parametrize("rssi, sane", [
    (0, True), (0.0, True), (-110, True), (-110.0, True), (-59, True), (1e-9, False), (-110.000001, False),
    (127, False), (None, False), ("-59", False), (float("nan"), False), (float("-inf"), False),
])
def test_sane_rssi_is_a_finite_number_within_minus_110_and_0(rssi, sane):
    assert sane_rssi(rssi) is sane


@pytest.mark.parametrize("measured, tx, expected", [
    (-75.0, None, -75.0), (-40.0, None, -40.0), (-75.5, None, -59.0), (-39.5, None, -59.0),
    (float("nan"), None, -59.0), (float("inf"), -20, -61.0), ("-59", -20, -61.0),
    (None, -34.0, -75.0), (None, 1.0, -40.0), (None, -34.5, -59.0), (None, 1.5, -59.0),  # TX - 41 at either end
    (None, float("nan"), -59.0), (None, "-20", -59.0), (-60, -20, -60.0),  # calibration first, then TX power
])
def test_reference_power_takes_calibration_then_tx_power_minus_41_each_within_minus_75_and_minus_40(measured, tx, expected):
    got = reference_power(measured, tx, -59.0)
    assert got == expected and type(got) is float


def test_reference_power_falls_back_to_the_given_default():
    assert reference_power(None, None, -63.5) == -63.5
    assert reference_power(-20, 30, -70.0) == -70.0


@pytest.mark.parametrize("rssi, p1m, n, metres", [(-59, -59, 2.2, 1.0), (-81, -59, 2.2, 10.0), (-79, -59, 2.0, 10.0),
                                                  (-89, -65, 2.4, 10.0), (-39, -59, 2.0, 0.1)])
def test_distance_is_the_log_distance_model(rssi, p1m, n, metres):
    # L = 10 n log10(d): d = 10 ** ((P1m - rssi) / (10 n))
    assert distance_m(rssi, p1m, n) == pytest.approx(metres, rel=1e-12)


def test_an_arrival_reports_distance_and_level_from_the_estimate_and_the_first_report_of_the_visit():
    # A calibrated phone (-59 dBm at 1 m, the default: p1m = -59) standing still at -70 dBm: L = 11 dB,
    # d = 10 ** (11 / 22) = 3.16 m, inside the 4.8 m window; the third report in 3 s fires.
    f = ProximityFilter()
    assert f.observe("k", 100.0, -70.0) is None
    assert f.observe("k", 100.5, -70.0) is None
    a = f.observe("k", 101.0, -70.0)
    assert a == Arrival("k", 101.0, 100.0, round(10 ** 0.5, 2), -70.0, WINDOW)
    assert (a.distance_m, a.rssi_dbm) == (3.16, -70.0)
    assert f.in_range() == frozenset({"k"}) and f.zone_of("k") == WINDOW and f.estimate_db("k") == 11.0
    assert f.zone_of("unknown") == GONE and f.estimate_db("unknown") is None
    assert f.dropped == 0


def test_calibration_is_shrunk_toward_the_default_by_the_weight():
    # p1m = -59 + 0.3 * (-49 - -59) = -56; a report of -70 is then L = 14 dB.
    f = ProximityFilter()
    f.observe("a", 0.0, -70.0, -49)
    assert f.estimate_db("a") == pytest.approx(14.0)
    # The calibration changes mid-visit (a new advertisement): the next report uses the new one.
    f.observe("a", 0.1, -70.0, -69)  # p1m = -59 + 0.3 * -10 = -62: L = 8
    assert f.estimate_db("a") == pytest.approx(0.5 * (14.0 + 8.0))
    f.observe("a", 0.2, -70.0, -69, -20)  # the calibration still wins over the TX power
    assert f.estimate_db("a") == pytest.approx(8.0)  # median of 14, 8, 8
    f.observe("a", 0.3, -70.0, None, -20)  # TX -20 -> -61 at 1 m: p1m = -59 + 0.3 * -2 = -59.6, L = 10.4
    assert f.estimate_db("a") == pytest.approx(0.5 * (8.0 + 10.4))  # median of 14, 8, 8, 10.4 (the last second)


def test_reports_at_minus_110_and_0_dbm_are_measurements_and_infinite_times_are_not():
    f = ProximityFilter()
    assert f.observe("far", 0.0, -110.0) is None and f.estimate_db("far") == 51.0  # -59 - -110
    assert f.observe("loud", 0.0, 0.0) is None and f.estimate_db("loud") == -59.0
    assert f.dropped == 0
    for key, t in [("new-a", math.inf), ("new-b", -math.inf), ("far", math.inf), ("far", math.nan)]:
        assert f.observe(key, t, -60.0) is None
    assert f.dropped == 4
    assert f.estimate_db("new-a") is None and f.estimate_db("new-b") is None and f.estimate_db("far") == 51.0
    assert f.observe("far", 1.0, -60.0) is None and f.estimate_db("far") == 0.5 * (51.0 + 1.0)  # the visit goes on


def test_a_phone_is_gone_a_nanosecond_past_silence_s():
    # silence_s = 15: gone when a tick comes more than 15 s after its last report (times near 0, where 1 ns is exact).
    f = ProximityFilter()
    for t in (0.0, 0.3, 0.6):
        f.observe("a", t, -60.0)
    assert f.in_range() == frozenset({"a"})
    f.tick(15.6)
    assert f.in_range() == frozenset({"a"})  # exactly 15 s: not yet
    f.tick(15.600000001)
    assert f.in_range() == frozenset() and f.zone_of("a") == GONE


def test_long_gone_phones_are_forgotten_and_phones_heard_lately_are_not():
    # Many passing phones heard once (far, never in range), one customer at the window: after silence_s the passers-by
    # are forgotten (no estimate), the customer and a phone heard exactly silence_s ago are kept, and the customer's
    # visit goes on (no second arrival, the same first report).
    f = ProximityFilter()
    for i in range(1500):
        f.observe(f"p{i}", i * 0.001, -100.0)
    arrivals = [a for t in range(40) if (a := f.observe("c", 10.0 + 0.25 * t, -60.0))]
    f.observe("edge", 5.0, -100.0)
    assert len(arrivals) == 1 and f.estimate_db("p0") is not None
    f.tick(20.0)
    assert f.estimate_db("p0") is None and f.estimate_db("p1499") is None
    assert f.estimate_db("edge") == 41.0 and f.estimate_db("c") == 1.0
    assert f.observe("c", 20.0, -60.0) is None and f.zone_of("c") == WINDOW
