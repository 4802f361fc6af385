"""Claim codes for the pickup window: truck, business day and order, signed with the truck's key. Pure.

Text form (QR payload, also typeable): ``TP1.<TRUCK>.<YYYYMMDD>.<NUMBER>.<ORDER>.<SIG>``
- ``TRUCK`` the truck id, upper-cased; ``ORDER`` the order uuid in base32 (26 chars);
- ``SIG`` the first 10 bytes of HMAC-SHA256(key, everything before ``.SIG``), base32 (16 chars).
Everything is upper case so a keyboard-mode scanner with caps lock on still reads a valid code,
and the characters stay inside QR's compact alphanumeric set when the truck id does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import date

PREFIX = "TP1"
SIG_BYTES = 10
MAX_CLAIM_CHARS = 200
# The longest truck field a claim can carry (config bounds truck ids to 64): every genuine code stays under
# MAX_CLAIM_CHARS (TP1 + day + number + uuid + signature take 3+8+9+26+16 chars and 5 dots).
MAX_TRUCK_FIELD = 64
_B32_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


@dataclass(frozen=True)
class Claim:
    """A verified claim: which order of which truck and day."""

    truck_id: str  # as printed: upper case, dots and spaces turned into dashes
    business_day: date
    number: int
    order_uuid: str


@dataclass(frozen=True)
class ClaimRefused:
    """Why a scanned text is not a valid claim for this truck; ``reason`` is for staff."""

    reason: str
    kind: str  # not_a_claim | forged | other_truck


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def _unb32(text: str) -> bytes:
    return base64.b32decode(text + "=" * (-len(text) % 8))


def _sign(body: str, key: bytes) -> str:
    return _b32(hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()[:SIG_BYTES])


def _truck_field(truck_id: str) -> str:
    """The truck id as it appears in a claim: upper case, dots and spaces as dashes, ASCII only."""
    text = "-".join(truck_id.strip().upper().replace(".", " ").split())
    return "".join(ch if ch.isascii() and ch.isprintable() else "-" for ch in text) or "-"


def make_claim(key: bytes, truck_id: str, business_day: date, number: int, order_uuid: str) -> str:
    """The signed claim text for one order (deterministic: a reprint gives the same code)."""
    if not key:
        raise ValueError("a claim key is required")
    truck = _truck_field(truck_id)
    if len(truck) > MAX_TRUCK_FIELD:  # config refuses such ids; a code nobody could scan must not be printed
        raise ValueError(f"truck id longer than {MAX_TRUCK_FIELD} characters cannot go into a claim")
    body = ".".join((PREFIX, truck, business_day.strftime("%Y%m%d"), str(int(number)),
                     _b32(uuid.UUID(order_uuid).bytes)))
    return f"{body}.{_sign(body, key)}"


def verify_claim(text: str | bytes, key: bytes, truck_id: str) -> Claim | ClaimRefused:
    """Check a scanned or typed claim; a refusal is a value with a reason, never an exception.

    Parsing is strictly ASCII: a code this system printed is ASCII, so any other character (Unicode
    digits, look-alike letters, control bytes) means "not a pickup code" before anything is decoded.
    """
    cleaned = _ascii_claim_text(text)
    parts = cleaned.split(".") if cleaned is not None else []
    if cleaned is None or len(parts) != 6 or parts[0] != PREFIX:
        return ClaimRefused("Not a pickup code from this system", "not_a_claim")
    _, truck, day_text, number_text, order_text, sig = parts
    day, number, order = _fields(day_text, number_text, order_text)
    if day is None or number is None or order is None or not _TRUCK_CHARS.fullmatch(truck):
        return ClaimRefused("Pickup code is damaged or incomplete - ask for the order number", "not_a_claim")
    if truck != _truck_field(truck_id):
        return ClaimRefused(f"This pickup code is for another truck ({truck[:40]})", "other_truck")
    body = cleaned[: cleaned.rfind(".")]
    if not hmac.compare_digest(sig.encode("ascii"), _sign(body, key).encode("ascii")):
        return ClaimRefused("Pickup code is not genuine (signature does not match) - check the order by number", "forged")
    return Claim(truck, day, number, order)


# What a claim's truck field may hold after _truck_field: printable ASCII without dots or spaces.
_TRUCK_CHARS = re.compile(r"[!-\-/-~]{1,%d}" % MAX_TRUCK_FIELD)


def _ascii_claim_text(text: str | bytes) -> str | None:
    """The claim text stripped and upper-cased, or None if it is not short printable ASCII."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("ascii")
        except UnicodeDecodeError:
            return None
    if not isinstance(text, str) or len(text) > MAX_CLAIM_CHARS + 16 or not text.isascii():
        return None
    cleaned = text.strip(" \t\r\n").upper()
    if len(cleaned) > MAX_CLAIM_CHARS or not cleaned.isprintable():
        return None
    return cleaned


def _fields(day_text: str, number_text: str, order_text: str) -> tuple[date | None, int | None, str | None]:
    """Day, order number and order uuid of a claim, each None when malformed (ASCII digits only)."""
    day = number = order = None
    if len(day_text) == 8 and day_text.isdigit():
        try:
            day = date(int(day_text[:4]), int(day_text[4:6]), int(day_text[6:8]))
        except ValueError:
            day = None
    if 0 < len(number_text) <= 9 and number_text.isdigit():
        number = int(number_text)
    if len(order_text) == 26 and set(order_text) <= _B32_CHARS:
        try:
            order = str(uuid.UUID(bytes=_unb32(order_text)))
        except ValueError:  # binascii.Error (a ValueError): padding bits that base32 refuses
            order = None
    return day, number, order
