"""Every up message ends in exactly one outcome, and a bad one never stops a truck's stream.

Real mosquitto (fleet ACL), real PostgreSQL (TRUCK_POS_TEST_PG). Expected outcomes come from how
each message was built here (the spec in PROTOCOL.md "Outcomes"), not from the hub's tables.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections import Counter
from datetime import datetime, timezone

import pytest

from sync import protocol
from sync.agent.cli import print_status
from sync.hub import Hub, HubConfig
from sync.hub import cli as hub_cli
from sync.hub.models import HUB_MODELS, HubDeadLetter, HubMessage, open_hub_database
from tests.mqtt_fixtures import fast_services, fleet_broker, hub_config, make_agent  # noqa: F401
from truck_pos.clock import FakeClock
from truck_pos.services.sync_status import SyncStatusService
from truck_pos.store import outbox
from truck_pos.store.sync_models import SyncRejected

PG_URL = os.environ.get("TRUCK_POS_TEST_PG", "")
pytestmark = pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: set TRUCK_POS_TEST_PG=postgresql://...")
NOW = datetime(2026, 6, 1, 17, 0, tzinfo=timezone.utc)
PERSONAL_CODE = "P1." + "Zk9" * 583  # a personal code is ~1,750 characters: far over the 64 an id may have
RAISE_MARKER = "make-the-hub-raise"


@pytest.fixture
def pg_hub_db():
    db = open_hub_database(PG_URL)
    db.drop_tables(HUB_MODELS, safe=True)
    db.close()
    db = open_hub_database(PG_URL)
    yield db
    db.close()


class FaultyHub(Hub):
    """A hub whose after-store hook (where mobile orders, double spends... are handled) raises on one body."""

    def _stored(self, parsed, env, now):
        if env["body"].get("action") == RAISE_MARKER:
            raise RuntimeError("simulated bug in a hub hook")
        return super()._stored(parsed, env, now)


def wait_for(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def up(seq: int, key: str, body: dict, kind: str = "audit", ts: str = "2026-06-01T17:00:00+00:00") -> bytes:
    # ASCII JSON: a lone surrogate travels as its \\u escape, as any JSON library may send it
    return json.dumps({"v": 1, "id": key, "truck": "truck-a", "seq": seq, "kind": kind, "ts": ts, "body": body}).encode()


def test_each_message_gets_one_outcome_and_the_hub_errors_seen_in_the_field_are_dead_letters(pg_hub_db):
    hub = Hub(HubConfig(), clock=FakeClock(NOW))
    topic = protocol.up_topic("truck-a", "audit")
    cases = [
        (up(1, "k-1", {"a": 1}), "new"),
        (up(1, "k-1", {"a": 1}), "duplicate"),  # the same id and body again
        (up(2, "k-1", {"a": 2}), "conflict"),  # the same id, another body
        (up(3, "x" * 1750, {"code": PERSONAL_CODE}), "dead"),  # id too long to store
        (up(4, "nul\x00id", {}), "dead"),  # NUL: PostgreSQL text cannot hold it
        (up(5, "k-5", {}, ts="0001-01-01T00:00:00+14:00"), "rejected"),  # OverflowError in the UTC conversion once
        (up(6, "k-6", {"t": "a\ud800b"}), "rejected"),  # a lone surrogate
        (up(0, "k-0", {}), "dead"),  # seq starts at 1: not even placeable
    ]
    for payload, expected in cases:
        assert hub.ingest(topic, payload)[0] == expected, payload[:80]
    long_kind = "k" * 60
    assert hub.ingest(protocol.up_topic("truck-a", long_kind), up(7, "k-7", {}, kind=long_kind))[0] == "dead"

    conflict = HubDeadLetter.get(HubDeadLetter.outcome == "conflict")
    assert (conflict.truck, conflict.seq, conflict.key) == ("truck-a", 2, "k-1")
    assert conflict.body_hash == protocol.body_hash({"a": 2}) and conflict.stored_hash == protocol.body_hash({"a": 1})
    by_seq = {d.seq: d.reason for d in HubDeadLetter.select().where(HubDeadLetter.outcome == "dead_letter")}
    assert "longer than 64" in by_seq[3] and "control characters" in by_seq[4] and "kind' is longer than 40" in by_seq[7]
    # Every seq 1-7 has an outcome at the hub, so the ack moves past all of them.
    assert hub.ack_body("truck-a") == {"through_seq": 7, "max_seq": 7, "missing": []}
    notices = {n.seq: n.outcome for n in hub._notices}
    assert notices == {2: "conflict", 3: "dead_letter", 4: "dead_letter", 5: "rejected", 6: "rejected", 7: "dead_letter"}


@pytest.mark.mqtt
def test_a_personal_code_sale_and_a_message_that_makes_the_hub_raise_do_not_stop_1000_good_ones(
        pg_hub_db, fleet_broker, fast_services, make_agent, capsys):
    db, now = fast_services.db, fast_services.clock.now()
    bad: dict[int, str] = {}
    with db.atomic():
        for i in range(1000):
            if i == 300:  # what a register wrote before ids were bounded: the personal code as the id
                row = outbox.enqueue("redemption", {"code": PERSONAL_CODE}, now=now, key=f"red:{PERSONAL_CODE}")
                bad[row.seq] = "longer than 64"
            if i == 600:
                row = outbox.enqueue("audit", {"action": RAISE_MARKER}, now=now)
                bad[row.seq] = "the hub failed to store it: RuntimeError"
            outbox.enqueue("audit", {"i": i}, now=now, key=f"good-{i}")
    total = 1000 + len(bad)
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def count(outcome: str, key: str) -> None:
        with lock:
            seen[outcome] += 1

    hub = FaultyHub(hub_config(fleet_broker))
    hub.on_ingest = count
    hub.start()
    try:
        assert hub.connected.wait(10), hub.last_error
        agent = make_agent(fleet_broker, fast_services, ack_timeout_s=1.0).start()
        wait_for(lambda: agent.status().acked_through_seq == total, 60, "the ack to move past both bad messages")
        wait_for(lambda: SyncRejected.select().count() == len(bad), 15, "the truck to hear of both")
        wait_for(lambda: seen["new"] == 1000 and seen["dead"] == len(bad), 15, "the hub's counts to settle")
        settled = dict(seen)
        time.sleep(3.0)  # three ack timeouts: a resend loop would show up as more deliveries
        assert dict(seen) == settled, "messages kept coming after everything was acked"
        status = SyncStatusService(fast_services.clock, "America/Chicago", agent=agent)
        wait_for(lambda: status.rejected()[0] == len(bad), 5, "the agent's status to count them")
        line = status.line()
    finally:
        hub.stop()

    # The hub: every good one stored once, each bad one a dead letter with its reason and seq.
    good = {k for (k,) in HubMessage.select(HubMessage.key).where(HubMessage.status == "ok").tuples()}
    assert good == {f"good-{i}" for i in range(1000)}
    letters = {d.seq: d.reason for d in HubDeadLetter.select().where(HubDeadLetter.truck == "truck-test")}
    assert set(letters) == set(bad)
    for seq, reason in bad.items():
        assert reason in letters[seq]
    assert seen["dead"] == len(bad)  # each bad one dead-lettered once: no resend loop
    # The truck: everything acked, each bad one recorded with the hub's reason, and shown.
    assert outbox.counts() == {"queued": 0, "unacked": 0, "acked": total}
    rejected = {r.seq: r.reason for r in SyncRejected.select()}
    assert set(rejected) == set(bad) and all(bad[s] in rejected[s] for s in bad)
    assert f"{len(bad)} rejected by the hub: " in line
    print_status(None)
    assert f"{len(bad)} rejected by the hub: the hub failed to store it" in capsys.readouterr().out
    hub_cli.status(argparse.Namespace())
    shown = capsys.readouterr().out
    assert "truck-test" in shown and f"{len(bad)} dead letter(s)" in shown and "RuntimeError" in shown
