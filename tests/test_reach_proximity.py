"""Proximity -> code, end to end with real parts: a truck (its services, BLE advertisements through the proximity
service, its sync agent) and the hub (ingest over a real mosquitto, the send scheduler's threads, a push endpoint
that decrypts). The code the phone gets is redeemed at the truck; the report gives the sale to segment 4
(nearby_devices), the push channel and the variant that person was sent."""

from __future__ import annotations

import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from campaign_support import build_services
from sync.hub import Hub
from sync.hub import customers as cu
from sync.hub.messaging import campaigns, report
from sync.hub.messaging.document import truck_document
from sync.hub.messaging.models import SENT, HubProximity, HubSend
from sync.hub.messaging.proximity import geo_report
from sync.hub.messaging.scheduler import Scheduler
from sync.hub.models import HubMessage
from tests.mqtt_fixtures import fleet_broker, hub_config, make_agent  # noqa: F401 (fixtures)
from tests.reach.db import PG_ONLY, PG_URL, fresh_database
from tests.reach.servers import HttpSink, SmtpSink
from tests.reach.world import campaign_document, reach_config
from truck_pos.devices.ble import Advertisement
from truck_pos.domain.bundle import sign_bundle
from truck_pos.domain.codes import CodeAccepted, PersonalCode, issue_personal_code
from truck_pos.domain.tokens import derive_token, encode_service_data, slot_of

pytestmark = [PG_ONLY, pytest.mark.mqtt]
PHONE = {"device_id": "phone-1", "segment": "nearby_devices", "secret": "22" * 32}


def wait_for(condition, limit_s: float, what: str) -> None:
    end = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < end, f"gave up waiting for {what}"
        time.sleep(0.05)


def visit(prox, clock, device: dict, seconds: int = 20) -> None:
    """A phone standing at the window, advertising its rotating token 3 times a second."""
    secret = bytes.fromhex(device["secret"])
    for _ in range(seconds * 3):
        now = clock.advance(1 / 3).timestamp()
        prox.on_advertisement(Advertisement(now, "11:22:33:44:55:66", -60,
                                            encode_service_data(derive_token(secret, slot_of(now, 300)), -59), None))
        prox.tick(now)


@pytest.fixture
def world(tmp_path, clock, fleet_broker, make_agent):  # noqa: F811 - pytest fixtures
    db = fresh_database(PG_URL)
    owner = Ed25519PrivateKey.generate()
    document = campaign_document()
    document["messages"] = [m for m in document["messages"] if m.get("trigger") == "proximity"]  # only the code on arrival
    near = next(m for m in document["messages"] if m["id"] == "near-push")
    near["variants"] = [{"name": "warm", "split": 50}, {"name": "short", "split": 50, "template": "Yours: {{ code }}"}]
    truck = build_services(tmp_path, clock, owner)
    assert truck.campaigns.install_bundle(sign_bundle(truck_document(document), owner)).accepted
    hub = Hub(hub_config(fleet_broker), clock=clock).start()
    with SmtpSink() as smtp, HttpSink() as http:
        scheduler = Scheduler(reach_config(smtp, http, owner, workers=1), clock).start()
        campaigns.schedule(document, clock.now())
        agent = make_agent(fleet_broker, truck).start()
        yield truck, hub, http, clock, owner
        agent.stop()
        scheduler.stop()
    hub.stop()
    truck.close()
    db.close()


def test_a_phone_near_the_truck_gets_its_code_by_push_and_the_sale_is_attributed_to_segment_4(world):
    truck, hub, http, clock, owner = world
    ref, _ = truck.registration.register(email="nia@example.com", phone="(312) 555-0177")
    wait_for(lambda: cu.find("truck_ref", ref) is not None, 20, "the registration to reach the hub")
    nia = cu.find("truck_ref", ref)
    browser = http.browser("nia")
    cu.add_push_subscription(nia, browser.endpoint, browser.p256dh, browser.auth_b64)  # as the customer page does
    cu.record_consent(nia, "push", True, source="web", wording_version="push-v1", at=clock.now())

    truck.proximity.load_devices([{**PHONE, "customer_ref": ref}])
    visit(truck.proximity, clock, {**PHONE, "customer_ref": ref})
    wait_for(lambda: http.on("/push/nia"), 30, "the push message")
    (push,) = http.on("/push/nia")
    payload = json.loads(push.plaintext)
    sends = HubSend.select().where(HubSend.customer == nia.id, HubSend.trigger == "proximity")
    # The outcome is committed after the endpoint answered (with the next few, or within 50 ms): wait for it.
    wait_for(lambda: [s.state for s in sends.clone()] == [SENT], 10, "the send to be marked sent")
    (send,) = sends.clone()
    assert (send.segment, send.channel, send.state) == ("nearby_devices", "push", SENT)
    code = issue_personal_code(PersonalCode("cloud-burst", "nearby_devices", ref), owner)  # the truck's ref, signed
    expected = {"warm": f"there, {code} is yours today (Mon Jun 1, 11:00-14:00)", "short": f"Yours: {code}"}[send.variant]
    assert payload == {"title": "You're close!", "body": expected, "unsubscribe": payload["unsubscribe"], "key": payload["key"]}
    assert http.on("/2010-04-01/") == []  # push was the best channel; no SMS as well

    visit(truck.proximity, clock, {**PHONE, "customer_ref": ref})  # still here later: once per window
    assert geo_report(nia, 41.8840, -87.6300, clock.now()) == "no location consent"
    cu.record_consent(nia, "location", True, source="web", at=clock.now())
    assert geo_report(nia, 41.8840, -87.6300, clock.now()) == "already sent in this window"  # ~40 m from the stop
    assert geo_report(nia, 41.95, -87.70, clock.now()) == "not near a stop"

    ticket = truck.register.open_ticket().id
    truck.register.add_item(ticket, "taco-fish")
    truck.register.set_customer(ticket, ref)
    accepted = truck.redemption.apply_code(ticket, code)
    assert isinstance(accepted, CodeAccepted) and (accepted.kind, accepted.segment) == ("personal", "nearby_devices")
    paid = truck.register.pay_card(ticket)
    wait_for(lambda: HubMessage.select().where(HubMessage.kind == "redemption").exists(), 20, "the redemption at the hub")
    wait_for(lambda: HubMessage.select().where(HubMessage.kind == "order").exists(), 20, "the order at the hub")

    rows, _ = report.build("cloud-burst")
    (row,) = [r for r in rows if r.redeemed]
    assert (row.segment, row.channel, row.variant, row.delivered, row.redeemed) == ("nearby_devices", "push", send.variant, 1, 1)
    assert row.revenue_cents == paid.total_cents > 0
    assert HubProximity.select().count() == 2 and wait_for_stable(http) == 1


def wait_for_stable(http: HttpSink) -> int:
    """Give a duplicate every chance to show up, then count the pushes."""
    time.sleep(0.5)
    return len(http.on("/push/"))
