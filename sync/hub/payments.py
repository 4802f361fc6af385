"""Payment provider adapter: Stripe Checkout (hosted payment page + signed webhook).

``StripeCheckout.checkout`` creates a Checkout Session (``POST {api_base}/v1/checkout/sessions``)
and returns where to send the customer; the provider then calls our webhook with a
``checkout.session.completed`` event. The webhook is believed only when its ``Stripe-Signature``
header (``t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>``) matches and ``t`` is within
the tolerance, exactly as Stripe documents it. Nothing else marks an order paid.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import httpx

TOLERANCE_S = 300
MAX_WEBHOOK_BYTES = 256 * 1024


class PaymentRefused(ValueError):
    """A webhook we do not believe (bad signature, stale, malformed); ``str()`` says why."""


@dataclass(frozen=True)
class Checkout:
    """A created checkout: the provider's session id and the page to send the customer to."""

    session_id: str
    url: str


@dataclass(frozen=True)
class PaidEvent:
    """A verified ``checkout.session.completed``: whose order, which session, how much."""

    event_id: str
    order_token: str
    session_id: str
    amount_cents: int


def verify_signature(payload: bytes, header: str, secret: str, now_unix: float, tolerance_s: int = TOLERANCE_S) -> None:
    """Raise :class:`PaymentRefused` unless ``header`` signs ``payload`` with ``secret`` recently enough."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in (header or "").split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit() and len(value) < 15:
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise PaymentRefused("no t= timestamp or v1= signature in Stripe-Signature")
    expected = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + payload, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected.encode("ascii"), s.encode("utf-8", "replace")) for s in signatures):
        raise PaymentRefused("signature does not match")
    if abs(now_unix - timestamp) > tolerance_s:
        raise PaymentRefused(f"signature timestamp is more than {tolerance_s} s away from now")


def paid_event(payload: bytes) -> PaidEvent | None:
    """The paid checkout in a verified event body; None for other event types."""
    try:
        event = json.loads(payload)
        if event.get("type") != "checkout.session.completed":
            return None
        obj = event["data"]["object"]
        if obj.get("payment_status") != "paid":
            return None
        token, amount = obj["client_reference_id"], obj["amount_total"]
        if not isinstance(token, str) or type(amount) is not int:
            raise PaymentRefused("client_reference_id or amount_total has the wrong type")
        return PaidEvent(str(event["id"])[:120], token, str(obj["id"])[:120], amount)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PaymentRefused(f"not a checkout event ({type(exc).__name__})") from exc


class StripeCheckout:
    """Stripe Checkout over its HTTP API (``api_base`` points at a local stand-in in tests)."""

    def __init__(self, api_key: str, webhook_secret: str, api_base: str = "https://api.stripe.com",
                 currency: str = "usd", tolerance_s: int = TOLERANCE_S):
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.api_base = api_base.rstrip("/")
        self.currency = currency
        self.tolerance_s = tolerance_s
        self._client: httpx.AsyncClient | None = None  # one pool: making a client (TLS context) costs ~20 ms of CPU
        self._loop: asyncio.AbstractEventLoop | None = None

    async def checkout(self, order_token: str, amount_cents: int, description: str, success_url: str,
                       cancel_url: str) -> Checkout:
        """Create a Checkout Session for one order; raises httpx.HTTPError when the provider fails."""
        form: dict[str, Any] = {
            "mode": "payment", "success_url": success_url, "cancel_url": cancel_url,
            "client_reference_id": order_token,
            "line_items[0][quantity]": "1",
            "line_items[0][price_data][currency]": self.currency,
            "line_items[0][price_data][unit_amount]": str(amount_cents),
            "line_items[0][price_data][product_data][name]": description[:200] or "Order",
        }
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:  # a pool belongs to one event loop
            self._client, self._loop = httpx.AsyncClient(timeout=15, limits=httpx.Limits(max_connections=50)), loop
        resp = await self._client.post(f"{self.api_base}/v1/checkout/sessions", data=form,
                                       headers={"Authorization": f"Bearer {self.api_key}"})
        resp.raise_for_status()
        doc = resp.json()
        return Checkout(str(doc["id"]), str(doc["url"]))

    def verify(self, payload: bytes, signature_header: str, now_unix: float) -> PaidEvent | None:
        """The paid order named by a genuine webhook (None: a genuine event of another kind)."""
        if len(payload) > MAX_WEBHOOK_BYTES:
            raise PaymentRefused("webhook body too large")
        verify_signature(payload, signature_header, self.webhook_secret, now_unix, self.tolerance_s)
        return paid_event(payload)
