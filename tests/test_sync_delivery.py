"""End to end through a real mosquitto: offline ring-up, broker kills mid-drain, mobile orders, ACL."""

from __future__ import annotations

import random
import signal
import threading
import time
from collections import Counter

import pytest

from sync import protocol
from sync.hub import Hub
from sync.hub.models import HubMessage, HubMobileOrder
from sync.agent.inbound import mobile_order_handler
from sync.transport import BrokerLogin, new_client
from tests.mqtt_fixtures import FAKE_PASSWORDS, fast_services, fleet_broker, hub, hub_config, hub_db, make_agent  # noqa: F401
from truck_pos.store import outbox
from truck_pos.store.models import Order
from truck_pos.store.outbox import Outbox
from truck_pos.store.sync_models import MobileOrderClaim

pytestmark = pytest.mark.mqtt


def wait_for(predicate, timeout_s: float = 30.0, what: str = "condition") -> None:
    """Poll until true; fail with ``what`` (tests never assert on elapsed time, only on outcomes)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def ring_up(services, n: int) -> list[str]:
    skus = [i.sku for i in services.menu.items()]
    uuids = []
    for i in range(n):
        ticket = services.register.open_ticket()
        services.register.add_item(ticket.id, skus[i % len(skus)], 1 + i % 3)
        uuids.append(services.register.pay_card(ticket.id).order_uuid)
    return uuids


def test_orders_rung_up_while_the_broker_is_down_reach_the_hub_once_and_in_order(fleet_broker, hub_db, fast_services, make_agent):
    # One hub process: a plain subscription, which mosquitto 2.0 restores after a restart (a shared
    # one it forgets; see PROTOCOL.md). The hub's persistent session exists before the outage.
    hub = Hub(hub_config(fleet_broker, shared=False)).start()
    assert hub.connected.wait(10)
    fleet_broker.stop()
    agent = make_agent(fleet_broker, fast_services).start()
    uuids = ring_up(fast_services, 2000)
    assert not agent.status().connected and Outbox.select().where(Outbox.sent_utc.is_null()).count() == 2000

    fleet_broker.start()
    wait_for(lambda: agent.status().acked_through_seq == 2000, 90, "the hub to ack all 2,000 orders")
    hub.stop()

    rows = list(HubMessage.select().where(HubMessage.truck == "truck-test").order_by(HubMessage.id))
    assert [r.body["order_id"] for r in rows] == uuids  # each exactly once, in the order rung up
    assert [r.seq for r in rows] == sorted(r.seq for r in rows)
    assert outbox.counts() == {"queued": 0, "unacked": 0, "acked": 2000}


def test_broker_killed_a_dozen_times_during_a_10000_row_drain_loses_and_duplicates_nothing(fleet_broker, hub, services, make_agent):
    body = {"order_id": "", "total_cents": 1234, "lines": [{"sku": "taco-fish", "quantity": 2}], "note": "x" * 200}
    with services.db.atomic():
        for i in range(10_000):
            outbox.enqueue("audit", {**body, "order_id": f"o-{i}"}, now=services.clock.now())
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def count(outcome: str, key: str) -> None:
        with lock:
            seen[outcome] += 1

    hub.on_ingest = count
    agent = make_agent(fleet_broker).start()
    rng = random.Random(4)
    kills = 0
    for threshold in range(600, 9_000, 700):  # kill at 12 points spread over the drain
        wait_for(lambda: seen["new"] >= threshold, 60, f"{threshold} messages at the hub")
        fleet_broker.kill(rng.choice([signal.SIGKILL, signal.SIGTERM]))
        kills += 1
        time.sleep(rng.uniform(0.0, 0.3))
        fleet_broker.start()
    wait_for(lambda: agent.status().acked_through_seq == 10_000, 120, "the hub to ack all 10,000 rows")

    assert kills >= 10
    keys = [k for (k,) in HubMessage.select(HubMessage.key).tuples()]
    assert len(keys) == len(set(keys)) == 10_000  # 0 duplicated
    assert set(keys) == {k for (k,) in Outbox.select(Outbox.key).tuples()}  # 0 lost
    assert Outbox.select().count() == 10_000 and outbox.counts()["acked"] == 10_000  # nothing deleted
    print(f"\nbroker kills: {kills}; hub saw {seen['new']} new and {seen['duplicate']} re-deliveries")


MO_1, MO_2 = "6f1d0c1e-0000-4000-8000-000000000001", "6f1d0c1e-0000-4000-8000-000000000002"


def mobile_body(order_id: str, claim: str = "K7Q2") -> dict:
    # 2 x Baja Fish Taco at 4.50 + 8.25 % tax (exclusive) = 9.00 + 0.74
    return {"order_id": order_id, "lines": [{"sku": "taco-fish", "name": "Baja Fish Taco", "quantity": 2,
                                            "unit_price_cents": 450, "tax_rate_bp": 825}],
            "total_cents": 974, "customer_ref": "cust-42", "claim": claim, "payment_ref": "stripe-pi-test"}


def test_mobile_order_sent_while_the_truck_is_offline_is_recorded_once_when_it_reconnects(fleet_broker, hub, services, make_agent):
    handlers = {"on_mobile_order": mobile_order_handler(services.register, services.db)}
    first = make_agent(fleet_broker, handlers=handlers).start()  # establishes the persistent session
    wait_for(lambda: first.status().connected, 10, "the first connection")
    first.stop()

    hub.send_mobile_order("truck-test", mobile_body(MO_1)).wait_for_publish(5)
    time.sleep(0.3)
    assert not Order.select().where(Order.uuid == MO_1).exists()

    agent = make_agent(fleet_broker, handlers=handlers).start()
    wait_for(lambda: Order.select().where(Order.uuid == MO_1).exists(), 15, "the mobile order to arrive")
    wait_for(lambda: HubMobileOrder.get(HubMobileOrder.order_id == MO_1).delivered_utc is not None, 15,
             "the truck's order record to reach the hub")
    hub.resend_mobile_orders(older_than_s=0)  # a resend (e.g. after a broker overflow) changes nothing
    hub.send_mobile_order("truck-test", mobile_body(MO_2, claim="ZZ99"))
    wait_for(lambda: Order.select().where(Order.uuid == MO_2).exists(), 15, "the second mobile order")

    order = Order.get(Order.uuid == MO_1)
    assert Order.select().where(Order.uuid == MO_1).count() == 1
    assert (order.channel, order.status, order.total_cents) == ("mobile", "paid", 974)
    assert [t.kind for t in order.tenders] == ["prepaid"]
    assert MobileOrderClaim.get(MobileOrderClaim.order_uuid == MO_1).claim == "K7Q2"
    assert "claim K7Q2" in order.note
    assert agent.status().last_error == ""


def test_truck_a_cannot_publish_under_truck_b_and_the_hub_never_sees_it(fleet_broker, hub):
    login = BrokerLogin("127.0.0.1", fleet_broker.port, "truck-a", FAKE_PASSWORDS["truck-a"])
    client = new_client("truck-pos-truck-a", login)
    client.connect(login.host, login.port)
    client.loop_start()
    try:
        forged = protocol.encode(protocol.envelope(truck="truck-b", seq=1, kind="audit", key="forged-1",
                                                   ts=hub.clock.now(), body={}))
        denied = client.publish(protocol.up_topic("truck-b", "audit"), forged, qos=1)
        own = protocol.encode(protocol.envelope(truck="truck-a", seq=1, kind="audit", key="own-1",
                                                ts=hub.clock.now(), body={}))
        allowed = client.publish(protocol.up_topic("truck-a", "audit"), own, qos=1)
        denied.wait_for_publish(5)
        allowed.wait_for_publish(5)
        wait_for(lambda: HubMessage.select().where(HubMessage.key == "own-1").exists(), 10, "truck A's own message")
    finally:
        client.disconnect()
        client.loop_stop()
    assert not HubMessage.select().where(HubMessage.truck == "truck-b").exists()
    assert not HubMessage.select().where(HubMessage.key == "forged-1").exists()


def test_a_wrong_password_is_refused_and_reported_in_plain_words(fleet_broker, services, make_agent):
    bad_login = BrokerLogin("127.0.0.1", fleet_broker.port, "truck-test", "not-the-password", keepalive_s=5)
    agent = make_agent(fleet_broker, login=bad_login).start()
    wait_for(lambda: "refused the login" in agent.status().last_error, 10, "the refusal")
    status = agent.status()
    assert not status.connected
    assert "'truck-test'" in status.last_error and "password_file" in status.last_error
    assert "not-the-password" not in status.last_error


def test_rows_the_broker_took_but_no_hub_ever_saw_are_sent_again_after_a_truck_restart(fleet_broker, hub_db, services, make_agent):
    with services.db.atomic():
        for i in range(50):
            outbox.enqueue("audit", {"i": i}, now=services.clock.now())
    first = make_agent(fleet_broker).start()  # no hub subscribed: the broker PUBACKs and drops them
    wait_for(lambda: outbox.counts()["queued"] == 0, 15, "PUBACKs for all rows")
    first.stop()
    assert outbox.counts() == {"queued": 0, "unacked": 50, "acked": 0}
    assert not first.status().connected

    hub = Hub(hub_config(fleet_broker)).start()
    try:
        assert hub.connected.wait(10)
        agent = make_agent(fleet_broker, ack_timeout_s=60).start()  # the restart alone re-sends unacked rows
        wait_for(lambda: agent.status().acked_through_seq == 50, 15, "the hub to ack the re-sent rows")
    finally:
        hub.stop()
    assert HubMessage.select().count() == 50 and outbox.counts()["acked"] == 50
