"""A web order paid while the truck is offline: the page says so, and the truck gets it when it reconnects."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from sync.agent import SyncAgent
from sync.agent.inbound import menu_handler, mobile_order_handler
from sync.hub.models import HubTruck
from sync.hub.web.app import create_app
from sync.hub.web.models import HubWebOrder
from sync.hub.web.orders import remember_menu
from tests.mqtt_fixtures import fast_agent_config
from tests.web.browser import wait_until
from tests.web.fake_stripe import completed_event, stripe_header
from tests.web.support import MENU, csrf_of, web_config
from truck_pos.bootstrap import build
from truck_pos.config import load_settings
from truck_pos.store.models import Order

pytestmark = pytest.mark.mqtt


def agent_for(svc, broker) -> SyncAgent:
    return SyncAgent(svc.db, svc.clock, fast_agent_config(broker, "truck-a"), poll_s=0.05,
                     on_menu=menu_handler(svc.menu), on_mobile_order=mobile_order_handler(svc.register, svc.db))


def test_an_order_paid_while_the_truck_is_offline_reaches_it_on_reconnect(tmp_path, web_broker, web_hub, clock):
    svc = build(load_settings(env={"TRUCK_POS_STORE_PATH": str(tmp_path / "truck.db"), "TRUCK_POS_TRUCK_ID": "truck-a"}),
                clock=clock)
    try:
        agent = agent_for(svc, web_broker).start()
        web_hub.publish_menu("truck-a", MENU).wait_for_publish(5)
        remember_menu("truck-a", MENU, "exclusive", web_hub.clock.now())
        wait_until(lambda: svc.menu.entry("horchata") is not None, 15, "the menu on the truck")
        agent.stop()
        wait_until(lambda: HubTruck.get(HubTruck.truck == "truck-a").status == "offline", 15, "the truck offline")

        app = create_app(web_config(tmp_path, timezone="UTC"), web_hub)
        c = TestClient(app, follow_redirects=False)
        page = c.get("/t/truck-a")
        assert "Offline right now" in page.text
        slot = re.search(r'name="slot" value="([0-9:]+)"', page.text).group(1)
        assert c.post("/t/truck-a/order", data={"csrf": csrf_of(page.text), "qty-horchata": "3", "slot": slot}).status_code in (303, 502)
        order = HubWebOrder.get()
        body = completed_event("cs_1", order.token, order.total_cents)
        assert c.post("/payments/webhook", content=body, headers={"stripe-signature": stripe_header(body)}).text == "paid"
        state = c.get(f"/o/{order.token}/state").json()
        assert state["step"] == "paid" and "offline" in state["text"] and "reconnects" in state["text"]
        assert "offline" in c.get(f"/o/{order.token}").text
        assert not Order.select().where(Order.uuid == order.order_id).exists()

        agent = agent_for(svc, web_broker).start()  # back online: the broker hands over what waited
        wait_until(lambda: Order.select().where(Order.uuid == order.order_id).exists(), 20, "the order on the truck")
        state = wait_until(lambda: (s := c.get(f"/o/{order.token}/state").json())["claim"] and s, 20, "the claim")
        assert state["step"] == "preparing" and state["truck_online"] is True
        assert Order.get(Order.uuid == order.order_id).total_cents == order.total_cents == 3 * 300 + round(900 * 0.1025)
        svc.pickup.mark_ready(order.order_id)  # the kitchen taps "ready"
        wait_until(lambda: c.get(f"/o/{order.token}/state").json()["step"] == "ready", 20, "the ready state")
        agent.stop()
    finally:
        svc.close()
