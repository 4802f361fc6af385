"""The customer's own pages through the ASGI app: register with consent, manage it, push, delete my data, limits."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from starlette.testclient import TestClient

from sync.hub.customers import HubConsent, HubCustomer, HubGroupMember, HubPushSubscription, find
from sync.hub.web.app import create_app
from sync.hub.web.orders import remember_menu
from tests.web.support import MENU, csrf_of, web_config
from truck_pos.clock import FakeClock

NOW = datetime(2026, 6, 1, 17, 0, tzinfo=timezone.utc)


@pytest.fixture
def c(tmp_path, both_dbs):
    remember_menu("truck-a", MENU, "exclusive", NOW)
    return TestClient(create_app(web_config(tmp_path), None, FakeClock(NOW)), follow_redirects=False)


def register(c: TestClient, **fields: str):
    page = c.get("/t/truck-a/register")
    return c.post("/t/truck-a/register", data={"csrf": csrf_of(page.text), **fields})


def history(email: str) -> list[tuple[str, bool, str]]:
    customer = find("email", email)
    return [(h.channel, h.granted, h.source) for h in
            HubConsent.select().where(HubConsent.customer == customer).order_by(HubConsent.id)]


def test_registration_errors_are_shown_next_to_their_fields_and_nothing_is_stored(c):
    r = register(c, email="not-an-email", **{"consent-sms": "yes"})
    assert r.status_code == 400
    errors = dict(re.findall(r'data-error-for="([^"]+)">([^<]+)<', r.text))
    assert set(errors) == {"email", "consent-sms"}  # a bad email, and texts without a phone number
    assert 'value="not-an-email"' in r.text  # what was typed stays in the form
    assert HubCustomer.select().count() == 0


def test_consent_is_recorded_per_channel_with_its_wording_and_the_history_is_kept(c):
    r = register(c, email="Ana@Example.com", phone="(312) 555-0100", first_name="Ana", group="Acme Accounting",
                 **{"consent-email": "yes", "consent-sms": "yes"})
    assert r.status_code == 303 and r.headers["location"] == "/me?welcome=truck-a"
    assert history("ana@example.com") == [("email", True, "web:truck-a"), ("sms", True, "web:truck-a"),
                                          ("push", False, "web:truck-a"), ("location", False, "web:truck-a")]
    assert {h.wording_version for h in HubConsent.select()} == {"web-2026-06"}
    assert [g.group for g in HubGroupMember.select()] == ["Acme Accounting"]
    me = c.get("/me")
    # Withdraw email only: one new row; the earlier grant stays in the history.
    c.post("/me", data={"csrf": csrf_of(me.text), "action": "consent", "consent-sms": "yes"})
    assert history("ana@example.com")[-1] == ("email", False, "web:manage") and len(history("ana@example.com")) == 5
    c.post("/me", data={"csrf": csrf_of(me.text), "action": "unsubscribe"})
    assert history("ana@example.com")[-1] == ("sms", False, "web:unsubscribe")
    assert 'name="consent-email" value="yes" checked' not in c.get("/me").text


def test_push_subscription_needs_the_csrf_header_and_is_stored_on_the_profile(c):
    register(c, email="bo@example.com", **{"consent-push": "yes"})
    token = csrf_of(c.get("/me").text)
    sub = {"endpoint": "https://push.example.net/send/abc", "keys": {"p256dh": "BNc", "auth": "tBH"}}
    assert c.post("/me/push", json=sub).status_code == 403
    assert c.post("/me/push", json={"endpoint": 5}, headers={"x-csrf-token": token}).status_code == 400
    assert c.post("/me/push", json=sub, headers={"x-csrf-token": token}).json() == {"ok": True}
    assert [p.endpoint for p in HubPushSubscription.select()] == [sub["endpoint"]]


def test_delete_my_data_erases_the_profile_and_forgets_the_browser(c):
    register(c, email="cy@example.com", **{"consent-email": "yes"})
    me = c.get("/me")
    r = c.post("/me", data={"csrf": csrf_of(me.text), "action": "delete"})
    assert r.status_code == 200 and 'id="erased"' in r.text
    assert find("email", "cy@example.com") is None and HubConsent.select().count() == 0
    assert c.get("/me").status_code == 404


def test_registrations_are_rate_limited_per_address(c):
    codes = [register(c, email=f"p{i}@example.com").status_code for i in range(12)]
    assert codes == [303] * 10 + [429] * 2


def test_what_a_customer_types_is_shown_as_text_never_as_markup(c):
    register(c, email="eve@example.com", first_name='<script>alert(1)</script>', group='<img src=x onerror=alert(2)>')
    page = c.get("/me").text
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page


def test_a_location_from_the_page_needs_the_session_csrf_and_location_consent(c):
    pos = {"lat": 41.884, "lon": -87.63}
    assert c.post("/me/location", json=pos).status_code == 403  # no CSRF header
    token = csrf_of(c.get("/t/truck-a/register").text)
    assert c.post("/me/location", json=pos, headers={"x-csrf-token": token}).status_code == 404  # nobody registered
    register(c, email="geo@example.com")
    token = csrf_of(c.get("/me").text)
    assert c.post("/me/location", json={"lat": "north"}, headers={"x-csrf-token": token}).status_code == 400
    assert c.post("/me/location", json=pos, headers={"x-csrf-token": token}).json() == {"outcome": "no location consent"}
    me = c.get("/me")
    c.post("/me", data={"csrf": csrf_of(me.text), "action": "consent", "consent-location": "yes"})
    # consented, and no campaign stop near: reach's geo_report answers (tests/test_reach_proximity.py covers a stop)
    assert c.post("/me/location", json=pos, headers={"x-csrf-token": token}).json() == {"outcome": "not near a stop"}
