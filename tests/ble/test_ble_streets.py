"""Window detection on a simulated street (independent radio model, scripts/gen_ble_streets.py), full product path.

bleak's own types -> BleScanner.detection_callback -> ProximityService -> events in SQLite. The
street is short (10 minutes, seed 11, which the detector was not tuned on) to keep CI fast; the
60-minute table over several seeds comes from benchmarks/bench_proximity.py (benchmarks/README.md).
"""

from __future__ import annotations

import pytest
from ble_trace_helpers import SEED, cached_street, score

from truck_pos.store.outbox import Outbox


def test_dense_street_detects_window_arrivals_in_time_and_nobody_else(run_street):
    s = cached_street(SEED, "dense")
    run = run_street(s)
    result = score(s, run.first_event_t)
    assert result["arrivals"] >= 8 and result["others"] >= 50, result
    # Issue #17 asks >= 80 % on 60-minute streets; measured 67-71 % (benchmarks/README.md): this guards a regression.
    assert result["in_time_pct"] >= 40.0, result
    assert result["false"] == 0, result["false_ids"]
    # One event and one outbox row per detected person, nothing for unregistered phones or strangers' tokens.
    assert all(len(evs) == 1 for evs in run.events.values())
    assert Outbox.select().where(Outbox.kind == "proximity").count() == len(run.events)
    assert {p["device_id"] for p in s.people} >= set(run.events)


def test_sparse_bluez_street_raises_no_false_event(run_street):
    s = cached_street(SEED, "sparse")
    run = run_street(s)
    result = score(s, run.first_event_t)
    assert result["false"] == 0, result["false_ids"]
    # Sparse mode (few reports a second: each one a change of level) is what catches these in time at all:
    # measured 51-67 % in time on 60-minute streets; without it 18-29 %.
    assert result["in_time_pct"] >= 30.0, result
    assert result["ever"] >= 0.7 * result["arrivals"], result


@pytest.mark.parametrize("mode", ["dense", "sparse"])
def test_street_generator_is_deterministic_and_has_ground_truth(mode):
    a, b = cached_street(SEED, mode), cached_street(SEED, mode, 10.0)
    assert a is b
    from scripts.gen_ble_streets import street

    again = street(SEED, mode, 10.0)
    assert again.rows == a.rows and again.people == a.people
    kinds = {p["kind"] for p in a.people}
    assert kinds == {"arrival", "passer_by", "edge_stander"}
    assert all(12 <= p["closest_m"] <= 41 for p in a.people if p["kind"] == "passer_by")
    assert all(15 <= p["stand_m"] <= 25 for p in a.people if p["kind"] == "edge_stander")
    assert any(r[2] == 127 for r in a.rows) or mode == "sparse"  # HCI "RSSI not available" shows up
