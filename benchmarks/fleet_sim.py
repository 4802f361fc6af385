"""Many simulated trucks in one process, speaking the real protocol: the hub's scale curve without 80 interpreters.

Each simulated truck is its own MQTT connection (its own broker user and client id under the fleet
ACL, made by sync.transport like the agent's) that publishes real envelopes (``protocol.envelope``,
seq 1..N, QoS 1, at most ``INFLIGHT`` awaiting PUBACK) and checks the hub's real retained acks
(``protocol.check`` on ``down/ack``); it is done when an ack covers its last seq. A truck whose ack
stops moving re-sends what the ack does not cover, like the agent. ``run_sim_fleet`` starts the
broker, the hub processes (tests/fleet_child.py hub) and a few of these processes.

    python benchmarks/fleet_sim.py --port P --trucks truck-000,truck-001 --orders N --go FILE --out FILE
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import paho.mqtt.client as mqtt  # noqa: E402

from benchmarks.bench_sync_drain import order_body  # noqa: E402
from sync import protocol  # noqa: E402
from sync.transport import BrokerLogin, connect_persistent, new_client  # noqa: E402

INFLIGHT = 50  # the fleet test's agents use max_inflight=50
SIM = [sys.executable, str(Path(__file__).resolve())]


class SimTruck:
    """One truck's connection: publishes its orders once, re-sends what a stuck ack does not cover."""

    def __init__(self, truck: str, port: int, password: str, orders: int, ack_timeout_s: float):
        self.truck, self.orders, self.ack_timeout_s = truck, orders, ack_timeout_s
        now = datetime.now(timezone.utc)
        self.payloads = [protocol.encode(protocol.envelope(
            truck=truck, seq=s, kind="order", key=str(uuid.uuid4()), ts=now,
            body={**order_body(s), "order_id": str(uuid.uuid4()), "truck": truck})) for s in range(1, orders + 1)]
        self.through = 0
        self.done_at = 0.0  # wall clock (time.time) when an ack covered the last seq
        self.bad_acks = 0
        self.resent = 0
        self.subscribed = threading.Event()
        self._moved = time.monotonic()
        self.login = BrokerLogin("127.0.0.1", port, truck, password, keepalive_s=5)
        self.client = new_client(f"truck-pos-{truck}", self.login)
        self.client.max_inflight_messages_set(INFLIGHT)
        self.client.on_connect = lambda c, *_: c.subscribe(protocol.truck_subscription(truck), qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message

    def start(self) -> None:
        connect_persistent(self.client, self.login)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        parsed = protocol.parse_topic(message.topic)
        if parsed is None or parsed.kind != "ack":
            return
        checked = protocol.check(message.payload, direction="down", truck=self.truck, kind="ack")
        if not checked.ok or checked.envelope is None:
            self.bad_acks += 1
            return
        through = checked.envelope["body"]["through_seq"]
        if through > self.through:
            self.through, self._moved = through, time.monotonic()
            if through >= self.orders and not self.done_at:
                self.done_at = time.time()

    def publish_all(self) -> None:
        self._moved = time.monotonic()
        for payload in self.payloads:
            self.client.publish(protocol.up_topic(self.truck, "order"), payload, qos=1)

    def resend_if_stuck(self) -> None:
        """The ack has not moved for ack_timeout_s: send again everything it does not cover."""
        if self.done_at or time.monotonic() - self._moved < self.ack_timeout_s:
            return
        for s in range(self.through + 1, self.orders + 1):
            self.client.publish(protocol.up_topic(self.truck, "order"), self.payloads[s - 1], qos=1)
            self.resent += 1
        self._moved = time.monotonic()


def run_sim(args: argparse.Namespace) -> int:
    """One simulation process: connect every truck, signal ready, wait for GO, publish, wait for the acks."""
    password = os.environ["FLEET_PASSWORD"]
    trucks = [SimTruck(t, args.port, password, args.orders, args.ack_timeout) for t in args.trucks.split(",")]
    for t in trucks:
        t.start()
    ok = all(t.subscribed.wait(60) for t in trucks)
    Path(args.go + f".{os.getpid()}.ready").write_text("", "utf-8")
    while not Path(args.go).exists():
        time.sleep(0.01)
    for t in trucks:
        t.publish_all()
    deadline = time.monotonic() + args.timeout
    while ok and time.monotonic() < deadline and not all(t.done_at for t in trucks):
        for t in trucks:
            t.resend_if_stuck()
        time.sleep(0.05)
    for t in trucks:
        t.client.disconnect()
        t.client.loop_stop()
    result = {t.truck: {"done_at": t.done_at, "through": t.through, "bad_acks": t.bad_acks, "resent": t.resent}
              for t in trucks}
    use = resource.getrusage(resource.RUSAGE_SELF)
    Path(args.out).write_text(json.dumps({"trucks": result, "cpu_s": use.ru_utime + use.ru_stime}), "utf-8")
    return 0 if ok and all(t.done_at and not t.bad_acks for t in trucks) else 3


@dataclass
class SimRun:
    """One simulated-fleet run: wall times from GO, per-truck results and the hubs' counts and CPU seconds."""

    go_at: float = 0.0
    trucks: dict[str, dict] = field(default_factory=dict)
    hubs: list[dict] = field(default_factory=list)
    hub_cpu_s: float = 0.0  # both hub processes, GO to the last truck done
    sim_cpu_s: float = 0.0  # the simulation processes, whole life (set-up included)
    broker_cpu_s: float = 0.0  # mosquitto, GO to the last truck done
    sim_codes: list[int] = field(default_factory=list)

    @property
    def elapsed_s(self) -> float:
        """GO to the last truck's final ack (inf if one never got it)."""
        done = [t["done_at"] for t in self.trucks.values()]
        return max(done) - self.go_at if done and all(done) else float("inf")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def run_sim_fleet(workdir: Path, pg_url: str, trucks: int, orders: int, *, hubs: int = 2, procs: int = 2,
                  timeout_s: float = 300, ack_timeout_s: float = 30) -> SimRun:
    """A broker with the fleet ACL, ``hubs`` hub processes on ``pg_url`` and ``procs`` processes simulating
    ``trucks`` trucks of ``orders`` orders each."""
    from devtools.local_broker import REPO, MosquittoBroker
    from tests.fleet_child import CHILD, PASSWORD

    names = [f"truck-{i:03d}" for i in range(trucks)]
    broker = MosquittoBroker(workdir, users={"hub": PASSWORD, **{t: PASSWORD for t in names}}, dynsec=True,
                             max_queued=1_000_000).start()
    env = {**os.environ, "FLEET_PASSWORD": PASSWORD}
    out, hub_procs, sims = SimRun(), [], []
    try:
        for n in range(1, hubs + 1):
            hub_procs.append(subprocess.Popen([*CHILD, "hub", "--db", pg_url, "--port", str(broker.port), "--client-id",
                                               f"truck-pos-hub-{n}", "--ready", str(workdir / f"hub-{n}.ready"),
                                               "--out", str(workdir / f"hub-{n}.json")], env=env, cwd=REPO))
        _wait_for([workdir / f"hub-{n}.ready" for n in range(1, hubs + 1)], 60)
        go = workdir / "go"
        for p in range(procs):
            sims.append(subprocess.Popen([*SIM, "--port", str(broker.port), "--trucks", ",".join(names[p::procs]),
                                          "--orders", str(orders), "--go", str(go), "--timeout", str(timeout_s),
                                          "--out", str(workdir / f"sim-{p}.json"), "--ack-timeout", str(ack_timeout_s)],
                                         env=env, cwd=REPO))
        _wait_for([Path(f"{go}.{s.pid}.ready") for s in sims], 120)
        cpu_before = sum(_cpu_s(h.pid) for h in hub_procs)
        broker_before = _cpu_s(broker.proc.pid) if broker.proc else 0.0
        out.go_at = time.time()
        go.write_text("", "utf-8")
        out.sim_codes = [s.wait(timeout_s + 60) for s in sims]
        out.hub_cpu_s = sum(_cpu_s(h.pid) for h in hub_procs) - cpu_before
        out.broker_cpu_s = (_cpu_s(broker.proc.pid) if broker.proc else 0.0) - broker_before
        for h in hub_procs:
            h.terminate()
        for h in hub_procs:
            h.wait(30)
    finally:
        for p in hub_procs + sims:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        broker.kill()
    for p in range(procs):
        sim = json.loads((workdir / f"sim-{p}.json").read_text("utf-8"))
        out.trucks.update(sim["trucks"])
        out.sim_cpu_s += sim["cpu_s"]
    out.hubs = [json.loads((workdir / f"hub-{n}.json").read_text("utf-8")) for n in range(1, hubs + 1)]
    return out


def _wait_for(files: list[Path], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not all(f.exists() for f in files):
        if time.monotonic() > deadline:
            raise RuntimeError(f"not ready within {timeout_s} s: {[str(f) for f in files if not f.exists()]}")
        time.sleep(0.02)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--trucks", required=True, help="comma-separated truck ids (each a broker user)")
    p.add_argument("--orders", type=int, required=True)
    p.add_argument("--go", required=True, help="write GO.<pid>.ready when subscribed, then wait for the file GO")
    p.add_argument("--out", required=True)
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--ack-timeout", type=float, default=30.0)
    return run_sim(p.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
