"""The UI start benchmark runs end to end on a tiny database and prints a well-formed table with finite figures."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_ui import display  # noqa: F401 (the session Xvfb fixture)

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.ui


def test_bench_ui_start_table_is_well_formed(tmp_path, display):
    out = tmp_path / "figures.json"
    env = {**os.environ, "DISPLAY": display, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_ui_start.py"), "--orders-per-day", "3",
                           "--days", "2", "--runs", "1", "--json", str(out)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ") and "app" not in line]
    assert [r.split("|")[1].strip() for r in rows] == ["bare Kivy window (floor)", "register, 1 day of orders",
                                                        "register, a year of orders",
                                                        "register, 1 day + a held campaign"]
    for row in rows:
        seconds, rss, cpu = (float(c) for c in row.split("|")[2:5])
        assert all(math.isfinite(v) and v > 0 for v in (seconds, rss, cpu))
    figures = json.loads(out.read_text())
    assert figures["finite"] is True and figures["orders"] == {"day": 3, "year": 6}
    assert all(math.isfinite(figures[k]) for k in ("start_ratio", "start_cpu_ratio", "rss_over_floor_mb",
                                                   "rss_year_minus_day_mb", "campaign_start_ratio",
                                                   "campaign_rss_over_floor_mb"))
    assert "goal <= 1.5" in proc.stdout and "goal <= 25" in proc.stdout
