"""Admin commands for sync: outbox counts and the inbound dead letters (no network needed)."""

from __future__ import annotations

import argparse
import json

from truck_pos.bootstrap import Services
from truck_pos.store import outbox
from truck_pos.store.sync_models import SyncDeadLetter, rejection_summary


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sync", help="sync outbox counts and refused inbound messages")
    ss = p.add_subparsers(dest="sync_command", required=True)
    st = ss.add_parser("status", help="queued / unacked / acked outbox rows and dead letters")
    st.set_defaults(handler=cmd_status)
    dl = ss.add_parser("dead-letters", help="the newest refused inbound messages with their reasons")
    dl.add_argument("--limit", type=int, default=20)
    dl.add_argument("--json", action="store_true")
    dl.set_defaults(handler=cmd_dead_letters)


def cmd_status(args: argparse.Namespace, s: Services) -> int:
    counts = outbox.counts()
    print(f"queued {counts['queued']}  unacked {counts['unacked']}  acked {counts['acked']}  "
          f"dead letters {SyncDeadLetter.select().count()}")
    rejected, reason = rejection_summary()
    if rejected:  # the hub's word on our own messages (down/rejected), same line as truck-pos-sync --status
        print(f"  {rejected} rejected by the hub: {reason}")
    return 0


def cmd_dead_letters(args: argparse.Namespace, s: Services) -> int:
    rows = list(SyncDeadLetter.select().order_by(SyncDeadLetter.id.desc()).limit(args.limit))
    if args.json:
        print(json.dumps([{"received_utc": r.received_utc.isoformat(), "topic": r.topic, "kind": r.kind,
                           "reason": r.reason, "payload_bytes": r.payload_bytes} for r in rows], indent=2))
        return 0
    for r in rows:
        print(f"{r.received_utc:%Y-%m-%d %H:%M:%S}Z  {r.kind or '-':<12} {r.reason}")
    return 0
