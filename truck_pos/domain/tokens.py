"""Rotating BLE tokens: derive, encode, parse and resolve them (pure; see docs/ble-advertising.md).

A registered phone advertises, as service data under :data:`SERVICE_UUID`, the token
``HMAC-SHA256(secret, DOMAIN || slot as 8-byte big-endian)[:8]`` where ``slot = floor(unix_s /
slot_s)``. Without the secret a third party can neither link two slots' tokens nor forge one;
the truck resolves tokens through a table precomputed for the current slot and ``skew_slots``
either side (phone clocks drift).
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable
from dataclasses import dataclass

SERVICE_UUID = "7c0f5a3e-1b2d-4c6e-9a8f-2d4b6e8f0a1c"  # 128-bit, random; no SIG registration needed
FORMAT_VERSION = 1
TOKEN_LEN = 8
DOMAIN = b"truck_pos/ble/v1"
DEFAULT_SLOT_S = 300


def slot_of(unix_s: float, slot_s: int = DEFAULT_SLOT_S) -> int:
    """The time slot an instant (seconds since the Unix epoch, UTC) falls in."""
    return math.floor(unix_s / slot_s)


def derive_token(secret: bytes, slot: int) -> bytes:
    """The 8-byte token a device with ``secret`` advertises during ``slot``."""
    return hmac.new(secret, DOMAIN + slot.to_bytes(8, "big", signed=True), hashlib.sha256).digest()[:TOKEN_LEN]


def encode_service_data(token: bytes, measured_power_dbm: int | None = None) -> bytes:
    """The service-data bytes: version, token, and optionally the calibrated RSSI at 1 m (int8)."""
    if len(token) != TOKEN_LEN:
        raise ValueError(f"token must be {TOKEN_LEN} bytes")
    tail = b"" if measured_power_dbm is None else int(measured_power_dbm).to_bytes(1, "big", signed=True)
    return bytes([FORMAT_VERSION]) + token + tail


@dataclass(frozen=True, slots=True)
class ServiceData:
    """What a phone's advertisement carries under our service UUID."""

    token: bytes
    measured_power_dbm: int | None


def parse_service_data(data: bytes | None) -> ServiceData | None:
    """Decode service data; ``None`` for anything that is not a version-1 payload."""
    if not data or data[0] != FORMAT_VERSION or len(data) not in (1 + TOKEN_LEN, 2 + TOKEN_LEN):
        return None
    power = int.from_bytes(data[9:10], "big", signed=True) if len(data) == 2 + TOKEN_LEN else None
    return ServiceData(bytes(data[1:9]), power)


class TokenTable:
    """Token -> device id for the slots ``center - skew .. center + skew``; rebuilt when the slot moves.

    ``devices`` are ``(device_id, secret)`` pairs. Cost: ``len(devices) * (2*skew + 1)`` HMACs per
    rebuild, then one dict lookup per advertisement.
    """

    def __init__(self, devices: Iterable[tuple[str, bytes]], *, slot_s: int = DEFAULT_SLOT_S, skew_slots: int = 1):
        if slot_s <= 0 or skew_slots < 0:
            raise ValueError("slot_s must be > 0 and skew_slots >= 0")
        self.slot_s = slot_s
        self.skew_slots = skew_slots
        self._devices = list(devices)
        self._center: int | None = None
        self._table: dict[bytes, str] = {}

    def __len__(self) -> int:
        return len(self._devices)

    def _rebuild(self, center: int) -> None:
        table: dict[bytes, str] = {}
        for slot in range(center - self.skew_slots, center + self.skew_slots + 1):
            for device_id, secret in self._devices:
                table[derive_token(secret, slot)] = device_id
        self._table, self._center = table, center

    def resolve(self, token: bytes, unix_s: float) -> str | None:
        """The device whose token this is at ``unix_s`` (within the skew), else ``None``."""
        center = math.floor(unix_s / self.slot_s)
        if center != self._center:
            self._rebuild(center)
        return self._table.get(token)
