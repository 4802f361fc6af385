"""Hostile down and up messages through a real mosquitto into the REAL handlers: nothing crashes, nothing
stalls, and every bad message ends as a dead letter with a reason (on the truck) or one outcome (at the hub).

The truck side runs the handlers the register wires: CampaignService.install_bundle (real Ed25519
check with the owner's key), MenuService.load and the mobile-order handler on RegisterService.
"""

from __future__ import annotations

import base64
import json
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync import protocol
from sync.agent import AgentConfig, SyncAgent
from truck_pos.bootstrap import campaign_handler
from sync.agent.inbound import menu_handler, mobile_order_handler
from sync.hub.models import HubDeadLetter, HubMessage
from tests.campaign_support import build_services, demo_document
from tests.mqtt_fixtures import FAKE_PASSWORDS, fast_agent_config, fleet_broker, hub, hub_config, hub_db  # noqa: F401
from tests.test_sync_acl import Probe
from truck_pos.domain.bundle import sign_bundle
from truck_pos.store.campaign_models import CampaignBundle
from truck_pos.store.models import MenuItem, Order
from truck_pos.store.outbox import Outbox
from truck_pos.store.sync_models import SyncDeadLetter, SyncInbound

TRUCK = "truck-test"
NOW = datetime(2026, 6, 1, 17, 0, tzinfo=timezone.utc)
OWNER_KEY = Ed25519PrivateKey.generate()  # generated per run, never committed
STRANGER_KEY = Ed25519PrivateKey.generate()


def signed_bundle(doc: dict | None = None, key: Ed25519PrivateKey = OWNER_KEY) -> bytes:
    return sign_bundle(doc or demo_document(), key)


def valid_bodies() -> dict[str, dict]:
    return {
        "ack": {"through_seq": 0},
        "menu": {"categories": [{"name": "Tacos", "items": [{"sku": "taco-fish", "name": "Fish", "price_cents": 450}]}]},
        "mobile_order": {"order_id": "6f1d0c1e-0000-4000-8000-00000000000f", "lines": [{"sku": "taco-fish", "name": "Fish", "quantity": 1,
                                                        "unit_price_cents": 450, "tax_rate_bp": 825}], "total_cents": 487},
        "campaign": {"campaign_id": "c1", "bundle_b64": base64.b64encode(signed_bundle()).decode()},
        "rejected": {"seq": 1, "outcome": "dead_letter", "reason": "r"},
        "erase": {"request_id": "r1", "customer_refs": ["c-1"], "device_ids": [], "at": NOW.isoformat()},
        "loyalty_balances": {"as_of": NOW.isoformat(), "balances": [{"customer_ref": "c-1", "points": 10}]},
        "consent": {"customer_ref": "c-1", "granted": False, "wording_version": "withdrawal", "at": NOW.isoformat()},
    }


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False), st.text(max_size=30))
json_any = st.recursive(json_leaf, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
                        max_leaves=12)
huge_text = st.integers(70, 300_000).map(lambda n: "Z" * n)


def wrong_type_for(value) -> st.SearchStrategy:
    """Any JSON value of a different type than ``value`` (ints and bools count as different)."""
    return json_any.filter(lambda v: type(v) is not type(value) and not (type(value) is float and type(v) is int))


@st.composite
def broken_envelopes(draw) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(protocol.DOWN_KINDS))
    message = protocol.envelope(truck=TRUCK, seq=1, kind=kind, key=f"fz-{draw(st.uuids())}", ts=NOW,
                                body=valid_bodies()[kind])
    how = draw(st.sampled_from(["drop", "retype", "version", "huge", "truck", "body", "body_field", "body_drop"]))
    if how == "drop":
        del message[draw(st.sampled_from(sorted(protocol.ENVELOPE)))]
    elif how == "retype":
        name = draw(st.sampled_from(sorted(protocol.ENVELOPE)))
        message[name] = draw(wrong_type_for(message[name]))
    elif how == "version":
        message["v"] = draw(json_any.filter(lambda v: not (type(v) is int and v == 1)))
    elif how == "huge":
        message[draw(st.sampled_from(["id", "truck", "ts"]))] = draw(huge_text)
    elif how == "truck":
        message["truck"] = draw(st.sampled_from(["truck-b", "", "../etc", "truck test"]))
    elif how == "body":
        message["body"] = draw(json_any.filter(lambda v: not isinstance(v, dict)))
    else:
        field = draw(st.sampled_from(sorted(k for k, f in protocol.SCHEMAS[kind].items() if f.required)))
        if how == "body_drop":
            del message["body"][field]
        else:
            message["body"][field] = draw(wrong_type_for(message["body"][field]) | huge_text.filter(lambda _: field != "bundle_b64"))
            if field == "bundle_b64" and isinstance(message["body"][field], str):
                message["body"][field] = "not base64!"
    return protocol.down_topic(TRUCK, kind), protocol.encode(message)


@st.composite
def refused_by_handlers(draw) -> tuple[str, bytes]:
    """Well-formed messages the real handlers must refuse: forged or foreign signature, a bundle whose document
    the campaign service refuses, a wrong prepaid total."""
    which = draw(st.sampled_from(["forged", "stranger", "document", "total"]))
    bodies = valid_bodies()
    if which in ("forged", "stranger", "document"):
        if which == "document":  # genuinely signed, but a document the campaign service refuses
            doc = draw(st.sampled_from([demo_document(trucks=["truck-zz"]), demo_document(format=99),
                                        {k: v for k, v in demo_document().items() if k != "segments"},
                                        demo_document(valid_from="2020-01-01T10:00", valid_until="2020-01-02T10:00")]))
            raw = bytearray(signed_bundle(doc))
        else:
            raw = bytearray(signed_bundle(key=STRANGER_KEY if which == "stranger" else OWNER_KEY))
        if which == "forged":
            raw[draw(st.integers(0, len(raw) - 1))] ^= 1 << draw(st.integers(0, 7))
        kind, body = "campaign", {"campaign_id": "c-bad", "bundle_b64": base64.b64encode(bytes(raw)).decode()}
    else:
        kind, body = "mobile_order", {**bodies["mobile_order"], "order_id": str(draw(st.uuids())),
                                      "total_cents": draw(st.integers(1, 10**7).filter(lambda t: t != 487))}
    message = protocol.envelope(truck=TRUCK, seq=1, kind=kind, key=f"fz-{draw(st.uuids())}", ts=NOW, body=body)
    return protocol.down_topic(TRUCK, kind), protocol.encode(message)


own_topic_payloads = st.one_of(
    st.tuples(st.just(protocol.down_topic(TRUCK, "menu")), st.binary(max_size=3000)),
    st.tuples(st.sampled_from([protocol.down_topic(TRUCK, k) for k in protocol.DOWN_KINDS]),
              json_any.map(lambda v: json.dumps(v).encode())),
    broken_envelopes(),
    refused_by_handlers(),
)
# Topics the broker never delivers to this truck (the ACL): fed to the exact function paho's on_message calls.
foreign_topic_payloads = st.tuples(
    st.sampled_from(["tp/v1/trucks/truck-b/down/menu", "tp/v1/trucks/truck-test/down/nonsense",
                     "tp/v1/trucks/truck-test/up/order", "elsewhere"]),
    st.just(protocol.encode(protocol.envelope(truck=TRUCK, seq=1, kind="ack", key="x", ts=NOW, body={"through_seq": 1}))))


def snapshot() -> tuple:
    # A refused campaign is reported to the hub (campaign_status, accepted false): that row is expected.
    return (Order.select().count(), MenuItem.select().where(MenuItem.active == True).count(),  # noqa: E712
            Outbox.select().where(Outbox.kind != "campaign_status").count(), SyncInbound.select().count(),
            CampaignBundle.select().count())


@pytest.fixture
def real_truck(tmp_path, clock):
    """Register services trusting OWNER_KEY (on tmpfs: thousands of writes, fsync is not under test)."""
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as d:
        svc = build_services(Path(d), clock, OWNER_KEY)
        yield svc
        svc.close()


def real_agent(svc, config: AgentConfig) -> SyncAgent:
    """The agent with the handlers the register process wires (real campaign, menu and register services)."""
    return SyncAgent(svc.db, svc.clock, config, on_campaign=campaign_handler(svc.campaigns), on_menu=menu_handler(svc.menu),
                     on_mobile_order=mobile_order_handler(svc.register, svc.db), poll_s=0.05)


def wait_for(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.fixture
def connected(fleet_broker, real_truck):
    """(agent, hub-login sender): the real agent online on a real broker, and a raw client to publish down."""
    agent = real_agent(real_truck, fast_agent_config(fleet_broker, TRUCK)).start()
    wait_for(lambda: agent.status().connected, 10, "the agent to connect")
    sender = Probe(fleet_broker, "hub", "fuzz-hub")
    yield agent, sender
    sender.close()
    agent.stop()


def test_the_real_campaign_service_installs_a_genuine_bundle_sent_down_once(connected, real_truck):
    agent, sender = connected
    payload = protocol.encode(protocol.envelope(truck=TRUCK, seq=0, kind="campaign", key="c-1", ts=NOW,
                                                body=valid_bodies()["campaign"]))
    for _ in range(2):
        sender.client.publish(protocol.down_topic(TRUCK, "campaign"), payload, qos=1).wait_for_publish(5)
    wait_for(lambda: SyncInbound.select().where(SyncInbound.key == "c-1").exists(), 10, "the campaign to install")
    time.sleep(0.3)
    assert real_truck.campaigns.active_campaign().id == demo_document()["id"]
    assert CampaignBundle.select().count() == 1 and SyncDeadLetter.select().count() == 0


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(case=own_topic_payloads)
def test_fuzzed_down_messages_through_the_broker_only_ever_become_dead_letters(connected, case):
    agent, sender = connected
    topic, payload = case
    before, letters = snapshot(), SyncDeadLetter.select().count()
    sender.client.publish(topic, payload, qos=1).wait_for_publish(5)
    wait_for(lambda: SyncDeadLetter.select().count() > letters, 10, "the dead letter")  # nothing stalls
    assert SyncDeadLetter.select().count() == letters + 1
    assert snapshot() == before
    letter = SyncDeadLetter.select().order_by(SyncDeadLetter.id.desc()).get()
    assert letter.reason and letter.payload_bytes == len(payload)
    assert agent.status().connected


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(case=foreign_topic_payloads)
def test_messages_on_topics_that_are_not_ours_become_dead_letters(real_truck, case):
    agent = real_agent(real_truck, AgentConfig(TRUCK))  # not connected: handle_inbound is what on_message calls
    topic, payload = case
    before, letters = snapshot(), SyncDeadLetter.select().count()
    applied, reason = agent.handle_inbound(topic, payload)
    assert not applied and reason and SyncDeadLetter.select().count() == letters + 1 and snapshot() == before
    reports = [r.payload for r in Outbox.select().where(Outbox.kind == "campaign_status")]
    assert all(r["accepted"] is False for r in reports)  # a refused campaign is reported up, never as installed


def test_a_reused_down_id_with_another_body_is_recorded_as_a_conflict(real_truck):
    agent = real_agent(real_truck, AgentConfig(TRUCK))
    topic = protocol.down_topic(TRUCK, "menu")
    first = protocol.encode(protocol.envelope(truck=TRUCK, seq=0, kind="menu", key="menu-1", ts=NOW, body=valid_bodies()["menu"]))
    other = {"categories": [{"name": "Drinks", "items": [{"sku": "drink-water", "name": "Water", "price_cents": 200}]}]}
    second = protocol.encode(protocol.envelope(truck=TRUCK, seq=0, kind="menu", key="menu-1", ts=NOW, body=other))
    assert agent.handle_inbound(topic, first)[0]
    assert agent.handle_inbound(topic, first) == (True, "already applied")
    applied, reason = agent.handle_inbound(topic, second)
    assert not applied and reason.startswith("conflict: id 'menu-1' was applied with another body")
    assert [i.sku for i in real_truck.menu.items()] == ["taco-fish"]  # the first body stays


def broken_up(draw) -> bytes:
    return draw(st.one_of(st.binary(max_size=2000), json_any.map(lambda v: json.dumps(v).encode()), up_envelopes()))


@st.composite
def up_envelopes(draw) -> bytes:
    """Up envelopes from truck-a with one field broken the ways the field fuzz found (and more)."""
    seq = draw(st.integers(1, 10**6))
    doc = {"v": 1, "id": f"u-{draw(st.uuids())}", "truck": "truck-a", "seq": seq, "kind": "audit",
           "ts": "2026-06-01T17:00:00+00:00", "body": {}}
    how = draw(st.sampled_from(["ts", "id", "seq", "kind", "body", "text"]))
    if how == "ts":
        doc["ts"] = draw(st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "yesterday",
                                          "2026-06-01T17:00:00"]))
    elif how == "id":
        doc["id"] = draw(st.sampled_from(["a\x00b", "x" * 65, "P1." + "Z" * 1750, "", "\ud800"]))
    elif how == "seq":
        doc["seq"] = draw(st.sampled_from([0, -1, 2**62, 2**53, True, "7"]))
    elif how == "kind":
        doc["kind"] = draw(st.sampled_from(["k" * 41, "order", "nonsense"]))
    elif how == "body":
        doc["kind"], doc["body"] = "order", draw(json_any.filter(lambda v: not isinstance(v, dict)) | st.just({"order_id": 5}))
    else:
        doc["body"] = {"note": draw(st.sampled_from(["nul \x00 here", "lone \udc80"]))}
    return json.dumps(doc).encode()  # ASCII JSON: NUL and surrogates travel as \u escapes


@pytest.fixture
def counting_hub(hub):
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def count(outcome: str, key: str) -> None:
        with lock:
            seen[outcome] += 1

    hub.on_ingest = count
    return hub, seen


@pytest.fixture
def truck_a(fleet_broker):
    probe = Probe(fleet_broker, "truck-a", "truck-pos-truck-a")
    yield probe
    probe.close()


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fuzzed_up_messages_each_end_in_one_outcome_at_the_real_hub(truck_a, counting_hub, data):
    hub, seen = counting_hub
    payload = broken_up(data.draw)
    before = sum(seen.values())
    stored = HubMessage.select().where(HubMessage.status == "ok").count()
    truck_a.client.publish(protocol.up_topic("truck-a", "audit"), payload, qos=1).wait_for_publish(5)
    wait_for(lambda: sum(seen.values()) == before + 1, 10, "the hub to settle the message")  # nothing stalls
    assert HubMessage.select().where(HubMessage.status == "ok").count() == stored  # nothing bad is stored as sent
    assert all(d.reason for d in HubDeadLetter.select(HubDeadLetter.reason))
    assert (set(seen) - {"status"}) <= {"rejected", "dead", "duplicate", "conflict"}, seen
