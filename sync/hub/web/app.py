"""The hub's web face: one Starlette app (owner console under /console, customer pages under /t and /o).

``create_app`` takes the running :class:`sync.hub.Hub` (for publishing down), a clock, the config,
and extra route lists from other hub modules (e.g. ``sync.hub.phone_report.routes``).
Handlers parse and check the form, then call plain functions (orders, campaigns) in a worker
thread: peewee is synchronous, and each worker thread keeps its own database connection.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import qrcode
import qrcode.image.svg
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from sync.hub.payments import StripeCheckout
from sync.hub.web.security import RateLimiter, csrf_ok, new_csrf_token, secret_file
from truck_pos.clock import Clock, SystemClock
from truck_pos.errors import InvalidInput

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
MAX_FORM_BYTES = 64 * 1024


@dataclass
class WebConfig:
    """Where the hub keeps its web secrets and how the pages behave."""

    data_dir: Path
    base_url: str = "http://127.0.0.1:8080"  # as the customer's browser sees it (behind Caddy: https://...)
    timezone: str = "America/Chicago"
    tax_mode: str = "exclusive"
    secure_cookies: bool = False  # True behind TLS
    trust_proxy: bool = False  # take the client address from X-Forwarded-For (only behind our own proxy)
    slot_capacity: int = 12
    login_limit: tuple[int, float] = (30, 300.0)
    register_limit: tuple[int, float] = (10, 60.0)
    order_limit: tuple[int, float] = (10, 60.0)
    payments: StripeCheckout | None = None
    lockout_after: int = 20
    vapid_public_key: str = ""  # base64url application server key offered to browsers for Web Push

    @property
    def owner_key_path(self) -> Path:
        return self.data_dir / "owner_key.pem"


@dataclass
class Web:
    """Everything a handler needs: config, hub, clock, templates, limiters."""

    config: WebConfig
    hub: Any
    clock: Clock
    templates: Environment
    limits: dict[str, RateLimiter] = field(default_factory=dict)


def web(request: Request) -> Web:
    """The app's :class:`Web` context."""
    return request.app.state.web


def client_ip(request: Request) -> str:
    """The customer's address (the proxy's X-Forwarded-For first hop when configured to trust it)."""
    if web(request).config.trust_proxy:
        forwarded = request.headers.get("x-forwarded-for", "")
        if forwarded:
            return forwarded.split(",")[0].strip()[:64]
    return request.client.host if request.client else "?"


def limited(request: Request, name: str) -> bool:
    """True when this client is over the ``name`` rate limit (the hit is counted)."""
    return not web(request).limits[name].allow(client_ip(request))


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use)."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = new_csrf_token()
        request.session["csrf"] = token
    return token


async def checked_form(request: Request) -> FormData:
    """The posted form after the size and CSRF checks (403 without a matching token)."""
    length = request.headers.get("content-length", "")
    if length and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
        raise HTTPException(413, "Form too large")
    try:
        form = await request.form(max_files=0, max_fields=300)
    except Exception as exc:  # noqa: BLE001 - multipart parser errors on hostile bodies are the client's fault
        raise HTTPException(400, "Malformed form") from exc
    if not csrf_ok(request.session.get("csrf"), form.get("csrf")):
        raise HTTPException(403, "This form has expired or was not sent by this site; reload the page and try again")
    return form


def text(form: FormData, name: str, max_len: int = 200) -> str:
    """A form field as trimmed text (uploads and missing fields are empty), cut to ``max_len``."""
    value = form.get(name)
    return value.strip()[:max_len] if isinstance(value, str) else ""


def render(request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200) -> HTMLResponse:
    """Render a template with the request, CSRF token and the logged-in user."""
    env = web(request).templates
    ctx = {"request": request, "csrf": csrf_token(request), "user": request.session.get("user"),
           "role": request.session.get("role"), **(context or {})}
    return HTMLResponse(env.get_template(template).render(ctx), status_code=status)


async def in_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run blocking database/MQTT work off the event loop."""
    return await run_in_threadpool(fn, *args, **kwargs)


def qr_svg(data: str) -> Markup:
    """An inline SVG QR code (no image request, works without JavaScript)."""
    out = io.BytesIO()
    qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10).save(out)
    svg = out.getvalue().decode("utf-8")
    return Markup(svg[svg.index("<svg"):])  # noqa: S704 - generated by qrcode from our own text


def _templates() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    env.filters["money"] = lambda cents: f"${int(cents) / 100:,.2f}"
    return env


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    detail = getattr(exc, "detail", "Something went wrong")
    if request.url.path.startswith("/api/") or request.url.path.startswith("/payments/"):
        return PlainTextResponse(str(detail), status_code=status)
    return render(request, "error.html", {"status": status, "detail": detail}, status)


async def _invalid_input(request: Request, exc: Exception) -> Response:
    return await _http_error(request, HTTPException(400, str(exc)[:300]))


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("web handler failed on %s", request.url.path[:200], exc_info=exc)
    return PlainTextResponse("Something went wrong on our side; please try again", status_code=500)


class SecurityHeaders:
    """Pure ASGI middleware: no framing, no sniffing, a strict same-origin CSP."""

    HEADERS = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
               (b"referrer-policy", b"same-origin"),
               (b"content-security-policy",
                b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self' "
                b"http: https:; frame-ancestors 'none'")]

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + self.HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)


def create_app(config: WebConfig, hub: Any, clock: Clock | None = None,
               extra_routes: Sequence[Sequence[BaseRoute]] = ()) -> Starlette:
    """The ASGI app. ``extra_routes``: route lists of other hub modules, mounted as they are."""
    from sync.hub.web import console, customer  # noqa: PLC0415 - they import this module's helpers
    from sync.hub.web.models import create_web_tables  # noqa: PLC0415

    create_web_tables()  # every hub table, including those of optional hub modules imported by now
    config.data_dir.mkdir(parents=True, exist_ok=True)
    session_key = secret_file(config.data_dir / "session.key").decode("ascii")
    routes: list[BaseRoute] = [*customer.routes, *console.routes,
                               Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static")]
    for extra in extra_routes:
        routes.extend(extra)
    middleware = [Middleware(SecurityHeaders),
                  Middleware(SessionMiddleware, secret_key=session_key, session_cookie="tp_session",
                             https_only=config.secure_cookies, same_site="lax", max_age=14 * 24 * 3600)]
    app = Starlette(routes=routes, middleware=middleware,
                    exception_handlers={HTTPException: _http_error, InvalidInput: _invalid_input,
                                        500: _server_error})
    limits = {name: RateLimiter(*getattr(config, f"{name}_limit")) for name in ("login", "register", "order")}
    app.state.web = Web(config, hub, clock or SystemClock(), _templates(), limits)
    app.state.clock = app.state.web.clock  # for mounted hub modules' handlers (e.g. phone reports)
    return app
