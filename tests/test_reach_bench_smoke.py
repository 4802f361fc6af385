"""The reach benchmark runs end to end on a tiny size and reports finite figures (no wall-clock assertion)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path


def test_reach_benchmark_reports_a_ratio_and_latency_percentiles(tmp_path):
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_reach.py"
    spec = importlib.util.spec_from_file_location("bench_reach", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    smtp = bench.smtp_ratio(url, 30, 1)
    assert smtp["sends"] == 30 and all(math.isfinite(smtp[k]) and smtp[k] > 0 for k in ("raw_per_s", "scheduler_per_s", "ratio"))
    (pair,) = smtp["paired"]  # the paired mode ran its blocks to the end (it raises if a block fell short)
    assert all(math.isfinite(pair[k]) and pair[k] > 0 for k in ("raw_per_s", "same_size_per_s", "scheduler_per_s", "ratio",
                                                                "same_size_ratio", "block_median"))
    assert pair["minted"]["sends"] == 30 and pair["plan_us"] > 0  # the one block's people had their codes minted ahead
    prox = bench.proximity_latency(url, 3, gap_s=0.01)
    assert prox["delivered"] == 3 and 0 < prox["p50_s"] <= prox["p95_s"] and math.isfinite(prox["p95_s"])
