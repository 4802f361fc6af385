"""The hub's campaign document: the truck's campaign plus what only the hub uses (messages, audiences, stop, manners).

Hub-only top-level fields::

    "timezone": "America/Chicago",
    "stop": {"name": "Daley Plaza", "lat": 41.8837, "lon": -87.6298, "radius_m": 400, "map_url": "https://..."},
    "manners": {"quiet_hours": {"start": "21:00", "end": "08:00"}, "daily_cap": 3},
    "audiences": {"facebook_likers": {"group": "fb-export-2026-06"},
                  "pos_registrants": {"rule": {"registered_at_truck": true, "min_purchases": 2, "days": 30}}},
    "messages": [{"id": "reg-email", "segment": "pos_registrants", "channel": "email", "send_at": "-12h",
                  "subject": "Tomorrow at {{ stop }}", "template": "Hi {{ first_name }}, code {{ code }} ...",
                  "code": "personal", "variants": [{"name": "A", "split": 50}, {"name": "B", "split": 50,
                  "template": "..."}]},
                 {"id": "near", "segment": "nearby_devices", "channel": "push", "trigger": "proximity", ...}]

Every object is checked field by field; an unknown field anywhere is an error naming where it is. The
truck's part (everything else) is checked by the truck's own parser, and :func:`truck_document` is what
gets signed for the trucks (hub-only fields stripped).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from truck_pos.domain.bundle import BundleRefused
from truck_pos.domain.campaign import Campaign, Segment, local_to_utc, parse_campaign

HUB_FIELDS = ("timezone", "stop", "manners", "audiences", "messages")
TRUCK_FIELDS = ("format", "id", "name", "version", "issued_at", "trucks", "valid_from", "valid_until", "stacking",
                "code_public_key", "goal", "segments", "groups", "devices", "offer_text", "registration_url", "loyalty")
ADDRESSED = ("email", "sms", "push", "webhook")  # one message per person
BROADCAST = ("facebook", "x")  # one post for everyone
MESSAGE_CHANNELS = ADDRESSED + BROADCAST
VARIABLES = ("first_name", "code", "window", "stop", "map_link", "unsubscribe_link")
RULE_KEYS = ("registered_at_truck", "in_group", "min_purchases", "days", "not_seen_days", "has")
_RELATIVE = re.compile(r"^([+-])(\d{1,4})([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

ENV = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True, undefined=StrictUndefined)


class CampaignError(ValueError):
    """A campaign document the hub refuses; ``str()`` names the field and what is wrong."""


@dataclass(frozen=True)
class Variant:
    """One A/B arm of a message: its share of recipients and its own text (defaults to the message's)."""

    name: str
    split: int
    subject: str
    template: str


@dataclass(frozen=True)
class Message:
    """One message of a campaign: segment x channel, when, what, which code."""

    id: str
    segment: str
    channel: str
    trigger: str  # schedule | proximity
    due_at: datetime | None
    code: str  # personal | segment | none
    variants: tuple[Variant, ...]


@dataclass(frozen=True)
class Stop:
    """Where the truck will be: shown in messages and used for geo reports."""

    name: str = ""
    lat: float | None = None
    lon: float | None = None
    radius_m: float = 400.0
    map_url: str = ""

    @property
    def map_link(self) -> str:
        if self.map_url or self.lat is None or self.lon is None:
            return self.map_url
        return f"https://www.openstreetmap.org/?mlat={self.lat:.6f}&mlon={self.lon:.6f}#map=17/{self.lat:.6f}/{self.lon:.6f}"


@dataclass(frozen=True)
class HubCampaignDoc:
    """A checked campaign document as the hub uses it."""

    campaign: Campaign
    timezone: str
    stop: Stop
    quiet_hours: tuple[time, time] | None
    daily_cap: int | None
    audiences: dict[str, dict[str, Any]]
    messages: tuple[Message, ...]
    document: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    def segment(self, name: str) -> Segment:
        seg = self.campaign.segment(name)
        assert seg is not None  # checked when parsed
        return seg

    def message(self, message_id: str) -> Message | None:
        return next((m for m in self.messages if m.id == message_id), None)


def truck_document(document: dict[str, Any]) -> dict[str, Any]:
    """What the trucks get (and the owner signs): the document without the hub-only fields."""
    return {k: v for k, v in document.items() if k not in HUB_FIELDS}


def _only(obj: Any, where: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise CampaignError(f"{where} must be an object")
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        raise CampaignError(f"{where} has unknown field {unknown[0]!r} (allowed: {', '.join(allowed)})")
    return obj


def _get(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any = ...) -> Any:
    if key not in obj or obj[key] is None:
        if default is ...:
            raise CampaignError(f"{where}.{key} is missing")
        return default
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float, (int, float))):
        raise CampaignError(f"{where}.{key} = {str(value)[:60]!r} has the wrong type")
    return value


def parse_document(document: Any, default_tz: str = "UTC") -> HubCampaignDoc:
    """Check a whole campaign document; raises :class:`CampaignError` naming the first problem."""
    doc = _only(document, "campaign", TRUCK_FIELDS + HUB_FIELDS)
    tz = _get(doc, "timezone", str, "campaign", default_tz)
    try:
        campaign = parse_campaign(truck_document(doc), tz)
    except (BundleRefused, ValueError, KeyError, TypeError) as exc:
        raise CampaignError(str(exc).removeprefix("invalid campaign: ")) from None
    stop = _parse_stop(doc.get("stop"))
    manners = _only(doc.get("manners") or {}, "manners", ("quiet_hours", "daily_cap"))
    quiet = _parse_quiet(manners.get("quiet_hours"))
    cap = _get(manners, "daily_cap", int, "manners", None)
    if cap is not None and cap < 1:
        raise CampaignError("manners.daily_cap must be 1 or more")
    audiences = _parse_audiences(_get(doc, "audiences", dict, "campaign", {}), campaign)
    raw_messages = _get(doc, "messages", list, "campaign", [])
    messages = tuple(_parse_message(m, i, campaign, tz) for i, m in enumerate(raw_messages))
    ids = [m.id for m in messages]
    if len(set(ids)) != len(ids):
        raise CampaignError("two messages have the same id")
    for m in messages:
        if m.trigger == "schedule" and m.channel in ADDRESSED and m.segment not in audiences:
            raise CampaignError(f"message {m.id!r}: segment {m.segment!r} has no audience (add audiences.{m.segment})")
    return HubCampaignDoc(campaign, tz, stop, quiet, cap, audiences, messages, doc)


def _parse_stop(data: Any) -> Stop:
    if data is None:
        return Stop()
    d = _only(data, "stop", ("name", "lat", "lon", "radius_m", "map_url"))
    lat, lon = _get(d, "lat", (int, float), "stop", None), _get(d, "lon", (int, float), "stop", None)
    if (lat is None) != (lon is None) or (lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180)):
        raise CampaignError("stop.lat/lon must both be given, within -90..90 and -180..180")
    radius = _get(d, "radius_m", (int, float), "stop", 400)
    if not 1 <= radius <= 50_000:
        raise CampaignError("stop.radius_m must be between 1 and 50000")
    url = _get(d, "map_url", str, "stop", "")
    if url and not url.startswith(("https://", "http://")):
        raise CampaignError("stop.map_url must be an http(s) link")
    return Stop(_get(d, "name", str, "stop", "")[:200], lat, lon, float(radius), url)


def _parse_quiet(data: Any) -> tuple[time, time] | None:
    if data is None:
        return None
    d = _only(data, "manners.quiet_hours", ("start", "end"))
    try:
        return time.fromisoformat(_get(d, "start", str, "manners.quiet_hours")), time.fromisoformat(
            _get(d, "end", str, "manners.quiet_hours"))
    except ValueError:
        raise CampaignError("manners.quiet_hours start/end must be HH:MM") from None


def _parse_audiences(data: dict[str, Any], campaign: Campaign) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, spec in data.items():
        where = f"audiences.{name}"
        if campaign.segment(name) is None:
            raise CampaignError(f"{where}: no segment {name!r} in the campaign")
        s = _only(spec, where, ("group", "rule"))
        if ("group" in s) == ("rule" in s):
            raise CampaignError(f"{where} needs exactly one of group (an imported list) or rule")
        if "group" in s:
            out[name] = {"group": _get(s, "group", str, where)}
            continue
        rule = _only(s["rule"], f"{where}.rule", RULE_KEYS)
        for key, kind in (("registered_at_truck", bool), ("in_group", str), ("min_purchases", int), ("days", int),
                          ("not_seen_days", int), ("has", str)):
            _get(rule, key, kind, f"{where}.rule", None)
        if rule.get("has") not in (None, "email", "phone", "push"):
            raise CampaignError(f"{where}.rule.has must be email, phone or push")
        out[name] = {"rule": dict(rule)}
    return out


def _parse_message(data: Any, i: int, campaign: Campaign, tz: str) -> Message:
    where = f"messages[{i}]"
    d = _only(data, where, ("id", "segment", "channel", "trigger", "send_at", "subject", "template", "code", "variants"))
    segment = _get(d, "segment", str, where)
    seg = campaign.segment(segment)
    if seg is None:
        raise CampaignError(f"{where}.segment: no segment {segment!r} in the campaign")
    channel = _get(d, "channel", str, where)
    if channel not in MESSAGE_CHANNELS:
        raise CampaignError(f"{where}.channel {channel[:20]!r} is not one of {', '.join(MESSAGE_CHANNELS)}")
    mid = _get(d, "id", str, where, f"{segment}-{channel}")
    if not 0 < len(mid) <= 64:
        raise CampaignError(f"{where}.id must be 1-64 characters")
    where = f"message {mid!r}"
    trigger = _get(d, "trigger", str, where, "schedule")
    if trigger not in ("schedule", "proximity") or (trigger == "proximity" and channel in BROADCAST):
        raise CampaignError(f"{where}.trigger must be schedule, or proximity on an addressed channel")
    due = _send_time(_get(d, "send_at", str, where), seg, tz, where) if trigger == "schedule" else None
    if trigger == "proximity" and "send_at" in d:
        raise CampaignError(f"{where}: a proximity message is sent when the customer comes near, not at send_at")
    code = _get(d, "code", str, where, "personal" if channel in ADDRESSED else "segment")
    if code not in ("personal", "segment", "none") or (code == "personal" and channel in BROADCAST):
        raise CampaignError(f"{where}.code must be personal (addressed channels), segment or none")
    if code == "segment" and not seg.code:
        raise CampaignError(f"{where}.code: segment {segment!r} has no code of its own (use personal)")
    subject, template = _get(d, "subject", str, where, ""), _get(d, "template", str, where)
    variants = _parse_variants(d.get("variants"), where, subject, template, channel, code)
    for v in variants:
        for label, text in (("subject", v.subject), ("template", v.template)):
            check_template(text, f"{where} variant {v.name!r} {label}" if v.name else f"{where}.{label}")
    return Message(mid, segment, channel, trigger, due, code, variants)


def _parse_variants(data: Any, where: str, subject: str, template: str, channel: str, code: str) -> tuple[Variant, ...]:
    if data is None:
        return (Variant("", 100, subject, template),)
    if channel in BROADCAST or code != "personal":
        raise CampaignError(f"{where}: A/B variants need an addressed channel and personal codes (attribution per person)")
    if not isinstance(data, list) or not 2 <= len(data) <= 5:
        raise CampaignError(f"{where}.variants must list 2 to 5 variants")
    out = []
    for j, v in enumerate(data):
        w = f"{where}.variants[{j}]"
        v = _only(v, w, ("name", "split", "subject", "template"))
        name, split = _get(v, "name", str, w), _get(v, "split", int, w)
        if not re.match(r"^[A-Za-z0-9_-]{1,40}$", name) or not 1 <= split <= 99:
            raise CampaignError(f"{w}: name is 1-40 letters/digits and split a percentage 1-99")
        out.append(Variant(name, split, _get(v, "subject", str, w, subject), _get(v, "template", str, w, template)))
    if sum(v.split for v in out) != 100 or len({v.name for v in out}) != len(out):
        raise CampaignError(f"{where}.variants: splits must add up to 100 and names differ")
    return tuple(out)


def _send_time(text: str, seg: Segment, tz: str, where: str) -> datetime:
    match = _RELATIVE.match(text.strip())
    if match:
        sign, amount, unit = match.groups()
        delta = timedelta(seconds=int(amount) * _UNITS[unit])
        start = seg.valid_from_utc
        assert start is not None
        return start - delta if sign == "-" else start + delta
    try:
        return local_to_utc(text, tz, f"{where}.send_at")
    except BundleRefused:
        raise CampaignError(f"{where}.send_at {text[:40]!r} is neither a time nor relative to the window "
                            "(like -12h, -30m, +1h)") from None


def check_template(text: str, where: str) -> None:
    """Refuse a template that does not compile or names a variable messages do not have."""
    try:
        names = meta.find_undeclared_variables(ENV.parse(text))
    except TemplateError as exc:
        raise CampaignError(f"{where} does not compile: {exc}") from None
    unknown = sorted(names - set(VARIABLES))
    if unknown:
        raise CampaignError(f"{where} uses unknown variable {unknown[0]!r} (known: {', '.join(VARIABLES)})")


def render(text: str, variables: dict[str, Any]) -> str:
    """Render a checked template in the sandbox (raises on failure: the caller dead-letters that one message).

    A template that is only text and ``{{ name }}`` outputs (most messages) is put together from its parsed
    pieces, ``str()`` of each variable, as Jinja's own code for it does: the same text, without a Jinja context
    per message (which cost more than a tenth of a message's SMTP exchange); a variable missing from
    ``variables``, or anything else in the template, goes through Jinja (tests/test_reach_render.py holds the
    two side by side).
    """
    if not text:
        return ""
    pieces = _pieces(text)
    if pieces is not None:
        try:
            return "".join([str(variables[value]) if is_name else value for is_name, value in pieces])
        except KeyError:
            pass  # StrictUndefined's error, from Jinja
    return _compiled(text).render(variables)


@lru_cache(maxsize=256)
def _pieces(text: str) -> tuple[tuple[bool, str], ...] | None:
    """(is a variable, text or name) of a template that is only text and plain ``{{ name }}``s, else None."""
    body = ENV.parse(text).body
    if len(body) != 1 or not isinstance(body[0], nodes.Output):
        return None
    pieces = []
    for node in body[0].nodes:
        if type(node) is nodes.TemplateData:
            pieces.append((False, node.data))
        elif type(node) is nodes.Name and node.ctx == "load":
            pieces.append((True, node.name))
        else:
            return None
    return tuple(pieces)


@lru_cache(maxsize=256)
def _compiled(text: str) -> Template:
    return ENV.from_string(text)  # compiling costs ~1 ms; every recipient of a message shares one
