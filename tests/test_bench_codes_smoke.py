"""The code-check benchmark runs end to end on small sizes and its table is well formed (no wall-clock goal here)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path


def load_bench():
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_codes.py"
    spec = importlib.util.spec_from_file_location("bench_codes", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_code_benchmark_table_is_well_formed_and_figures_finite():
    bench = load_bench()
    rows = bench.run([100, 1000], rounds=1, probes=200)
    lines = bench.table(rows)
    header, rule, *body = lines
    columns = header.count("|") - 1
    assert columns == 8 and rule.count("|") - 1 == columns and len(body) == 2
    for line, n in zip(body, (100, 1000)):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert len(cells) == columns and int(cells[0].replace(",", "")) == n
        numbers = [float(c.replace(",", "")) for c in cells[1:]]
        assert all(math.isfinite(x) and x > 0 for x in numbers)
    for r in rows:
        assert math.isclose(r["ratio"], r["check_us"] / r["dict_us"]) and r["best_us"] <= r["check_us"]
        assert r["bundle_bytes"] < r["message_bytes"]  # the MQTT message carries the bundle in base64
    assert rows[1]["bundle_bytes"] > rows[0]["bundle_bytes"]  # more codes, a bigger bundle
    personal = bench.personal(rounds=1, probes=20)
    assert all(math.isfinite(personal[k]) and personal[k] > 0 for k in ("check_us", "verify_us", "ratio"))
    assert math.isclose(personal["ratio"], personal["check_us"] / personal["verify_us"])
