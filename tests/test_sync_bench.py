"""The drain benchmark runs (small) and reports both throughputs; the ratio is printed, never asserted."""

import pytest

from benchmarks.bench_sync_drain import run


@pytest.mark.mqtt
def test_drain_benchmark_reports_agent_and_raw_paho_throughput():
    result = run(rows=1000, inflight=20)
    print(f"\nagent {result['agent_msgs_per_s']:.0f} msg/s vs raw paho {result['raw_msgs_per_s']:.0f} msg/s: ratio {result['ratio']:.2f}")
    assert result["agent_msgs_per_s"] > 0 and result["raw_msgs_per_s"] > 0
