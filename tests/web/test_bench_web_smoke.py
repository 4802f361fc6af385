"""The load benchmark runs (10 customers, SQLite) and reports finite figures and whole orders; ratios are never asserted."""

import math

import pytest

from benchmarks.bench_web import run, table


@pytest.mark.mqtt
def test_web_benchmark_reports_page_times_and_loses_or_doubles_no_order():
    r = run(customers=10, db_url="")
    rows = table(r).splitlines()
    assert rows[0] == "| page | alone ms | p50 ms | p95 ms | max ms |" and len(rows) == 2 + len(r["pages"])
    assert all(math.isfinite(v) and v > 0 for v in r["alone_ms"].values())
    assert all(math.isfinite(v) and v > 0 for f in r["pages"].values() for v in f.values())
    assert r["orders_paid"] == r["mobile_order_rows"] == r["distinct_at_truck"] == r["sent_to_truck"] == 10
