"""Fleet scale curve: 10, 20, 40, 80 (160) trucks with the same total orders, 2 hub processes on PostgreSQL.

``--rig sim`` (default): the trucks are simulated by a few processes, each holding many real MQTT
connections that publish real envelopes and check the hub's real acks (benchmarks/fleet_sim.py), so
80 trucks do not mean 80 Python interpreters on 2 cores and the curve is the hub's. ``--rig processes``:
tests/fleet_child.py's ``run_fleet`` (one process per truck with its own SQLite file, register and agent).

Reports seconds from GO to the last truck fully acked, the hubs' time to store the last order, the
hubs' CPU seconds, and time per order relative to the first point (the floor measured in the same
run): "no worse than linear in the total" means that ratio stays near 1 as trucks grow, total fixed.

    python benchmarks/bench_sync_scale.py --db postgresql://postgres@127.0.0.1:5432/tp_x [--total 2000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import peewee  # noqa: E402

from benchmarks.fleet_sim import run_sim_fleet  # noqa: E402
from sync.hub.models import HUB_MODELS, HubMessage, open_hub_database  # noqa: E402
from tests.fleet_child import run_fleet  # noqa: E402


def _fresh(db_url: str) -> peewee.Database:
    db = open_hub_database(db_url)
    db.drop_tables(HUB_MODELS, safe=True)
    db.close()
    return open_hub_database(db_url)


def _stored() -> tuple[int, int]:
    """Order rows and distinct keys in the hub database."""
    q = HubMessage.select().where(HubMessage.kind == "order")
    return q.count(), q.select(HubMessage.key).distinct().count()


def point(db_url: str, trucks: int, total: int, burn: bool = False) -> dict[str, float]:
    """One run with a process per truck; checks every order arrived once before reporting a time."""
    db = _fresh(db_url)
    with tempfile.TemporaryDirectory() as d:
        run = run_fleet(Path(d), db_url, trucks, total // trucks, burn=burn, truck_timeout_s=600)
    rows, keys = _stored()
    db.close()
    ok = run.truck_codes == [0] * trucks and rows == keys == len(run.sent) == trucks * (total // trucks)
    return {"trucks": trucks, "orders": trucks * (total // trucks), "seconds": run.elapsed_s, "complete": ok,
            "duplicates": sum(h.get("duplicate", 0) for h in run.hubs), "keepalive_timeouts": run.keepalive_timeouts}


def sim_point(db_url: str, trucks: int, total: int, procs: int = 2, timeout_s: float = 300) -> dict[str, float]:
    """One run with simulated trucks; the hubs' figures come from their own database and /proc."""
    db = _fresh(db_url)
    orders = trucks * (total // trucks)
    with tempfile.TemporaryDirectory() as d:
        run = run_sim_fleet(Path(d), db_url, trucks, total // trucks, procs=procs, timeout_s=timeout_s)
    rows, keys = _stored()
    last = HubMessage.select(peewee.fn.MAX(HubMessage.received_utc)).where(HubMessage.kind == "order").scalar()
    db.close()
    ok = (run.sim_codes == [0] * procs and rows == keys == orders
          and all(t["through"] == total // trucks and not t["bad_acks"] for t in run.trucks.values()))
    return {"trucks": trucks, "orders": orders, "seconds": run.elapsed_s, "complete": ok,
            "ingest_s": last.timestamp() - run.go_at if last is not None else float("inf"), "hub_cpu_s": run.hub_cpu_s,
            "sim_cpu_s": run.sim_cpu_s, "broker_cpu_s": run.broker_cpu_s,
            "duplicates": sum(h.get("duplicate", 0) for h in run.hubs),
            "resent": sum(t["resent"] for t in run.trucks.values())}


def table(points: list[dict[str, float]]) -> str:
    """Markdown rows for benchmarks/README.md (time per order relative to the first point)."""
    base = points[0]["seconds"] / points[0]["orders"]
    sim = "ingest_s" in points[0]
    head = "| trucks | orders | seconds | orders/s | time per order vs first |"
    head += " hubs stored all (s) | CPU s: hubs / broker / sim trucks |" if sim else ""
    rows = [head + " duplicates | complete |", "|---:" * (7 if sim else 5) + "|---:|---|"]
    for p in points:
        row = (f"| {p['trucks']} | {p['orders']} | {p['seconds']:.1f} | {p['orders'] / p['seconds']:.0f} | "
               f"{p['seconds'] / p['orders'] / base:.2f} |")
        cpu = f"{p['hub_cpu_s']:.1f} / {p['broker_cpu_s']:.1f} / {p['sim_cpu_s']:.1f}" if sim else ""
        row += f" {p['ingest_s']:.1f} | {cpu} |" if sim else ""
        rows.append(row + f" {p['duplicates']} | {'yes' if p['complete'] else 'NO'} |")
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", default=os.environ.get("TRUCK_POS_TEST_PG", ""), help="PostgreSQL URL (tables are dropped)")
    p.add_argument("--total", type=int, default=2000)
    p.add_argument("--trucks", default="10,20,40,80")
    p.add_argument("--rig", choices=("sim", "processes"), default="sim")
    p.add_argument("--procs", type=int, default=2, help="simulation processes (--rig sim)")
    p.add_argument("--repeat", type=int, default=1, help="run the curve this many times; print the medians")
    p.add_argument("--burn", action="store_true", help="a busy loop per core during each run (--rig processes)")
    args = p.parse_args()
    if not args.db.startswith("postgresql"):
        p.error("--db must be a PostgreSQL URL (several hub processes on one SQLite file is not supported)")
    runs = []
    for _ in range(args.repeat):
        points = []
        for n in (int(x) for x in args.trucks.split(",")):
            points.append(sim_point(args.db, n, args.total, args.procs) if args.rig == "sim"
                          else point(args.db, n, args.total, args.burn))
            print(table(points).splitlines()[-1], flush=True)
        runs.append(points)
    print(table(points) if args.repeat == 1 else "median of each point over the runs:\n" + table(median_points(runs)))


def median_points(runs: list[list[dict[str, float]]]) -> list[dict[str, float]]:
    """Per truck count, the run with the median seconds (whole rows, so their figures belong together)."""
    return [sorted(same, key=lambda p: p["seconds"])[len(same) // 2] for same in zip(*runs)]


if __name__ == "__main__":
    main()
