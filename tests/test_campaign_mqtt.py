"""The bundle lifecycle over the real MQTT inbound path: a real mosquitto (devtools/local_broker.py), the real
SyncAgent with the campaign handler the appliance wires, bundles published as the hub publishes them (retained)."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
import time
import uuid

import pytest

from campaign_support import build_services, demo_document, owner  # noqa: F401 (fixture)
from devtools.local_broker import MosquittoBroker
from sync import protocol
from sync.agent import AgentConfig, SyncAgent
from sync.transport import BrokerLogin, new_client
from truck_pos.bootstrap import campaign_handler
from truck_pos.domain.bundle import sign_bundle
from truck_pos.store.sync_models import SyncDeadLetter, SyncInbound

TRUCK = "truck-test"


def doc(cid: str, version: int, valid_from: str, valid_until: str):
    return demo_document(id=cid, name=cid, version=version, valid_from=valid_from, valid_until=valid_until, groups=[],
                         segments=[{"name": "facebook_likers", "channel": "facebook", "code": f"CODE-{cid}",
                                    "benefit": {"kind": "percent_off", "percent": 10}}])


@pytest.fixture
def wired(tmp_path, clock, owner):
    broker = MosquittoBroker(tmp_path).start()
    svc = build_services(tmp_path, clock, owner, truck_id=TRUCK)
    login = BrokerLogin("127.0.0.1", broker.port, keepalive_s=5)
    agent = SyncAgent(svc.db, svc.clock, AgentConfig(TRUCK, login, reconnect_min_s=0.1, reconnect_max_s=0.5),
                      on_campaign=campaign_handler(svc.campaigns), poll_s=0.05).start()
    publisher = new_client(f"owner-{uuid.uuid4().hex[:8]}", login)
    publisher.connect("127.0.0.1", broker.port)
    publisher.loop_start()
    try:
        yield svc, publisher
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        agent.stop()
        svc.close()
        broker.stop()


def publish(publisher, document, owner) -> tuple[bool, str]:
    """Publish a signed bundle the way the hub does; wait for the truck's verdict (applied, or dead letter reason)."""
    key = str(uuid.uuid4())
    body = {"campaign_id": document["id"], "bundle_b64": base64.b64encode(sign_bundle(document, owner)).decode("ascii")}
    env = protocol.envelope(truck=TRUCK, seq=0, kind="campaign", key=key, ts=datetime.now(timezone.utc), body=body)
    letters = SyncDeadLetter.select().count()
    publisher.publish(protocol.down_topic(TRUCK, "campaign"), protocol.encode(env), qos=1, retain=True).wait_for_publish(10)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if SyncInbound.select().where(SyncInbound.key == key).exists():
            return True, ""
        if SyncDeadLetter.select().count() > letters:
            return False, SyncDeadLetter.select().order_by(SyncDeadLetter.id.desc()).first().reason
        time.sleep(0.05)
    raise AssertionError("the truck never answered the campaign message")


def test_each_lifecycle_case_over_mqtt(wired, owner):
    svc, publisher = wired
    assert publish(publisher, doc("today", 5, "2026-06-01", "2026-06-01"), owner) == (True, "")
    assert svc.campaigns.active_campaign().id == "today"

    applied, reason = publish(publisher, doc("gone", 6, "2026-05-01", "2026-05-31"), owner)
    assert not applied and reason.startswith("expired: campaign gone ended 2026-06-01 04:00")

    assert publish(publisher, doc("tomorrow", 7, "2026-06-02", "2026-06-02"), owner) == (True, "")
    assert svc.campaigns.active_campaign().id == "today"  # tomorrow's is held, not live
    assert [c.id for c in svc.campaigns.upcoming()] == ["tomorrow"]

    applied, reason = publish(publisher, doc("today", 5, "2026-06-01", "2026-06-01"), owner)  # a replay of today's
    assert not applied and reason.startswith("older than seen: version 5 is below version 7 (campaign tomorrow)")

    changed = doc("tomorrow", 7, "2026-06-02", "2026-06-02")
    changed["segments"][0]["benefit"]["percent"] = 90
    applied, reason = publish(publisher, changed, owner)
    assert not applied and reason.startswith("same version 7 as the bundle already installed but different content")

    svc.clock.set(svc.clock.now().replace(day=2, hour=9))  # 04:00 in Chicago on June 2
    assert svc.campaigns.active_campaign().id == "tomorrow"
    assert svc.campaigns.active_campaign().segments[0].benefit.percent == 10
