"""Erase on request: the owner erases a customer registered at the truck; the truck forgets them too (over MQTT)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from sync.agent import SyncAgent
from sync.hub.customers import find
from sync.hub.web.app import create_app
from tests.mqtt_fixtures import fast_agent_config
from tests.web.browser import wait_until
from tests.web.support import OWNER, OWNER_PW, add_user, csrf_of, web_config
from truck_pos.bootstrap import build
from truck_pos.config import load_settings
from truck_pos.store.campaign_models import Customer

pytestmark = pytest.mark.mqtt


def test_erasing_a_customer_at_the_hub_blanks_them_on_the_truck(tmp_path, web_broker, web_hub, clock):
    svc = build(load_settings(env={"TRUCK_POS_STORE_PATH": str(tmp_path / "truck.db"), "TRUCK_POS_TRUCK_ID": "truck-a"}),
                clock=clock)
    agent = SyncAgent(svc.db, svc.clock, fast_agent_config(web_broker, "truck-a"), poll_s=0.05).start()
    try:
        ref, _code = svc.registration.register(email="Kim@Example.com", phone="312 555 0199")
        keep, _ = svc.registration.register(email="stay@example.com")
        profile = wait_until(lambda: find("email", "kim@example.com"), 20, "the registration at the hub")
        add_user()
        c = TestClient(create_app(web_config(tmp_path), web_hub), follow_redirects=False)
        c.post("/console/login", data={"username": OWNER, "password": OWNER_PW, "csrf": csrf_of(c.get("/console/login").text)})
        page = c.get(f"/console/customers/{profile.uuid}")
        assert "kim@example.com" in page.text
        assert c.post(f"/console/customers/{profile.uuid}/erase", data={"csrf": csrf_of(page.text)}).status_code == 303
        assert find("email", "kim@example.com") is None
        assert c.get(f"/console/customers/{profile.uuid}").status_code == 404
        wait_until(lambda: Customer.get(Customer.ref == ref).email is None, 20, "the truck to forget the customer")
        assert Customer.get(Customer.ref == ref).phone is None
        assert Customer.get(Customer.ref == keep).email == "stay@example.com"  # nobody else is touched
    finally:
        agent.stop()
        svc.close()
