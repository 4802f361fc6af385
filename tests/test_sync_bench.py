"""The sync benchmarks run (tiny) and produce well-formed, finite figures; goals are reported, never asserted."""

import math
import re

import pytest

from benchmarks import bench_sync_acks, bench_sync_drain, bench_sync_ringup, bench_sync_scale

pytestmark = pytest.mark.mqtt


def finite(result: dict) -> bool:
    return all(math.isfinite(v) and v >= 0 for v in result.values() if isinstance(v, float))


def test_drain_benchmark_reports_finite_throughputs_and_ratio():
    result = bench_sync_drain.run(rows=300, inflight=20)
    assert set(result) >= {"raw_msgs_per_s", "agent_msgs_per_s", "ratio"} and finite(result)


def test_ringup_while_draining_benchmark_table_is_well_formed():
    result = bench_sync_ringup.run(backlog=300, orders=20, rounds=2)
    assert finite(result) and result["quiet_p99_ms"] >= result["quiet_p50_ms"]
    rows = bench_sync_ringup.table([result]).splitlines()
    assert len(rows) == 3 and rows[2].count("|") == rows[0].count("|")
    assert re.fullmatch(r"\| 1 \| [\d.]+ / [\d.]+ / [\d.]+ \| [\d.]+ / [\d.]+ / [\d.]+ \| [\d.]+ \| \d+ \|", rows[2])


def test_ack_lag_benchmark_measures_every_seq():
    result = bench_sync_acks.run(rows=200)
    assert result["acked_seqs"] == 200 and finite(result)
    assert result["lag_p50_ms"] <= result["lag_p95_ms"] <= result["lag_max_ms"]


def test_scale_table_is_well_formed():
    points = [{"trucks": 10, "orders": 100, "seconds": 2.0, "complete": True, "duplicates": 0, "keepalive_timeouts": 0},
              {"trucks": 20, "orders": 100, "seconds": 3.0, "complete": False, "duplicates": 5, "keepalive_timeouts": 0}]
    rows = bench_sync_scale.table(points).splitlines()
    assert rows[2] == "| 10 | 100 | 2.0 | 50 | 1.00 | 0 | yes |"
    assert rows[3] == "| 20 | 100 | 3.0 | 33 | 1.50 | 5 | NO |"
