"""Fleet under load: two hub processes on one shared subscription and PostgreSQL, 20 trucks, with a CPU
burner on every core for the whole run.

Every order reaches the hub database exactly once, and both hub processes took part of the load.
Real OS processes throughout (tests/fleet_child.py): one per hub, one per truck (its own SQLite file,
its own agent), the fleet ACL (dynamic security) on the broker. The broker is never restarted here:
mosquitto 2.0.x forgets shared subscriptions on a restart (see sync/PROTOCOL.md). Scale with
TRUCK_POS_FLEET_TRUCKS / TRUCK_POS_FLEET_ORDERS (benchmarks/bench_sync_scale.py runs the curve).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from sync.hub.models import HUB_MODELS, HubMessage, open_hub_database
from devtools.local_broker import REPO, MosquittoBroker

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

PG_URL = os.environ.get("TRUCK_POS_TEST_PG", "")
TRUCKS = int(os.environ.get("TRUCK_POS_FLEET_TRUCKS", "20"))
ORDERS = int(os.environ.get("TRUCK_POS_FLEET_ORDERS", "100"))  # CI size; the scale benchmark goes further
PASSWORD = "fleet-test-pw"  # a fake password for a throwaway broker
CHILD = [sys.executable, str(REPO / "tests" / "fleet_child.py")]


def wait_until(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.skipif(not PG_URL, reason="the fleet test needs PostgreSQL: set TRUCK_POS_TEST_PG=postgresql://... "
                    "(two hub processes writing one SQLite file is not the supported fleet setup)")
def test_two_hubs_on_a_shared_subscription_take_20_trucks_exactly_once_with_every_core_busy(tmp_path):
    db = open_hub_database(PG_URL)
    db.drop_tables(HUB_MODELS, safe=True)
    db.close()
    db = open_hub_database(PG_URL)  # fresh tables

    trucks = [f"truck-{i:02d}" for i in range(TRUCKS)]
    broker = MosquittoBroker(tmp_path, users={"hub": PASSWORD, **{t: PASSWORD for t in trucks}}, dynsec=True,
                             max_queued=1_000_000).start()
    env = {**os.environ, "FLEET_PASSWORD": PASSWORD}
    procs: list[subprocess.Popen] = []
    # A busy loop per core from before the hubs start until everything is checked: the hubs' keepalive
    # and acks must hold up when they do not get a core to themselves.
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    try:
        hubs = []
        for n in (1, 2):
            ready = tmp_path / f"hub-{n}.ready"
            procs.append(subprocess.Popen([*CHILD, "hub", "--db", PG_URL, "--port", str(broker.port), "--client-id",
                                           f"truck-pos-hub-{n}", "--ready", str(ready), "--out", str(tmp_path / f"hub-{n}.json")],
                                          env=env, cwd=REPO))
            hubs.append((procs[-1], ready))
        wait_until(lambda: all(r.exists() for _, r in hubs), 30, "both hub processes to subscribe")

        started = time.monotonic()
        with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as store:
            truck_procs = [subprocess.Popen([*CHILD, "truck", "--truck", t, "--store", store, "--port", str(broker.port),
                                             "--orders", str(ORDERS), "--out", str(tmp_path / f"{t}.json")],
                                            env=env, cwd=REPO) for t in trucks]
            procs += truck_procs
            for p in truck_procs:
                assert p.wait(150) == 0, "a truck did not get all its orders acked (see its stderr above)"
        elapsed = time.monotonic() - started
        for p, _ in hubs:
            p.terminate()
        for p, _ in hubs:
            assert p.wait(20) == 0
    finally:
        for p in procs + burners:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        disconnects = broker.log_tail(100_000).count("exceeded timeout")
        broker.kill()
    assert disconnects == 0, "a client missed its keepalive under load (see the broker log)"

    sent = {u: t for t in trucks for u in json.loads((tmp_path / f"{t}.json").read_text("utf-8"))["orders"]}
    assert len(sent) == TRUCKS * ORDERS
    rows = list(HubMessage.select(HubMessage.key, HubMessage.truck).where(HubMessage.kind == "order").tuples())
    db.close()
    keys = [k for k, _ in rows]
    assert len(keys) == len(set(keys)) == TRUCKS * ORDERS  # nothing duplicated
    assert {k: t for k, t in rows} == sent  # every order exactly once, under its own truck

    loads = [json.loads((tmp_path / f"hub-{n}.json").read_text("utf-8")) for n in (1, 2)]
    assert sum(h.get("new", 0) for h in loads) == len(rows)
    assert all(h.get("new", 0) > 0 for h in loads), loads  # both hub processes took part of the load
    print(f"\n{TRUCKS} trucks x {ORDERS} orders in {elapsed:.1f} s: " +
          ", ".join(f"{h['client_id']} (pid {h['pid']}) new {h.get('new', 0)} duplicate {h.get('duplicate', 0)}" for h in loads))
