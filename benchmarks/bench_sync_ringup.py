"""Ring-up latency while the agent drains a week's backlog, against ring-up with no drain (same run).

The register (open a ticket, 5 x add_item, pay cash) runs in this process with the sync agent in a
background thread, as on the truck; the hub runs in its own process (``truck-pos-hub run``) on
SQLite, behind a local mosquitto. Phases alternate (quiet, draining, quiet, draining...) so
background load hits both alike; the agent is started only for the draining phases. Goal: p99
while draining within 2x of p99 without.

    python benchmarks/bench_sync_ringup.py [--backlog 20000] [--orders 400] [--rounds 4]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_sync_drain import order_body  # noqa: E402
from devtools.local_broker import MosquittoBroker  # noqa: E402
from sync.agent import AgentConfig, SyncAgent  # noqa: E402
from sync.transport import BrokerLogin  # noqa: E402
from truck_pos.bootstrap import build  # noqa: E402
from truck_pos.config import load_settings  # noqa: E402
from truck_pos.store import outbox  # noqa: E402
from truck_pos.store.db import close_database  # noqa: E402

TRUCK = "bench-truck"
SKUS = ["taco-al-pastor", "bowl-burrito", "side-chips", "drink-horchata", "drink-water"]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def ring(services, n: int) -> list[float]:
    """Milliseconds per order for ``n`` orders through the register service."""
    reg, times = services.register, []
    for _ in range(n):
        start = time.perf_counter()
        ticket = reg.open_ticket()
        for sku in SKUS:
            ticket = reg.add_item(ticket.id, sku)
        reg.pay_cash(ticket.id, 10_000)
        times.append((time.perf_counter() - start) * 1000)
    return times


def run(backlog: int = 20_000, orders: int = 400, rounds: int = 4) -> dict[str, float]:
    """Returns p50/p95/p99 (ms) with and without a drain, and the p99 ratio."""
    with tempfile.TemporaryDirectory() as d:
        broker = MosquittoBroker(Path(d), persistence=False).start()
        hub = subprocess.Popen([sys.executable, "-m", "sync.hub.cli", "--db", f"sqlite:///{d}/hub.db", "--host", "127.0.0.1",
                                "--port", str(broker.port), "--client-id", "bench-hub", "run"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        services = build(load_settings(env={"TRUCK_POS_STORE_PATH": f"{d}/truck.db", "TRUCK_POS_TRUCK_ID": TRUCK}),
                         print_autostart=False)
        quiet: list[float] = []
        draining: list[float] = []
        left_at_end: list[int] = []
        try:
            now = datetime.now(timezone.utc)
            with services.db.atomic():  # a week offline: the backlog the truck brings back
                for i in range(backlog):
                    outbox.enqueue("order", order_body(i), now=now)
            ring(services, 50)  # warm up
            config = AgentConfig(TRUCK, BrokerLogin("127.0.0.1", broker.port, keepalive_s=10), max_inflight=20,
                                 reconnect_min_s=0.1, reconnect_max_s=0.5)
            for _ in range(rounds):
                quiet += ring(services, orders // rounds)
                agent = SyncAgent(services.db, services.clock, config, poll_s=0.05).start()
                while not agent.status().connected:
                    time.sleep(0.01)
                time.sleep(0.3)  # drain under way
                draining += ring(services, orders // rounds)
                c = outbox.counts()
                left_at_end.append(c["queued"] + c["unacked"])
                agent.stop()
        finally:
            services.close()
            close_database()
            hub.terminate()
            hub.wait(10)
            broker.kill()
    result = {"backlog": backlog, "orders": orders}
    for name, values in (("quiet", quiet), ("draining", draining)):
        for q in (50, 95, 99):
            result[f"{name}_p{q}_ms"] = percentile(values, q)
    result["p99_ratio"] = result["draining_p99_ms"] / result["quiet_p99_ms"]
    result["min_backlog_left"] = min(left_at_end)  # > 0: the drain was still running during every draining phase
    return result


def table(results: list[dict[str, float]]) -> str:
    """Markdown rows for benchmarks/README.md."""
    rows = ["| run | quiet p50 / p95 / p99 ms | draining p50 / p95 / p99 ms | p99 ratio | backlog left |",
            "|---|---:|---:|---:|---:|"]
    for n, r in enumerate(results, 1):
        rows.append(f"| {n} | {r['quiet_p50_ms']:.1f} / {r['quiet_p95_ms']:.1f} / {r['quiet_p99_ms']:.1f} | "
                    f"{r['draining_p50_ms']:.1f} / {r['draining_p95_ms']:.1f} / {r['draining_p99_ms']:.1f} | "
                    f"{r['p99_ratio']:.2f} | {r['min_backlog_left']} |")
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backlog", type=int, default=20_000)
    p.add_argument("--orders", type=int, default=400)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    results = [run(args.backlog, args.orders, args.rounds) for _ in range(args.repeat)]
    print(json.dumps(results, indent=1) if args.json else table(results))
    print(f"goal: p99 while draining <= 2x p99 without (median ratio {sorted(r['p99_ratio'] for r in results)[len(results) // 2]:.2f})")


if __name__ == "__main__":
    main()
