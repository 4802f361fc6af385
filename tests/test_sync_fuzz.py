"""Hostile inbound payloads: the agent never crashes, each lands in dead-letter, nothing else changes."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timezone

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync import protocol
from sync.agent import SyncAgent
from sync.agent.inbound import menu_handler, mobile_order_handler
from tests.mqtt_fixtures import FAKE_PASSWORDS, fast_services, fleet_broker, make_agent  # noqa: F401
from truck_pos.store.models import MenuItem, Order
from truck_pos.store.outbox import Outbox
from truck_pos.store.sync_models import SyncDeadLetter, SyncInbound

TRUCK = "truck-test"
NOW = datetime(2026, 6, 1, 17, 0, tzinfo=timezone.utc)
OWNER_KEY = Ed25519PrivateKey.generate()


class SignedBundleStandIn:
    """Stands in for CampaignService.install_bundle: 64-byte Ed25519 signature + JSON, verified for real."""

    def __init__(self, public_key):
        self.public_key = public_key
        self.installed: list[str] = []

    def __call__(self, raw: bytes) -> tuple[bool, str]:
        signature, document = raw[:64], raw[64:]
        try:
            self.public_key.verify(signature, document)
        except InvalidSignature:
            return False, "campaign bundle signature does not verify with the owner's key"
        self.installed.append(json.loads(document)["campaign_id"])
        return True, "installed"


def signed_bundle(doc: dict) -> bytes:
    document = json.dumps(doc).encode()
    return OWNER_KEY.sign(document) + document


def valid_bodies() -> dict[str, dict]:
    return {
        "ack": {"through_seq": 0},
        "menu": {"categories": [{"name": "Tacos", "items": [{"sku": "taco-fish", "name": "Fish", "price_cents": 450}]}]},
        "mobile_order": {"order_id": "6f1d0c1e-0000-4000-8000-00000000000f", "lines": [{"sku": "taco-fish", "name": "Fish", "quantity": 1,
                                                        "unit_price_cents": 450, "tax_rate_bp": 825}], "total_cents": 487},
        "campaign": {"campaign_id": "c1", "bundle_b64": base64.b64encode(signed_bundle({"campaign_id": "c1"})).decode()},
        "erase": {"request_id": "r1", "customer_refs": ["c-1"], "device_ids": [], "at": NOW.isoformat()},
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
    """Well-formed messages the handlers must refuse: forged signature, wrong prepaid total, bad menu."""
    which = draw(st.sampled_from(["forged", "total", "menu_type"]))
    bodies = valid_bodies()
    if which == "forged":
        raw = bytearray(signed_bundle({"campaign_id": "c-forged"}))
        raw[draw(st.integers(0, len(raw) - 1))] ^= 1 << draw(st.integers(0, 7))
        kind, body = "campaign", {"campaign_id": "c-forged", "bundle_b64": base64.b64encode(bytes(raw)).decode()}
    elif which == "total":
        kind, body = "mobile_order", {**bodies["mobile_order"], "order_id": str(draw(st.uuids())),
                                      "total_cents": draw(st.integers(1, 10**7).filter(lambda t: t != 487))}
    else:
        kind, body = "menu", {"categories": [{"name": "X", "items": "not a list"}]}
    message = protocol.envelope(truck=TRUCK, seq=1, kind=kind, key=f"fz-{draw(st.uuids())}", ts=NOW, body=body)
    return protocol.down_topic(TRUCK, kind), protocol.encode(message)


payloads = st.one_of(
    st.tuples(st.just(protocol.down_topic(TRUCK, "menu")), st.binary(max_size=3000)),
    st.tuples(st.sampled_from([protocol.down_topic(TRUCK, k) for k in protocol.DOWN_KINDS]),
              json_any.map(lambda v: json.dumps(v).encode())),
    st.tuples(st.sampled_from(["tp/v1/trucks/truck-b/down/menu", "tp/v1/trucks/truck-test/down/nonsense",
                               "tp/v1/trucks/truck-test/up/order", "elsewhere"]),
              st.just(protocol.encode(protocol.envelope(truck=TRUCK, seq=1, kind="ack", key="x", ts=NOW, body={"through_seq": 1})))),
    broken_envelopes(),
    refused_by_handlers(),
)


def snapshot() -> tuple:
    # A refused campaign is reported to the hub (campaign_status, accepted false): that row is expected.
    return (Order.select().count(), MenuItem.select().where(MenuItem.active == True).count(),  # noqa: E712
            Outbox.select().where(Outbox.kind != "campaign_status").count(), SyncInbound.select().count())


@pytest.fixture
def fuzz_agent(fast_services):
    """An agent (not connected: handle_inbound is the exact function paho's on_message calls)."""
    from sync.agent import AgentConfig

    campaigns = SignedBundleStandIn(OWNER_KEY.public_key())
    agent = SyncAgent(fast_services.db, fast_services.clock, AgentConfig(TRUCK), on_campaign=campaigns,
                      on_menu=menu_handler(fast_services.menu),
                      on_mobile_order=mobile_order_handler(fast_services.register, fast_services.db))
    return agent, campaigns


def test_stand_in_campaign_handler_accepts_a_genuine_bundle_once(fuzz_agent):
    agent, campaigns = fuzz_agent
    topic = protocol.down_topic(TRUCK, "campaign")
    payload = protocol.encode(protocol.envelope(truck=TRUCK, seq=0, kind="campaign", key="c-1", ts=NOW,
                                                body=valid_bodies()["campaign"]))
    assert agent.handle_inbound(topic, payload)[0]
    assert agent.handle_inbound(topic, payload) == (True, "already applied")
    assert campaigns.installed == ["c1"] and SyncDeadLetter.select().count() == 0


@settings(max_examples=2000, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(case=payloads)
def test_fuzzed_inbound_payloads_only_ever_become_dead_letters(fuzz_agent, case):
    agent, campaigns = fuzz_agent
    topic, payload = case
    before, letters = snapshot(), SyncDeadLetter.select().count()
    applied, reason = agent.handle_inbound(topic, payload)
    assert not applied and reason
    assert SyncDeadLetter.select().count() == letters + 1
    assert snapshot() == before and campaigns.installed == []
    letter = SyncDeadLetter.select().order_by(SyncDeadLetter.id.desc()).get()
    assert letter.reason == reason and letter.payload_bytes == len(payload)
    reports = [r.payload for r in Outbox.select().where(Outbox.kind == "campaign_status")]
    assert all(r["accepted"] is False for r in reports)


@pytest.mark.mqtt
def test_garbage_through_the_real_broker_leaves_the_agent_connected_and_working(fleet_broker, fast_services, make_agent):
    import paho.mqtt.client as mqtt

    agent = make_agent(fleet_broker, fast_services, handlers={"on_menu": menu_handler(fast_services.menu)}).start()
    deadline = time.monotonic() + 10
    while not agent.status().connected and time.monotonic() < deadline:
        time.sleep(0.05)
    sender = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fuzz-hub", protocol=mqtt.MQTTv5)
    sender.username_pw_set("hub", FAKE_PASSWORDS["hub"])
    sender.connect("127.0.0.1", fleet_broker.port)
    sender.loop_start()
    garbage = [b"", b"\x00\xff", b"[]", b'{"v":1}', b"null", "\u2603".encode() * 1000] * 10
    for payload in garbage:
        sender.publish(protocol.down_topic(TRUCK, "mobile_order"), payload, qos=1).wait_for_publish(5)
    menu = protocol.encode(protocol.envelope(truck=TRUCK, seq=0, kind="menu", key="menu-ok", ts=NOW, body=valid_bodies()["menu"]))
    sender.publish(protocol.down_topic(TRUCK, "menu"), menu, qos=1).wait_for_publish(5)
    deadline = time.monotonic() + 15
    while not SyncInbound.select().where(SyncInbound.key == "menu-ok").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    sender.disconnect()
    sender.loop_stop()
    assert SyncDeadLetter.select().count() == len(garbage)
    assert [i.sku for i in fast_services.menu.items()] == ["taco-fish"]
    assert agent.status().connected
