"""The ring-up benchmark runs both floors and reports finite ratios (goals are reported, never asserted)."""

from __future__ import annotations

import importlib.util
import math
import re
from pathlib import Path


def test_ringup_benchmark_prints_a_well_formed_table(capsys):
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_ringup.py"
    spec = importlib.util.spec_from_file_location("bench_ringup", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.main(["--orders", "20", "--rounds", "2"])
    out = capsys.readouterr().out.splitlines()
    rows = {line[:32].strip(): line[32:].split() for line in out[2:6]}
    assert list(rows) == ["floor 2: minimal sale (by hand)", "floor 1: what the sale writes", "register service",
                          "(floor 1 minus the extra rows)"]
    assert all(len(v) == 4 and all(math.isfinite(float(x)) and float(x) > 0 for x in v) for v in rows.values())
    ratios = [float(x) for line in out if line.startswith("ratio") for x in re.findall(r"(?:total|median) ([0-9.]+)", line)]
    assert len(ratios) == 4 and all(math.isfinite(r) and r > 0 for r in ratios)
    assert re.search(r"goal <= 1\.5: (met|NOT met)", "\n".join(out))
    extras = [line for line in out if line.startswith("  ")]
    assert [line.split()[0] for line in extras] == ["print", "pickup"]  # the rows beyond the minimal sale, each costed
    assert all(re.search(r"[+-][0-9]+\.[0-9]{3} ms$", line) for line in extras)
