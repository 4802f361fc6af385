"""The pure proximity filter: sparse input, silence, hysteresis, fades, TX power."""

from __future__ import annotations

from truck_pos.domain.proximity import GONE, NEAR, WINDOW, FilterSettings, ProximityFilter, distance_m


def feed(f: ProximityFilter, key: str, times, rssi, measured=-59, tx=None):
    out = []
    for t in times:
        a = f.observe(key, t, rssi, measured, tx)
        out += [a] if a else []
        out += f.tick(t + 0.5)
    return out


def test_sparse_reports_one_every_four_seconds_still_arrive_once():
    f = ProximityFilter()
    arrivals = feed(f, "a", [0, 4, 8, 12, 16, 20, 24], -65)
    assert [a.key for a in arrivals] == ["a"]
    assert arrivals[0].zone == WINDOW and arrivals[0].t_s <= 12.5
    assert 1.0 < arrivals[0].distance_m < 3.0


def test_a_phone_gone_silent_leaves_range_and_a_later_visit_arrives_again():
    f = ProximityFilter()
    assert len(feed(f, "a", range(0, 20), -65)) == 1
    assert f.tick(20 + 16) == [] and f.in_range() == frozenset()
    assert len(feed(f, "a", range(100, 120), -65)) == 1


def test_hysteresis_keeps_a_customer_near_while_the_signal_wanders_between_enter_and_exit():
    s = FilterSettings()
    f = ProximityFilter(s)
    level_9m = -59 - 22 * 0.954  # about 9 m
    level_13m = -59 - 22 * 1.114  # about 13 m: outside enter, inside exit
    zones = []
    for i in range(120):
        f.observe("a", i * 0.5, level_9m if i < 20 or i % 10 < 3 else level_13m, -59)
        zones.append(f.zone_of("a"))
    assert zones[10] == NEAR
    assert all(z == NEAR for z in zones[10:])


def test_one_deep_fade_does_not_push_a_customer_out():
    f = ProximityFilter()
    for i in range(40):
        f.observe("a", i * 0.3, -62, -59)
    f.observe("a", 12.0, -95, -59)  # a 33 dB multipath fade
    assert f.zone_of("a") == WINDOW


def test_advertised_tx_power_is_used_when_there_is_no_calibration():
    loud, quiet = ProximityFilter(), ProximityFilter()
    for i in range(20):
        loud.observe("a", i * 0.3, -70, None, 8)  # +8 dBm radio: -70 dBm is far away
        quiet.observe("a", i * 0.3, -70, None, None)  # default -59 dBm at 1 m: about 3 m
    assert loud.zone_of("a") == GONE
    assert quiet.zone_of("a") in (NEAR, WINDOW)


def test_distance_follows_the_path_loss_model():
    assert round(distance_m(-59, -59, 2.0), 3) == 1.0
    assert round(distance_m(-79, -59, 2.0), 3) == 10.0
