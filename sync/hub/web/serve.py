"""``truck-pos-hub web``, ``run --web``, ``user add|unlock`` and ``owner-key``: the web face's commands.

Imported by ``sync.hub.cli`` without Starlette; the web stack is imported only when a web command runs.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
WEB_COMMANDS = ("web", "user", "owner-key")


def _web_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--listen", default="127.0.0.1:8080", help="host:port for the web face (put Caddy in front for TLS)")
    p.add_argument("--data-dir", type=Path, default=Path("hub-web"), help="web secrets (0600 files): session key, owner key")
    p.add_argument("--base-url", default="", help="the address customers use, e.g. https://hub.example.com")
    p.add_argument("--timezone", default="America/Chicago", help="the trucks' time zone (pickup slots)")
    p.add_argument("--behind-proxy", action="store_true", help="behind Caddy/nginx: the client address is X-Forwarded-For")
    p.add_argument("--slot-capacity", type=int, default=12, help="web orders per 15-minute pickup slot")
    p.add_argument("--stripe-key-file", type=Path, help="file holding the Stripe secret API key")
    p.add_argument("--stripe-webhook-secret-file", type=Path, help="file holding the Stripe webhook signing secret")
    p.add_argument("--stripe-api-base", default="https://api.stripe.com")
    p.add_argument("--vapid-public-key", default="", help="Web Push application server key (base64url) offered to phones")
    p.add_argument("--phone-report-trucks", type=Path,
                   help="JSON {truck id: beacon secret hex} (0600): accept iPhone reports at /api/v1/phone-report")
    p.add_argument("--phone-report-devices", type=Path,
                   help="registered phones for phone reports: a campaign document's `devices` list (JSON)")


def add_web_commands(sub: Any, run_parser: argparse.ArgumentParser) -> None:
    """Add ``web``, ``user`` and ``owner-key``, and ``--web`` (with the web options) on ``run``."""
    run_parser.add_argument("--web", action="store_true", help="also serve the owner console and customer pages")
    _web_options(run_parser)
    _web_options(sub.add_parser("web", help="serve the owner console and customer pages (publishes through the broker)"))
    u = sub.add_parser("user", help="console logins: add (password from stdin or a prompt, never the command line), unlock")
    u.add_argument("action", choices=["add", "unlock", "list"])
    u.add_argument("name", nargs="?", default="")
    u.add_argument("--role", choices=["owner", "manager"], default="owner")
    k = sub.add_parser("owner-key", help="make the owner's campaign signing key (0600) and print its public half")
    k.add_argument("--data-dir", type=Path, default=Path("hub-web"))


def _secret(path: Path | None) -> str:
    if path is None:
        return ""
    if path.stat().st_mode & 0o077:
        raise PermissionError(f"{path} is readable by others; chmod 600 it")
    return path.read_text("utf-8").strip()


def web_config(args: argparse.Namespace) -> Any:
    """The WebConfig the command line describes."""
    from sync.hub.payments import StripeCheckout  # noqa: PLC0415
    from sync.hub.web.app import WebConfig  # noqa: PLC0415

    host, _, port = args.listen.rpartition(":")
    payments = None
    if args.stripe_key_file and args.stripe_webhook_secret_file:
        payments = StripeCheckout(_secret(args.stripe_key_file), _secret(args.stripe_webhook_secret_file), args.stripe_api_base)
    base_url = args.base_url or f"http://{host}:{port}"
    return WebConfig(data_dir=args.data_dir, base_url=base_url, timezone=args.timezone, slot_capacity=args.slot_capacity,
                     secure_cookies=base_url.startswith("https://"), trust_proxy=args.behind_proxy, payments=payments,
                     vapid_public_key=args.vapid_public_key)


def serve(args: argparse.Namespace, hub: Any) -> int:
    """Serve the web face on ``--listen`` until Ctrl-C / SIGTERM (uvicorn handles the signals)."""
    import uvicorn  # noqa: PLC0415

    from sync.hub.web.app import create_app  # noqa: PLC0415
    from sync.hub.web.models import create_web_tables  # noqa: PLC0415

    create_web_tables()
    app = create_app(web_config(args), hub, extra_routes=_module_routes())
    if args.phone_report_trucks and args.phone_report_devices:
        from sync.hub import phone_report  # noqa: PLC0415

        _secret(args.phone_report_trucks)  # refuses a secrets file others can read
        app.state.phone_report = phone_report.load_config(str(args.phone_report_trucks), str(args.phone_report_devices))
    host, _, port = args.listen.rpartition(":")
    print(f"web face on http://{host}:{port} (console: /console, customer page: /t/<truck>)", flush=True)
    # uvicorn re-raises the signal it stopped on once it restores these handlers: make that a no-op,
    # so the hub below still gets a clean stop (last acks sent) and exit code 0.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    uvicorn.Server(uvicorn.Config(app, host=host or "127.0.0.1", port=int(port), log_level="warning")).run()
    return 0


def _module_routes() -> list[Any]:
    """Route lists of other hub modules that are installed (phone reports from the BLE companion app)."""
    found = []
    try:
        from sync.hub import phone_report  # noqa: PLC0415 - optional hub module

        found.append(phone_report.routes)
    except ImportError:
        pass
    return found


def web_main(args: argparse.Namespace, hub_config: Any) -> int:
    """Dispatch ``web`` / ``run --web`` / ``user`` / ``owner-key``."""
    if args.command == "user":
        return user_command(args)
    if args.command == "owner-key":
        from sync.hub.web.security import create_owner_key  # noqa: PLC0415

        path = args.data_dir / "owner_key.pem"
        try:
            public = create_owner_key(path)
        except FileExistsError:
            print(f"error: {path} exists; the owner key is never replaced by this command", file=sys.stderr)
            return 1
        print(f"owner key written to {path} (mode 0600). Public key for the trucks' trust list:\n{public.decode()}")
        return 0
    from sync.hub import Hub  # noqa: PLC0415

    ingest = args.command == "run"
    hub = Hub(hub_config).start(ingest=ingest)
    stop = threading.Event()
    stop_reach = None
    if ingest:
        threading.Thread(target=_resend_loop, args=(hub, args.resend_every, stop), daemon=True).start()
        from sync.hub.messaging import cli as reach_cli  # noqa: PLC0415 - the scheduler, with --reach-config

        stop_reach = reach_cli.start(args, lambda truck, kind, body, key: hub._publish(truck, kind, body, key=key))
    try:
        return serve(args, hub)
    finally:
        stop.set()
        if stop_reach is not None:
            stop_reach()
        hub.stop()


def _resend_loop(hub: Any, every: float, stop: threading.Event) -> None:
    while not stop.wait(every):
        if hub.connected.is_set():
            count = hub.resend_mobile_orders(every)
            if count:
                log.warning("re-sent %d unconfirmed mobile orders", count)


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Again: "):
        raise ValueError("the two passwords differ")
    return first


def user_command(args: argparse.Namespace) -> int:
    """``user add NAME`` (password from stdin/prompt), ``user unlock NAME``, ``user list``."""
    from sync.hub.web.models import HubWebUser, create_web_tables  # noqa: PLC0415
    from sync.hub.web.security import hash_password  # noqa: PLC0415
    from truck_pos.clock import SystemClock  # noqa: PLC0415

    create_web_tables()
    if args.action == "list":
        for u in HubWebUser.select().order_by(HubWebUser.username):
            print(f"{u.username:<20} {u.role:<8} {'LOCKED' if u.locked_utc else ''}")
        return 0
    if not args.name or len(args.name) > 64:
        print("error: give a user name (at most 64 characters)", file=sys.stderr)
        return 1
    if args.action == "unlock":
        n = HubWebUser.update(failed_logins=0, locked_utc=None).where(HubWebUser.username == args.name).execute()
        print(f"{args.name} unlocked" if n else f"error: no user {args.name}", file=sys.stdout if n else sys.stderr)
        return 0 if n else 1
    try:
        password = _read_password()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if len(password) < 10:
        print("error: use a password of at least 10 characters", file=sys.stderr)
        return 1
    values = {"password_hash": hash_password(password), "role": args.role, "failed_logins": 0, "locked_utc": None}
    HubWebUser.insert(username=args.name, created_utc=SystemClock().now(), **values).on_conflict(
        conflict_target=[HubWebUser.username], update=values).execute()
    print(f"{args.role} {args.name} saved")
    return 0
