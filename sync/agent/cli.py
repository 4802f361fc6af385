"""``truck-pos-sync``: run the truck's sync agent on its own (the register can also run it in-process).

Built by ``truck_pos.bootstrap.build_sync``: no printer, scanner or radio; a mobile order's print
jobs are written here and printed by the register process.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence

from sync.agent import SyncAgent
from truck_pos.errors import TruckPosError
from truck_pos.store import outbox
from truck_pos.store.sync_models import SyncDeadLetter, rejection_summary


def print_status(agent: SyncAgent | None) -> None:
    counts = outbox.counts()
    letters = SyncDeadLetter.select().count()
    line = f"queued {counts['queued']}  unacked {counts['unacked']}  acked {counts['acked']}  dead letters {letters}"
    rejected, reason = rejection_summary()
    if rejected:
        line += f"\n  {rejected} rejected by the hub: {reason}"
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
    from truck_pos.bootstrap import build_sync
    from truck_pos.config import load_settings

    try:
        services = build_sync(load_settings(args.config))
        if args.status:
            print_status(None)
            services.close()
            return 0
        agent = services.extras["sync"].start()
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
                if outbox.waiting() == 0:
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
