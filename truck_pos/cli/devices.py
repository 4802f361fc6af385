"""Registered BLE devices: ``truck-pos-admin devices load FILE`` and ``devices status``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from truck_pos.bootstrap import Services
from truck_pos.errors import InvalidInput


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("devices", help="registered phones for BLE proximity")
    ds = p.add_subparsers(dest="devices_command", required=True)
    load = ds.add_parser("load", help="replace the registered devices with a JSON file (a list, or a bundle with a 'devices' list)")
    load.add_argument("file")
    load.set_defaults(handler=cmd_load)
    st = ds.add_parser("status", help="registered devices, radio state and customers nearby")
    st.set_defaults(handler=cmd_status)


def cmd_load(args: argparse.Namespace, s: Services) -> int:
    try:
        document = json.loads(Path(args.file).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"cannot read devices file {args.file}: {exc}") from exc
    devices = document.get("devices") if isinstance(document, dict) else document
    if not isinstance(devices, list):
        raise InvalidInput(f"{args.file}: expected a list of devices or an object with a 'devices' list")
    assert s.proximity is not None
    print(f"registered devices loaded: {s.proximity.load_devices(devices)}")
    return 0


def cmd_status(args: argparse.Namespace, s: Services) -> int:
    assert s.proximity is not None
    for key, value in s.proximity.status().items():
        print(f"{key:15} {value}")
    return 0
