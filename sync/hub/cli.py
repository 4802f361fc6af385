"""``truck-pos-hub``: run the reference hub, or publish menus, campaigns and mobile orders to trucks."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from sync.hub import Hub, HubConfig
from peewee import fn

from sync.hub.messaging import cli as reach_cli
from sync.hub.models import HubDeadLetter, HubTruck, open_hub_database
from sync.transport import BrokerLogin

log = logging.getLogger(__name__)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="truck-pos-hub", description=__doc__.splitlines()[0])
    p.add_argument("--db", default="sqlite:///hub.db", help="hub database URL (sqlite:///hub.db, postgresql://user@host/db)")
    p.add_argument("--host", default="localhost")
    p.add_argument("--port", type=int, default=1883)
    p.add_argument("--username", default="hub")
    p.add_argument("--password-file", help="file holding the hub's broker password")
    p.add_argument("--tls", action="store_true")
    p.add_argument("--ca-file", default="")
    p.add_argument("--client-id", default="truck-pos-hub-1", help="unique per hub process (they share the load)")
    p.add_argument("--no-shared", action="store_true",
                   help="plain subscription (one hub process; survives broker restarts on mosquitto 2.0)")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="ingest truck messages and publish acks until stopped")
    r.add_argument("--resend-every", type=float, default=600, help="seconds between re-sends of unconfirmed mobile orders")
    reach_cli.add_run_options(r)
    m = sub.add_parser("publish-menu", help="publish a menu (retained) to a truck")
    m.add_argument("truck")
    m.add_argument("file", type=Path)
    c = sub.add_parser("publish-campaign", help="publish a signed campaign bundle (retained) to a truck")
    c.add_argument("truck")
    c.add_argument("campaign_id")
    c.add_argument("file", type=Path, help="the signed bundle as produced by the owner's campaign tools")
    o = sub.add_parser("send-mobile-order", help="send a prepaid mobile order (JSON body) to a truck")
    o.add_argument("truck")
    o.add_argument("file", type=Path)
    rs = sub.add_parser("resend-mobile-orders", help="send again every mobile order a truck has not confirmed")
    rs.add_argument("--older-than", type=float, default=600)
    sub.add_parser("status", help="per truck: acked seq, online/offline, last seen, dead letters with reasons")
    # --- web face (sync/hub/web): web, run --web, user, owner-key ---
    from sync.hub.web.serve import add_web_commands  # noqa: PLC0415 - keeps Starlette out of the plain hub

    add_web_commands(sub, r)
    sub.add_parser("loyalty", help="loyalty balances over every truck, and points spent twice (overdraws)")
    lb = sub.add_parser("publish-loyalty", help="send the reconciled loyalty balances down to a truck")
    lb.add_argument("truck")
    reach_cli.register(sub)  # audience import, campaign schedule, reach report
    return p


def config_from(args: argparse.Namespace, client_id: str | None = None) -> HubConfig:
    password = Path(args.password_file).read_text("utf-8").strip() if args.password_file else ""
    login = BrokerLogin(args.host, args.port, args.username, password, args.tls, args.ca_file)
    return HubConfig(login=login, client_id=client_id or args.client_id, shared=not args.no_shared)


def run(args: argparse.Namespace) -> int:
    hub = Hub(config_from(args)).start()
    stop_reach = reach_cli.start(args, lambda truck, kind, body, key: hub._publish(truck, kind, body, key=key))
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    print(f"hub {args.client_id} ingesting into {args.db.split('@')[-1]} from {args.host}:{args.port}; Ctrl-C stops")
    next_resend = time.monotonic() + args.resend_every
    while not done.wait(10):
        if not hub.connected.is_set():
            print(f"warning: not connected to the broker: {hub.last_error or 'retrying'}", file=sys.stderr)
        elif time.monotonic() >= next_resend:
            next_resend = time.monotonic() + args.resend_every
            count = hub.resend_mobile_orders(args.resend_every)
            if count:
                log.warning("re-sent %d unconfirmed mobile orders", count)
    if stop_reach is not None:
        stop_reach()
    hub.stop()
    return 0


def publish(args: argparse.Namespace) -> int:
    hub = Hub(config_from(args, f"{args.client_id}-cli")).start(ingest=False)
    try:
        if not hub.connected.wait(10):
            print(f"error: cannot reach the broker at {args.host}:{args.port}: {hub.last_error or 'no answer'}", file=sys.stderr)
            return 1
        if args.command == "publish-menu":
            infos = [hub.publish_menu(args.truck, json.loads(args.file.read_text("utf-8")))]
        elif args.command == "publish-campaign":
            infos = [hub.publish_campaign(args.truck, args.campaign_id, args.file.read_bytes())]
        elif args.command == "publish-loyalty":
            from sync.hub.loyalty import balances_bodies

            infos = [hub._publish(args.truck, "loyalty_balances", body) for body in balances_bodies(hub.clock.now())]
        elif args.command == "send-mobile-order":
            infos = [hub.send_mobile_order(args.truck, json.loads(args.file.read_text("utf-8")))]
        else:
            count = hub.resend_mobile_orders(args.older_than)
            print(f"re-sent {count} mobile orders")
            infos = []
        for info in infos:
            info.wait_for_publish(10)
        print(f"{args.command}: delivered to the broker" if infos else "done")
        return 0
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        hub.stop()


def status(args: argparse.Namespace) -> int:
    letters = dead_letters_by_truck()
    for t in HubTruck.select().order_by(HubTruck.truck):
        seen = t.last_seen_utc.isoformat(timespec="seconds") if t.last_seen_utc else "-"
        print(f"{t.truck:<20} acked through {t.contiguous_seq:>8}  {t.status or '?':<8} last seen {seen}")
        for line in letters.pop(t.truck, []):
            print(f"{'':<20} {line}")
    for truck, lines in sorted(letters.items(), key=lambda kv: kv[0] or ""):
        print(f"{truck or '(no truck)':<20} dead letters only")
        for line in lines:
            print(f"{'':<20} {line}")
    return 0


def dead_letters_by_truck(shown: int = 3) -> dict[str | None, list[str]]:
    """Per truck (None: not placeable): a count line and the latest few dead letters with their reasons."""
    counts = dict(HubDeadLetter.select(HubDeadLetter.truck, fn.COUNT(HubDeadLetter.id)).group_by(HubDeadLetter.truck).tuples())
    out: dict[str | None, list[str]] = {}
    for truck, count in counts.items():
        latest = (HubDeadLetter.select().where(HubDeadLetter.truck.is_null() if truck is None else HubDeadLetter.truck == truck)
                  .order_by(HubDeadLetter.id.desc()).limit(shown))
        out[truck] = [f"{count} dead letter(s):"] + [
            f"  {d.outcome} seq {d.seq if d.seq is not None else '-'} at {d.received_utc:%Y-%m-%d %H:%M}: {d.reason}"
            for d in latest]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point ``truck-pos-hub``."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    open_hub_database(args.db)
    if getattr(args, "reach_handler", None):
        return args.reach_handler(args)
    # --- web face (sync/hub/web) ---
    from sync.hub.web.serve import WEB_COMMANDS, web_main  # noqa: PLC0415

    if args.command in WEB_COMMANDS or (args.command == "run" and args.web):
        return web_main(args, config_from(args, f"{args.client_id}-web" if args.command == "web" else None))
    if args.command == "run":
        return run(args)
    if args.command == "status":
        return status(args)
    if args.command == "loyalty":
        from sync.hub.loyalty import print_report

        return print_report()
    return publish(args)


if __name__ == "__main__":
    raise SystemExit(main())
