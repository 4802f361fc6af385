"""A local stand-in for Stripe Checkout: creates sessions, shows a pay page, sends signed webhooks.

The signature is computed here from Stripe's documented scheme (``t=<unix>,v1=<hex HMAC-SHA256(secret,
"<t>." + body)>``), independently of ``sync.hub.payments``, so a test of the hub's check is not the
hub checking itself.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.mqtt_broker import free_port

API_KEY = "sk_test_local"
WEBHOOK_SECRET = "whsec_local_test_secret"


def stripe_header(payload: bytes, secret: str = WEBHOOK_SECRET, t: int | None = None) -> str:
    """The Stripe-Signature header Stripe would send for ``payload``."""
    t = int(time.time()) if t is None else t
    sig = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={sig}"


def completed_event(session_id: str, order_token: str, amount: int) -> bytes:
    """A checkout.session.completed event body as Stripe sends it (the fields the hub reads, and more)."""
    return json.dumps({"id": f"evt_{session_id}", "object": "event", "type": "checkout.session.completed",
                       "data": {"object": {"id": session_id, "object": "checkout.session", "client_reference_id": order_token,
                                           "amount_total": amount, "currency": "usd", "payment_status": "paid"}}}).encode()


@dataclass
class FakeStripe:
    """Run with start(); ``webhook_url`` is where paid events go; ``sessions`` records what was created."""

    webhook_url: str = ""
    port: int = field(default_factory=free_port)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    deliveries: list[int] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    now: Any = time.time  # the signing time (the hub's clock, when a test shifts it)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def create(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return JSONResponse({"error": "bad key"}, 401)
        form = await request.form()
        sid = f"cs_test_{next(self._ids)}"
        self.sessions[sid] = dict(form)
        return JSONResponse({"id": sid, "object": "checkout.session", "url": f"{self.base}/pay/{sid}"})

    async def retrieve(self, request: Request) -> Response:
        """GET /v1/checkout/sessions/{id}, as Stripe answers it (the fields the tests read)."""
        s = self.sessions.get(request.path_params["sid"])
        if s is None or request.headers.get("authorization") != f"Bearer {API_KEY}":
            return JSONResponse({"error": "no such session"}, 404)
        return JSONResponse({"id": request.path_params["sid"], "client_reference_id": s["client_reference_id"],
                             "amount_total": int(s["line_items[0][price_data][unit_amount]"])})

    async def page(self, request: Request) -> Response:
        s = self.sessions[request.path_params["sid"]]
        amount = int(s["line_items[0][price_data][unit_amount]"])
        return HTMLResponse(f"<!doctype html><meta name=viewport content='width=device-width'><title>Pay</title>"
                            f"<h1>Test payment</h1><p id=amount>${amount / 100:.2f}</p>"
                            f"<form method=post><button id=pay type=submit>Pay ${amount / 100:.2f}</button></form>")

    async def pay(self, request: Request) -> Response:
        sid = request.path_params["sid"]
        s = self.sessions[sid]
        body = completed_event(sid, s["client_reference_id"], int(s["line_items[0][price_data][unit_amount]"]))
        async with httpx.AsyncClient() as client:
            resp = await client.post(self.webhook_url, content=body, headers={"stripe-signature": stripe_header(body, t=int(self.now())),
                                                                               "content-type": "application/json"})
        self.deliveries.append(resp.status_code)
        return RedirectResponse(s["success_url"], 303)

    def start(self) -> "FakeStripe":
        app = Starlette(routes=[Route("/v1/checkout/sessions", self.create, methods=["POST"]),
                                Route("/v1/checkout/sessions/{sid}", self.retrieve, methods=["GET"]),
                                Route("/pay/{sid}", self.page, methods=["GET"]), Route("/pay/{sid}", self.pay, methods=["POST"])])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_listening(self.server)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def wait_listening(server: uvicorn.Server, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)


if __name__ == "__main__":  # its own process (the load benchmark): python -m tests.web.fake_stripe PORT
    import sys

    server = FakeStripe(port=int(sys.argv[1]))
    server.start()
    print("ready", flush=True)
    try:
        server.thread.join()
    except KeyboardInterrupt:
        server.stop()
