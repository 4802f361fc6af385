"""Detector v2 (pure): every sanity rule, calibration clamps, silence, approach, hysteresis, fades.

Levels come from the log-distance definition (RSSI = P1m - 22 log10(d) with the default exponent
2.2), not from the detector's internals.
"""

from __future__ import annotations

import math

import pytest

from truck_pos.domain.proximity import GONE, NEAR, WINDOW, FilterSettings, ProximityFilter, reference_power, sane_rssi


def level(d_m: float, p1m: float = -59.0) -> float:
    return p1m - 22.0 * math.log10(d_m)


def stand(f: ProximityFilter, key: str, t0: float, seconds: float, rssi: float, measured=-59, tx=None, every=0.3):
    """Reports at a steady level; returns the arrivals (observe and tick)."""
    out, t = [], t0
    while t < t0 + seconds:
        a = f.observe(key, t, rssi, measured, tx)
        out += [a] if a else []
        out += f.tick(t)
        t += every
    return out


@pytest.mark.parametrize("bad", [127, 20, 1, 10000, -111, -128, float("nan"), float("inf")])
def test_impossible_rssi_values_are_dropped_and_never_start_a_visit(bad):
    f = ProximityFilter()
    assert stand(f, "a", 0, 10, bad) == []
    assert f.zone_of("a") == GONE and f.in_range() == frozenset() and f.estimate_db("a") is None
    assert f.dropped == len(range(34))  # every one of the 34 reports


def test_a_plus_127_among_real_reports_does_not_move_the_estimate():
    f, g = ProximityFilter(), ProximityFilter()
    for i in range(20):
        t = i * 0.3
        f.observe("a", t, -90, -59)
        g.observe("a", t, -90, -59)
        if i == 10:
            f.observe("a", t + 0.01, 127, -59)  # HCI "RSSI not available"
    assert f.estimate_db("a") == g.estimate_db("a") == 31.0
    assert sane_rssi(0) and sane_rssi(-110) and not sane_rssi(0.5) and not sane_rssi(-110.5)


@pytest.mark.parametrize("measured,tx,expected", [
    (-59, None, -59.0), (-75, None, -75.0), (-40, None, -40.0),  # inside -75..-40: the phone's value
    (-128, None, -59.0), (20, None, -59.0), (-76, None, -59.0), (-39, None, -59.0), (0, None, -59.0),  # else default
    (None, -59, -59.0),  # a TX power level of -59 dBm would mean -100 dBm at 1 m: refused
    (None, -20, -61.0), (None, 8, -59.0), (None, 0, -41.0), (None, -35, -59.0), (None, None, -59.0),
    (-128, 0, -41.0),  # garbage calibration, sane TX power
])
def test_calibration_is_used_only_within_minus_75_and_minus_40_dbm(measured, tx, expected):
    assert reference_power(measured, tx, -59.0) == expected


def test_garbage_calibration_does_not_turn_a_distant_phone_into_an_arrival():
    # Issue #17: a measured-power byte of -128 made passers-by "arrive". -80 dBm is ~14 m at -59 dBm/1 m.
    for measured, tx in [(-128, None), (20, None), (None, -59)]:
        f = ProximityFilter()
        assert stand(f, "a", 0, 60, -80, measured, tx) == [], (measured, tx)
        assert f.zone_of("a") != WINDOW


def test_one_report_then_silence_never_raises_an_arrival():
    f = ProximityFilter()
    assert f.observe("a", 0.0, -60, -59) is None  # 1 m away, once
    assert all(f.tick(t / 2) == [] for t in range(1, 80))  # 40 s of ticks, no report
    assert f.in_range() == frozenset()
    # ... and one more report after the silence is a new visit with one report: still nothing.
    assert f.observe("a", 41.0, -60, -59) is None


def test_two_reports_a_second_apart_are_not_enough_without_an_approach():
    f = ProximityFilter()
    assert f.observe("a", 0.0, level(1.5), -59) is None
    assert f.observe("a", 1.0, level(1.5), -59) is None
    assert f.observe("a", 2.0, level(1.5), -59) is not None  # the third supporting report


def test_someone_walking_up_fires_as_they_reach_the_window():
    # 1.2 m/s straight at the window from 20 m, 4 reports a second, calibrated phone, no noise.
    f = ProximityFilter()
    fired = None
    for i in range(200):
        t = i * 0.25
        d = max(20 - 1.2 * t, 1.0)
        if f.observe("a", t, level(d), -59) and fired is None:
            fired = (t, d)
    assert fired is not None
    t_3m = (20 - 3) / 1.2
    assert t_3m - 2.5 <= fired[0] <= t_3m + 1.5, fired
    assert 2.5 <= fired[1] <= 6.0


def test_edge_stander_at_15_to_25_m_and_a_passer_by_at_12_m_never_fire():
    f = ProximityFilter()
    for d in (15, 20, 25):
        assert stand(f, f"s{d}", 0, 600, level(d)) == []
    walked = []
    for i in range(400):  # passes at 12 m, from 50 m left to 50 m right, 1.3 m/s
        t = i * 0.25
        x = -50 + 1.3 * t
        a = f.observe("p", t, level(math.hypot(x, 12)), -59)
        walked += [a] if a else []
    assert walked == []


def test_one_deep_fade_or_lucky_peak_changes_nothing():
    f = ProximityFilter()
    stand(f, "a", 0, 10, level(2.0))
    f.observe("a", 10.0, -100, -59)  # a 40 dB multipath fade
    assert f.zone_of("a") == WINDOW
    g = ProximityFilter()
    stand(g, "b", 0, 10, level(20))
    assert g.observe("b", 10.0, -45, -59) is None  # one report as loud as 0.3 m
    assert g.zone_of("b") == GONE


def test_hysteresis_keeps_a_waiting_customer_at_the_window_until_well_beyond_where_people_wait():
    f = ProximityFilter()
    assert len(stand(f, "a", 0, 5, level(1.0))) == 1
    for d in (3, 5, 8, 11):  # steps back to wait for the food
        assert stand(f, "a", f._tracks["a"].last_t + 0.3, 10, level(d)) == []
        assert f.zone_of("a") == WINDOW, d
    stand(f, "a", f._tracks["a"].last_t + 0.3, 5, level(14))
    assert f.zone_of("a") == NEAR
    stand(f, "a", f._tracks["a"].last_t + 0.3, 5, level(30))
    assert f.zone_of("a") == GONE
    assert len(stand(f, "a", f._tracks["a"].last_t + 0.3, 5, level(1.0))) == 1  # a new visit


def test_silence_ends_a_visit_and_reports_out_of_order_are_dropped():
    f = ProximityFilter()
    assert len(stand(f, "a", 0, 5, level(1.0))) == 1
    assert f.observe("a", 1.0, level(1.0), -59) is None and f.dropped == 1  # older than the last report
    f.tick(5 + 16)
    assert f.in_range() == frozenset()
    assert len(stand(f, "a", 30, 5, level(1.0))) == 1


def test_a_phone_is_gone_at_the_first_tick_after_silence_s_without_a_report():
    # Reports every 0.25 s for 30 s, ticks every 0.5 s for 60 s: silence_s (15) after the last report at 29.75 s,
    # the phone is gone at the first tick past 44.75 s, not a tick later (ticks skip phones that cannot be silent yet).
    f = ProximityFilter()
    gone_at = None
    for i in range(240):
        t = i * 0.25
        if t < 30:
            f.observe("a", t, level(1.5), -59)
        if i % 2 == 0:
            f.tick(t)
            if gone_at is None and t > 1 and f.in_range() == frozenset():
                gone_at = t
    assert gone_at == 45.0


def test_an_understated_calibration_does_not_bring_a_distant_phone_to_the_window():
    # A phone that says -70 dBm at 1 m (11 dB under the -59 of the others) standing 12 m away: taken as is
    # it reads ~3.8 m (at the window); the default trusts its calibration at 0.3 and keeps it ~8 m away.
    f = ProximityFilter()
    assert stand(f, "a", 0, 60, level(12.0), measured=-70) == []
    assert f.zone_of("a") != WINDOW
    g = ProximityFilter(FilterSettings(calibration_weight=1.0))
    assert len(stand(g, "a", 0, 60, level(12.0), measured=-70)) == 1  # what trusting it fully would do


def test_sparse_reports_of_a_phone_walking_up_fire_on_few_reports():
    # BlueZ de-duplication: a phone is reported only when its level moves ~8 dB, here every 1.5 s walking up.
    # Three reports inside the window zone within support_s never come, so the dense rule alone never fires.
    walk = [(0.0, 20.0), (1.5, 12.0), (3.0, 7.0), (4.5, 3.0), (6.0, 1.2)]
    f, dense_only = ProximityFilter(), ProximityFilter(FilterSettings(sparse_rate_hz=0))
    fired = [t for t, d in walk if f.observe("a", t, level(d), -59)]
    assert fired and fired[0] <= 6.0, fired
    assert [t for t, d in walk if dense_only.observe("a", t, level(d), -59)] == []


def test_sparse_reports_first_heard_at_the_window_need_more_than_the_estimate():
    f = ProximityFilter()
    assert f.observe("a", 0.0, level(1.2), -59) is None
    assert f.observe("a", 2.0, level(1.2), -59) is None  # two reports, never heard from outside: no approach
    assert f.observe("a", 4.0, level(1.2), -59) is not None


def test_estimate_of_a_far_phone_is_the_median_of_the_last_second():
    # The fast path skips the sort for far phones; the estimate asked for later is still the median.
    f = ProximityFilter()
    for i, rssi in enumerate([-90, -95, -88, -99, -91, -92]):
        f.observe("a", i * 0.25, rssi, -59)
    assert f.zone_of("a") == GONE
    assert f.estimate_db("a") == 33.0  # -59 - median(-95, -88, -99, -91, -92)


def test_settings_that_cannot_work_are_refused():
    for bad in [dict(window_enter_m=20), dict(near_exit_m=5), dict(support_n_approach=4), dict(median_s=0),
                dict(measured_power_dbm=-128), dict(lead_s=-1), dict(calibration_weight=1.5), dict(sparse_enter_m=3),
                dict(sparse_n=0), dict(median_s=7)]:
        with pytest.raises(ValueError):
            FilterSettings(**bad)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

ANY = st.one_of(st.none(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.floats(allow_nan=True, allow_infinity=True), ANY, ANY, ANY), max_size=40))
def test_any_report_values_never_crash_the_detector(reports):
    f = ProximityFilter()
    for t, rssi, measured, tx in reports:
        f.observe("a", t, rssi, measured, tx)  # type: ignore[arg-type]
        f.tick(0.0)
    assert f.zone_of("a") in (GONE, NEAR, WINDOW)
