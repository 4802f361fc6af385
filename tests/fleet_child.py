"""Child processes of tests/test_fleet.py: one hub process, or one truck (its own SQLite file and agent).

peewee binds the truck models to one database per process, so each truck is its own OS process.

    python tests/fleet_child.py hub   --db URL --port P --client-id ID --out counts.json --ready FILE
    python tests/fleet_child.py truck --truck ID --store DIR --port P --orders N --out orders.json

The broker password comes from $FLEET_PASSWORD (never the command line). Each child writes one JSON
file when it is done: the hub its ingest counts (on SIGTERM), the truck its order ids once the hub acked them all.
``run_fleet()`` starts a broker, the hubs and the trucks (tests/test_fleet.py, benchmarks/bench_sync_scale.py).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sync.agent import AgentConfig, SyncAgent  # noqa: E402
from sync.hub import Hub, HubConfig  # noqa: E402
from sync.hub.models import open_hub_database  # noqa: E402
from sync.transport import BrokerLogin  # noqa: E402


CHILD = [sys.executable, str(Path(__file__).resolve())]
PASSWORD = "fleet-test-pw"  # a fake password for a throwaway broker


@dataclass
class FleetRun:
    """What one fleet run produced: seconds from the trucks' start to the last truck done, and each side's files."""

    elapsed_s: float = 0.0
    truck_codes: list[int] = field(default_factory=list)
    hub_codes: list[int] = field(default_factory=list)
    sent: dict[str, str] = field(default_factory=dict)  # order uuid -> truck
    hubs: list[dict] = field(default_factory=list)  # ingest counts per hub process
    keepalive_timeouts: int = 0


def run_fleet(workdir: Path, pg_url: str, trucks: int, orders: int, *, hubs: int = 2, burn: bool = False,
              truck_timeout_s: float = 150) -> FleetRun:
    """One broker (fleet ACL), ``hubs`` hub processes on ``pg_url``, ``trucks`` truck processes ringing up ``orders``
    each; ``burn`` adds a busy loop per CPU core for the whole run."""
    from devtools.local_broker import REPO, MosquittoBroker

    names = [f"truck-{i:02d}" for i in range(trucks)]
    broker = MosquittoBroker(workdir, users={"hub": PASSWORD, **{t: PASSWORD for t in names}}, dynsec=True,
                             max_queued=1_000_000).start()
    env = {**os.environ, "FLEET_PASSWORD": PASSWORD}
    procs: list[subprocess.Popen] = []
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)] if burn else []
    out = FleetRun()
    try:
        hub_procs = []
        for n in range(1, hubs + 1):
            ready = workdir / f"hub-{n}.ready"
            procs.append(subprocess.Popen([*CHILD, "hub", "--db", pg_url, "--port", str(broker.port), "--client-id",
                                           f"truck-pos-hub-{n}", "--ready", str(ready), "--out", str(workdir / f"hub-{n}.json")],
                                          env=env, cwd=REPO))
            hub_procs.append((procs[-1], ready))
        deadline = time.monotonic() + 60
        while not all(r.exists() for _, r in hub_procs):
            if time.monotonic() > deadline:
                raise RuntimeError("the hub processes did not subscribe")
            time.sleep(0.05)
        go = workdir / "go"
        with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as store:
            truck_procs = [subprocess.Popen([*CHILD, "truck", "--truck", t, "--store", store, "--port", str(broker.port),
                                             "--orders", str(orders), "--timeout", str(truck_timeout_s), "--go", str(go),
                                             "--out", str(workdir / f"{t}.json")], env=env, cwd=REPO) for t in names]
            procs += truck_procs
            deadline = time.monotonic() + 120 + trucks * 3  # start-up of many Python processes on 2 cores
            while not all(Path(f"{go}.{t}.ready").exists() for t in names) and time.monotonic() < deadline:
                time.sleep(0.05)
            go.write_text("", "utf-8")
            started = time.monotonic()  # every truck set up and connecting: from here on it is ring-up and sync
            out.truck_codes = [p.wait(truck_timeout_s + 60) for p in truck_procs]
        out.elapsed_s = time.monotonic() - started
        for p, _ in hub_procs:
            p.terminate()
        out.hub_codes = [p.wait(30) for p, _ in hub_procs]
    finally:
        for p in procs + burners:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        out.keepalive_timeouts = broker.log_tail(1_000_000).count("exceeded timeout")
        broker.kill()
    out.sent = {u: t for t in names for u in json.loads((workdir / f"{t}.json").read_text("utf-8"))["orders"]}
    out.hubs = [json.loads((workdir / f"hub-{n}.json").read_text("utf-8")) for n in range(1, hubs + 1)]
    return out


def run_hub(args: argparse.Namespace) -> int:
    open_hub_database(args.db)
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def count(outcome: str, key: str) -> None:
        with lock:
            counts[outcome] += 1

    login = BrokerLogin("127.0.0.1", args.port, "hub", os.environ["FLEET_PASSWORD"], keepalive_s=5)
    hub = Hub(HubConfig(login, args.client_id, shared=True, ack_interval_s=0.2, reconnect_min_s=0.1, reconnect_max_s=0.5))
    hub.on_ingest = count
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    hub.start()
    if not hub.connected.wait(20):
        print(f"hub {args.client_id} could not connect: {hub.last_error}", file=sys.stderr)
        return 2
    Path(args.ready).write_text(str(os.getpid()), "utf-8")
    done.wait(300)
    hub.stop()
    Path(args.out).write_text(json.dumps({"client_id": args.client_id, "pid": os.getpid(), **counts}), "utf-8")
    return 0


def run_truck(args: argparse.Namespace) -> int:
    from truck_pos.bootstrap import build
    from truck_pos.config import load_settings
    from truck_pos.store import outbox

    svc = build(load_settings(env={"TRUCK_POS_STORE_PATH": f"{args.store}/{args.truck}.db", "TRUCK_POS_TRUCK_ID": args.truck}),
                print_autostart=False)
    login = BrokerLogin("127.0.0.1", args.port, args.truck, os.environ["FLEET_PASSWORD"], keepalive_s=5)
    agent = SyncAgent(svc.db, svc.clock, AgentConfig(args.truck, login, max_inflight=50, reconnect_min_s=0.1, reconnect_max_s=0.5,
                                                     ack_timeout_s=args.ack_timeout), poll_s=0.05).start()
    skus = [i.sku for i in svc.menu.items()]
    uuids = []
    if args.go:  # set up; wait for every truck to be, so the timing measures sync, not process start-up
        Path(args.go + f".{args.truck}.ready").write_text("", "utf-8")
        while not Path(args.go).exists():
            time.sleep(0.05)
    for i in range(args.orders):  # the real register, while the agent drains what is already paid
        ticket = svc.register.open_ticket()
        svc.register.add_item(ticket.id, skus[(i * 7 + len(args.truck)) % len(skus)], 1 + i % 3)
        uuids.append(svc.register.pay_card(ticket.id).order_uuid)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        c = outbox.counts()
        if c["queued"] == 0 and c["unacked"] == 0:
            break
        time.sleep(0.1)
    agent.stop()
    c = outbox.counts()
    Path(args.out).write_text(json.dumps({"truck": args.truck, "orders": uuids, "counts": c}), "utf-8")
    svc.close()
    return 0 if c["acked"] == outbox.Outbox.select().count() else 3


def main() -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="role", required=True)
    h = sub.add_parser("hub")
    h.add_argument("--db", required=True)
    h.add_argument("--client-id", required=True)
    h.add_argument("--ready", required=True)
    t = sub.add_parser("truck")
    t.add_argument("--truck", required=True)
    t.add_argument("--store", required=True)
    t.add_argument("--orders", type=int, default=500)
    t.add_argument("--timeout", type=float, default=80)
    t.add_argument("--ack-timeout", type=float, default=30.0, help="the agent's ack_timeout_s (production default 30)")
    t.add_argument("--go", default="", help="write GO.<truck>.ready when set up, then wait for the file GO")
    for q in (h, t):
        q.add_argument("--port", type=int, required=True)
        q.add_argument("--out", required=True)
    args = p.parse_args()
    return run_hub(args) if args.role == "hub" else run_truck(args)


if __name__ == "__main__":
    raise SystemExit(main())
