"""A small BlueZ double on a private D-Bus: owns org.bluez, exports Adapter1 and LEAdvertisingManager1 at /org/bluez/hci0.

On RegisterAdvertisement(path, options) it reads the caller's LEAdvertisement1 properties with
Properties.GetAll, as bluetoothd does, and keeps them; a second registration of the same path gets
org.bluez.Error.AlreadyExists, an unknown path on unregister org.bluez.Error.DoesNotExist.
No ``from __future__ import annotations``: dbus-fast reads signatures from annotations.
"""

import asyncio
import subprocess
from typing import Any

from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_property

ADAPTER = "/org/bluez/hci0"
MANAGER = "org.bluez.LEAdvertisingManager1"


class _Adapter(ServiceInterface):
    def __init__(self):
        super().__init__("org.bluez.Adapter1")

    @dbus_property(PropertyAccess.READ)
    def Address(self) -> "s":  # noqa: F821
        return "B8:27:EB:00:00:01"

    @dbus_property(PropertyAccess.READ)
    def Powered(self) -> "b":  # noqa: F821
        return True


class _Manager(ServiceInterface):
    def __init__(self, double: "BlueZDouble"):
        super().__init__(MANAGER)
        self.double = double

    @dbus_property(PropertyAccess.READ)
    def ActiveInstances(self) -> "y":  # noqa: F821
        return len(self.double.registered)

    @dbus_property(PropertyAccess.READ)
    def SupportedInstances(self) -> "y":  # noqa: F821
        return 4


class BlueZDouble:
    """Registered advertisements by object path: {"sender", "properties", "manufacturer_data"}; history in ``log``."""

    def __init__(self):
        self.bus: MessageBus | None = None
        self.registered: dict[str, dict[str, Any]] = {}
        self.log: list[tuple[str, str]] = []  # (member, path)

    async def start(self, address: str) -> "BlueZDouble":
        self.bus = await MessageBus(bus_address=address).connect()
        await self.bus.request_name("org.bluez")
        self.bus.export(ADAPTER, _Adapter())
        self.bus.export(ADAPTER, _Manager(self))
        self.bus.add_message_handler(self._handle)
        return self

    def _handle(self, msg: Message):
        if msg.message_type != MessageType.METHOD_CALL or msg.interface != MANAGER or msg.path != ADAPTER:
            return None
        path = msg.body[0]
        self.log.append((msg.member, path))
        if msg.member == "RegisterAdvertisement":
            if path in self.registered:
                return Message.new_error(msg, "org.bluez.Error.AlreadyExists", "Already Exists")
            asyncio.ensure_future(self._register(msg, path))
            return True
        if msg.member == "UnregisterAdvertisement":
            if self.registered.pop(path, None) is None:
                return Message.new_error(msg, "org.bluez.Error.DoesNotExist", "Does Not Exist")
            return Message.new_method_return(msg)
        return None

    async def _register(self, msg: Message, path: str) -> None:
        assert self.bus is not None
        reply = await self.bus.call(Message(destination=msg.sender, path=path, interface="org.freedesktop.DBus.Properties",
                                            member="GetAll", signature="s", body=["org.bluez.LEAdvertisement1"]))
        if reply.message_type == MessageType.ERROR:
            self.bus.send(Message.new_error(msg, "org.bluez.Error.Failed", f"cannot read the advertisement: {reply.error_name}"))
            return
        props = {k: v.value for k, v in reply.body[0].items()}
        mfr = {company: bytes(v.value) for company, v in props.get("ManufacturerData", {}).items()}
        self.registered[path] = {"sender": msg.sender, "properties": props, "manufacturer_data": mfr}
        self.bus.send(Message.new_method_return(msg))

    def close(self) -> None:
        if self.bus is not None:
            self.bus.disconnect()


def start_private_bus() -> tuple[subprocess.Popen, str]:
    """``dbus-daemon --session --nofork --print-address=1``: its own bus, its address."""
    proc = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"], stdout=subprocess.PIPE, text=True)
    address = proc.stdout.readline().strip()  # type: ignore[union-attr]
    if not address:
        proc.kill()
        raise RuntimeError("dbus-daemon printed no address")
    return proc, address
