"""BLE scanning adapter: bleak's BleakScanner in its own asyncio loop and thread, restarted with backoff.

Everything the radio reports goes through :meth:`BleScanner.detection_callback` (the callback
bleak calls, and the one the replay fake calls), which keeps only advertisements carrying our
service data and hands them on as small :class:`Advertisement` values. The sink runs on the
scanner thread: it must be thread-safe and quick. bleak is imported lazily, when a real scanner
is built, so tests and laptops without BlueZ never touch it.

Active scanning runs with the discovery filter ``DuplicateData=True`` (BlueZ >= 5.48): without a
filter BlueZ reports a phone only when its data change or its RSSI moves 8 dB (its RSSI
delta-threshold), which starves the detector. Passive scanning goes through BlueZ's advertisement
monitor (BlueZ >= 5.56 with ``--experimental``), which de-duplicates the same way (bleak cannot ask
it for every report), so it is used only when configured (``[ble] passive``), and the status says
the reports are sparse. The BlueZ version is read at start (``bluetoothctl --version``) and shown. If the adapter disappears (unplugged, bluetoothd
restarted), starting fails or the radio goes silent for ``watchdog_s``; the scanner is then
rebuilt with exponential backoff. Filter state lives in the service, so a restart loses none.
"""

from __future__ import annotations

import asyncio
import logging
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, NamedTuple, Protocol

from truck_pos.clock import Clock, SystemClock
from truck_pos.devices.loop_thread import LoopThread
from truck_pos.domain.tokens import SERVICE_UUID

log = logging.getLogger(__name__)


class Advertisement(NamedTuple):
    """One report of a phone advertising our service data; ``t_s`` is Unix seconds from the clock."""

    # A NamedTuple, not a frozen dataclass: one is built per report, and a frozen dataclass's __init__
    # (object.__setattr__ per field) cost more than parsing the report.

    t_s: float
    address: str
    rssi_dbm: int
    service_data: bytes
    tx_power_dbm: int | None


@dataclass(frozen=True)
class ScannerStatus:
    """What the status screen shows about the radio."""

    state: str  # stopped | starting | scanning | restarting | unavailable
    mode: str  # passive | active
    adapter: str
    message: str = ""
    restarts: int = 0
    reports_seen: int = 0


class ScanBackend(Protocol):
    """The part of ``bleak.BleakScanner`` we use."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


# (detection_callback, scanning_mode, bluez_args) -> a scanner; the default builds a BleakScanner.
BackendFactory = Callable[[Callable[[Any, Any], None], str, dict[str, Any]], ScanBackend]


def bleak_backend(detection_callback: Callable[[Any, Any], None], scanning_mode: str, bluez: dict[str, Any]) -> ScanBackend:
    """A real ``bleak.BleakScanner`` (imported here, lazily)."""
    from bleak import BleakScanner

    return BleakScanner(detection_callback=detection_callback, scanning_mode=scanning_mode, bluez=bluez)  # type: ignore[arg-type]


DUPLICATE_DATA_BLUEZ = (5, 48)  # first BlueZ with the DuplicateData discovery filter
PASSIVE_BLUEZ = (5, 56)  # advertisement monitor (passive scanning), with --experimental


def bluez_version(run: Callable[..., Any] = subprocess.run) -> tuple[int, int] | None:
    """BlueZ's version from ``bluetoothctl --version`` (e.g. (5, 66)); None if it cannot be read."""
    try:
        out = run(["bluetoothctl", "--version"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"(\d+)\.(\d+)", out or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def mode_text(mode: str, version: tuple[int, int] | None) -> str:
    """What the status bar says about the scan: the mode, whether every report arrives, and BlueZ."""
    v = "BlueZ ?" if version is None else f"BlueZ {version[0]}.{version[1]}"
    if mode == "passive":
        return f"passive scan, sparse reports ({v})"
    if version is not None and version < DUPLICATE_DATA_BLUEZ:
        return f"active scan, sparse reports ({v} < 5.48 has no DuplicateData)"
    return f"active scan, every report ({v})"


def bluez_args(adapter: str, mode: str) -> dict[str, Any]:
    """BlueZ arguments: the adapter; active: DuplicateData; passive: an or-pattern matching our service data."""
    args: dict[str, Any] = {"adapter": adapter}
    if mode == "active":
        args["filters"] = {"DuplicateData": True}  # report every advertisement, not only changes
    if mode == "passive":
        from bleak.args.bluez import OrPattern
        from bleak.assigned_numbers import AdvertisementDataType

        # Service data AD: the 128-bit UUID comes first, least significant byte first.
        uuid_le = uuid.UUID(SERVICE_UUID).bytes[::-1]
        args["or_patterns"] = [OrPattern(0, AdvertisementDataType.SERVICE_DATA_UUID128, uuid_le)]
    return args


def unavailable_message(adapter: str, mode: str, exc: Exception) -> str:
    """A sentence for the status screen about why scanning could not start."""
    if isinstance(exc, (FileNotFoundError, ConnectionRefusedError)):
        return f"Bluetooth service not reachable (is bluetoothd running?); retrying ({exc})"
    return f"Bluetooth adapter {adapter} unavailable for {mode} scanning; retrying ({exc or type(exc).__name__})"


class BleScanner:
    """Runs a scanner in a background thread; feeds ``sink`` and calls ``tick`` every ``tick_s``."""

    def __init__(self, sink: Callable[[Advertisement], None], *, clock: Clock | None = None, adapter: str = "hci0",
                 passive: bool = False, backend_factory: BackendFactory | None = None,
                 tick: Callable[[float], None] | None = None, tick_s: float = 0.5,
                 backoff_initial_s: float = 1.0, backoff_max_s: float = 60.0, watchdog_s: float = 120.0,
                 version_probe: Callable[[], tuple[int, int] | None] = bluez_version):
        self._sink, self._tick, self._clock = sink, tick, clock or SystemClock()
        self._factory = backend_factory or bleak_backend
        self._prefer_passive = passive
        self._tick_s, self._backoff = tick_s, (backoff_initial_s, backoff_max_s)
        self._watchdog_s = watchdog_s
        self._status = ScannerStatus("stopped", "passive" if passive else "active", adapter)
        self._probe = version_probe
        self.bluez: tuple[int, int] | None = None  # read at start
        self._lock = threading.Lock()
        self._seen = 0
        self._last_report = time.monotonic()
        self._runner = LoopThread("ble-scanner")

    # -- the callback path (bleak and the fake both call this) --------------------------------
    def detection_callback(self, device: Any, data: Any) -> None:
        """bleak's detection callback: keep our service data, pass it on; never raises."""
        self._seen += 1
        self._last_report = time.monotonic()
        payload = data.service_data.get(SERVICE_UUID)
        if payload is None:
            return
        try:
            self._sink(Advertisement(self._clock.now().timestamp(), device.address, data.rssi, bytes(payload), data.tx_power))
        except Exception:  # a bad report must not stop the radio
            log.exception("proximity sink failed on a report from %s", device.address)

    # -- lifecycle ----------------------------------------------------------------------------
    def status(self) -> ScannerStatus:
        """The current state, for the status screen."""
        with self._lock:
            return replace(self._status, reports_seen=self._seen)

    def mode_text(self) -> str:
        """E.g. "active scan, every report (BlueZ 5.66)"."""
        return mode_text(self.status().mode, self.bluez)

    def _set(self, **changes: Any) -> None:
        with self._lock:
            self._status = replace(self._status, **changes)

    def start(self) -> None:
        """Start the background thread (idempotent)."""
        self._runner.start(self._run)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop scanning and join the thread."""
        self._runner.stop(timeout_s)
        self._set(state="stopped", message="")

    async def _run(self) -> None:
        assert self._runner.stop_event is not None
        self.bluez = self._probe()
        if self.bluez is not None and self.bluez < DUPLICATE_DATA_BLUEZ:
            log.warning("BlueZ %d.%d has no DuplicateData filter: reports will be sparse (need >= 5.48)", *self.bluez)
        ticker = asyncio.ensure_future(self._ticker())
        backoff = self._backoff[0]
        restarts = 0
        try:
            while not self._runner.stop_event.is_set():
                scanner = await self._start_scanner()
                if scanner is None:
                    self._set(state="unavailable", restarts=restarts)
                    if await self._wait(backoff):
                        break
                    backoff = min(backoff * 2, self._backoff[1])
                    restarts += 1
                    continue
                backoff = self._backoff[0]
                self._set(state="scanning", restarts=restarts)
                reason = await self._watch()
                await self._stop_scanner(scanner)
                if reason:
                    restarts += 1
                    self._set(state="restarting", message=reason, restarts=restarts)
        finally:
            ticker.cancel()

    async def _start_scanner(self) -> ScanBackend | None:
        """Build and start a scanner, passive first if preferred; ``None`` if the adapter refuses."""
        passive_ok = self._prefer_passive and (self.bluez is None or self.bluez >= PASSIVE_BLUEZ)
        modes = ["passive", "active"] if passive_ok else ["active"]
        adapter = self._status.adapter
        for mode in modes:
            self._set(state="starting", mode=mode)
            try:
                scanner = self._factory(self.detection_callback, mode, bluez_args(adapter, mode))
                await scanner.start()
            except Exception as exc:  # BleakError, DBus errors, OSError: all mean "not now"
                message = unavailable_message(adapter, mode, exc)
                # Warn when the reason changes; the retries every backoff period go to debug.
                log.log(logging.WARNING if message != self._status.message else logging.DEBUG, "%s", message)
                self._set(message=message)
                continue
            self._set(message="" if mode == modes[0] else "passive scanning unavailable; scanning actively")
            self._last_report = time.monotonic()
            return scanner
        return None

    async def _stop_scanner(self, scanner: ScanBackend) -> None:
        try:
            await scanner.stop()
        except Exception as exc:  # the adapter may already be gone
            log.info("BLE scanner stop failed (ignored): %s", exc)

    async def _watch(self) -> str:
        """Wait until asked to stop (returns "") or the radio went silent (returns the reason)."""
        assert self._runner.stop_event is not None
        while not self._runner.stop_event.is_set():
            if await self._wait(min(1.0, self._watchdog_s / 4)):
                return ""
            if time.monotonic() - self._last_report > self._watchdog_s:
                log.warning("no BLE reports for %.0f s; restarting the scanner", self._watchdog_s)
                return f"no reports for {self._watchdog_s:.0f} s"
        return ""

    async def _wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if stop was requested."""
        assert self._runner.stop_event is not None
        try:
            await asyncio.wait_for(self._runner.stop_event.wait(), seconds)
        except asyncio.TimeoutError:
            return False
        return True

    async def _ticker(self) -> None:
        while self._tick is not None:
            await asyncio.sleep(self._tick_s)
            try:
                self._tick(self._clock.now().timestamp())
            except Exception:
                log.exception("proximity tick failed")
