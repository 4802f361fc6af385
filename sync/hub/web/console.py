"""Owner console under /console: login, fleet, menus, campaigns (edit, sign, publish), customers."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from sync import protocol
from sync.hub import customers
from sync.hub.web import campaigns, orders, people, reports
from sync.hub.web.app import checked_form, client_ip, in_thread, limited, render, text, web
from sync.hub.web.models import HubWebCampaign, HubWebMenu, HubWebOrder, HubWebUser
from sync.hub.web.security import hash_password, load_owner_key, new_csrf_token, verify_password
from truck_pos.domain.campaign import BENEFIT_KINDS, CHANNELS

log = logging.getLogger(__name__)
Handler = Callable[[Request], Awaitable[Response]]
_DUMMY_HASH = hash_password("not a real password")  # wrong usernames cost the same time as wrong passwords


def login_required(role: str | None = None) -> Callable[[Handler], Handler]:
    """Only a logged-in console user (of ``role``, when given) gets through; others go to the login page."""

    def wrap(fn: Handler) -> Handler:
        @wraps(fn)
        async def inner(request: Request) -> Response:
            name = request.session.get("user")
            user = await in_thread(HubWebUser.get_or_none, HubWebUser.username == name) if isinstance(name, str) else None
            if user is None or user.locked_utc is not None:
                request.session.pop("user", None)
                return RedirectResponse(f"/console/login?next={quote(request.url.path)}", status_code=303)
            if role is not None and user.role != role:
                raise HTTPException(403, f"Only the {role} can do this")
            request.state.user = user
            return await fn(request)

        return inner

    return wrap


async def login_page(request: Request) -> Response:
    return render(request, "login.html", {"next": _next(request.query_params.get("next", "")), "error": ""})


def _next(target: str) -> str:
    return target if target.startswith("/console") and "//" not in target else "/console"


def check_login(username: str, password: str, lockout_after: int, now: Any) -> tuple[HubWebUser | None, str]:
    """(user, "") when right; (None, why) otherwise. Wrong tries count; at ``lockout_after`` the login locks."""
    user = HubWebUser.get_or_none(HubWebUser.username == username)
    if user is None:
        verify_password(password, _DUMMY_HASH)
        return None, "Wrong user name or password"
    if user.locked_utc is not None:
        return None, "This login is locked after too many wrong passwords; the owner unlocks it with truck-pos-hub user unlock"
    if not verify_password(password, user.password_hash):
        HubWebUser.update(failed_logins=HubWebUser.failed_logins + 1).where(HubWebUser.id == user.id).execute()
        HubWebUser.update(locked_utc=now).where(HubWebUser.id == user.id, HubWebUser.failed_logins >= lockout_after).execute()
        return None, "Wrong user name or password"
    HubWebUser.update(failed_logins=0).where(HubWebUser.id == user.id).execute()
    return user, ""


async def login(request: Request) -> Response:
    ctx = web(request)
    form = await checked_form(request)
    target = _next(text(form, "next", 200))
    if limited(request, "login"):
        log.warning("login rate limit hit from %s", client_ip(request))
        return render(request, "login.html", {"next": target, "error": "Too many tries; wait a few minutes"}, 429)
    user, error = await in_thread(check_login, text(form, "username", 64), text(form, "password", 1024),
                                  ctx.config.lockout_after, ctx.clock.now())
    if user is None:
        return render(request, "login.html", {"next": target, "error": error}, 401)
    request.session.clear()  # a fresh session (and CSRF token) on login
    request.session.update({"user": user.username, "role": user.role, "csrf": new_csrf_token()})
    return RedirectResponse(target, status_code=303)


async def logout(request: Request) -> Response:
    await checked_form(request)
    request.session.clear()
    return RedirectResponse("/console/login", status_code=303)


@login_required()
async def fleet(request: Request) -> Response:
    rows = await in_thread(reports.fleet_rows, web(request).clock.now())
    return render(request, "fleet.html", {"rows": rows})


@login_required()
async def menu_page(request: Request) -> Response:
    truck = request.path_params["truck"]
    if not protocol.TRUCK_ID_RE.match(truck):
        raise HTTPException(404, "No such truck")
    row = await in_thread(HubWebMenu.get_or_none, HubWebMenu.truck == truck)
    doc = json.dumps(row.document, indent=2) if row else '{"categories": []}'
    return render(request, "menu.html", {"truck": truck, "doc": doc, "tax_mode": row.tax_mode if row else "exclusive",
                                         "error": ""})


@login_required()
async def menu_publish(request: Request) -> Response:
    ctx = web(request)
    truck = request.path_params["truck"]
    form = await checked_form(request)
    raw, tax_mode = text(form, "document", 60_000), text(form, "tax_mode", 10)
    try:
        doc = json.loads(raw)
        problem = protocol.body_problem("menu", doc) or ("" if tax_mode in ("exclusive", "inclusive") else "tax mode?")
    except (ValueError, RecursionError) as exc:
        doc, problem = None, f"not JSON: {str(exc)[:100]}"
    if not protocol.TRUCK_ID_RE.match(truck):
        raise HTTPException(404, "No such truck")
    if problem:
        return render(request, "menu.html", {"truck": truck, "doc": raw, "tax_mode": tax_mode, "error": problem}, 400)

    def publish():
        ctx.hub.publish_menu(truck, doc).wait_for_publish(10)
        orders.remember_menu(truck, doc, tax_mode, ctx.clock.now())

    try:
        await in_thread(publish)
    except (RuntimeError, ValueError, OSError) as exc:
        return render(request, "menu.html", {"truck": truck, "doc": raw, "tax_mode": tax_mode,
                                             "error": f"could not publish: {exc}"}, 502)
    return RedirectResponse("/console", status_code=303)


@login_required()
async def campaign_list(request: Request) -> Response:
    rows = await in_thread(lambda: list(HubWebCampaign.select().order_by(HubWebCampaign.updated_utc.desc())))
    return render(request, "campaigns.html", {"rows": rows})


def _editor(request: Request, fields: dict[str, str], errors: dict[str, str], doc: dict[str, Any], status: int = 200,
            published: list[dict[str, str]] | None = None) -> Response:
    return render(request, "campaign_edit.html", {
        "f": fields, "errors": errors, "rows": range(campaigns.SEGMENT_ROWS), "channels": CHANNELS,
        "benefit_kinds": BENEFIT_KINDS, "preview": campaigns.pretty(doc), "status": published or [],
        "messages": campaigns.previews(doc)}, status)


@login_required()
async def campaign_edit(request: Request) -> Response:
    cid = request.path_params.get("cid", "")
    row = await in_thread(HubWebCampaign.get_or_none, HubWebCampaign.campaign_id == cid) if cid else None
    if cid and row is None:
        raise HTTPException(404, "No such campaign")
    doc = row.document if row else campaigns.blank_document()
    status = await in_thread(campaigns.publish_status, cid) if cid else []
    return _editor(request, campaigns.to_fields(doc), {}, doc, published=status)


@login_required("owner")
async def campaign_save(request: Request) -> Response:
    ctx = web(request)
    form = await checked_form(request)
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    cid = request.path_params.get("cid", "")
    row = await in_thread(HubWebCampaign.get_or_none, HubWebCampaign.campaign_id == cid) if cid else None
    base = row.document if row else campaigns.blank_document()
    doc, errors = campaigns.from_fields(fields, base, ctx.config.timezone, ctx.clock.now())
    if not errors and cid and doc["id"] != cid:
        errors["id"] = "the id of a saved campaign cannot change; make a new campaign instead"
    if errors:
        return _editor(request, fields, errors, doc, 400)
    await in_thread(campaigns.save, doc, ctx.clock.now())
    if text(form, "action", 20) != "publish":
        return RedirectResponse(f"/console/campaigns/{doc['id']}", status_code=303)

    def publish():
        key = load_owner_key(ctx.config.owner_key_path)
        saved = HubWebCampaign.get(HubWebCampaign.campaign_id == doc["id"])
        return campaigns.publish(saved, key, ctx.hub, people.devices_for_campaign(), request.state.user.username,
                                 ctx.clock.now())

    try:
        await in_thread(publish)
    except FileNotFoundError:
        return _editor(request, fields, {"form": "no owner key on this hub: run truck-pos-hub owner-key"}, doc, 409)
    except (RuntimeError, OSError, ValueError) as exc:
        return _editor(request, fields, {"form": f"could not publish: {exc}"}, doc, 502)
    return RedirectResponse(f"/console/campaigns/{doc['id']}", status_code=303)


@login_required()
async def campaign_status(request: Request) -> Response:
    rows = await in_thread(campaigns.publish_status, request.path_params["cid"])
    return JSONResponse(rows, headers={"cache-control": "no-store"})


@login_required()
async def report_page(request: Request) -> Response:
    data = await in_thread(reports.overview, web(request).config.timezone)
    return render(request, "reports.html", data)


@login_required()
async def customer_search(request: Request) -> Response:
    q = request.query_params.get("q", "")[:200]
    rows = await in_thread(customers.search, q) if q.strip() else []
    return render(request, "customers.html", {"q": q, "rows": rows})


@login_required()
async def customer_profile(request: Request) -> Response:
    def load():
        c = customers.by_uuid(request.path_params["uuid"][:36])
        if c is None or c.erased_at is not None:
            return None
        return {"c": c, "doc": customers.export(c),
                "orders": list(HubWebOrder.select().where(HubWebOrder.body.contains(c.uuid))
                               .order_by(HubWebOrder.id.desc()).limit(50))}

    data = await in_thread(load)
    if data is None:
        raise HTTPException(404, "No such customer")
    return render(request, "customer.html", data)


@login_required("owner")
async def customer_export(request: Request) -> Response:
    c = await in_thread(customers.by_uuid, request.path_params["uuid"][:36])
    if c is None or c.erased_at is not None:
        raise HTTPException(404, "No such customer")
    doc = await in_thread(customers.export, c)
    return JSONResponse(doc, headers={"content-disposition": f'attachment; filename="customer-{c.uuid}.json"'})


@login_required("owner")
async def customer_erase(request: Request) -> Response:
    ctx = web(request)
    await checked_form(request)
    c = await in_thread(customers.by_uuid, request.path_params["uuid"][:36])
    if c is None or c.erased_at is not None:
        raise HTTPException(404, "No such customer")
    await in_thread(people.erase_everywhere, c, ctx.hub, ctx.clock.now())
    return RedirectResponse("/console/customers", status_code=303)


routes = [
    Route("/console/login", login_page, methods=["GET"]),
    Route("/console/login", login, methods=["POST"]),
    Route("/console/logout", logout, methods=["POST"]),
    Route("/console", fleet, methods=["GET"]),
    Route("/console/menu/{truck}", menu_page, methods=["GET"]),
    Route("/console/menu/{truck}", menu_publish, methods=["POST"]),
    Route("/console/campaigns", campaign_list, methods=["GET"]),
    Route("/console/campaigns/new", campaign_edit, methods=["GET"]),
    Route("/console/campaigns/new", campaign_save, methods=["POST"]),
    Route("/console/campaigns/{cid}", campaign_edit, methods=["GET"]),
    Route("/console/campaigns/{cid}", campaign_save, methods=["POST"]),
    Route("/console/campaigns/{cid}/status", campaign_status, methods=["GET"]),
    Route("/console/reports", report_page, methods=["GET"]),
    Route("/console/customers", customer_search, methods=["GET"]),
    Route("/console/customers/{uuid}", customer_profile, methods=["GET"]),
    Route("/console/customers/{uuid}/export", customer_export, methods=["GET"]),
    Route("/console/customers/{uuid}/erase", customer_erase, methods=["POST"]),
]

