"""The sync contract shared by the truck agent and the hub: topics, the envelope, body schemas.

Both sides import this module, so they cannot drift. ``check(raw, ...)`` never raises on bad
input: it returns a :class:`Checked` whose ``reason`` says, in plain words, what was wrong.
See sync/PROTOCOL.md for the prose version (keep the two in step).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

VERSION = 1
ROOT = "tp/v1/trucks"
UP_KINDS = ("order", "redemption", "registration", "group_join", "proximity", "pickup", "audit", "consent",
            "order_voided", "order_refunded", "campaign_status", "loyalty")
DOWN_KINDS = ("campaign", "menu", "mobile_order", "ack", "rejected", "erase", "loyalty_balances", "consent")
RETAINED_DOWN = ("campaign", "menu", "ack")
HUB_SHARE_GROUP = "hub"
MAX_PAYLOAD_BYTES = 1 << 20  # a signed campaign bundle with many codes stays well under this
MAX_ID_LEN = 64
MAX_TEXT_LEN = 2000
MAX_ACK_GAPS = 50  # gap ranges listed in one ack
# Sizes the hub's columns are made with (sync/hub/models.py reads them from here, so a value that
# passes check() always fits): truck ids, kinds, the hashes of bodies and the reason texts kept.
MAX_TRUCK_LEN = 64
MAX_KIND_LEN = 40
MAX_REASON_LEN = 500
HASH_LEN = 64  # sha256 hex of body_hash()
MAX_SEQ = 2**53 - 1  # the largest integer every JSON reader keeps exact
# Timestamps outside these years are refused: nothing a truck records happened before 2000, and a
# year-1 time with a +14:00 offset cannot even be converted to UTC (OverflowError).
MIN_TS_YEAR, MAX_TS_YEAR = 2000, 2200
TRUCK_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ONLINE, OFFLINE = b"online", b"offline"


# --- topics ------------------------------------------------------------------------------
def up_topic(truck: str, kind: str) -> str:
    """truck -> cloud topic for one kind."""
    return f"{ROOT}/{truck}/up/{kind}"


def down_topic(truck: str, kind: str) -> str:
    """cloud -> truck topic for one kind."""
    return f"{ROOT}/{truck}/down/{kind}"


def status_topic(truck: str) -> str:
    """Retained "online"/"offline" (the last will sets "offline")."""
    return f"{ROOT}/{truck}/status"


def truck_subscription(truck: str) -> str:
    """What a truck subscribes to: everything sent down to it."""
    return f"{ROOT}/{truck}/down/#"


def hub_subscription(shared: bool = True) -> str:
    """What the hub subscribes to; shared so several hub processes split the fleet."""
    topic = f"{ROOT}/+/up/#"
    return f"$share/{HUB_SHARE_GROUP}/{topic}" if shared else topic


@dataclass(frozen=True)
class Topic:
    """A parsed topic: whose it is, which way it goes (up/down/status) and its kind."""

    truck: str
    direction: str
    kind: str


def parse_topic(topic: str) -> Topic | None:
    """Split a topic of ours; None for anything else."""
    parts = topic.split("/")
    if len(parts) < 5 or "/".join(parts[:3]) != ROOT or not parts[3]:
        return None
    if len(parts) == 5 and parts[4] == "status":
        return Topic(parts[3], "status", "status")
    if len(parts) == 6 and parts[4] in ("up", "down") and parts[5]:
        return Topic(parts[3], parts[4], parts[5])
    return None


# --- ids ---------------------------------------------------------------------------------
def bounded_id(*parts: str, limit: int = MAX_ID_LEN) -> str:
    """``part:part:...`` when it fits the contract, else the first part (if short) and a digest of the whole.

    Stable: the same parts always give the same id, so a re-sent fact keeps its idempotency key.
    Any code, customer or truck id a bundle or config allows fits this way (a personal code is ~1,750 chars).
    """
    text = ":".join(parts)
    if len(text) <= limit and not any(ord(c) < 32 or ord(c) == 127 for c in text):
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    head = f"{parts[0]}:" if len(parts) > 1 and len(parts[0]) <= limit // 2 and parts[0].isprintable() else ""
    return head + "h" + digest[: max(8, limit - len(head) - 1)]


# --- envelope ----------------------------------------------------------------------------
def envelope(*, truck: str, seq: int, kind: str, key: str, ts: datetime, body: dict[str, Any]) -> dict[str, Any]:
    """The versioned envelope around every body (``key`` is the idempotency key)."""
    return {"v": VERSION, "id": key, "truck": truck, "seq": seq, "kind": kind,
            "ts": ts.isoformat(timespec="milliseconds"), "body": body}


def encode_stored(*, truck: str, seq: int, kind: str, key: str, ts_text: str, body_json: str) -> bytes:
    """The same envelope as ``encode(envelope(...))``, built around a body already stored as JSON text.

    The agent sends thousands of outbox rows; not decoding and re-encoding each body halves its CPU.
    """
    head = json.dumps({"v": VERSION, "id": key, "truck": truck, "seq": seq, "kind": kind, "ts": ts_text},
                      separators=(",", ":"), ensure_ascii=False)
    return f'{head[:-1]},"body":{body_json}}}'.encode("utf-8")


def encode(message: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class Checked:
    """The outcome of validating one payload: the envelope, or the reason it was refused."""

    envelope: dict[str, Any] | None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.envelope is not None


def refuse(reason: str) -> Checked:
    return Checked(None, reason)


def check(raw: bytes, *, direction: str, truck: str | None = None, kind: str | None = None) -> Checked:
    """Validate a payload (bytes off the wire) for ``direction`` ("up"/"down").

    ``truck`` and ``kind`` (from the topic) must match the envelope when given, so a message
    cannot claim to be from another truck than the topic it was published on.
    """
    if not isinstance(raw, (bytes, bytearray)):
        return refuse("payload is not bytes")
    if len(raw) > MAX_PAYLOAD_BYTES:
        return refuse(f"payload is {len(raw)} bytes, more than the {MAX_PAYLOAD_BYTES} allowed")
    try:
        doc = json.loads(bytes(raw).decode("utf-8"))
    except UnicodeDecodeError:
        return refuse("payload is not UTF-8 text")
    except (ValueError, RecursionError) as exc:
        return refuse(f"payload is not JSON ({str(exc)[:80]})")
    problem = _envelope_problem(doc, direction)
    if problem:
        return refuse(problem)
    if truck is not None and doc["truck"] != truck:
        return refuse(f"envelope names truck {doc['truck'][:64]!r} but came on the topic of {truck!r}")
    if kind is not None and doc["kind"] != kind:
        return refuse(f"envelope kind {doc['kind']!r} does not match the topic kind {kind!r}")
    problem = body_problem(doc["kind"], doc["body"])
    if problem:
        return refuse(f"{doc['kind']} body: {problem}")
    if _UNSTORABLE_RAW.search(raw):  # cheap pre-check; the walk finds the exact field
        where = unstorable_text(doc)
        if where:
            return refuse(f"text at {where} holds NUL or a lone surrogate (not storable)")
    return Checked(doc)


def _envelope_problem(doc: Any, direction: str) -> str:
    if not isinstance(doc, dict):
        return "envelope is not a JSON object"
    if doc.get("v") != VERSION or type(doc.get("v")) is not int:
        return f"unsupported protocol version {str(doc.get('v'))[:20]!r} (this side speaks v{VERSION})"
    kinds = UP_KINDS if direction == "up" else DOWN_KINDS
    problem = _fields(doc, ENVELOPE)
    if problem:
        return f"envelope: {problem}"
    if doc["kind"] not in kinds:
        return f"unknown {direction} kind {doc['kind'][:40]!r}"
    if has_control_chars(doc["id"]):
        return "envelope: id has control characters"
    if not TRUCK_ID_RE.fullmatch(doc["truck"]):
        return "envelope: truck id has characters outside A-Z a-z 0-9 _ . -"
    if direction == "up" and doc["seq"] < 1:
        return "envelope: seq starts at 1"
    problem = ts_problem(doc["ts"])
    return f"envelope: ts {problem}" if problem else ""


def has_control_chars(text: str) -> bool:
    """True when ``text`` holds C0 controls (NUL included), DEL or lone surrogates (not storable as UTF-8)."""
    return _CONTROL_RE.search(text) is not None


_CONTROL_RE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_UNSTORABLE_RAW = re.compile(rb"\\u(0000|[dD][89a-fA-F])")  # a JSON escape of NUL or a surrogate


def parse_ts(text: str) -> datetime | None:
    """The UTC time of an ISO-8601 text with an offset, or None when ``ts_problem`` would refuse it."""
    return None if ts_problem(text) else datetime.fromisoformat(text).astimezone(timezone.utc)


def ts_problem(text: str) -> str:
    """Why ``text`` is not a usable timestamp ("" when it is): ISO-8601, with an offset, within sane years."""
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        return "is not an ISO-8601 time"
    if ts.tzinfo is None:
        return "has no UTC offset"
    if not MIN_TS_YEAR <= ts.year <= MAX_TS_YEAR:
        return f"is outside the years {MIN_TS_YEAR}-{MAX_TS_YEAR}"
    try:
        ts.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        return "cannot be converted to UTC"
    return ""


def body_hash(body: Any) -> str:
    """sha256 (hex) of the body's canonical JSON: the same body always hashes the same on both sides."""
    return text_hash(canonical(body))


def text_hash(canonical_text: str) -> str:
    """body_hash() of a body already encoded by canonical() (the hub stores that text anyway)."""
    return hashlib.sha256(canonical_text.encode("ascii")).hexdigest()


def raw_hash(raw: bytes) -> str:
    """sha256 (hex) of a payload as received (for messages whose body cannot be trusted)."""
    return hashlib.sha256(bytes(raw)).hexdigest()


def canonical(body: Any) -> str:
    """Sorted-key, compact, ASCII JSON (what the hub stores and hashes)."""
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


def unstorable_text(doc: Any) -> str:
    """The path of the first string in ``doc`` (keys too) holding NUL or a lone surrogate ("" when none)."""
    stack: list[tuple[str, Any]] = [("", doc)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if _NUL_OR_SURROGATE.search(value):
                return path or "(value)"
        elif isinstance(value, dict):
            for k, v in value.items():
                if _NUL_OR_SURROGATE.search(k):
                    return f"{path}/(key)"
                stack.append((f"{path}/{k[:40]}", v))
        elif isinstance(value, list):
            stack.extend((f"{path}/{i}", v) for i, v in enumerate(value))
    return ""


_NUL_OR_SURROGATE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class Placement:
    """Where a payload that failed check() belongs: its truck's seq (and id when usable), so the ack moves past it."""

    seq: int
    key: str  # "" when the id itself is unusable (too long, control characters, not text)


def place(raw: bytes, truck: str) -> Placement | None:
    """The (seq, id) of a refused up payload whose envelope names ``truck`` and a valid seq; None otherwise."""
    try:
        doc = json.loads(bytes(raw).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(doc, dict) or doc.get("truck") != truck:
        return None
    key, seq = doc.get("id"), doc.get("seq")
    if type(seq) is not int or not 1 <= seq <= MAX_SEQ:
        return None
    usable = isinstance(key, str) and 0 < len(key) <= MAX_ID_LEN and not has_control_chars(key)
    return Placement(seq, key if usable else "")


# --- schemas -----------------------------------------------------------------------------
@dataclass(frozen=True)
class F:
    """One field of a schema: its type(s), whether required, bounds, and a schema for items."""

    types: tuple[type, ...]
    required: bool = True
    min: int | None = None
    max: int | None = None  # number bound, or length for str/list
    items: dict[str, "F"] | None = None  # list of objects with this schema
    uuid: bool = False  # a string that must be a canonical uuid (idempotency keys the truck stores as order ids)


def Str(required: bool = True, max: int = MAX_TEXT_LEN, min: int = 0) -> F:  # noqa: N802 - reads like a type
    return F((str,), required, min, max)


def Uuid(required: bool = True) -> F:  # noqa: N802
    return F((str,), required, None, 36, uuid=True)


def Int(required: bool = True, min: int | None = None, max: int | None = None) -> F:  # noqa: N802
    return F((int,), required, min, max)


def Opt(*types: type) -> F:  # noqa: N802
    return F(types + (type(None),), required=False)


def Objs(items: dict[str, F], required: bool = True, max: int = 500, min: int = 0) -> F:  # noqa: N802
    return F((list,), required, min, max, items)


ENVELOPE = {"v": Int(), "id": Str(max=MAX_ID_LEN, min=1), "truck": Str(max=MAX_TRUCK_LEN, min=1),
            "seq": Int(min=0, max=MAX_SEQ), "kind": Str(max=MAX_KIND_LEN, min=1), "ts": Str(max=40, min=1),
            "body": F((dict,))}
MODIFIER = {"name": Str(max=120), "price_cents": Int(min=-10**7, max=10**7)}
ORDER_LINE = {"sku": Str(max=64, min=1), "name": Str(max=200), "quantity": Int(min=1, max=99),
              "unit_price_cents": Int(min=0, max=10**7), "modifiers": Objs(MODIFIER, required=False, max=20)}
MENU_ITEM = {"sku": Str(max=64, min=1), "name": Str(max=200, min=1), "price_cents": Int(min=0, max=10**7),
             "tax_rate_bp": Int(required=False, min=0, max=10_000), "modifiers": Objs(MODIFIER, required=False, max=20),
             "sold_out": F((bool,), required=False)}

ID = Str(max=MAX_ID_LEN, min=1)
MAX_LOYALTY_BALANCES = 5000  # customers per loyalty_balances message (~60 bytes each, well under the payload limit)
TS = Str(max=40, min=10)  # ISO-8601 with offset
# A void or refund of an order already sent up: the whole order, with the manager who allowed it.
ORDER_CHANGE = {"order_id": ID, "amount_cents": Int(min=0, max=10**8), "tax_cents": Int(min=0, max=10**8),
                "reason": Str(max=500), "manager": Str(max=200), "ts": TS}
CONSENT = {"granted": F((bool,)), "wording_version": Str(max=40, min=1), "at": TS}

# Required fields and types of every kind; extra fields are allowed (a newer truck may add some).
SCHEMAS: dict[str, dict[str, F]] = {
    "order": {"order_id": Str(max=MAX_ID_LEN, min=1), "number": Int(min=0), "business_day": Str(max=10, min=10),
              "channel": Str(max=20), "status": Str(max=20), "total_cents": Int(min=-10**8, max=10**8),
              "lines": Objs(ORDER_LINE, max=200), "tenders": F((list,))},
    "redemption": {"redemption_id": ID, "order_id": ID, "campaign_id": ID, "segment": Str(max=64, min=1),
                   "channel": Str(max=40), "kind": Str(max=20, min=1), "code": Str(max=MAX_TEXT_LEN, min=1),
                   "customer_ref": Opt(str), "amount_cents": Int(min=0, max=10**8), "redeemed_at": TS},
    "registration": {"customer_ref": ID, "email": Opt(str), "phone": Opt(str), "registered_at": TS,
                     "consent": F((dict,))},
    # consent goes both ways: up (withdrawn at the truck), down (an unsubscribe at the hub; adds channel, source)
    "consent": {"customer_ref": ID, "granted": F((bool,)), "wording_version": Str(max=40, min=1), "at": TS,
                "channel": Str(required=False, max=20, min=1), "source": Str(required=False, max=80)},
    "loyalty": {"entry_id": ID, "customer_ref": ID, "order_id": ID, "kind": Str(max=10, min=4),
                "points": Int(min=-10**7, max=10**7), "balance_after": Int(min=0, max=10**9), "at": TS},
    "group_join": {"customer_ref": ID, "group": Str(max=200, min=1), "joined_at": TS},
    "proximity": {"event_key": Str(max=200, min=1), "customer_ref": ID, "segment": Str(max=64, min=1),
                  "campaign_id": Opt(str), "source": Str(max=20, min=1), "first_seen": TS},
    "pickup": {"order_id": ID, "number": Int(min=0), "business_day": Str(max=10, min=10), "event": Str(max=20, min=1),
               "at": TS},
    "order_voided": ORDER_CHANGE,
    "order_refunded": ORDER_CHANGE,
    "audit": {},  # free-form: the action decides the details (the register writes action, staff, manager, target, details, ts)
    "campaign": {"campaign_id": Str(max=MAX_ID_LEN, min=1), "bundle_b64": Str(max=MAX_PAYLOAD_BYTES, min=1)},
    "menu": {"categories": Objs({"name": Str(max=120, min=1), "items": Objs(MENU_ITEM, max=500)}, max=50)},
    "mobile_order": {"order_id": Uuid(), "lines": Objs({**ORDER_LINE, "tax_rate_bp": Int(min=0, max=10_000)}, min=1, max=50),
                     "total_cents": Int(min=1, max=10**7), "customer_ref": Opt(str), "claim": Opt(str),
                     "note": Str(required=False, max=500), "payment_ref": Str(required=False, max=120)},
    "loyalty_balances": {"as_of": TS, "balances": Objs({"customer_ref": ID, "points": Int(min=-10**9, max=10**9)},
                                                         max=MAX_LOYALTY_BALANCES)},
    "erase": {"request_id": Str(max=MAX_ID_LEN, min=1), "customer_refs": F((list,), max=100),
              "device_ids": F((list,), max=100), "at": TS},
    "campaign_status": {"campaign_id": Str(max=MAX_ID_LEN, min=1), "accepted": F((bool,)), "reason": Str(max=500),
                        "at": TS},
    "ack": {"through_seq": Int(min=0, max=MAX_SEQ), "max_seq": Int(required=False, min=0, max=MAX_SEQ),
            "missing": F((list,), required=False, max=MAX_ACK_GAPS)},
    # The hub's word on one up message it did not store as sent (see PROTOCOL.md "Outcomes").
    "rejected": {"seq": Int(min=1, max=MAX_SEQ), "outcome": Str(max=20, min=1), "reason": Str(max=MAX_REASON_LEN, min=1),
                 "key": Str(required=False, max=MAX_ID_LEN)},
}
REJECT_OUTCOMES = ("rejected", "dead_letter", "conflict")


def body_problem(kind: str, body: Any) -> str:
    """Why ``body`` is not a valid body of ``kind`` ("" when it is)."""
    if not isinstance(body, dict):
        return "is not a JSON object"
    problem = _fields(body, SCHEMAS.get(kind, {}))
    if not problem and kind == "registration":
        problem = _fields(body["consent"], CONSENT)
        problem = f"consent: {problem}" if problem else ""
    if not problem and kind == "ack":
        problem = _gaps_problem(body.get("missing", []))
    return problem


def _gaps_problem(missing: list[Any]) -> str:
    for gap in missing:
        if (not isinstance(gap, list) or len(gap) != 2 or any(type(x) is not int for x in gap)
                or not 0 < gap[0] <= gap[1] <= MAX_SEQ):
            return "field 'missing' should list [first, last] seq ranges"
    return ""


def _fields(doc: dict[str, Any], schema: dict[str, F]) -> str:
    for name, spec in schema.items():
        if name not in doc:
            if spec.required:
                return f"missing field {name!r}"
            continue
        problem = _value_problem(doc[name], spec)
        if problem:
            return f"field {name!r} {problem}"
    return ""


def _value_problem(value: Any, spec: F) -> str:
    # bool is an int in Python; a JSON true is never a count or an amount.
    if not isinstance(value, spec.types) or (isinstance(value, bool) and bool not in spec.types):
        return f"should be {' or '.join(_type_name(t) for t in spec.types)}, got {_type_name(type(value))}"
    if isinstance(value, (str, list)):
        if spec.max is not None and len(value) > spec.max:
            return f"is longer than {spec.max}"
        if spec.min is not None and len(value) < spec.min:
            return "is empty" if spec.min == 1 else f"is shorter than {spec.min}"
        if spec.uuid and not _is_uuid(value):
            return "is not a uuid (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"
        if spec is TS:  # body timestamps get the envelope's rules (readers convert them to UTC)
            return ts_problem(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        if spec.min is not None and value < spec.min:
            return f"is below {spec.min}"
        if spec.max is not None and value > spec.max:
            return f"is above {spec.max}"
    if spec.items is not None:
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                return f"item {i} is not an object"
            problem = _fields(item, spec.items)
            if problem:
                return f"item {i}: {problem}"
    return ""


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


def _type_name(t: type) -> str:
    return {str: "text", int: "integer", list: "a list", dict: "an object", bool: "true/false",
            type(None): "null", float: "a number"}.get(t, t.__name__)
