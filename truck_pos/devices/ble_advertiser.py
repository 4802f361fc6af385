"""Reverse mode for iPhones: the truck advertises an iBeacon-compatible frame carrying its rotating token.

iOS lets an app be woken by region monitoring for an iBeacon UUID, even in the background, but
lets no app advertise anything readable in the background. So the truck advertises (through
BlueZ's ``LEAdvertisingManager1`` over D-Bus, with dbus-fast, which bleak already uses) the fleet's
beacon UUID with ``major``/``minor`` = the truck's 32-bit token for the current slot; the app
reports it to the hub (sync/hub/phone_report.py, docs/ble-advertising.md). Each slot the
advertisement is unregistered and registered again with the new token.

No ``from __future__ import annotations`` here: dbus-fast reads the D-Bus signatures from the
annotations at class creation.
"""

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_property, method

from truck_pos.clock import Clock
from truck_pos.devices.loop_thread import LoopThread
from truck_pos.domain.tokens import APPLE_COMPANY_ID, slot_of, truck_beacon

log = logging.getLogger(__name__)

ADVERTISEMENT_IFACE = "org.bluez.LEAdvertisement1"
MANAGER_IFACE = "org.bluez.LEAdvertisingManager1"


class AdvertiseError(RuntimeError):
    """BlueZ refused the advertisement (the D-Bus error name is in the message)."""


class _Advertisement(ServiceInterface):
    """The object BlueZ reads the advertisement from (Properties.GetAll on LEAdvertisement1)."""

    def __init__(self, manufacturer_data: bytes):
        super().__init__(ADVERTISEMENT_IFACE)
        self.manufacturer_data = manufacturer_data
        self.released = False

    @method()
    def Release(self) -> "":  # noqa: F722 - a D-Bus signature, not a type
        self.released = True

    @dbus_property(PropertyAccess.READ)
    def Type(self) -> "s":  # noqa: F821
        return "broadcast"

    @dbus_property(PropertyAccess.READ)
    def ManufacturerData(self) -> "a{qv}":  # noqa: F722
        return {APPLE_COMPANY_ID: Variant("ay", self.manufacturer_data)}


class BeaconAdvertiser:
    """Registers the truck's beacon with BlueZ and re-registers it at every slot boundary."""

    def __init__(self, truck_secret: bytes, *, clock: Clock, adapter: str = "hci0", slot_s: int = 300,
                 measured_power_dbm: int = -59, bus_address: str | None = None, path: str = "/org/truck_pos/beacon0"):
        self._secret, self._clock, self._slot_s, self._power = truck_secret, clock, slot_s, measured_power_dbm
        self._adapter_path, self._bus_address, self._path = f"/org/bluez/{adapter}", bus_address, path
        self._bus: MessageBus | None = None
        self._iface: _Advertisement | None = None
        self.slot: int | None = None
        self.state = "stopped"  # stopped | advertising | unavailable
        self.message = ""
        self._runner = LoopThread("ble-beacon")

    async def connect(self) -> None:
        """Connect to the system bus (or ``bus_address``)."""
        if self._bus_address:
            self._bus = await MessageBus(bus_address=self._bus_address).connect()
        else:
            self._bus = await MessageBus(bus_type=BusType.SYSTEM).connect()

    async def _manager_call(self, member: str, signature: str, body: list[Any]) -> None:
        assert self._bus is not None
        reply = await self._bus.call(Message(destination="org.bluez", path=self._adapter_path, interface=MANAGER_IFACE,
                                             member=member, signature=signature, body=body))
        if reply.message_type == MessageType.ERROR:
            raise AdvertiseError(f"{reply.error_name}: {reply.body[0] if reply.body else ''}")

    async def advertise(self, now_unix: float | None = None) -> bool:
        """Register the beacon for the current slot if it is not already; True when it (re)registered."""
        if self._bus is None:
            await self.connect()
        now = self._clock.now().timestamp() if now_unix is None else now_unix
        slot = slot_of(now, self._slot_s)
        if slot == self.slot:
            return False
        await self.withdraw()
        assert self._bus is not None
        self._iface = _Advertisement(truck_beacon(self._secret, slot, self._power))
        self._bus.export(self._path, self._iface)
        try:
            await self._manager_call("RegisterAdvertisement", "oa{sv}", [self._path, {}])
        except AdvertiseError:
            self._bus.unexport(self._path, self._iface)
            self._iface = None
            raise
        self.slot, self.state, self.message = slot, "advertising", ""
        return True

    async def withdraw(self) -> None:
        """Unregister the current advertisement (if any)."""
        if self._iface is None or self._bus is None:
            return
        try:
            await self._manager_call("UnregisterAdvertisement", "o", [self._path])
        except AdvertiseError as exc:  # BlueZ may have dropped it already (adapter reset)
            log.info("unregistering the beacon: %s", exc)
        self._bus.unexport(self._path, self._iface)
        self._iface, self.slot = None, None

    async def close(self) -> None:
        """Withdraw and disconnect."""
        await self.withdraw()
        if self._bus is not None:
            self._bus.disconnect()
            self._bus = None
        self.state = "stopped"

    # -- background thread (the register runs it beside the scanner) ---------------------------
    async def _run(self, retry_s: float) -> None:
        assert self._runner.stop_event is not None
        while not self._runner.stop_event.is_set():
            try:
                await self.advertise()
            except Exception as exc:  # no BlueZ, no adapter, refused: say so and retry
                self.state, self.message = "unavailable", f"beacon not advertised; retrying ({exc})"
                log.warning("%s", self.message)
                self._bus, self._iface, self.slot = None, None, None
            try:
                await asyncio.wait_for(self._runner.stop_event.wait(), 1.0 if self.state == "advertising" else retry_s)
            except asyncio.TimeoutError:
                pass
        await self.close()

    def start(self, retry_s: float = 30.0) -> None:
        """Advertise from a background thread until :meth:`stop` (idempotent)."""
        self._runner.start(lambda: self._run(retry_s))

    def stop(self, timeout_s: float = 5.0) -> None:
        """Withdraw the beacon and join the thread."""
        self._runner.stop(timeout_s)

    def status_text(self) -> str:
        """E.g. "beacon on" / "beacon off: ..." for the status bar."""
        return "beacon on" if self.state == "advertising" else ("beacon off" if self.state == "stopped" else self.message)


def load_truck_secret(path: str, read: Callable[[str], bytes] = lambda p: open(p, "rb").read()) -> bytes:
    """The truck's beacon secret: a file of >= 16 bytes, or hex text (provisioned 0600, never in git)."""
    raw = read(path).strip()
    try:
        secret = bytes.fromhex(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        secret = raw
    if len(secret) < 16:
        raise ValueError(f"{path}: the truck beacon secret must be at least 16 bytes")
    return secret
