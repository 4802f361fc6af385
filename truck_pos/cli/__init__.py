"""``truck-pos-admin``: everything that is not the touchscreen.

Each feature keeps its subcommands in its own module here with ``register(subparsers)``;
a handler receives ``(args, services)`` and returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from truck_pos.errors import TruckPosError

# Feature modules that add subcommands (each defines register(subparsers)).
FEATURES = ["truck_pos.cli.core", "truck_pos.cli.provision", "truck_pos.cli.printing", "truck_pos.cli.devices",
            "truck_pos.cli.campaigns", "truck_pos.cli.sync"]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="truck-pos-admin", description=__doc__.splitlines()[0])
    p.add_argument("--config", help="truck config file (default: $TRUCK_POS_CONFIG or built-in defaults)")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in FEATURES:
        importlib.import_module(name).register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code (1: refused with a message, 2: usage)."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if not getattr(args, "needs_services", True):  # e.g. provision: the owner's machine has no truck database
            return int(args.handler(args, None) or 0)
        return _run_with_services(args)
    except TruckPosError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _run_with_services(args: argparse.Namespace) -> int:
    from truck_pos.bootstrap import build_admin
    from truck_pos.config import load_settings

    services = build_admin(load_settings(args.config), load_demo=getattr(args, "load_demo", True))
    try:
        return int(args.handler(args, services) or 0)
    finally:
        services.close()
