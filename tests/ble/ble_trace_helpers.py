"""Helpers for the BLE tests: committed traces, their ground truth and the registered test devices."""

from __future__ import annotations

import json
from pathlib import Path

from truck_pos.devices.ble_fake import TraceRow, load_trace

DATA = Path(__file__).resolve().parent.parent / "data" / "ble"


def truth(name: str) -> dict:
    return json.loads((DATA / f"{name}.truth.json").read_text("utf-8"))


def devices() -> list[dict]:
    return json.loads((DATA / "devices.json").read_text("utf-8"))


_TRACES: dict[str, list[TraceRow]] = {}


def trace(name: str) -> list[TraceRow]:
    """A committed trace, parsed once per test session."""
    if name not in _TRACES:
        _TRACES[name] = load_trace(DATA / f"{name}.csv.gz")
    return _TRACES[name]
