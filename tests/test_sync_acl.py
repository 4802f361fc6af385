"""The fleet ACL on a real mosquitto (dynamic security, sync/broker_acl.py): a truck cannot grab the fleet's messages.

Probes are what a compromised truck would try: join the hub's shared group, subscribe to ``#`` or to
another truck's down topics, log in under another truck's client id. Each is refused by the broker,
and the hub still gets every message of the other truck.
"""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.subscribeoptions import SubscribeOptions

from sync import protocol
from sync.hub.models import HubMessage
from sync.transport import BrokerLogin, new_client
from tests.mqtt_fixtures import FAKE_PASSWORDS, fast_services, fleet_broker, hub, hub_config, hub_db, make_agent  # noqa: F401
from truck_pos.store.models import Order

pytestmark = pytest.mark.mqtt

GRABS = [protocol.hub_subscription(shared=True),  # the hub's own shared group
         "#", "tp/v1/trucks/#", protocol.hub_subscription(shared=False),
         protocol.truck_subscription("truck-b"), f"$share/hub/{protocol.truck_subscription('truck-b')}",
         "$share/mine/tp/v1/trucks/+/up/#", "$SYS/#"]


def wait_for(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


class Probe:
    """A raw MQTT v5 client logging in as ``user``; records CONNACK, SUBACKs and anything delivered."""

    def __init__(self, broker, user: str, client_id: str):
        self.connack: list = []
        self.subacks: dict[int, list] = {}
        self.received: list[str] = []
        self.done = threading.Event()
        self.client = new_client(client_id, BrokerLogin("127.0.0.1", broker.port, user, FAKE_PASSWORDS[user]))
        self.client.on_connect = lambda c, u, f, rc, p: (self.connack.append(rc), self.done.set())
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.__setitem__(mid, list(rcs))
        self.client.on_message = lambda c, u, m: self.received.append(m.topic)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert self.done.wait(10)

    def subscribe(self, topic: str) -> list:
        _, mid = self.client.subscribe(topic, options=SubscribeOptions(qos=1))
        wait_for(lambda: mid in self.subacks, 10, f"the SUBACK for {topic}")
        return self.subacks[mid]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_a_truck_cannot_join_the_hub_group_or_read_other_topics_and_the_hub_gets_everything(fleet_broker, hub):
    thief = Probe(fleet_broker, "truck-a", "truck-pos-truck-a")
    try:
        assert not thief.connack[0].is_failure
        refused = {topic: thief.subscribe(topic)[0] for topic in GRABS}
        assert all(rc.is_failure and rc.value == 0x87 for rc in refused.values()), refused  # 0x87: not authorized
        assert not thief.subscribe(protocol.truck_subscription("truck-a"))[0].is_failure  # its own down topics: fine

        sender = Probe(fleet_broker, "truck-b", "truck-pos-truck-b")
        keys = [f"b-{i}" for i in range(40)]
        for i, key in enumerate(keys, start=1):
            env = protocol.envelope(truck="truck-b", seq=i, kind="audit", key=key, ts=hub.clock.now(), body={})
            sender.client.publish(protocol.up_topic("truck-b", "audit"), protocol.encode(env), qos=1).wait_for_publish(5)
        wait_for(lambda: HubMessage.select().where(HubMessage.truck == "truck-b").count() == 40, 20, "all 40 at the hub")
        sender.close()
        time.sleep(0.3)
    finally:
        thief.close()
    assert sorted(k for (k,) in HubMessage.select(HubMessage.key).where(HubMessage.truck == "truck-b").tuples()) == sorted(keys)
    assert thief.received == []


MO = "6f1d0c1e-0000-4000-8000-00000000000b"


def test_logging_in_with_another_trucks_client_id_is_refused_and_its_session_is_untouched(
        fleet_broker, hub, fast_services, make_agent):
    from sync.agent.inbound import mobile_order_handler

    svc = fast_services
    handlers = {"on_mobile_order": mobile_order_handler(svc.register, svc.db)}
    victim = make_agent(fleet_broker, svc, handlers=handlers).start()  # truck-test, client id truck-pos-truck-test
    wait_for(lambda: victim.status().connected, 10, "the victim to connect")
    victim.stop()  # offline: its persistent session holds what is sent now
    body = {"order_id": MO, "lines": [{"sku": "taco-fish", "name": "Fish", "quantity": 1, "unit_price_cents": 450,
                                        "tax_rate_bp": 825}], "total_cents": 487}
    hub.send_mobile_order("truck-test", body).wait_for_publish(5)

    thief = Probe(fleet_broker, "truck-a", "truck-pos-truck-test")  # another truck's login, the victim's id
    assert thief.connack[0].is_failure and thief.connack[0].value == 0x87, thief.connack  # 0x87: not authorized
    assert thief.received == []
    thief.close()
    other_id = Probe(fleet_broker, "truck-a", "anything-else")  # a truck login under any other id
    assert other_id.connack[0].is_failure
    other_id.close()

    agent = make_agent(fleet_broker, svc, handlers=handlers).start()
    wait_for(lambda: Order.select().where(Order.uuid == MO).exists(), 15, "the queued mobile order to reach its truck")
    assert agent.status().connected and Order.select().where(Order.uuid == MO).count() == 1


def test_a_truck_cannot_publish_down_to_another_truck_or_up_as_it(fleet_broker, hub):
    thief = Probe(fleet_broker, "truck-a", "truck-pos-truck-a")
    victim = Probe(fleet_broker, "truck-b", "truck-pos-truck-b")
    try:
        victim.subscribe(protocol.truck_subscription("truck-b"))
        env = protocol.envelope(truck="truck-b", seq=1, kind="menu", key="forged-menu", ts=hub.clock.now(),
                                body={"categories": []})
        info = thief.client.publish(protocol.down_topic("truck-b", "menu"), protocol.encode(env), qos=1)
        info.wait_for_publish(5)
        forged = protocol.envelope(truck="truck-b", seq=1, kind="audit", key="forged-up", ts=hub.clock.now(), body={})
        thief.client.publish(protocol.up_topic("truck-b", "audit"), protocol.encode(forged), qos=1).wait_for_publish(5)
        time.sleep(0.5)
    finally:
        thief.close()
        victim.close()
    assert protocol.down_topic("truck-b", "menu") not in victim.received
    assert not HubMessage.select().where(HubMessage.key == "forged-up").exists()


def test_the_agents_client_id_is_the_one_the_acl_binds(fleet_broker, hub, fast_services, make_agent):
    from sync.broker_acl import truck_client_id

    agent = make_agent(fleet_broker, fast_services)
    assert agent.config.effective_client_id == truck_client_id("truck-test")
    agent.start()
    wait_for(lambda: agent.status().connected, 10, "the agent to log in under its bound client id")
    assert isinstance(agent.client, mqtt.Client)


def test_a_truck_provisioned_into_the_dynsec_file_logs_in_bound_to_its_client_id(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from devtools.local_broker import MosquittoBroker
    from sync.broker_acl import add_hub
    from truck_pos.cli.provision import ProvisionRequest, provision
    from truck_pos.keyfiles import read_mqtt_password

    public = tmp_path / "campaign_public.pem"
    public.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    dynsec = tmp_path / "broker" / "dynamic-security.json"
    request = dict(out_dir=tmp_path / "out", campaign_public_key=public, passwd_file=tmp_path / "broker" / "passwd",
                   acl_file=tmp_path / "broker" / "acl", dynsec_file=dynsec)
    done = provision(ProvisionRequest(truck_id="truck-07", **request))
    add_hub(dynsec, "hub", FAKE_PASSWORDS["hub"])
    assert dynsec.stat().st_mode & 0o077 == 0  # password hashes: owner only
    password = read_mqtt_password(done.files["password"])
    assert password not in dynsec.read_text("utf-8")
    broker = MosquittoBroker(tmp_path, users={"hub": FAKE_PASSWORDS["hub"]}, dynsec=True)
    (broker.dir / "dynamic-security.json").write_bytes(dynsec.read_bytes())  # the provisioned document
    broker.start()
    try:
        FAKE_PASSWORDS["truck-07"] = password  # Probe reads passwords from here
        own = Probe(broker, "truck-07", "truck-pos-truck-07")
        assert not own.connack[0].is_failure
        assert own.subscribe(protocol.hub_subscription(shared=True))[0].is_failure
        assert not own.subscribe(protocol.truck_subscription("truck-07"))[0].is_failure
        own.close()
        elsewhere = Probe(broker, "truck-07", "some-other-id")
        assert elsewhere.connack[0].is_failure
        elsewhere.close()
    finally:
        FAKE_PASSWORDS.pop("truck-07", None)
        broker.kill()
