"""benchmarks/bench_proximity.py on a tiny street: the table is well formed and every figure finite (goals are reported, not asserted)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_proximity_prints_a_well_formed_table(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_proximity.py"), "--seeds", "11", "--minutes", "4",
                           "--json", str(out)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    assert [(r["mode"], r["seed"]) for r in doc["table"]] == [("dense", 11), ("sparse", 11)]
    for row in doc["table"]:
        for k in ("v2_in_time_pct", "ema_in_time_pct"):
            assert 0.0 <= row[k] <= 100.0
        assert row["arrivals"] > 0 and row["others"] > 0 and row["v2_false"] >= 0 and row["ema_false"] >= 0
    tp = doc["throughput"]
    assert all(math.isfinite(tp[k]) and tp[k] > 0 for k in ("floor_ads_s", "service_ads_s", "ratio", "cpu_ratio"))
    assert "goal dense: >= 80 % in time" in done.stdout and "goal >= 0.5x" in done.stdout
