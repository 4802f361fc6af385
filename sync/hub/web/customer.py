"""Customer pages: ``/t/<truck>`` (menu, order ahead, register), ``/o/<token>`` (order and pickup QR), ``/me``."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from sync import protocol
from sync.hub import customers
from sync.hub.customers import HubCustomer
from sync.hub.models import HubTruck
from sync.hub.payments import PaymentRefused
from sync.hub.web import orders, people
from sync.hub.web.app import checked_form, in_thread, limited, qr_svg, render, text, web
from sync.hub.web.models import HubWebOrder
from truck_pos.domain.contacts import normalize_email, normalize_phone
from truck_pos.errors import InvalidInput

log = logging.getLogger(__name__)


def _truck(request: Request) -> str:
    truck = request.path_params["truck"]
    if not protocol.TRUCK_ID_RE.match(truck):
        raise HTTPException(404, "No such truck")
    return truck


def _me(request: Request) -> HubCustomer | None:
    ref = request.session.get("customer")
    if not isinstance(ref, str):
        return None
    customer = customers.by_uuid(ref)
    return customer if customer is not None and customer.erased_at is None else None


async def truck_page(request: Request, errors: dict[str, str] | None = None, status: int = 200,
                     values: dict[str, str] | None = None) -> Response:
    truck = _truck(request)
    ctx = web(request)

    def load():
        menu, row = orders.menu_for(truck), HubTruck.get_or_none(HubTruck.truck == truck)
        if menu is None and row is None:
            return None  # a truck the hub has never heard of
        return {"items": menu[0] if menu else [], "slots": orders.slots(ctx.clock.now(), ctx.config.timezone, truck, ctx.config.slot_capacity),
                "online": row is not None and row.status == "online", "me": _me(request)}

    data = await in_thread(load)
    if data is None:
        raise HTTPException(404, "No such truck")
    return render(request, "truck.html", {"truck": truck, **data, "errors": errors or {}, "values": values or {}},
                  status)


async def place_order(request: Request) -> Response:
    truck = _truck(request)
    ctx = web(request)
    form = await checked_form(request)
    if limited(request, "order"):
        raise HTTPException(429, "Too many orders from here in a short time; please wait a minute")
    quantities = {k[4:]: v for k, v in form.items() if k.startswith("qty-") and isinstance(v, str)}
    slot = text(form, "slot", 5)
    me = _me(request)

    def place():
        menu = orders.menu_for(truck)
        if menu is None:  # no menu published: nothing can be ordered (a truck never heard of is a 404 too)
            return None
        items, tax_mode = menu
        lines = orders.build_lines(quantities, items)
        open_slots = orders.slots(ctx.clock.now(), ctx.config.timezone, truck, ctx.config.slot_capacity)
        return orders.place(truck, lines, tax_mode, slot, open_slots, me.uuid if me else None, ctx.clock.now(),
                            ctx.config.timezone)

    try:
        order = await in_thread(place)
    except orders.OrderProblem as exc:
        return await truck_page(request, {exc.field: str(exc)}, 400, {k: v for k, v in form.items() if isinstance(v, str)})
    if order is None:
        raise HTTPException(404, "No such truck")
    request.session.setdefault("orders", [])
    request.session["orders"] = (request.session["orders"] + [order.token])[-10:]
    if ctx.config.payments is None:
        raise HTTPException(503, "Paying online is not set up for this truck yet")
    base = ctx.config.base_url.rstrip("/")
    summary = ", ".join(f"{ln['quantity']} x {ln['name']}" for ln in order.body["lines"])
    try:
        checkout = await ctx.config.payments.checkout(order.token, order.total_cents, f"{truck}: {summary}",
                                                     f"{base}/o/{order.token}", f"{base}/t/{truck}")
    except Exception as exc:  # noqa: BLE001 - the provider being down is not a crash; the order stays unpaid
        log.warning("checkout for %s failed: %s", order.order_id, exc)
        raise HTTPException(502, "The payment page could not be opened; please try again") from exc
    return RedirectResponse(checkout.url, status_code=303)


async def payment_webhook(request: Request) -> Response:
    """The provider's signed event; the only thing that marks an order paid."""
    ctx = web(request)
    if ctx.config.payments is None:
        return PlainTextResponse("payments not configured", 404)
    payload = await request.body()
    try:
        event = ctx.config.payments.verify(payload, request.headers.get("stripe-signature", ""), ctx.clock.now().timestamp())
    except PaymentRefused as exc:
        log.warning("payment webhook refused: %s", exc)
        return PlainTextResponse(f"refused: {exc}", 400)
    if event is None:
        return PlainTextResponse("ignored")
    outcome = await in_thread(orders.mark_paid, event.order_token, event.amount_cents, event.session_id, ctx.hub,
                              ctx.clock.now())
    return PlainTextResponse(outcome, 200 if outcome in ("paid", "already") else 400)


async def _order(request: Request) -> HubWebOrder:
    token = request.path_params["token"]
    order = await in_thread(HubWebOrder.get_or_none, HubWebOrder.token == token[:64])
    if order is None:
        raise HTTPException(404, "No such order")
    return order


async def order_page(request: Request) -> Response:
    order = await _order(request)
    state = await in_thread(orders.state_of, order)
    return render(request, "order.html", {"order": order, "state": state,
                                          "qr": qr_svg(state.claim) if state.claim else None})


async def order_state(request: Request) -> Response:
    order = await _order(request)
    state = await in_thread(orders.state_of, order)
    return JSONResponse({"step": state.step, "text": state.text, "claim": state.claim, "truck_online": state.truck_online},
                        headers={"cache-control": "no-store"})


async def order_qr(request: Request) -> Response:
    order = await _order(request)
    state = await in_thread(orders.state_of, order)
    if not state.claim:
        raise HTTPException(404, "No pickup code yet")
    return Response(str(qr_svg(state.claim)), media_type="image/svg+xml")


def _contact(normalize, raw: str) -> str | None:
    """The normalized contact, or None when empty or not one (the form then says which field)."""
    try:
        return normalize(raw) if raw else None
    except InvalidInput:
        return None


def _consents(form) -> dict[str, bool]:
    return {channel: form.get(f"consent-{channel}") == "yes" for channel in people.WORDING}


async def register_page(request: Request) -> Response:
    truck = _truck(request)
    return render(request, "register.html", {"truck": truck, "wording": people.WORDING,
                                             "version": people.WORDING_VERSION, "errors": {}, "values": {}})


async def register(request: Request) -> Response:
    truck = _truck(request)
    ctx = web(request)
    form = await checked_form(request)
    if limited(request, "register"):
        raise HTTPException(429, "Too many sign-ups from here in a short time; please wait a minute")
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    errors: dict[str, str] = {}
    email_raw, phone_raw = text(form, "email", 320), text(form, "phone", 40)
    email, phone = _contact(normalize_email, email_raw), _contact(normalize_phone, phone_raw)
    if email_raw and not email:
        errors["email"] = "That does not look like an email address"
    if phone_raw and not phone:
        errors["phone"] = "That does not look like a phone number"
    if not email_raw and not phone_raw:
        errors["email"] = "Give an email address or a phone number"
    consents = _consents(form)
    if consents["email"] and not email:
        errors["consent-email"] = "Email offers need an email address"
    if consents["sms"] and not phone:
        errors["consent-sms"] = "Text messages need a phone number"
    if errors:
        return render(request, "register.html", {"truck": truck, "wording": people.WORDING, "errors": errors,
                                                 "version": people.WORDING_VERSION, "values": values}, 400)
    reg = people.Registration(email, phone, text(form, "first_name", 120), consents, text(form, "group", 200))
    customer = await in_thread(people.register, reg, truck, ctx.clock.now())
    request.session["customer"] = customer.uuid
    return RedirectResponse(f"/me?welcome={truck}", status_code=303)


async def me_page(request: Request) -> Response:
    def load():
        me = _me(request)
        if me is None:
            return None
        return {"me": me, "consents": customers.current_consents(me), "groups": [g.group for g in me.groups],
                "email": customers.identity(me, "email"), "phone": customers.identity(me, "phone")}

    data = await in_thread(load)
    if data is None:
        return render(request, "me_none.html", {}, 404)
    welcome = request.query_params.get("welcome", "")
    return render(request, "me.html", {**data, "wording": people.WORDING, "welcome": welcome if
                                       protocol.TRUCK_ID_RE.match(welcome) else "", "vapid": web(request).config.vapid_public_key})


async def me_update(request: Request) -> Response:
    ctx = web(request)
    form = await checked_form(request)
    action = text(form, "action", 20)
    if action in ("device", "group") and limited(request, "register"):
        raise HTTPException(429, "Too many requests from here in a short time; please wait a minute")

    def apply():
        me = _me(request)
        if me is None:
            return None, None
        if action == "consent":
            people.set_consents(me, _consents(form), ctx.clock.now())
        elif action == "unsubscribe":
            people.set_consents(me, {c: False for c in people.WORDING}, ctx.clock.now(), "web:unsubscribe")
        elif action == "group" and text(form, "group", 200):
            customers.join_group(me, text(form, "group", 200), ctx.clock.now())
        elif action == "device":
            return me, (people.register_device(me, ctx.clock.now()), customers.has_consent(me, "location"))
        elif action == "delete":
            people.erase_everywhere(me, ctx.hub, ctx.clock.now())
            return me, "erased"
        else:
            raise HTTPException(400, "Unknown action")
        return me, None

    me, extra = await in_thread(apply)
    if me is None:
        raise HTTPException(404, "Register first")
    if extra == "erased":
        request.session.pop("customer", None)
        request.session.pop("orders", None)
        return render(request, "erased.html", {})
    if extra is not None:  # a new device: its secret is shown this once
        device, noticed = extra
        link = people.deep_link(device)
        return render(request, "device.html", {"device": device, "link": link, "qr": qr_svg(link), "noticed": noticed})
    return RedirectResponse("/me", status_code=303)


async def push_subscribe(request: Request) -> Response:
    """The page's script posts the browser's PushSubscription JSON here (CSRF token in a header)."""
    from sync.hub.web.security import csrf_ok  # noqa: PLC0415

    if not csrf_ok(request.session.get("csrf"), request.headers.get("x-csrf-token")):
        return JSONResponse({"error": "csrf"}, 403)
    try:
        doc = await request.json()
        endpoint, keys = str(doc["endpoint"]), doc["keys"]
        p256dh, auth = str(keys["p256dh"]), str(keys["auth"])
    except Exception:  # noqa: BLE001 - any malformed body is the client's problem
        return JSONResponse({"error": "not a push subscription"}, 400)

    def store():
        me = _me(request)
        if me is None:
            return False
        customers.add_push_subscription(me, endpoint, p256dh, auth)
        return True

    try:
        ok = await in_thread(store)
    except InvalidInput as exc:
        return JSONResponse({"error": str(exc)}, 400)
    return JSONResponse({"ok": ok}, 200 if ok else 404)


async def location_report(request: Request) -> Response:
    """The page's script posts {lat, lon} when the customer allowed location: near a stop, the code is sent.

    Needs the customer's session, a CSRF header and the location consent (checked by ``geo_report``);
    the position itself is never stored, only the proximity event it raises.
    """
    from sync.hub.messaging import geo_report  # noqa: PLC0415 - reach is part of the hub extra
    from sync.hub.web.security import csrf_ok  # noqa: PLC0415

    if not csrf_ok(request.session.get("csrf"), request.headers.get("x-csrf-token")):
        return JSONResponse({"error": "csrf"}, 403)
    if limited(request, "register"):
        return JSONResponse({"error": "too many reports; try again in a minute"}, 429)
    try:
        doc = await request.json()
        lat, lon = float(doc["lat"]), float(doc["lon"])
    except Exception:  # noqa: BLE001 - any malformed body is the client's problem
        return JSONResponse({"error": "not a position"}, 400)
    ctx = web(request)

    def report():
        me = _me(request)
        return None if me is None else geo_report(me, lat, lon, ctx.clock.now())

    outcome = await in_thread(report)
    if outcome is None:
        return JSONResponse({"error": "register first"}, 404)
    return JSONResponse({"outcome": outcome})


routes = [
    Route("/t/{truck}", truck_page, methods=["GET"]),
    Route("/t/{truck}/order", place_order, methods=["POST"]),
    Route("/t/{truck}/register", register_page, methods=["GET"]),
    Route("/t/{truck}/register", register, methods=["POST"]),
    Route("/o/{token}", order_page, methods=["GET"]),
    Route("/o/{token}/state", order_state, methods=["GET"]),
    Route("/o/{token}/qr.svg", order_qr, methods=["GET"]),
    Route("/me", me_page, methods=["GET"]),
    Route("/me", me_update, methods=["POST"]),
    Route("/me/push", push_subscribe, methods=["POST"]),
    Route("/me/location", location_report, methods=["POST"]),
    Route("/payments/webhook", payment_webhook, methods=["POST"]),
]
