"""Code rules: segment codes, signed personal codes, and why a code is accepted or refused. Pure.

Personal code (text or QR content, QR alphanumeric-mode friendly)::

    TP1-<base32, no padding, of: payload || 64-byte Ed25519 signature>
    payload = 0x01 | len+campaign_id | len+segment | len+customer_ref | len+truck_id ("" = any truck)

The signature covers ``b"truck_pos.code.v1" + payload`` (so it can never be confused with a
bundle signature) and is the full 64 bytes: forging one is as hard as forging Ed25519. Typed
case, spaces and dashes do not matter; any other change is refused.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, NamedTuple

from truck_pos.domain.calendar import local
from truck_pos.domain.campaign import Benefit, Campaign, Segment, normalize
from truck_pos.domain.codeset import hasher
from truck_pos.domain.ed25519 import VerifyKey, verifies
from truck_pos.domain.order import TicketLine

if TYPE_CHECKING:  # the hub signs with cryptography (imported there); a truck reads with VerifyKey (libsodium)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PERSONAL_PREFIX = "TP1"
_CONTEXT = b"truck_pos.code.v1"
_SIG_LEN = 64
MAX_SEGMENT_CODE = 32
NEEDS_CUSTOMER = "this code needs the customer: scan their QR or look them up"


@dataclass(frozen=True)
class PersonalCode:
    """Who a personal code is for: campaign, segment, customer and optionally one truck."""

    campaign_id: str
    segment: str
    customer_ref: str
    truck_id: str = ""

    def payload(self) -> bytes:
        parts = [s.encode("utf-8") for s in (self.campaign_id, self.segment, self.customer_ref, self.truck_id)]
        if any(len(p) > 255 for p in parts):
            raise ValueError("personal code fields are limited to 255 bytes")
        return b"\x01" + b"".join(bytes([len(p)]) + p for p in parts)


def issue_personal_code(code: PersonalCode, private_key: Ed25519PrivateKey) -> str:
    """The owner's/cloud's side: a signed personal code as text (also the QR content)."""
    payload = code.payload()
    blob = payload + private_key.sign(_CONTEXT + payload)
    return f"{PERSONAL_PREFIX}-" + b32encode_unpadded(blob)


_B32_BYTES = bytes(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[i % 32] for i in range(256))
_SPREAD: dict[int, list[tuple[int, int, int]]] = {}


def _spread_plan(groups: int) -> list[tuple[int, int, int]]:
    """(keep mask, move mask, shift) steps that move 5-bit group j (from the right) from bit 5j to bit 8j.

    Group j must rise 3j bits; step b moves every group whose index has bit b set by 3 * 2**b, from the
    highest bit down, so no moved group lands on one still waiting.
    """
    steps = []
    for b in range(max(groups - 1, 1).bit_length() - 1, -1, -1):
        move = 0
        for j in range(groups):
            if j >> b & 1:
                move |= 31 << (5 * j + 3 * (j & ~((2 << b) - 1)))  # where group j is after the higher steps
        steps.append((~move, move, 3 << b))
    return steps


def b32encode_unpadded(blob: bytes) -> str:
    """RFC 4648 base32 without padding (what ``base64.b32encode`` gives, ``=`` stripped).

    ``base64.b32encode`` is a Python loop over 5-byte chunks and cost a third of the Ed25519 signature;
    here the 5-bit groups are spread to one per byte with a few big-integer mask-and-shift steps (C),
    then ``bytes.translate`` names them.
    """
    bits = len(blob) * 8
    groups = -(-bits // 5)
    value = int.from_bytes(blob, "big") << (groups * 5 - bits)
    steps = _SPREAD.get(groups)
    if steps is None:
        steps = _SPREAD[groups] = _spread_plan(groups)
    for keep, move, shift in steps:
        value = (value & keep) | ((value & move) << shift)
    return value.to_bytes(groups, "big").translate(_B32_BYTES).decode("ascii")


def is_personal(normalized: str) -> bool:
    return len(normalized) > MAX_SEGMENT_CODE and normalized.startswith(PERSONAL_PREFIX)


_B32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
# RFC 4648 letters to int()'s base-32 digits; every other ASCII letter/digit to "z", which base 32 refuses.
_B32_DIGITS = str.maketrans({**{c: "z" for c in string.ascii_letters + string.digits},
                             **dict(zip(_B32_ALPHABET, "0123456789abcdefghijklmnopqrstuv"))})
# The longest code that can be issued: version byte, 4 length-prefixed fields of up to 255 bytes, the signature,
# in unpadded base32 (1,743 characters); longer text is not a code (and int(x, 32) never sees a huge string).
_MAX_PERSONAL_CHARS = -(-(1 + 4 * (1 + 255) + _SIG_LEN) * 8 // 5)


def _b32decode_canonical(body: str) -> bytes | None:
    """RFC 4648 base32 without padding, strictly canonical (unused low bits zero); None if not.

    ``base64.b32decode`` is pure Python and cost more than the Ed25519 check itself; ``int(x, 32)``
    on the translated digits is C. The input must already be ASCII letters/digits (no signs, no ``_``).
    """
    if not body or len(body) > _MAX_PERSONAL_CHARS or not (body.isascii() and body.isalnum()) or len(body) % 8 in (1, 3, 6):
        return None
    digits = body.translate(_B32_DIGITS)
    try:
        value = int(digits, 32)
    except ValueError:  # a character outside the base32 alphabet (0, 1, 8, 9)
        return None
    spare = (5 * len(body)) % 8
    if value & ((1 << spare) - 1):
        return None  # non-canonical spelling of the same bytes: refused, not silently accepted
    return (value >> spare).to_bytes(5 * len(body) // 8, "big")


def read_personal_code(normalized: str, public_key: VerifyKey | Ed25519PublicKey) -> PersonalCode | None:
    """The verified contents of a normalized personal code, or None if it is forged/altered/garbled."""
    if not normalized.startswith(PERSONAL_PREFIX):
        return None
    blob = _b32decode_canonical(normalized[len(PERSONAL_PREFIX):])
    if blob is None or len(blob) <= _SIG_LEN + 1:
        return None
    payload, signature = blob[:-_SIG_LEN], blob[-_SIG_LEN:]
    personal = _parse_payload(payload)  # cheap structural check first; the signature decides
    if personal is None:
        return None
    return personal if verifies(public_key, signature, _CONTEXT + payload) else None


def _parse_payload(payload: bytes) -> PersonalCode | None:
    if payload[:1] != b"\x01":
        return None
    fields, pos = [], 1
    for _ in range(4):
        if pos >= len(payload):
            return None
        n = payload[pos]
        fields.append(payload[pos + 1 : pos + 1 + n].decode("utf-8", "replace"))
        pos += 1 + n
    return PersonalCode(*fields) if pos == len(payload) else None


# --- results -----------------------------------------------------------------------------------
class CodeAccepted(NamedTuple):
    """A code that applies to this ticket, with the amount it takes off (a NamedTuple: cheap on the hot path)."""

    code: str  # normalized
    kind: str  # segment | personal
    campaign_id: str
    segment: str
    channel: str
    amount_cents: int
    label: str
    customer_ref: str | None = None


@dataclass(frozen=True)
class CodeRefused:
    """A code that does not apply; ``reason`` is for staff, in plain words."""

    reason: str


CodeResult = CodeAccepted | CodeRefused


# --- usage --------------------------------------------------------------------------------------
@dataclass
class UsageCounts:
    """Redemptions so far, in memory (the service loads them from the store and keeps them current)."""

    total: dict[tuple[str, str], int] = field(default_factory=dict)  # (campaign, segment)
    per_customer: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (campaign, segment, customer)
    last_use_utc: dict[tuple[str, str, str], datetime] = field(default_factory=dict)
    unique_used: dict[tuple[str, str], datetime] = field(default_factory=dict)  # (campaign, unique code) -> when

    def add(self, campaign_id: str, segment: str, customer_ref: str | None, when: datetime, code: str | None = None,
            kind: str = "") -> None:
        if kind == "unique" and code:
            self.unique_used[(campaign_id, code)] = when
        key = (campaign_id, segment)
        self.total[key] = self.total.get(key, 0) + 1
        if customer_ref:
            ck = (campaign_id, segment, customer_ref)
            self.per_customer[ck] = self.per_customer.get(ck, 0) + 1
            self.last_use_utc[ck] = max(when, self.last_use_utc.get(ck, when))


@dataclass(frozen=True)
class CheckContext:
    """Everything a check needs besides the code: the ticket and where/when we are."""

    now_utc: datetime
    tz: str
    truck_id: str
    lines: Sequence[TicketLine]
    customer_ref: str | None = None
    codes_on_ticket: int = 0

    @cached_property
    def subtotal_cents(self) -> int:
        return sum(line.gross_cents for line in self.lines)


class CodeIndex:
    """The active campaign's codes in a dict: one lookup per check, whatever the number of codes."""

    def __init__(self, campaign: Campaign, extra_codes: dict[str, str] | None = None):
        self.campaign = campaign
        self.by_code: dict[str, Segment] = {normalize(s.code): s for s in campaign.segments if s.code}
        for code, segment_name in (extra_codes or {}).items():  # issued per-segment codes (bulk lists)
            seg = campaign.segment(segment_name)
            if seg is not None:
                self.by_code[normalize(code)] = seg
        self._unique = [(s, s.unique_codes.has) for s in campaign.segments if s.unique_codes is not None and len(s.unique_codes)]
        self._hash = hasher(campaign.id)
        # A personal code is single-use unless its segment says otherwise: the adjusted segment, made once.
        self._personal = {s.name: s if s.uses_per_customer is not None else _with_per_customer(s, 1) for s in campaign.segments}
        # Per segment, what every check needs, worked out once: (from, until) in UTC and the discount label.
        self._window = {s.name: (s.valid_from_utc or campaign.valid_from_utc, s.valid_until_utc or campaign.valid_until_utc)
                        for s in campaign.segments}
        self._label = {s.name: f"{campaign.name}: {s.benefit.describe()}" for s in campaign.segments}

    @cached_property
    def code_key(self) -> VerifyKey | None:
        """The campaign's personal-code key, made at the first personal code (libsodium loads then)."""
        if not self.campaign.code_public_key:
            return None
        return VerifyKey(self.campaign.code_public_key)

    def check(self, text: str, ctx: CheckContext, usage: UsageCounts, owner_key: VerifyKey | Ed25519PublicKey | None = None) -> CodeResult:
        """Accept or refuse ``text`` for this ticket, now, at this truck."""
        code = normalize(text)
        if not code:
            return CodeRefused("no code entered")
        if is_personal(code):
            return self._check_personal(code, ctx, usage, owner_key)
        segment = self.by_code.get(code)
        if segment is not None:
            return self._check_rules(code, "segment", segment, ctx.customer_ref, ctx, usage)
        if not self._unique:
            return CodeRefused("unknown code")
        h = self._hash(code)  # issued single-use codes: one hash, then one bucket per segment that has them
        for unique, has in self._unique:
            if has(h):
                used = usage.unique_used.get((self.campaign.id, code))
                if used is not None:
                    return CodeRefused(f"already used at {_when(used, ctx.now_utc, ctx.tz)}")
                return self._check_rules(code, "unique", unique, ctx.customer_ref, ctx, usage)
        return CodeRefused("unknown code")

    def _check_personal(self, code: str, ctx: CheckContext, usage: UsageCounts, owner_key: VerifyKey | Ed25519PublicKey | None) -> CodeResult:
        key = self.code_key or owner_key
        personal = read_personal_code(code, key) if key is not None else None
        if personal is None:
            return CodeRefused("unknown code (not a valid personal code)")
        if personal.truck_id and personal.truck_id != ctx.truck_id:
            return CodeRefused(f"code for another truck ({personal.truck_id})")
        if personal.campaign_id != self.campaign.id:
            return CodeRefused(f"code for another campaign ({personal.campaign_id})")
        segment = self._personal.get(personal.segment)
        if segment is None:
            return CodeRefused("unknown code (segment not in this campaign)")
        return self._check_rules(code, "personal", segment, personal.customer_ref, ctx, usage)

    def _check_rules(self, code: str, kind: str, seg: Segment, customer: str | None, ctx: CheckContext, usage: UsageCounts) -> CodeResult:
        camp = self.campaign
        if "*" not in seg.trucks and ctx.truck_id not in seg.trucks:
            return CodeRefused(f"code for another truck ({', '.join(seg.trucks)})")
        start, end = self._window[seg.name]
        if not start <= ctx.now_utc <= end:
            return window_refusal(start, end, ctx.now_utc, ctx.tz)  # type: ignore[return-value]
        if ctx.codes_on_ticket and not camp.stacking:
            return CodeRefused("one code per order (this campaign does not allow stacking)")
        if seg.total_uses is not None and usage.total.get((camp.id, seg.name), 0) >= seg.total_uses:
            return CodeRefused(f"limit reached ({_uses(seg.total_uses)})")
        if seg.uses_per_customer is not None and not customer:
            return CodeRefused(NEEDS_CUSTOMER)
        if customer and seg.uses_per_customer is not None:
            used = usage.per_customer.get((camp.id, seg.name, customer), 0)
            if used >= seg.uses_per_customer:
                last = usage.last_use_utc.get((camp.id, seg.name, customer))
                when = f" at {_when(last, ctx.now_utc, ctx.tz)}" if last else ""
                return CodeRefused(f"already used{when}" if seg.uses_per_customer == 1 else f"limit reached for this customer ({_uses(used)})")
        amount = resolve_amount(seg.benefit, ctx.lines, ctx.subtotal_cents)
        if isinstance(amount, CodeRefused):
            return amount
        return CodeAccepted(code, kind, camp.id, seg.name, seg.channel, amount, self._label[seg.name], customer)


def _uses(n: int) -> str:
    return f"{n} use" if n == 1 else f"{n} uses"


def _with_per_customer(seg: Segment, n: int) -> Segment:
    return replace(seg, uses_per_customer=n)


def window_refusal(valid_from_utc: datetime, valid_until_utc: datetime, now_utc: datetime, tz: str) -> CodeRefused | None:
    """Refuse outside [from, until] (both edges accepted), naming the edge in local time."""
    if now_utc < valid_from_utc:
        return CodeRefused(f"not valid until {_when(valid_from_utc, now_utc, tz)}")
    if now_utc > valid_until_utc:
        return CodeRefused(f"expired at {_when(valid_until_utc, now_utc, tz)}")
    return None


def _when(moment: datetime, now_utc: datetime, tz: str) -> str:
    """'12:00' today, else 'Jun 3 12:00' (truck time zone)."""
    at, today = local(moment, tz), local(now_utc, tz)
    clock = f"{at:%H:%M}" if at.second == 0 else f"{at:%H:%M:%S}"
    return clock if at.date() == today.date() else f"{at:%b} {at.day} {clock}"


def resolve_amount(benefit: Benefit, lines: Sequence[TicketLine], subtotal: int | None = None) -> int | CodeRefused:
    """The cents a benefit takes off these lines (never more than the subtotal)."""
    if subtotal is None:
        subtotal = sum(line.gross_cents for line in lines)
    if subtotal < benefit.min_spend_cents:
        return CodeRefused(f"minimum spend ${benefit.min_spend_cents / 100:.2f} not reached")
    if benefit.kind == "percent_off":
        return (subtotal * benefit.percent + 50) // 100
    if benefit.kind == "amount_off":
        return min(benefit.amount_cents, subtotal)
    line = next((ln for ln in lines if ln.sku == benefit.sku), None)
    if line is None:
        return CodeRefused(f"add the free item ({benefit.sku}) to the ticket first")
    return line.unit_price_cents
