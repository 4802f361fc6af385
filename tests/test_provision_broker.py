"""A provisioned truck against a real mosquitto: its login works and its ACL keeps it in its own topics."""

from __future__ import annotations

import queue
import socket
import subprocess
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from devtools.local_broker import MOSQUITTO, free_port
from truck_pos.cli.provision import ProvisionRequest, add_acl_entry, provision, set_broker_password
from truck_pos.keyfiles import read_mqtt_password

pytestmark = [pytest.mark.mqtt]  # mosquitto lives in /usr/sbin on Debian, often off a user's PATH: use its full path
HUB = ("hub", "hub-test-password")


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Two provisioned trucks (one hashed by mosquitto_passwd, one by the Python fallback), a running broker."""
    public = tmp_path / "campaign_public.pem"
    public.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    passwd, acl = tmp_path / "broker" / "passwd", tmp_path / "broker" / "acl"
    request = dict(out_dir=tmp_path / "out", campaign_public_key=public, passwd_file=passwd, acl_file=acl)
    first = provision(ProvisionRequest(truck_id="truck-07", **request))
    monkeypatch.setenv("PATH", "/nonexistent")  # no mosquitto_passwd: the Python hash must be accepted too
    second = provision(ProvisionRequest(truck_id="truck-08", **request))
    monkeypatch.undo()
    assert (first.hashed_with, second.hashed_with) == ("mosquitto_passwd", "python")
    set_broker_password(passwd, *HUB)
    add_acl_entry(acl, "hub")
    with acl.open("a") as out:
        out.write("topic readwrite tp/v1/#\n")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n"
                    "persistence false\nuser root\nlog_dest stderr\n")
    broker = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield port, {p.truck_id: read_mqtt_password(p.files["password"]) for p in (first, second)}
    broker.terminate()
    broker.wait(timeout=10)


def connect(port: int, user: str, password: str, inbox: queue.Queue | None = None) -> tuple[mqtt.Client, mqtt.ReasonCode]:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{user}", protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    result: queue.Queue = queue.Queue()
    client.on_connect = lambda c, u, flags, rc, props: result.put(rc)
    client.on_subscribe = lambda c, u, mid, rcs, props: result.put(rcs)
    if inbox is not None:
        client.on_message = lambda c, u, msg: inbox.put(msg.topic)
    client.connect("127.0.0.1", port)
    client.loop_start()
    client._test_results = result  # the queue this client's callbacks report to
    return client, result.get(timeout=10)


def subscribe(client: mqtt.Client, topic: str) -> mqtt.ReasonCode:
    client.subscribe(topic, qos=1)
    return client._test_results.get(timeout=10)[0]


def test_truck_publishes_and_reads_only_its_own_topics(fleet) -> None:
    port, passwords = fleet
    hub_inbox, truck_inbox = queue.Queue(), queue.Queue()
    hub, rc = connect(port, *HUB, inbox=hub_inbox)
    assert not rc.is_failure
    assert not subscribe(hub, "tp/v1/#").is_failure
    truck, rc = connect(port, "truck-07", passwords["truck-07"], inbox=truck_inbox)
    assert not rc.is_failure
    subscribe(truck, "tp/v1/trucks/truck-07/down/#")
    subscribe(truck, "tp/v1/trucks/truck-08/down/#")  # granted, but the broker delivers nothing the ACL forbids
    truck.publish("tp/v1/trucks/truck-08/up/order", b"{}", qos=1).wait_for_publish(10)  # dropped by the ACL
    truck.publish("tp/v1/trucks/truck-07/up/order", b"{}", qos=1).wait_for_publish(10)
    truck.publish("tp/v1/trucks/truck-07/status", b"online", qos=1).wait_for_publish(10)
    assert [hub_inbox.get(timeout=10), hub_inbox.get(timeout=10)] == ["tp/v1/trucks/truck-07/up/order",
                                                                      "tp/v1/trucks/truck-07/status"]
    hub.publish("tp/v1/trucks/truck-08/down/ack", b"{}", qos=1).wait_for_publish(10)
    hub.publish("tp/v1/trucks/truck-07/down/ack", b"{}", qos=1).wait_for_publish(10)
    assert truck_inbox.get(timeout=10) == "tp/v1/trucks/truck-07/down/ack"
    # The hub's own two down messages arrived after the truck's; nothing else was delivered anywhere.
    assert sorted([hub_inbox.get(timeout=10), hub_inbox.get(timeout=10)]) == ["tp/v1/trucks/truck-07/down/ack",
                                                                              "tp/v1/trucks/truck-08/down/ack"]
    truck.publish("tp/v1/trucks/truck-07/up/audit", b"{}", qos=1).wait_for_publish(10)  # a marker: all before it is in
    assert hub_inbox.get(timeout=10) == "tp/v1/trucks/truck-07/up/audit"
    assert hub_inbox.empty() and truck_inbox.empty()
    for client in (truck, hub):
        client.disconnect()
        client.loop_stop()


def test_python_hashed_login_works_and_a_wrong_password_is_refused(fleet) -> None:
    port, passwords = fleet
    good, rc = connect(port, "truck-08", passwords["truck-08"])
    assert not rc.is_failure
    good.disconnect()
    good.loop_stop()
    bad, rc = connect(port, "truck-08", passwords["truck-07"])
    assert rc.is_failure
    bad.loop_stop()
