"""Fleet scale curve: 10, 20, 40, 80 trucks with the same total orders, 2 hub processes on PostgreSQL.

Each point is one run of tests/fleet_child.py's ``run_fleet`` (real processes: one per hub, one per
truck with its own SQLite file and agent, mosquitto with the fleet ACL). Reports seconds from the
trucks' start to the last truck fully acked, orders per second, and time per order relative to the
10-truck point (the floor measured in the same run): "no worse than linear in the total" means
that ratio stays near 1 as the truck count grows with the total fixed.

    python benchmarks/bench_sync_scale.py --db postgresql://postgres@127.0.0.1:5432/tp_x [--total 4000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sync.hub.models import HUB_MODELS, HubMessage, open_hub_database  # noqa: E402
from tests.fleet_child import run_fleet  # noqa: E402


def point(db_url: str, trucks: int, total: int, burn: bool) -> dict[str, float]:
    """One run; checks every order arrived once before reporting a time."""
    db = open_hub_database(db_url)
    db.drop_tables(HUB_MODELS, safe=True)
    db.close()
    db = open_hub_database(db_url)
    with tempfile.TemporaryDirectory() as d:
        run = run_fleet(Path(d), db_url, trucks, total // trucks, burn=burn, truck_timeout_s=600)
    stored = HubMessage.select().where(HubMessage.kind == "order").count()
    db.close()
    ok = run.truck_codes == [0] * trucks and stored == len(run.sent) == trucks * (total // trucks)
    return {"trucks": trucks, "orders": trucks * (total // trucks), "seconds": run.elapsed_s, "complete": ok,
            "duplicates": sum(h.get("duplicate", 0) for h in run.hubs), "keepalive_timeouts": run.keepalive_timeouts}


def table(points: list[dict[str, float]]) -> str:
    """Markdown rows for benchmarks/README.md (seconds per 1,000 orders relative to the first point)."""
    base = points[0]["seconds"] / points[0]["orders"]
    rows = ["| trucks | orders | seconds | orders/s | time per order vs first | duplicates | complete |",
            "|---:|---:|---:|---:|---:|---:|---|"]
    for p in points:
        rows.append(f"| {p['trucks']} | {p['orders']} | {p['seconds']:.1f} | {p['orders'] / p['seconds']:.0f} | "
                    f"{p['seconds'] / p['orders'] / base:.2f} | {p['duplicates']} | {'yes' if p['complete'] else 'NO'} |")
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", default=os.environ.get("TRUCK_POS_TEST_PG", ""), help="PostgreSQL URL (tables are dropped)")
    p.add_argument("--total", type=int, default=4000)
    p.add_argument("--trucks", default="10,20,40,80")
    p.add_argument("--burn", action="store_true", help="a busy loop per core during each run")
    args = p.parse_args()
    if not args.db.startswith("postgresql"):
        p.error("--db must be a PostgreSQL URL (several hub processes on one SQLite file is not supported)")
    points = []
    for n in (int(x) for x in args.trucks.split(",")):
        points.append(point(args.db, n, args.total, args.burn))
        print(table(points).splitlines()[-1], flush=True)
    print(table(points))


if __name__ == "__main__":
    main()
