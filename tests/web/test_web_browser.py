"""The web face in a real headless Chromium against a real hub, mosquitto, truck services and sync agent.

An owner logs in, publishes the menu, builds a four-segment campaign (one mistake shown next to its
field), signs and publishes it and sees the truck install it; a customer on a phone registers with
consent, orders ahead, pays on the (local) payment page, sees the pickup QR, and the truck's scan of
that code turns the page to "collected". Screenshots go to test-output/web/.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from sync.agent import SyncAgent
from truck_pos.bootstrap import campaign_handler
from sync.agent.inbound import menu_handler, mobile_order_handler
from sync.hub import Hub
from sync.hub.customers import HubConsent, find
from sync.hub.models import HubMobileOrder
from sync.hub.web import campaigns, people
from sync.hub.web.app import create_app
from sync.hub.web.models import HubWebDevice, HubWebOrder
from sync.hub.web.orders import menu_for, remember_menu
from sync.hub.web.reports import known_stops
from tests.campaign_support import build_services
from tests.mqtt_broker import FLEET_ACL, MosquittoBroker
from tests.mqtt_fixtures import FAKE_PASSWORDS, fast_agent_config, hub_config
from tests.web.browser import desktop, phone, shot, start_chromium, wait_until
from tests.web.fake_stripe import FakeStripe
from tests.web.support import MENU, OWNER, OWNER_PW, LiveServer, add_user, fresh_hub_db, web_config
from truck_pos.clock import FakeClock
from truck_pos.store.models import Order

pytestmark = pytest.mark.mqtt
TRUCK = "truck-a"


class ShiftedClock:
    """Real time moved so the test runs at 11:30 in Chicago (pickup slots exist whatever the hour)."""

    def __init__(self):
        now = datetime.now(timezone.utc)
        target = datetime(now.year, now.month, now.day, 16, 30, tzinfo=timezone.utc)  # 11:30 CDT
        self.offset = target - now

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Broker, hub (ingesting), truck services + agent, the web app under uvicorn, the payment stand-in, Chromium."""
    tmp = tmp_path_factory.mktemp("web-world")
    clock = ShiftedClock()
    db = fresh_hub_db(f"sqlite:///{tmp / 'hub.db'}")
    broker = MosquittoBroker(tmp, users=FAKE_PASSWORDS, acl_file=FLEET_ACL).start()
    hub = Hub(hub_config(broker), clock=clock).start()
    assert hub.connected.wait(10), hub.last_error
    owner_key = Ed25519PrivateKey.generate()
    truck_dir = tmp / "truck"
    truck_dir.mkdir()
    svc = build_services(truck_dir, FakeClock(clock.now()), owner_key, truck_id=TRUCK)
    agent = SyncAgent(svc.db, svc.clock, fast_agent_config(broker, TRUCK), poll_s=0.05,
                      on_campaign=campaign_handler(svc.campaigns), on_menu=menu_handler(svc.menu),
                      on_mobile_order=mobile_order_handler(svc.register, svc.db)).start()
    stripe = FakeStripe(now=lambda: clock.now().timestamp())
    config = web_config(tmp, stripe.base)
    config.data_dir.mkdir(parents=True)
    key_path = config.owner_key_path
    key_path.write_bytes(owner_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    key_path.chmod(0o600)
    add_user()
    server = LiveServer(create_app(config, hub, clock)).start()
    stripe.webhook_url = f"{server.url}/payments/webhook"
    stripe.start()
    config.base_url = server.url
    driver = start_chromium(str(tmp / "chromium-profile"))
    yield {"driver": driver, "url": server.url, "svc": svc, "hub": hub, "agent": agent, "stripe": stripe}
    driver.quit()
    server.stop()
    stripe.stop()
    agent.stop()
    hub.stop()
    svc.close()
    broker.kill()
    db.close()


def css(driver, selector: str):
    return driver.find_element(By.CSS_SELECTOR, selector)


def fill(driver, name: str, value: str) -> None:
    field = css(driver, f'[name="{name}"]')
    if field.tag_name == "select":
        Select(field).select_by_value(value)
    else:
        field.clear()
        field.send_keys(value)


SEGMENTS = [
    ("facebook_likers", "facebook", "FB-LIKE-10", "percent_off", "10"),
    ("twitter_followers", "twitter", "TW-FOLLOW-1", "amount_off", "100"),
    ("pos_registrants", "in_person", "THANKS-JOIN", "free_item", "horchata"),
    ("nearby_devices", "proximity", "", "percent_off", "15"),
]


MESSAGES = [
    {"id": "fb-post", "segment": "facebook_likers", "channel": "facebook", "send_at": "-1h", "code": "segment",
     "template": "Lunch at {{ stop }} today: {{ code }} for 10% off"},
    {"id": "near-push", "segment": "nearby_devices", "channel": "push", "trigger": "proximity",
     "template": "Hi {{ first_name }}, we're right here: {{ code }}",
     "variants": [{"name": "A", "split": 50}, {"name": "B", "split": 50, "template": "{{ code }}: 15% off, 5 minutes away"}]},
]


def test_owner_publishes_a_four_segment_campaign_and_sees_the_truck_install_it(world, output_dir):
    d, url, svc = world["driver"], world["url"], world["svc"]
    desktop(d)
    d.get(f"{url}/console")
    assert "/console/login" in d.current_url
    shot(d, output_dir, "01-console-login")
    fill(d, "username", OWNER)
    fill(d, "password", OWNER_PW)
    css(d, "#login-button").click()
    wait_until(lambda: css(d, f'#fleet tr[data-truck="{TRUCK}"] .ok').text == "online", 20, "the truck online in the fleet")
    # The menu goes to the truck (retained) and to the customer page.
    d.get(f"{url}/console/menu/{TRUCK}")
    d.execute_script("arguments[0].value = arguments[1]", css(d, 'textarea[name="document"]'), json.dumps(MENU, indent=1))
    css(d, 'form.card button[type="submit"]').click()
    wait_until(lambda: "/console/menu" not in d.current_url, 10, "the fleet page after publishing the menu")
    wait_until(lambda: {e.sku: e.sold_out for e in svc.menu.items()} == {"taco-al-pastor": False, "taco-veg": True,
                                                                       "horchata": False}, 10, "the menu on the truck")
    shot(d, output_dir, "02-console-fleet")

    d.get(f"{url}/console/campaigns/new")
    today = world["hub"].clock.now().astimezone().date()
    fill(d, "id", "lunch-launch")
    fill(d, "name", "Lunch launch")
    fill(d, "valid_from", f"{today - timedelta(days=1)}T10:00")
    fill(d, "valid_until", f"{today + timedelta(days=6)}T22:00")
    fill(d, "stop.name", "Daley Plaza")
    fill(d, "stop.lat", "41.8837")
    fill(d, "stop.lon", "-87.6298")
    fill(d, "goal.start", "11:00")
    fill(d, "goal.end", "12:00")
    fill(d, "goal.customers", "40")
    fill(d, "goal.sales_cents", "60000")
    for i, (name, channel, code, kind, value) in enumerate(SEGMENTS):
        fill(d, f"segments[{i}].name", name)
        fill(d, f"segments[{i}].channel", channel)
        fill(d, f"segments[{i}].code", code)
        fill(d, f"segments[{i}].benefit.kind", kind)
        fill(d, f"segments[{i}].benefit.value", "150" if i == 0 else value)  # 150% off: refused by the truck's rules
    d.execute_script("arguments[0].value = arguments[1]", css(d, 'textarea[name="messages"]'), json.dumps(MESSAGES))
    css(d, "#publish").click()
    error = wait_until(lambda: css(d, '[data-error-for="segments[0].benefit.value"]'), 10, "the field's error")
    assert "percent" in error.text and "150" in error.text
    shot(d, output_dir, "03-campaign-error-next-to-field")
    fill(d, "segments[0].benefit.value", "10")
    css(d, "#publish").click()
    wait_until(lambda: "/console/campaigns/lunch-launch" in d.current_url, 15, "the campaign page after publishing")

    # The status table updates itself (no reload) once the truck reports the install.
    wait_until(lambda: css(d, f'#publish-status tr[data-truck="{TRUCK}"] .state').text == "installed", 30,
               "the truck's install report", every_s=0.5)
    shot(d, output_dir, "04-campaign-installed")
    preview = css(d, '[data-message="fb-post"] .preview').text
    # Rendered with sample values when the messaging tools are installed, else the template as written.
    assert preview == ("Lunch at Daley Plaza today: K7Q2-9XA for 10% off" if campaigns._render is not None
                       else "Lunch at {{ stop }} today: {{ code }} for 10% off")
    assert "Variant B (50%)" in css(d, '[data-message="near-push"]').text
    active = svc.campaigns.active_campaign()
    assert active.id == "lunch-launch"
    assert "messages" not in active.document and "stop" not in active.document  # hub-only fields are not signed
    assert [s.name for s in active.segments] == [s[0] for s in SEGMENTS]
    assert active.segment("twitter_followers").benefit.amount_cents == 100
    d.get(f"{url}/console")
    assert css(d, f'#fleet tr[data-truck="{TRUCK}"] .campaign-loaded').text == "lunch-launch"


def test_customer_registers_orders_pays_sees_the_qr_and_the_scan_collects_it(world, output_dir):
    d, url, svc, stripe = world["driver"], world["url"], world["svc"], world["stripe"]
    if menu_for(TRUCK) is None:  # run on its own: the owner test did not publish the menu through the console
        world["hub"].publish_menu(TRUCK, MENU).wait_for_publish(5)
        remember_menu(TRUCK, MENU, "exclusive", world["hub"].clock.now())
        wait_until(lambda: svc.menu.entry("horchata") is not None, 15, "the menu on the truck")
    d.delete_all_cookies()
    phone(d)
    d.get(f"{url}/t/{TRUCK}")
    assert d.execute_script("return window.innerWidth") == 390
    shot(d, output_dir, "05-customer-truck-page")
    css(d, "#register-link").click()
    fill(d, "first_name", "Ana")
    fill(d, "email", "Ana.Lopez@Example.com")
    css(d, 'input[name="consent-email"]').click()
    css(d, 'input[name="consent-push"]').click()
    fill(d, "group", "Acme Corporation, Accounting")
    shot(d, output_dir, "06-customer-register")
    css(d, "#register-button").click()
    wait_until(lambda: css(d, "#back-to-menu"), 10, "the welcome page")
    shot(d, output_dir, "07-customer-me")
    customer = find("email", "ana.lopez@example.com")
    consents = {c.channel: (c.granted, c.wording_version) for c in HubConsent.select().where(HubConsent.customer == customer)}
    assert consents["email"] == (True, "web-2026-06") and consents["push"][0] is True
    assert consents["sms"][0] is False and consents["location"][0] is False
    css(d, "#device-button").click()
    link = wait_until(lambda: css(d, "#deep-link").get_attribute("href"), 10, "the phone's code page")
    device = HubWebDevice.get(HubWebDevice.customer_uuid == customer.uuid)
    assert f"secret={device.secret_hex}" in link and len(device.secret_hex) == 64
    assert css(d, "#needs-consent")  # no Bluetooth consent given: the page says trucks will not notice the phone
    shot(d, output_dir, "08-customer-phone-code")

    d.get(f"{url}/t/{TRUCK}")
    assert not d.find_elements(By.ID, "qty-taco-veg")  # sold out: listed, not orderable
    fill(d, "qty-taco-al-pastor", "2")
    fill(d, "qty-horchata", "1")
    css(d, 'input[name="slot"]:not([disabled])').click()
    css(d, "#pay-button").click()
    wait_until(lambda: css(d, "#pay"), 15, "the payment page")
    expected_total = 2 * 450 + 300 + round((2 * 450 + 300) * 0.1025)  # exclusive tax at 10.25 %
    assert css(d, "#amount").text == f"${expected_total / 100:.2f}"
    shot(d, output_dir, "09-payment-page")
    css(d, "#pay").click()
    wait_until(lambda: "/o/" in d.current_url, 15, "the order page")
    claim = wait_until(lambda: css(d, "#claim-code").text, 30, "the pickup QR (claim from the truck)")
    assert d.find_element(By.CSS_SELECTOR, "#qr svg")
    assert re.fullmatch(r"TP1\.TRUCK-A\.\d{8}\.\d+\.[A-Z2-7]{26}\.[A-Z2-7]{16}", claim)
    shot(d, output_dir, "10-order-qr")
    order = HubWebOrder.get()
    truck_order = Order.get(Order.uuid == order.order_id)
    assert (truck_order.channel, truck_order.total_cents) == ("mobile", expected_total)
    assert stripe.deliveries == [200]

    result = svc.pickup.scan(claim)  # the truck's scanner reads the QR text
    assert result.outcome == "handed_over", result.message
    wait_until(lambda: css(d, "#order-state").text.startswith("Collected"), 30, "the page to say collected")
    shot(d, output_dir, "11-order-collected")
    assert HubMobileOrder.get(HubMobileOrder.order_id == order.order_id).delivered_utc is not None
    assert svc.pickup.scan(claim).outcome == "already_collected"


def test_owner_finds_the_customer_sees_consent_history_exports_and_erases(world, output_dir):
    d, url = world["driver"], world["url"]
    if find("email", "ana.lopez@example.com") is None:  # run on its own: register Ana as the customer test does
        consents = {"email": True, "sms": False, "push": True, "location": False}
        people.register(people.Registration("ana.lopez@example.com", None, "Ana", consents, "Acme Corporation, Accounting"),
                        TRUCK, world["hub"].clock.now())
    if not known_stops():  # ... and the campaign's stop the owner test gives
        campaigns.save({"id": "lunch-launch", "stop": {"name": "Daley Plaza", "lat": 41.8837, "lon": -87.6298}},
                       world["hub"].clock.now())
    d.delete_all_cookies()
    desktop(d)
    d.get(f"{url}/console/login")
    fill(d, "username", OWNER)
    fill(d, "password", OWNER_PW)
    css(d, "#login-button").click()
    wait_until(lambda: css(d, "#fleet"), 10, "the fleet page")
    d.get(f"{url}/console/reports")
    assert css(d, "svg.map")  # the campaign's stop on the map
    assert "Daley Plaza" in css(d, "svg.map").get_attribute("innerHTML")
    shot(d, output_dir, "12-console-reports")
    d.get(f"{url}/console/customers?q=lopez")
    link = css(d, "#results a")
    assert link.text == "Ana"
    shot(d, output_dir, "13-console-customer-search")
    link.click()
    rows = wait_until(lambda: d.find_elements(By.CSS_SELECTOR, "#consents tbody tr"), 10, "the consent history")
    assert len(rows) == 4 and "web-2026-06" in rows[0].text
    shot(d, output_dir, "14-console-customer-profile")
    customer = find("email", "ana.lopez@example.com")
    export = d.execute_script("return fetch(arguments[0]).then(r => r.json())", f"/console/customers/{customer.uuid}/export")
    assert export["identities"][0]["value"] == "ana.lopez@example.com" and export["groups"] == ["Acme Corporation, Accounting"]
    css(d, "#erase").click()
    wait_until(lambda: "/console/customers" in d.current_url and "/console/customers/" not in d.current_url, 10, "erased")
    assert find("email", "ana.lopez@example.com") is None
    assert not HubWebDevice.select().where(HubWebDevice.customer_uuid == customer.uuid).exists()
