"""Fleet under load: two hub processes on one shared subscription and PostgreSQL, 20 trucks, with a CPU
burner on every core for the whole run.

Every order reaches the hub database exactly once, and both hub processes took part of the load.
Real OS processes throughout (tests/fleet_child.py): one per hub, one per truck (its own SQLite file,
its own agent), the fleet ACL (dynamic security) on the broker. The broker is never restarted here:
mosquitto 2.0.x forgets shared subscriptions on a restart (see sync/PROTOCOL.md). Scale with
TRUCK_POS_FLEET_TRUCKS / TRUCK_POS_FLEET_ORDERS (benchmarks/bench_sync_scale.py runs the curve).

Also here: the simulated fleet of the scale benchmark (benchmarks/fleet_sim.py: many trucks per process,
real envelopes, real acks) end to end, and the hub's ack bookkeeping when its ack thread runs while a
batch is still being written.
"""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from benchmarks import bench_sync_scale
from sync import protocol
from sync.hub import Hub, HubConfig
from sync.hub.models import HUB_MODELS, HubDeadLetter, HubMessage, open_hub_database
from sync.transport import BrokerLogin, new_client
from tests.fleet_child import run_fleet
from tests.mqtt_fixtures import FAKE_PASSWORDS, fleet_broker, hub_config, hub_db  # noqa: F401

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

PG_URL = os.environ.get("TRUCK_POS_TEST_PG", "")
TRUCKS = int(os.environ.get("TRUCK_POS_FLEET_TRUCKS", "20"))
ORDERS = int(os.environ.get("TRUCK_POS_FLEET_ORDERS", "50"))  # CI size; the scale benchmark goes further


@pytest.mark.skipif(not PG_URL, reason="the fleet test needs PostgreSQL: set TRUCK_POS_TEST_PG=postgresql://... "
                    "(two hub processes writing one SQLite file is not the supported fleet setup)")
def test_two_hubs_on_a_shared_subscription_take_20_trucks_exactly_once_with_every_core_busy(tmp_path):
    db = open_hub_database(PG_URL)
    db.drop_tables(HUB_MODELS, safe=True)
    db.close()
    db = open_hub_database(PG_URL)  # fresh tables

    # A busy loop per core from before the hubs start until the last truck is done: the hubs' keepalive
    # and acks must hold up when they do not get a core to themselves.
    run = run_fleet(tmp_path, PG_URL, TRUCKS, ORDERS, burn=True)
    assert run.truck_codes == [0] * TRUCKS, "a truck did not get all its orders acked (see its stderr above)"
    assert run.hub_codes == [0, 0]
    assert run.keepalive_timeouts == 0, "a client missed its keepalive under load (see the broker log)"

    assert len(run.sent) == TRUCKS * ORDERS
    rows = list(HubMessage.select(HubMessage.key, HubMessage.truck).where(HubMessage.kind == "order").tuples())
    db.close()
    keys = [k for k, _ in rows]
    assert len(keys) == len(set(keys)) == TRUCKS * ORDERS  # nothing duplicated
    assert {k: t for k, t in rows} == run.sent  # every order exactly once, under its own truck

    assert sum(h.get("new", 0) for h in run.hubs) == len(rows)
    assert all(h.get("new", 0) > 0 for h in run.hubs), run.hubs  # both hub processes took part of the load
    print(f"\n{TRUCKS} trucks x {ORDERS} orders in {run.elapsed_s:.1f} s with every core busy: " +
          ", ".join(f"{h['client_id']} new {h.get('new', 0)} duplicate {h.get('duplicate', 0)}" for h in run.hubs))


@pytest.mark.skipif(not PG_URL, reason="the fleet needs PostgreSQL: set TRUCK_POS_TEST_PG=postgresql://...")
def test_simulated_fleet_of_40_trucks_is_stored_once_and_acked_through_every_last_seq_by_two_hubs():
    # The scale benchmark's own point (2 hub processes, 2 processes simulating 40 trucks with 10 orders each).
    point = bench_sync_scale.sim_point(PG_URL, 40, 400, timeout_s=60)
    db = open_hub_database(PG_URL)
    rows = list(HubMessage.select(HubMessage.truck, HubMessage.seq, HubMessage.key).where(HubMessage.kind == "order")
                .tuples())
    db.close()
    assert len({k for _, _, k in rows}) == len(rows) == 400  # nothing lost, nothing stored twice
    assert {(t, s) for t, s, _ in rows} == {(f"truck-{i:03d}", s) for i in range(40) for s in range(1, 11)}
    assert point["complete"], point  # every simulated truck saw a valid ack through its seq 10
    rows = bench_sync_scale.table([point]).splitlines()
    assert len(rows) == 3 and rows[2].count("|") == rows[0].count("|") and rows[2].startswith("| 40 | 400 | ")


def test_an_ack_flushed_while_a_batch_is_being_written_is_sent_again_once_the_batch_committed(fleet_broker, hub_db,
                                                                                               monkeypatch):
    """The ack thread may run between a message being stored and its transaction committing; it then sees
    the old state. The truck must still get an ack covering the message once it is committed."""
    hub = Hub(hub_config(fleet_broker))
    stored = hub._stored

    def stored_then_ack_thread_runs(*args):
        result = stored(*args)
        flush = threading.Thread(target=hub.flush_acks)  # another connection: the batch is not committed yet
        flush.start()
        flush.join()
        return result

    monkeypatch.setattr(hub, "_stored", stored_then_ack_thread_runs)
    hub.start()
    login = BrokerLogin("127.0.0.1", fleet_broker.port, "truck-a", FAKE_PASSWORDS["truck-a"])
    truck = new_client("truck-pos-truck-a", login)
    acks: list[int] = []
    truck.on_message = lambda c, u, m: acks.append(json.loads(m.payload)["body"]["through_seq"])
    try:
        assert hub.connected.wait(10), hub.last_error
        truck.connect(login.host, login.port)
        truck.loop_start()
        truck.subscribe(protocol.down_topic("truck-a", "ack"), qos=1)
        for seq in (1, 2):
            env = protocol.envelope(truck="truck-a", seq=seq, kind="audit", key=f"mid-batch-{seq}", ts=hub.clock.now(),
                                    body={})
            truck.publish(protocol.up_topic("truck-a", "audit"), protocol.encode(env), qos=1).wait_for_publish(5)
            deadline = time.monotonic() + 10
            while (not acks or acks[-1] < seq) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert acks and acks[-1] == seq, f"the last ack says {acks[-1:] or 'nothing'}, seq {seq} was stored"
    finally:
        truck.disconnect()
        truck.loop_stop()
        hub.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_hub_db(request, tmp_path):
    """A fresh hub database on each backend (PostgreSQL only when TRUCK_POS_TEST_PG is set)."""
    if request.param == "postgresql":
        if not PG_URL:
            pytest.skip("set TRUCK_POS_TEST_PG=postgresql://... for the PostgreSQL run")
        db = open_hub_database(PG_URL)
        db.drop_tables(HUB_MODELS, safe=True)
        db.close()
    db = open_hub_database(PG_URL if request.param == "postgresql" else f"sqlite:///{tmp_path / 'hub.db'}")
    yield db
    db.close()


def test_one_flush_computes_each_trucks_own_ack_over_stored_and_dead_lettered_seqs(any_hub_db):
    hub = Hub(HubConfig())
    for truck, seqs in {"truck-a": (1, 2, 4), "truck-b": (2, 3), "truck-c": (1, 2, 3)}.items():
        for seq in seqs:
            env = protocol.envelope(truck=truck, seq=seq, kind="audit", key=f"{truck}-{seq}", ts=hub.clock.now(), body={})
            assert hub.ingest(protocol.up_topic(truck, "audit"), protocol.encode(env))[0] == "new"
    HubDeadLetter.create(received_utc=hub.clock.now(), topic="t", reason="r", payload="p", truck="truck-c", seq=4)
    HubDeadLetter.create(received_utc=hub.clock.now(), topic="t", reason="r", payload="p", truck="truck-c", seq=6)
    # By the contract (PROTOCOL.md "ack"): through = highest seq with everything up to it stored or dead-lettered.
    expected = {"truck-a": {"through_seq": 2, "max_seq": 4, "missing": [[3, 3]]},
                "truck-b": {"through_seq": 0, "max_seq": 3, "missing": [[1, 1]]},
                "truck-c": {"through_seq": 4, "max_seq": 6, "missing": [[5, 5]]},
                "truck-d": {"through_seq": 0, "max_seq": 0, "missing": []}}
    assert hub.ack_bodies(sorted(expected)) == expected
    assert hub.ack_bodies(sorted(expected)) == expected  # again from the moved contiguous points
    assert {t: hub.ack_body(t) for t in expected} == expected
