"""``truck-pos``: load settings, build the register's services, run the touchscreen (or ``--headless``)."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Sequence


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="truck-pos", description="Start the touchscreen register.")
    p.add_argument("--config", help="truck config file (default: $TRUCK_POS_CONFIG or built-in defaults)")
    p.add_argument("--fullscreen", action="store_true", help="kiosk mode (the Pi touchscreen)")
    p.add_argument("--size", default="800x480", help="window size when not fullscreen (default 800x480)")
    p.add_argument("--sync", action="store_true",
                   help="run the MQTT sync agent inside the register (the appliance runs truck-pos-sync as its own service)")
    p.add_argument("--headless", action="store_true",
                   help="no screen: run the register's services (print worker, scanner, radio) until stopped")
    p.add_argument("--control", metavar="SOCKET",
                   help="with --headless: a Unix socket (0600) taking JSON requests (sale, code, void, refund, status)")
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


def configure_kivy(fullscreen: bool, size: str) -> None:
    """Kivy reads these before its window exists; keep it from parsing our argv or writing ~/.kivy logs noise."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")  # Kivy logs through our logging setup, root level untouched
    os.environ.setdefault("KIVY_CLIPBOARD", "sdl2")  # skip probing for xclip/xsel (noisy tracebacks when absent)
    from kivy.config import Config

    width, _, height = size.partition("x")
    Config.set("graphics", "width", width or "800")
    Config.set("graphics", "height", height or "480")
    Config.set("graphics", "fullscreen", "auto" if fullscreen else "0")
    Config.set("input", "mouse", "mouse,multitouch_on_demand")
    Config.set("kivy", "exit_on_escape", "0")


SERVER_DB_DRIVERS = ("psycopg2cffi", "psycopg2", "psycopg", "pymysql", "MySQLdb")


def sqlite_only() -> None:
    """The register speaks only SQLite: keep peewee from importing the server drivers it probes for at import.

    A truck's install has none of them; a developer's venv with the hub's extras has psycopg2 (~11 MB of RSS
    and a libpq load in every register start). Call before peewee is first imported; a no-op after.
    """
    if "peewee" in sys.modules:
        return
    for name in SERVER_DB_DRIVERS:
        sys.modules.setdefault(name, None)  # type: ignore[assignment]  # None in sys.modules: ImportError


def hold_collector() -> None:
    """No cyclic garbage collection while the register starts; the first frame releases it (``TruckPosApp``).

    Start-up makes objects that live as long as the process (modules, classes, services, widgets): the
    collector's passes over them while importing and building cost tens of ms of a Pi's start and free
    nothing. Reference counting still frees everything else.
    """
    gc.disable()


def keep_for_life() -> None:
    """Move every object made so far out of the collector's reach (``gc.freeze``) while it is held.

    Kivy's window forces a full collection when it creates its GL context: without this, that pass walks
    every service object built before it. A no-op when the collector runs (tests, other entry points).
    """
    if not gc.isenabled():
        gc.freeze()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sqlite_only()
    hold_collector()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("peewee").setLevel(logging.DEBUG if args.verbose else logging.WARNING)  # SQL only with -v
    from truck_pos.bootstrap import build_register
    from truck_pos.config import load_settings
    from truck_pos.errors import TruckPosError

    try:
        services = build_register(load_settings(args.config), agent=args.sync)
    except TruckPosError as exc:
        print(f"truck-pos: {exc}", file=sys.stderr)
        return 1
    finally:
        keep_for_life()
    if args.sync and services.extras.get("sync") is None:
        print("truck-pos: --sync needs [mqtt] enabled = true in the config", file=sys.stderr)
        services.close()
        return 1
    if not args.sync:
        services.sync_status.agent = None  # the agent runs elsewhere (truck-pos-sync); show the shared outbox
    if args.headless:
        gc.enable()  # no first frame to wait for
        from truck_pos.headless import run_headless

        return run_headless(services, control=args.control, sync=args.sync)
    configure_kivy(args.fullscreen, args.size)
    from truck_pos.ui.app import TruckPosApp

    if args.sync:
        services.extras["sync"].start()
    try:
        TruckPosApp(services).run()
    finally:
        services.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
