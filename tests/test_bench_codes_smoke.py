"""The code-check benchmark runs and reports a ratio (no wall-clock assertion)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def test_code_benchmark_reports_ratios_per_index_size():
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_codes.py"
    spec = importlib.util.spec_from_file_location("bench_codes", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.run([100, 1000], rounds=1, probes=200)
    assert [r["codes"] for r in rows] == [100, 1000]
    assert all(r["ratio"] > 0 and r["check_us"] > 0 for r in rows)
