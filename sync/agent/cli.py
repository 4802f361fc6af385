"""``truck-pos-sync``: run the truck's sync agent on its own (the register can also run it in-process)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from sync.agent import AgentConfig, SyncAgent
from sync.agent.inbound import BundleHandler, menu_handler, mobile_order_handler
from truck_pos.errors import TruckPosError
from truck_pos.store import outbox
from truck_pos.store.sync_models import SyncDeadLetter


def campaign_handler(campaigns: Any) -> BundleHandler:
    """Adapt ``CampaignService.install_bundle(raw, source=...) -> BundleResult`` to a bundle handler."""

    def handle(raw: bytes) -> tuple[bool, str]:
        result = campaigns.install_bundle(raw, source="mqtt")
        return bool(result.accepted), str(result.reason or "")

    return handle


def agent_for(services: Any) -> SyncAgent:
    """The agent wired to the truck's services (menu, register, and campaigns when present)."""
    campaigns = getattr(services, "campaigns", None) or services.extras.get("campaigns")
    agent = SyncAgent(services.db, services.clock, AgentConfig.from_settings(services.settings),
                      on_campaign=campaign_handler(campaigns) if campaigns is not None else None,
                      on_menu=menu_handler(services.menu),
                      on_mobile_order=mobile_order_handler(services.register, services.db))
    if getattr(services, "loyalty", None) is not None:  # the hub's reconciled balances (offline spending starts there)
        agent.inbox.handlers["loyalty_balances"] = services.loyalty.on_balances
    return agent


def print_status(agent: SyncAgent | None) -> None:
    counts = outbox.counts()
    letters = SyncDeadLetter.select().count()
    line = f"queued {counts['queued']}  unacked {counts['unacked']}  acked {counts['acked']}  dead letters {letters}"
    if agent is not None:
        s = agent.status()
        line = f"{'online ' if s.connected else 'offline'}  {line}  acked through seq {s.acked_through_seq}"
        if s.last_error:
            line += f"\n  last error: {s.last_error}"
    print(line, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point ``truck-pos-sync``."""
    p = argparse.ArgumentParser(prog="truck-pos-sync", description=__doc__.splitlines()[0])
    p.add_argument("--config", help="truck config file (default: $TRUCK_POS_CONFIG)")
    p.add_argument("--status", action="store_true", help="print the outbox counts and exit (no network)")
    p.add_argument("--drain", action="store_true", help="exit once everything is acked by the hub")
    p.add_argument("--timeout", type=float, default=0, help="with --drain: give up after this many seconds (exit 2)")
    p.add_argument("--every", type=float, default=30, help="seconds between status lines")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from truck_pos.bootstrap import build
    from truck_pos.config import load_settings

    try:
        services = build(load_settings(args.config), load_demo=False)
        if args.status:
            print_status(None)
            return 0
        agent = agent_for(services).start()
    except TruckPosError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    started = time.monotonic()
    try:
        while not done.wait(min(args.every, 1.0) if args.drain else args.every):
            if args.drain:
                c = outbox.counts()
                if c["queued"] == 0 and c["unacked"] == 0:
                    print_status(agent)
                    return 0
                if args.timeout and time.monotonic() - started > args.timeout:
                    print_status(agent)
                    return 2
            else:
                print_status(agent)
        return 0
    finally:
        agent.stop()
        services.close()


if __name__ == "__main__":
    raise SystemExit(main())
