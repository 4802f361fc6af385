"""A fake BLE radio that replays recorded traces through bleak's own value types and callback path.

Each trace row becomes a real ``bleak.BLEDevice`` and ``bleak.backends.scanner.AdvertisementData``
and is passed to the same ``detection_callback`` that :class:`truck_pos.devices.ble.BleScanner`
registers with ``BleakScanner``. The clock (a :class:`truck_pos.clock.FakeClock`) is moved to
each row's time first, so the pipeline sees trace time, not wall time. The radio can be told to
fail its next starts or to go silent part-way, to exercise the adapter's restart path.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

from truck_pos.clock import FakeClock


class TraceRow(NamedTuple):
    """One recorded report (``t_s`` relative to the trace start)."""

    t_s: float
    address: str
    rssi_dbm: int
    service_uuid: str
    service_data: bytes
    tx_power_dbm: int | None


def load_trace(path: str | Path) -> list[TraceRow]:
    """Read a ``.csv`` or ``.csv.gz`` trace written by scripts/gen_ble_traces.py."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:  # type: ignore[operator]
        return [TraceRow(float(r["t_s"]), r["address"], int(r["rssi_dbm"]), r["service_uuid"],
                         bytes.fromhex(r["service_data_hex"]), int(r["tx_power_dbm"]) if r["tx_power_dbm"] else None)
                for r in csv.DictReader(fh)]


def to_bleak(row: TraceRow) -> tuple[Any, Any]:
    """The ``(BLEDevice, AdvertisementData)`` pair bleak would hand the detection callback."""
    from bleak.backends.device import BLEDevice
    from bleak.backends.scanner import AdvertisementData

    uuids = [row.service_uuid] if row.service_uuid else []
    data = AdvertisementData(local_name=None, manufacturer_data={}, service_data={row.service_uuid: row.service_data} if uuids else {},
                             service_uuids=uuids, tx_power=row.tx_power_dbm, rssi=row.rssi_dbm, platform_data=())
    return BLEDevice(row.address, None, None), data


def replay(rows: Iterable[TraceRow], callback: Callable[[Any, Any], None], clock: FakeClock, start_unix: float,
           tick: Callable[[float], None] | None = None, tick_s: float = 0.5) -> Iterator[int]:
    """Feed rows to ``callback`` in trace time, ticking every ``tick_s``; yields each row's index."""
    next_tick = None
    for i, row in enumerate(rows):
        t = start_unix + row.t_s
        if tick is not None:
            next_tick = t if next_tick is None else next_tick
            while next_tick <= t:
                clock.set(datetime.fromtimestamp(next_tick, timezone.utc))
                tick(next_tick)
                next_tick += tick_s
        clock.set(datetime.fromtimestamp(t, timezone.utc))
        callback(*to_bleak(row))
        yield i


def replay_all(rows: Iterable[TraceRow], callback: Callable[[Any, Any], None], clock: FakeClock, start_unix: float,
               tick: Callable[[float], None] | None = None, tick_s: float = 0.5, tail_s: float = 30.0) -> None:
    """Replay synchronously, then keep ticking ``tail_s`` past the last row (pending dwells, silences)."""
    last = None
    for _ in replay(rows, callback, clock, start_unix, tick, tick_s):
        last = clock.now().timestamp()
    if tick is not None and last is not None:
        t = last
        while t < last + tail_s:
            t += tick_s
            clock.set(datetime.fromtimestamp(t, timezone.utc))
            tick(t)


class FakeRadio:
    """A replaying radio shared by the scanners the adapter builds; use :meth:`factory` as backend_factory.

    ``silent_from``: after that many rows the radio stops reporting (the adapter vanished while
    scanning); ``fail_starts``: then the next n ``start()`` calls raise bleak's own ``BleakError``
    (adapter not back yet); the replay resumes where it stopped when a later scanner starts.
    """

    def __init__(self, rows: list[TraceRow], clock: FakeClock, start_unix: float, *, fail_starts: int = 0,
                 silent_from: int | None = None, passive_supported: bool = True,
                 tick: Callable[[float], None] | None = None, rows_per_step: int = 200):
        self.rows, self.clock, self.start_unix = rows, clock, start_unix
        self.fail_starts, self.silent_from, self.passive_supported = fail_starts, silent_from, passive_supported
        self.tick, self.rows_per_step = tick, rows_per_step
        self.cursor = 0
        self.starts: list[str] = []  # modes of every start attempt, for tests
        self.finished = threading.Event()

    def factory(self, callback: Callable[[Any, Any], None], mode: str, bluez: dict[str, Any]) -> "_FakeScanner":
        return _FakeScanner(self, callback, mode, bluez)


class _FakeScanner:
    """Quacks like ``BleakScanner``: async start() / stop(); replays in its loop between awaits."""

    def __init__(self, radio: FakeRadio, callback: Callable[[Any, Any], None], mode: str, bluez: dict[str, Any]):
        self.radio, self.callback, self.mode, self.bluez = radio, callback, mode, bluez
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        from bleak.exc import BleakError

        r = self.radio
        r.starts.append(self.mode)
        if self.mode == "passive" and not r.passive_supported:
            raise BleakError("passive scanning on Linux requires BlueZ >= 5.56 with --experimental enabled")
        if r.fail_starts > 0 and r.silent_from is None:
            r.fail_starts -= 1
            raise BleakError(f"adapter {self.bluez.get('adapter')!r} not found")
        self._task = asyncio.ensure_future(self._pump())

    async def _pump(self) -> None:
        r = self.radio
        first = r.cursor
        stop_at = len(r.rows) if r.silent_from is None else r.silent_from
        for n in replay(r.rows[first:stop_at], self.callback, r.clock, r.start_unix, r.tick):
            r.cursor = first + n + 1
            if n % r.rows_per_step == r.rows_per_step - 1:
                await asyncio.sleep(0)
        if r.silent_from is not None:
            r.silent_from = None  # silent from here on; the next scanner that starts resumes the trace
        else:
            r.finished.set()

    async def stop(self) -> None:
        if self._task and not self._task.done():
            self._task.cancel()
