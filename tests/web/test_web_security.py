"""Security of the web face through Starlette's TestClient on a real hub (real mosquitto, SQLite hub database)."""

from __future__ import annotations

import asyncio
import random
import re
import time
from datetime import datetime, timezone

import httpx
import paho.mqtt.client as mqtt
import pytest
from starlette.testclient import TestClient

from sync import protocol
from sync.hub.models import HubMobileOrder
from sync.hub.web.app import create_app
from sync.hub.web.models import HubWebOrder, HubWebUser
from sync.hub.web.orders import remember_menu
from tests.web.fake_stripe import WEBHOOK_SECRET, completed_event, stripe_header
from tests.web.support import MENU, OWNER, OWNER_PW, add_user, csrf_of, web_config
from truck_pos.clock import FakeClock

pytestmark = pytest.mark.mqtt


@pytest.fixture
def app(tmp_path, web_hub, stripe):
    remember_menu("truck-a", MENU, "exclusive", web_hub.clock.now())
    add_user()
    application = create_app(web_config(tmp_path, stripe.base, login_limit=(1000, 60), register_limit=(100_000, 60),
                                        order_limit=(100_000, 60)), web_hub)
    stripe.webhook_url = "http://testserver/payments/webhook"  # not called here: the tests post the events themselves
    return application


def client(app) -> TestClient:
    return TestClient(app, base_url="http://testserver", follow_redirects=False)


def order(c: TestClient, qty: str = "2") -> str:
    """Place an order as this client; returns its token (from the provider's success URL)."""
    page = c.get("/t/truck-a")
    slot = re.search(r'name="slot" value="([0-9:]+)"', page.text).group(1)
    r = c.post("/t/truck-a/order", data={"csrf": csrf_of(page.text), "qty-taco-al-pastor": qty, "slot": slot})
    assert r.status_code == 303, r.text
    return HubWebOrder.select().order_by(HubWebOrder.id.desc()).first().token


def test_the_console_is_not_reachable_without_logging_in(app):
    c = client(app)
    for path in ("/console", "/console/campaigns", "/console/campaigns/new", "/console/reports", "/console/customers",
                 "/console/menu/truck-a"):
        r = c.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/console/login"), path
    assert c.post("/console/campaigns/new", data={"csrf": "x"}).status_code in (303, 403)


def test_a_form_without_its_csrf_token_is_refused(app):
    c = client(app)
    page = c.get("/console/login")
    assert c.post("/console/login", data={"username": OWNER, "password": OWNER_PW}).status_code == 403
    assert c.post("/console/login", data={"username": OWNER, "password": OWNER_PW, "csrf": "forged"}).status_code == 403
    assert "tp_session" not in {k for k, v in c.cookies.items() if "user" in v}
    ok = c.post("/console/login", data={"username": OWNER, "password": OWNER_PW, "csrf": csrf_of(page.text)})
    assert ok.status_code == 303
    slot_page = c.get("/t/truck-a")
    assert c.post("/t/truck-a/order", data={"qty-taco-al-pastor": "1", "slot": "12:00"}).status_code == 403
    assert c.post("/t/truck-a/register", data={"email": "a@example.com", "consent-email": "yes"}).status_code == 403
    assert HubWebOrder.select().count() == 0
    assert csrf_of(slot_page.text)


def test_twenty_wrong_passwords_lock_the_login_even_for_the_right_password(app):
    c = client(app)
    token = csrf_of(c.get("/console/login").text)

    def attempt(password: str) -> int:
        return c.post("/console/login", data={"username": OWNER, "password": password, "csrf": token}).status_code

    assert [attempt(f"wrong {i}") for i in range(19)] == [401] * 19
    assert attempt(OWNER_PW) == 303  # 19 wrong tries: not locked, and the count starts again
    c.cookies.clear()
    token = csrf_of(c.get("/console/login").text)
    assert [attempt(f"wrong {i}") for i in range(20)] == [401] * 20
    refused = c.post("/console/login", data={"username": OWNER, "password": OWNER_PW, "csrf": token})
    assert refused.status_code == 401 and "locked" in refused.text
    assert HubWebUser.get(HubWebUser.username == OWNER).locked_utc is not None
    assert c.get("/console").status_code == 303


def test_the_login_rate_limit_answers_429(tmp_path, web_hub):
    add_user()
    app = create_app(web_config(tmp_path, login_limit=(5, 600)), web_hub)
    c = client(app)
    token = csrf_of(c.get("/console/login").text)
    codes = [c.post("/console/login", data={"username": "x", "password": "y", "csrf": token}).status_code for _ in range(7)]
    assert codes == [401] * 5 + [429] * 2


def test_another_customers_order_is_not_found(app):
    alice, bob = client(app), client(app)
    token = order(alice)
    mine = HubWebOrder.get(HubWebOrder.token == token)
    assert alice.get(f"/o/{token}").status_code == 200
    assert bob.get(f"/o/{mine.order_id}").status_code == 404  # the order id is not the key to the page
    assert bob.get(f"/o/{mine.order_id}/state").status_code == 404
    assert bob.get(f"/o/{token[:-1]}x").status_code == 404
    assert len(token) >= 32  # 24 random bytes: not guessable


def subscriber(broker, truck: str):
    """A client logged in as ``truck`` collecting its mobile orders."""
    got: list[dict] = []
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"spy-{truck}", protocol=mqtt.MQTTv5)
    c.username_pw_set(truck, broker.users[truck])
    c.on_message = lambda cl, ud, m: got.append(protocol.check(m.payload, direction="down").envelope)
    c.connect("127.0.0.1", broker.port)
    c.subscribe(protocol.down_topic(truck, "mobile_order"), qos=1)
    c.loop_start()
    time.sleep(0.3)
    return c, got


def test_a_forged_payment_webhook_is_refused_and_the_order_is_not_placed(app, web_broker):
    spy, got = subscriber(web_broker, "truck-a")
    try:
        c = client(app)
        token = order(c)
        row = HubWebOrder.get(HubWebOrder.token == token)
        body = completed_event("cs_forged", token, row.total_cents)
        now = int(time.time())
        forged = [
            {"stripe-signature": stripe_header(body, secret="whsec_guessed")},
            {"stripe-signature": stripe_header(body, t=now - 3600)},  # a captured event replayed an hour later
            {"stripe-signature": stripe_header(body).replace("v1=", "v0=")},
            {},
        ]
        for headers in forged:
            assert c.post("/payments/webhook", content=body, headers=headers).status_code == 400, headers
        tampered = completed_event("cs_forged", token, 1)
        assert c.post("/payments/webhook", content=tampered,
                      headers={"stripe-signature": stripe_header(body)}).status_code == 400
        assert HubWebOrder.get(HubWebOrder.token == token).status == "pending"
        assert HubMobileOrder.select().count() == 0
        # The genuine event places it, once; a re-delivery changes nothing.
        good = {"stripe-signature": stripe_header(body, secret=WEBHOOK_SECRET)}
        assert c.post("/payments/webhook", content=body, headers=good).text == "paid"
        assert c.post("/payments/webhook", content=body, headers=good).text == "already"
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [e["body"]["order_id"] for e in got] == [row.order_id]
        assert got[0]["body"]["total_cents"] == 2 * 450 + round(2 * 450 * 0.1025)
        assert HubMobileOrder.select().count() == 1
    finally:
        spy.loop_stop()
        spy.disconnect()


FIELDS = ["csrf", "username", "password", "next", "email", "phone", "first_name", "group", "slot", "action", "document",
          "tax_mode", "id", "name", "valid_from", "valid_until", "trucks", "goal.start", "goal.customers",
          "segments[0].name", "segments[0].channel", "segments[0].benefit.kind", "segments[0].benefit.value",
          "qty-taco-al-pastor", "qty-taco-veg", "qty-nope", "consent-email", "consent-sms"]
VALUES = ["", "0", "1", "99999999999999999999", "-1", "yes", "on", "12:00", "a@b.c", "+1 312 555 0100", "*", "\x00",
          "\ud7ff\ue000😀", "' OR 1=1 --", "<script>alert(1)</script>", "x" * 5000, "{}", '{"categories": []}',
          "segments[0]", "percent_off", "facebook", "2026-06-01T10:00", "delete", "consent", "device", "group"]
PATHS = ["/console/login", "/t/truck-a/order", "/t/truck-a/register", "/me", "/console/campaigns/new",
         "/console/menu/truck-a", "/t/nope/order", "/t/%00/register", "/payments/webhook", "/me/push",
         "/console/customers/x/erase"]


def test_ten_thousand_fuzzed_form_posts_never_answer_500(tmp_path, web_hub, stripe, fuzz_count):
    remember_menu("truck-a", MENU, "exclusive", web_hub.clock.now())
    add_user()
    # A low login limit (each try runs scrypt, ~0.1 s: a few are enough); the others high so validation is reached.
    # 11:30 in Chicago: "12:00" is an open slot, so some fuzzed orders are valid and go to the (local) provider.
    config = web_config(tmp_path, stripe.base, login_limit=(4, 300), register_limit=(100_000, 60),
                        order_limit=(100_000, 60))
    app = create_app(config, web_hub, FakeClock(datetime(2026, 6, 1, 16, 30, tzinfo=timezone.utc)))
    statuses = asyncio.run(fuzz(app, fuzz_count))
    assert statuses.get(200, 0) + statuses.get(303, 0) > 100  # many posts were valid and did something
    assert statuses.get(403, 0) > 100 and statuses.get(400, 0) > 100
    assert HubWebOrder.select().count() > 0  # valid orders got through to the payment page


async def fuzz(app, count: int) -> dict[int, int]:
    """Seeded random posts through the ASGI app in one event loop (httpx's ASGI transport: no sockets)."""
    rng = random.Random(19)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    statuses: dict[int, int] = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as owner, \
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as guest:
        token = csrf_of((await owner.get("/console/login")).text)
        r = await owner.post("/console/login", data={"username": OWNER, "password": OWNER_PW, "csrf": token})
        assert r.status_code == 303
        tokens = {id(owner): csrf_of((await owner.get("/console/campaigns/new")).text),
                  id(guest): csrf_of((await guest.get("/t/truck-a")).text)}
        for i in range(count):
            c = owner if i % 2 else guest
            data = {rng.choice(FIELDS): rng.choice(VALUES) for _ in range(rng.randint(0, 6))}
            if rng.random() < 0.7:
                data["csrf"] = tokens[id(c)]
            if "username" in data:
                data["username"] = "nobody"  # wrong users only: the owner must stay logged in (and unlocked)
            path = rng.choice(PATHS)
            if rng.random() < 0.05:  # nearly valid orders, so the paths past validation are fuzzed too
                path, data = "/t/truck-a/order", {"csrf": tokens[id(c)], "slot": rng.choice(["12:00", "11:45", "23:00", ""]),
                                                  "qty-taco-al-pastor": rng.choice(["1", "2", "0", "21", "x"]),
                                                  "qty-horchata": rng.choice(["1", "", "-1"])}
            if rng.random() < 0.9:
                r = await c.post(path, data=data)
            else:
                r = await c.post(path, content=rng.randbytes(rng.randint(0, 300)), headers={"content-type": rng.choice(
                    ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json"])})
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            assert r.status_code < 500, (path, data, r.text[:300])
            if c is owner and r.status_code == 303 and r.headers.get("location", "").startswith("/console/login"):
                raise AssertionError(f"the owner was logged out by {path} {data}")
    return statuses


@pytest.fixture
def fuzz_count() -> int:
    return int(__import__("os").environ.get("WEB_FUZZ", "10000"))


def test_a_manager_sees_the_console_but_cannot_publish_export_or_erase(app):
    add_user("sam", "manager password 1", role="manager")
    c = client(app)
    c.post("/console/login", data={"username": "sam", "password": "manager password 1",
                                   "csrf": csrf_of(c.get("/console/login").text)})
    page = c.get("/console/campaigns/new")
    assert page.status_code == 200 and 'id="publish"' not in page.text
    assert c.post("/console/campaigns/new", data={"csrf": csrf_of(page.text), "id": "x", "action": "publish"}).status_code == 403
    assert c.get("/console/customers/some-uuid/export").status_code == 403
    assert c.post("/console/customers/some-uuid/erase", data={"csrf": csrf_of(page.text)}).status_code == 403
    assert c.get("/console/reports").status_code == 200


def test_route_lists_of_other_hub_modules_are_mounted(tmp_path, web_hub):
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def ping(request):
        return PlainTextResponse(f"pong at {request.app.state.clock.now():%Y}")

    app = create_app(web_config(tmp_path), web_hub, extra_routes=[[Route("/api/v1/ping", ping, methods=["POST"])]])
    assert client(app).post("/api/v1/ping").text.startswith("pong at 20")
