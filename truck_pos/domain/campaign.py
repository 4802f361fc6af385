"""Campaigns: the model, and parsing/validating the campaign document. Pure.

A campaign arrives inside a signed bundle (:mod:`truck_pos.domain.bundle`).

Campaign document (times without an offset are wall-clock times in the truck's time zone)::

    {"format": 1, "id": "summer-launch", "name": "Summer launch", "version": 7, "issued_at": "2026-05-31T20:00:00Z",
     "trucks": ["*"], "valid_from": "2026-06-01T10:00", "valid_until": "2026-06-07T22:00",
     "stacking": false, "code_public_key": "<base64url raw Ed25519 key, optional>",
     "goal": {"label": "first hour", "start": "11:00", "end": "12:00", "customers": 40, "sales_cents": 60000},
     "segments": [{"name": "facebook_likers", "channel": "facebook", "code": "FB-LIKE-10",
                   "benefit": {"kind": "percent_off", "percent": 10, "min_spend_cents": 0},
                   "valid_from": "...", "valid_until": "...", "total_uses": 200, "uses_per_customer": 1,
                   "audience": 1500, "trucks": ["*"], "group": null}],
     "groups": [{"name": "Acme Corporation, Accounting", "benefit": {"kind": "amount_off", "amount_cents": 100}}],
     "devices": [...]}

``version`` is a whole number the owner raises with every bundle signed with the same key, across
campaign ids (a truck refuses a version at or below one it has seen, unless it is the very same
document). Without it, the version is ``issued_at`` in Unix seconds. ``valid_from``/``valid_until``
may be a date alone (``"2026-06-02"``): that is a *business day*, which starts at the truck's
``business_day_start_hour`` and ends when the next one starts (a 01:30 sale counts to the day before).
A segment may carry ``unique_codes`` (see :mod:`truck_pos.domain.codeset`): single-use codes.
Unknown fields are refused, so a hub-side field never reaches a truck by mistake.

Benefit kinds: ``percent_off`` (``percent`` 1-100), ``amount_off`` (``amount_cents``),
``free_item`` (``sku``: one unit of it on the ticket is free); each may carry ``min_spend_cents``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from truck_pos.domain.bundle import BundleRefused, b64u_decode
from truck_pos.domain.calendar import business_day_start
from truck_pos.domain.codeset import CodeSetError, UniqueCodeSet

CHANNELS = ("facebook", "twitter", "sms", "email", "proximity", "in_person")
BUILTIN_SEGMENTS = ("facebook_likers", "twitter_followers", "pos_registrants", "nearby_devices")
BENEFIT_KINDS = ("percent_off", "amount_off", "free_item")
MAX_ID_LEN = 64  # the sync contract's id limit (sync/protocol.py MAX_ID_LEN; a test keeps the two equal)
MAX_VERSION = 2**53  # exact in every JSON reader
CAMPAIGN_KEYS = frozenset({"format", "id", "name", "version", "issued_at", "trucks", "valid_from", "valid_until", "stacking",
                           "code_public_key", "goal", "segments", "groups", "devices", "offer_text", "registration_url",
                           "loyalty"})  # loyalty: points per dollar and rewards (domain/loyalty.py parse_rules)
SEGMENT_KEYS = frozenset({"name", "channel", "code", "benefit", "valid_from", "valid_until", "total_uses", "uses_per_customer",
                          "audience", "trucks", "group", "unique_codes"})
BENEFIT_KEYS = frozenset({"kind", "percent", "amount_cents", "sku", "min_spend_cents"})
GOAL_KEYS = frozenset({"label", "start", "end", "customers", "sales_cents"})
MAX_CENTS = 10**7  # the sync contract's price bound


# --- the campaign model ------------------------------------------------------------------------
@dataclass(frozen=True)
class Benefit:
    """What a code gives: percent off, an amount off or one free item; optional minimum spend."""

    kind: str
    percent: int = 0
    amount_cents: int = 0
    sku: str = ""
    min_spend_cents: int = 0

    def describe(self) -> str:
        if self.kind == "percent_off":
            return f"{self.percent}% off"
        if self.kind == "amount_off":
            return f"${self.amount_cents / 100:.2f} off"
        return f"free {self.sku}"


@dataclass(frozen=True)
class Segment:
    """A target audience of the campaign, its channel, code, benefit, window and limits."""

    name: str
    channel: str
    benefit: Benefit
    code: str = ""
    valid_from_utc: datetime | None = None
    valid_until_utc: datetime | None = None
    total_uses: int | None = None
    uses_per_customer: int | None = None
    audience: int | None = None
    trucks: tuple[str, ...] = ("*",)
    group: str | None = None
    unique_codes: UniqueCodeSet | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Goal:
    """Customers and/or net sales to reach in a daily local window, e.g. the first hour."""

    label: str
    start: time
    end: time
    customers: int | None = None
    sales_cents: int | None = None


@dataclass(frozen=True)
class Campaign:
    """A verified, parsed campaign. Segment windows default to the campaign's window."""

    id: str
    name: str
    issued_at_utc: datetime
    valid_from_utc: datetime
    valid_until_utc: datetime
    segments: tuple[Segment, ...]
    goal: Goal | None = None
    stacking: bool = False
    trucks: tuple[str, ...] = ("*",)
    code_public_key: bytes | None = None
    groups: tuple[tuple[str, Benefit | None], ...] = ()
    document: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    version: int = 0
    _by_name: dict[str, Segment] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {s.name: s for s in self.segments})  # one dict lookup per check

    def segment(self, name: str) -> Segment | None:
        return self._by_name.get(name)

    def for_truck(self, truck_id: str) -> bool:
        return "*" in self.trucks or truck_id in self.trucks


class _Doc:
    """Field access with a precise message naming the bad field."""

    def __init__(self, data: Any, where: str, known: frozenset[str] | None = None):
        if not isinstance(data, dict):
            raise BundleRefused(f"invalid campaign: {where} must be an object")
        unknown = sorted(str(k)[:40] for k in data if k not in known) if known is not None else []
        if unknown:
            raise BundleRefused(f"invalid campaign: {where} has unknown field(s) {', '.join(unknown)}")
        self.data, self.where = data, where

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ..., check: Any = None) -> Any:
        if key not in self.data or self.data[key] is None:
            if default is ...:
                raise BundleRefused(f"invalid campaign: {self.where}.{key} is missing")
            return default
        value = self.data[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)) or (check and not check(value)):
            raise BundleRefused(f"invalid campaign: {self.where}.{key} = {value!r} is not allowed")
        return value


def local_to_utc(text: str, tz: str, where: str = "time", *, day_start_hour: int = 4, end: bool = False) -> datetime:
    """ISO time; without an offset it is wall time in ``tz`` (DST applied by zoneinfo).

    A date alone is a business day: its start, or (``end``) the start of the next one.
    """
    if isinstance(text, str) and len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise BundleRefused(f"invalid campaign: {where} = {text!r} is not an ISO date") from None
        return business_day_start(day + timedelta(days=1) if end else day, tz, day_start_hour)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        raise BundleRefused(f"invalid campaign: {where} = {text!r} is not an ISO date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment.astimezone(timezone.utc)


def parse_benefit(data: Any, where: str) -> Benefit:
    d = _Doc(data, where, BENEFIT_KEYS)
    kind = d.get("kind", str, check=lambda v: v in BENEFIT_KINDS)
    positive = lambda v: 0 < v <= MAX_CENTS  # noqa: E731
    return Benefit(
        kind=kind,
        percent=d.get("percent", int, check=lambda v: 1 <= v <= 100) if kind == "percent_off" else 0,
        amount_cents=d.get("amount_cents", int, check=positive) if kind == "amount_off" else 0,
        sku=d.get("sku", str, check=lambda v: 0 < len(v) <= MAX_ID_LEN) if kind == "free_item" else "",
        min_spend_cents=d.get("min_spend_cents", int, 0, check=lambda v: 0 <= v <= MAX_CENTS),
    )


def _printable(v: str) -> bool:
    return v.isprintable() and v == v.strip()


def parse_campaign(document: dict[str, Any], tz: str, day_start_hour: int = 4) -> Campaign:
    """Validate a campaign document; raises :class:`BundleRefused` naming the first bad field."""
    d = _Doc(document, "campaign", CAMPAIGN_KEYS)
    if d.get("format", int, 1) != 1:
        raise BundleRefused("invalid campaign: unsupported campaign format (this truck reads format 1)")
    cid = d.get("id", str, check=lambda v: 0 < len(v) <= MAX_ID_LEN and _printable(v))
    when = {"tz": tz, "day_start_hour": day_start_hour}
    valid_from = local_to_utc(d.get("valid_from", str), tz, "campaign.valid_from", day_start_hour=day_start_hour)
    valid_until = local_to_utc(d.get("valid_until", str), tz, "campaign.valid_until", day_start_hour=day_start_hour, end=True)
    if valid_until < valid_from:
        raise BundleRefused("invalid campaign: valid_until is before valid_from")
    issued_at = local_to_utc(d.get("issued_at", str), tz, "campaign.issued_at")
    version = d.get("version", int, int(issued_at.timestamp()), check=lambda v: 1 <= v <= MAX_VERSION)
    raw_segments = d.get("segments", list, check=lambda v: 0 < len(v) <= 500)
    segments = tuple(_parse_segment(s, i, when, valid_from, valid_until, cid) for i, s in enumerate(raw_segments))
    names = [s.name for s in segments]
    if len(set(names)) != len(names):
        raise BundleRefused("invalid campaign: two segments have the same name")
    codes = [normalize(s.code) for s in segments if s.code]
    if len(set(codes)) != len(codes):
        raise BundleRefused("invalid campaign: two segments have the same code")
    key = d.get("code_public_key", str, None)
    try:
        key_bytes = b64u_decode(key) if key is not None else None
    except ValueError:
        key_bytes = None
    if key is not None and (key_bytes is None or len(key_bytes) != 32):
        raise BundleRefused("invalid campaign: code_public_key is not a base64url Ed25519 public key")
    groups = tuple(
        (_Doc(g, f"groups[{i}]", frozenset({"name", "benefit"})).get("name", str, check=lambda v: 0 < len(v) <= 200),
         parse_benefit(g["benefit"], f"groups[{i}].benefit") if g.get("benefit") else None)
        for i, g in enumerate(d.get("groups", list, []))
    )
    return Campaign(
        id=cid, name=d.get("name", str, cid, check=lambda v: 0 < len(v) <= 200), issued_at_utc=issued_at, version=version,
        valid_from_utc=valid_from, valid_until_utc=valid_until, segments=segments,
        goal=_parse_goal(d.get("goal", dict, None)), stacking=d.get("stacking", bool, False),
        trucks=_trucks(d), code_public_key=key_bytes, groups=groups, document=document,
    )


def _parse_segment(data: Any, i: int, when: dict[str, Any], start: datetime, end: datetime, cid: str) -> Segment:
    d = _Doc(data, f"segments[{i}]", SEGMENT_KEYS)
    name = d.get("name", str, check=lambda v: 0 < len(v) <= MAX_ID_LEN and _printable(v))
    vf = d.get("valid_from", str, None)
    vu = d.get("valid_until", str, None)
    tz, hour = when["tz"], when["day_start_hour"]
    # A segment may narrow the campaign's window, never widen it.
    seg_from = max(start, local_to_utc(vf, tz, f"segments[{i}].valid_from", day_start_hour=hour)) if vf else start
    seg_until = min(end, local_to_utc(vu, tz, f"segments[{i}].valid_until", day_start_hour=hour, end=True)) if vu else end
    if seg_until < seg_from:
        raise BundleRefused(f"invalid campaign: segments[{i}] window is empty or outside the campaign's")
    return Segment(
        name=name, channel=d.get("channel", str, check=lambda v: v in CHANNELS),
        benefit=parse_benefit(d.get("benefit", dict), f"segments[{i}].benefit"),
        code=d.get("code", str, "", check=lambda v: 3 <= len(normalize(v)) <= 32),
        valid_from_utc=seg_from, valid_until_utc=seg_until,
        total_uses=d.get("total_uses", int, None, check=lambda v: 0 < v <= 10**9),
        uses_per_customer=d.get("uses_per_customer", int, None, check=lambda v: 0 < v <= 10**6),
        audience=d.get("audience", int, None, check=lambda v: 0 <= v <= 10**9),
        trucks=_trucks(d), group=d.get("group", str, None, check=lambda v: 0 < len(v) <= 200),
        unique_codes=_unique_codes(d.get("unique_codes", dict, None), cid, f"segments[{i}].unique_codes"),
    )


def _trucks(d: _Doc) -> tuple[str, ...]:
    ok = lambda v: 0 < len(v) <= 500 and all(isinstance(t, str) and 0 < len(t) <= MAX_ID_LEN for t in v)  # noqa: E731
    return tuple(d.get("trucks", list, ["*"], check=ok))


def _unique_codes(field: dict[str, Any] | None, cid: str, where: str) -> UniqueCodeSet | None:
    if field is None:
        return None
    try:
        return UniqueCodeSet(cid, field, where)
    except CodeSetError as exc:
        raise BundleRefused(f"invalid campaign: {exc}") from None


def _parse_goal(data: dict[str, Any] | None) -> Goal | None:
    if data is None:
        return None
    d = _Doc(data, "goal", GOAL_KEYS)
    try:
        start, end = time.fromisoformat(d.get("start", str)), time.fromisoformat(d.get("end", str))
    except ValueError:
        raise BundleRefused("invalid campaign: goal.start/end must be HH:MM") from None
    goal = Goal(label=d.get("label", str, "goal"), start=start, end=end,
                customers=d.get("customers", int, None, check=lambda v: v > 0),
                sales_cents=d.get("sales_cents", int, None, check=lambda v: v > 0))
    if goal.customers is None and goal.sales_cents is None:
        raise BundleRefused("invalid campaign: the goal needs customers and/or sales_cents")
    return goal


def normalize(code: str) -> str:
    """How typed codes are compared: case, spaces, dashes and underscores do not matter."""
    # str.replace is C-speed; this runs on every code check (see benchmarks/bench_codes.py).
    return code.upper().replace("-", "").replace(" ", "").replace("_", "").replace("\t", "").replace("\r", "").replace("\n", "")


def group_key(name: str) -> str:
    """Group names compare without case or extra spaces."""
    return " ".join(name.split()).casefold()
