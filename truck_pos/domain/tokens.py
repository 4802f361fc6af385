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
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

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
    return hmac.digest(secret, DOMAIN + slot.to_bytes(8, "big", signed=True), "sha256")[:TOKEN_LEN]


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


def _hmac_pads(secret: bytes) -> tuple[Any, Any]:
    """SHA-256 states after the HMAC key's inner and outer pads (RFC 2104): copy, update, digest = HMAC."""
    key = hashlib.sha256(secret).digest() if len(secret) > 64 else secret
    key = key.ljust(64, b"\0")
    return hashlib.sha256(bytes(b ^ 0x36 for b in key)), hashlib.sha256(bytes(b ^ 0x5C for b in key))


class TokenTable:
    """Token -> device id for the slots around the truck's (corrected) clock; rebuilt when the slot moves.

    ``devices`` are ``(device_id, secret)`` pairs. With a clock known good the table covers
    ``skew_slots`` either side (phone clocks drift). A truck whose clock is not known good (a Pi has
    no real-time clock) covers ``wide_skew_slots`` either side instead, and learns its own offset from
    the tokens it resolves: once ``learn_n`` resolutions from ``learn_devices`` phones agree on a slot
    offset, the centre moves by it. Cost: ``len(devices) * (2*skew + 1)`` HMACs per rebuild, then one
    dict lookup per advertisement.
    """

    def __init__(self, devices: Iterable[tuple[str, bytes]], *, slot_s: int = DEFAULT_SLOT_S, skew_slots: int = 1,
                 wide_skew_slots: int = 14, clock_trusted: bool = True, learn_n: int = 4, learn_devices: int = 3):
        if slot_s <= 0 or skew_slots < 0 or wide_skew_slots < skew_slots:
            raise ValueError("slot_s must be > 0 and 0 <= skew_slots <= wide_skew_slots")
        self.slot_s = slot_s
        self.skew_slots = skew_slots
        self.wide_skew_slots = wide_skew_slots
        self.clock_trusted = clock_trusted
        self._learn = (learn_n, learn_devices)
        self._devices = list(devices)
        self._key: tuple[int, int] | None = None
        self._table: dict[bytes, tuple[str, int]] = {}
        self._by_slot: dict[int, dict[bytes, tuple[str, int]]] = {}  # slot -> its tokens, for the slots in the table
        self._pads: list[tuple[str, Any, Any]] | None = None  # (device, keyed inner hash, keyed outer hash)
        self._seen: deque[tuple[int, str]] = deque(maxlen=4 * learn_n)  # (slot offset, device) of recent resolutions
        self._learned = False
        self._last_noted: dict[str, int] = {}
        self.offset_slots = 0  # learned: phones' slot - the truck clock's slot (applied only while the clock is untrusted)

    def __len__(self) -> int:
        return len(self._devices)

    def set_clock_trusted(self, trusted: bool) -> None:
        """Tell the table whether the truck's clock is known good (synchronised)."""
        self.clock_trusted = bool(trusted)

    def _rebuild(self, center: int, skew: int) -> None:
        # A slot's tokens are derived once: when the centre moves by one, only the new edge slot costs HMACs.
        slots = range(center - skew, center + skew + 1)
        old = self._by_slot
        self._by_slot = {slot: old.get(slot) or self._tokens_of(slot) for slot in slots}
        table: dict[bytes, tuple[str, int]] = {}
        for slot in slots:
            table.update(self._by_slot[slot])
        self._table, self._key = table, (center, skew)

    def _tokens_of(self, slot: int) -> dict[bytes, tuple[str, int]]:
        """Every device's token for a slot: HMAC-SHA256 from each secret's keyed inner and outer hash states
        (RFC 2104), kept from the first slot, so a token costs two hash copies instead of a fresh HMAC."""
        if self._pads is None:
            self._pads = [(device_id, *_hmac_pads(secret)) for device_id, secret in self._devices]
        msg = DOMAIN + slot.to_bytes(8, "big", signed=True)
        out: dict[bytes, tuple[str, int]] = {}
        for device_id, inner, outer in self._pads:
            i, o = inner.copy(), outer.copy()
            i.update(msg)
            o.update(i.digest())
            out[o.digest()[:TOKEN_LEN]] = (device_id, slot)
        return out

    def resolve(self, token: bytes, unix_s: float) -> str | None:
        """The device whose token this is at ``unix_s`` (within the skew), else ``None``."""
        own = math.floor(unix_s / self.slot_s)
        if self.clock_trusted:
            center, skew = own, self.skew_slots
        else:
            center, skew = own + self.offset_slots, self.wide_skew_slots
        if (center, skew) != self._key:
            self._rebuild(center, skew)
        hit = self._table.get(token)
        if hit is None:
            return None
        device_id, slot = hit
        self._note(slot - own, device_id)
        return device_id

    def carry_learning(self, other: "TokenTable") -> None:
        """Keep what ``other`` (the table this one replaces) learned about the clock."""
        self._seen.extend(other._seen)
        self._last_noted.update(other._last_noted)
        self.offset_slots, self._learned = other.offset_slots, other._learned

    def _note(self, offset: int, device_id: str) -> None:
        if self._last_noted.get(device_id) == offset:
            return  # one vote per phone per offset change: cheap on the hot path, and no phone outvotes the rest
        self._last_noted[device_id] = offset
        self._seen.append((offset, device_id))
        n, distinct = self._learn
        counts: dict[int, set[str]] = {}
        hits: dict[int, int] = {}
        for off, dev in self._seen:
            counts.setdefault(off, set()).add(dev)
            hits[off] = hits.get(off, 0) + 1
        best = max(hits, key=lambda o: hits[o])
        if hits[best] >= n and len(counts[best]) >= distinct and hits[best] * 2 > len(self._seen):
            self.offset_slots, self._learned = best, True

    def clock_offset_s(self) -> float | None:
        """How far the phones' clocks are ahead of the truck's (slot resolution) once learned, else None."""
        return None if not self._learned else float(self.offset_slots * self.slot_s)


# --- reverse mode: the truck advertises an iBeacon-compatible frame; phones report it to the hub ----------------
FLEET_BEACON_UUID = "d3a1c0de-5e1f-4b7a-9c2e-8f6b1a2c3d4e"  # iBeacon proximity UUID of every truck (iOS region)
APPLE_COMPANY_ID = 0x004C
TRUCK_DOMAIN = b"truck_pos/truck/v1"


def truck_token(truck_secret: bytes, slot: int) -> int:
    """The truck's 32-bit token for a slot, carried as iBeacon major (high 16 bits) and minor (low 16 bits)."""
    digest = hmac.new(truck_secret, TRUCK_DOMAIN + slot.to_bytes(8, "big", signed=True), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big")


def ibeacon_payload(major: int, minor: int, measured_power_dbm: int, beacon_uuid: str = FLEET_BEACON_UUID) -> bytes:
    """Manufacturer-specific data after the 0x004C company id: 02 15, UUID, major, minor, measured power (int8)."""
    if not (0 <= major <= 0xFFFF and 0 <= minor <= 0xFFFF and -128 <= measured_power_dbm <= 127):
        raise ValueError("major/minor are 16-bit, measured power a signed byte")
    return (b"\x02\x15" + uuid.UUID(beacon_uuid).bytes + major.to_bytes(2, "big") + minor.to_bytes(2, "big")
            + measured_power_dbm.to_bytes(1, "big", signed=True))


def truck_beacon(truck_secret: bytes, slot: int, measured_power_dbm: int = -59) -> bytes:
    """The iBeacon payload a truck advertises during ``slot``."""
    token = truck_token(truck_secret, slot)
    return ibeacon_payload(token >> 16, token & 0xFFFF, measured_power_dbm)


@dataclass(frozen=True, slots=True)
class Beacon:
    """A decoded iBeacon payload."""

    beacon_uuid: str
    major: int
    minor: int
    measured_power_dbm: int

    @property
    def token(self) -> int:
        """major and minor as one 32-bit truck token."""
        return (self.major << 16) | self.minor


def parse_ibeacon(payload: bytes | None) -> Beacon | None:
    """Decode the manufacturer data after the company id; ``None`` for anything that is not an iBeacon frame."""
    if not payload or len(payload) != 23 or payload[:2] != b"\x02\x15":
        return None
    return Beacon(str(uuid.UUID(bytes=bytes(payload[2:18]))), int.from_bytes(payload[18:20], "big"),
                  int.from_bytes(payload[20:22], "big"), int.from_bytes(payload[22:23], "big", signed=True))
