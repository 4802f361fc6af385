"""The hub's customer profiles: one profile per person, its identities, consent history, groups, push keys.

Identities (email, phone, device, facebook, x, truck_ref) are normalized and unique per kind, so the same
person arriving from a truck registration, a CSV import or the customer page lands in one profile; when one
upsert names identities of two profiles, they are merged into the older one. Consent is a history of rows
per channel; the latest row decides. Tables live on the hub database (SQLite or PostgreSQL).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

import peewee

from sync.hub.models import HUB_MODELS, HubModel, hub_database
from truck_pos.domain.contacts import normalize_email, normalize_phone
from truck_pos.errors import InvalidInput
from truck_pos.store.base import UtcDateTimeField

IDENTITY_KINDS = ("email", "phone", "device", "facebook", "x", "truck_ref")
CONSENT_CHANNELS = ("email", "sms", "push", "social", "location")
MARKETING_CHANNELS = ("email", "sms", "push")  # what a truck registration / withdrawal speaks for
_HANDLE = re.compile(r"^[a-z0-9_.]{1,50}$")


class HubCustomer(HubModel):
    """A person; ``erased_at`` set when their data was erased on request (the row stays as a tombstone)."""

    uuid = peewee.CharField(max_length=36, unique=True)
    first_name = peewee.CharField(max_length=120, default="")
    created_at = UtcDateTimeField()
    erased_at = UtcDateTimeField(null=True)
    merged_into = peewee.CharField(max_length=36, null=True)  # uuid of the profile a duplicate was folded into


class HubIdentity(HubModel):
    """One normalized way to reach or recognise a customer; (kind, value) is unique across profiles."""

    customer = peewee.ForeignKeyField(HubCustomer, backref="identities", on_delete="CASCADE")
    kind = peewee.CharField(max_length=20)
    value = peewee.CharField(max_length=320)
    source = peewee.CharField(max_length=80, default="")

    class Meta:
        indexes = ((("kind", "value"), True),)


class HubConsent(HubModel):
    """One consent decision for one channel; the latest (``at``, then id) is the current one."""

    customer = peewee.ForeignKeyField(HubCustomer, backref="consents", on_delete="CASCADE")
    channel = peewee.CharField(max_length=20)
    granted = peewee.BooleanField()
    at = UtcDateTimeField()
    source = peewee.CharField(max_length=80)
    wording_version = peewee.CharField(max_length=40, default="")

    class Meta:
        indexes = ((("customer", "channel", "at"), False),)


class HubGroupMember(HubModel):
    """Membership of a named group (e.g. "Acme Corporation, Accounting")."""

    customer = peewee.ForeignKeyField(HubCustomer, backref="groups", on_delete="CASCADE")
    group = peewee.CharField(max_length=200)
    joined_at = UtcDateTimeField(null=True)

    class Meta:
        indexes = ((("customer", "group"), True),)


class HubPushSubscription(HubModel):
    """A browser's Web Push subscription (endpoint URL and its keys, base64url as the browser gives them)."""

    customer = peewee.ForeignKeyField(HubCustomer, backref="push_subscriptions", on_delete="CASCADE")
    endpoint = peewee.TextField(unique=True)
    p256dh = peewee.CharField(max_length=200)
    auth = peewee.CharField(max_length=100)
    created_at = UtcDateTimeField(null=True)


CUSTOMER_MODELS = [HubCustomer, HubIdentity, HubConsent, HubGroupMember, HubPushSubscription]
HUB_MODELS.extend(m for m in CUSTOMER_MODELS if m not in HUB_MODELS)  # open_hub_database creates them

# Other hub tables that point at a customer (messaging's send rows) register how to export/erase/merge theirs.
EXPORTERS: list[Callable[[HubCustomer], dict[str, Any]]] = []
ERASERS: list[Callable[[HubCustomer], None]] = []
MERGERS: list[Callable[[HubCustomer, HubCustomer], None]] = []


def _now() -> datetime:
    return datetime.now(timezone.utc)


def normalize_identity(kind: str, value: str) -> str:
    """The stored form of an identity; InvalidInput (a plain sentence) when it is not one."""
    if kind not in IDENTITY_KINDS:
        raise InvalidInput(f"unknown identity kind {kind[:20]!r} (one of {', '.join(IDENTITY_KINDS)})")
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"empty {kind}")
    if kind == "email":
        return normalize_email(value) or ""
    if kind == "phone":
        return normalize_phone(value) or ""
    text = value.strip()
    if kind in ("facebook", "x"):
        handle = text.lstrip("@").lower()
        if not _HANDLE.match(handle):
            raise InvalidInput(f"{text[:60]!r} does not look like a {kind} handle")
        return handle
    if len(text) > 200 or any(ord(c) < 32 for c in text):
        raise InvalidInput(f"{kind} {text[:60]!r} is too long or has control characters")
    return text.lower() if kind == "device" else text


def normalized_pairs(identities: Mapping[str, str | None] | Iterable[tuple[str, str | None]]) -> list[tuple[str, str]]:
    items = identities.items() if isinstance(identities, Mapping) else identities
    out: list[tuple[str, str]] = []
    for kind, value in items:
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        pair = (kind, normalize_identity(kind, value))
        if pair not in out:
            out.append(pair)
    return out


def find(kind: str, value: str) -> HubCustomer | None:
    """The live profile holding this identity, or None."""
    try:
        norm = normalize_identity(kind, value)
    except InvalidInput:
        return None
    row = (HubIdentity.select(HubIdentity, HubCustomer).join(HubCustomer)
           .where(HubIdentity.kind == kind, HubIdentity.value == norm, HubCustomer.erased_at.is_null()).first())
    return row.customer if row else None


def by_uuid(customer_uuid: str) -> HubCustomer | None:
    """The profile with this uuid (erased ones included; a merged duplicate gives the profile it went into)."""
    customer = HubCustomer.get_or_none(HubCustomer.uuid == customer_uuid)
    for _ in range(10):  # follow merges (a chain is short; the bound guards against a loop)
        if customer is None or not customer.merged_into:
            break
        customer = HubCustomer.get_or_none(HubCustomer.uuid == customer.merged_into)
    return customer


def upsert_profile(identities: Mapping[str, str | None] | Iterable[tuple[str, str | None]], first_name: str | None = None,
                   source: str = "", now: datetime | None = None) -> tuple[HubCustomer, bool]:
    """Find or make the one profile for these identities; returns (customer, merged).

    ``merged`` is True when an existing profile took the data (a duplicate folded in). Identities are
    normalized first (InvalidInput names the bad one, nothing is written). Safe against another hub
    process doing the same at the same moment: a unique clash is retried once.
    """
    pairs = normalized_pairs(identities)
    if not pairs:
        raise InvalidInput("a profile needs at least one email, phone, handle, device or truck reference")
    name = " ".join((first_name or "").split())[:120]
    for attempt in range(3):
        try:
            with hub_database.atomic():
                return _upsert(pairs, name, source[:80], now or _now())
        except peewee.IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _upsert(pairs: list[tuple[str, str]], name: str, source: str, now: datetime) -> tuple[HubCustomer, bool]:
    clause = peewee.reduce(lambda a, b: a | b, [(HubIdentity.kind == k) & (HubIdentity.value == v) for k, v in pairs])
    found = {}
    for ident in HubIdentity.select(HubIdentity, HubCustomer).join(HubCustomer).where(clause):
        found[ident.customer.id] = ident.customer
    if not found:
        customer = HubCustomer.create(uuid=str(uuid.uuid4()), first_name=name, created_at=now)
        merged = False
    else:
        customer, *others = sorted(found.values(), key=lambda c: (c.created_at, c.id))
        for other in others:
            _merge_into(customer, other, now)
        if name and not customer.first_name:
            customer.first_name = name
            customer.save()
        merged = True
    have = {(i.kind, i.value) for i in HubIdentity.select().where(HubIdentity.customer == customer)}
    for kind, value in pairs:
        if (kind, value) not in have:
            HubIdentity.create(customer=customer, kind=kind, value=value, source=source)
    return customer, merged


def _merge_into(keep: HubCustomer, other: HubCustomer, now: datetime) -> None:
    """Fold ``other`` into ``keep``: identities, consents, groups and push keys move; other becomes a tombstone."""
    HubIdentity.update(customer=keep).where(HubIdentity.customer == other).execute()
    HubConsent.update(customer=keep).where(HubConsent.customer == other).execute()
    kept_groups = {g.group for g in HubGroupMember.select().where(HubGroupMember.customer == keep)}
    HubGroupMember.delete().where(HubGroupMember.customer == other, HubGroupMember.group.in_(kept_groups or [""])).execute()
    HubGroupMember.update(customer=keep).where(HubGroupMember.customer == other).execute()
    HubPushSubscription.update(customer=keep).where(HubPushSubscription.customer == other).execute()
    for merge in MERGERS:
        merge(keep, other)
    if not keep.first_name and other.first_name:
        keep.first_name = other.first_name
        keep.save()
    HubCustomer.update(erased_at=now, merged_into=keep.uuid, first_name="").where(HubCustomer.id == other.id).execute()


def record_consent(customer: HubCustomer, channel: str, granted: bool, *, source: str, wording_version: str = "",
                   at: datetime | None = None) -> HubConsent:
    """Append one consent decision (the history is never rewritten)."""
    if channel not in CONSENT_CHANNELS:
        raise InvalidInput(f"unknown consent channel {channel[:20]!r} (one of {', '.join(CONSENT_CHANNELS)})")
    return HubConsent.create(customer=customer, channel=channel, granted=bool(granted), at=at or _now(),
                             source=source[:80], wording_version=wording_version[:40])


def current_consents(customer: HubCustomer) -> dict[str, bool]:
    """Per channel, the latest decision (channels never asked are absent, which means no)."""
    out: dict[str, bool] = {}
    for row in HubConsent.select().where(HubConsent.customer == customer).order_by(HubConsent.at, HubConsent.id):
        out[row.channel] = row.granted
    return out


def has_consent(customer: HubCustomer, channel: str) -> bool:
    """True when the latest decision for ``channel`` is a grant."""
    row = (HubConsent.select().where(HubConsent.customer == customer, HubConsent.channel == channel)
           .order_by(HubConsent.at.desc(), HubConsent.id.desc()).first())
    return bool(row and row.granted)


def identity(customer: HubCustomer, kind: str) -> str | None:
    """The customer's first identity of this kind (e.g. the email to write to)."""
    row = HubIdentity.select().where(HubIdentity.customer == customer, HubIdentity.kind == kind).order_by(HubIdentity.id).first()
    return row.value if row else None


def join_group(customer: HubCustomer, group: str, at: datetime | None = None) -> bool:
    """Add to a group; False when already a member."""
    name = " ".join(group.split())[:200]
    if not name:
        raise InvalidInput("a group needs a name")
    exists = HubGroupMember.select().where(HubGroupMember.customer == customer, HubGroupMember.group == name).exists()
    if not exists:
        HubGroupMember.insert(customer=customer, group=name, joined_at=at or _now()).on_conflict_ignore().execute()
    return not exists


def add_push_subscription(customer: HubCustomer, endpoint: str, p256dh: str, auth: str) -> HubPushSubscription:
    """Store (or move to this customer) a browser's push subscription."""
    if not endpoint.startswith(("https://", "http://")) or len(endpoint) > 2000:
        raise InvalidInput("a push subscription endpoint is an http(s) URL")
    HubPushSubscription.delete().where(HubPushSubscription.endpoint == endpoint).execute()
    return HubPushSubscription.create(customer=customer, endpoint=endpoint, p256dh=p256dh[:200], auth=auth[:100],
                                      created_at=_now())


def search(text: str, limit: int = 50) -> list[HubCustomer]:
    """Live profiles whose first name or any identity contains ``text`` (case-insensitive)."""
    needle = " ".join(text.split()).lower()[:200]
    if not needle:
        return []
    pattern = f"%{needle}%"
    ids = HubIdentity.select(HubIdentity.customer).where(HubIdentity.value ** pattern)
    return list(HubCustomer.select().where(HubCustomer.erased_at.is_null(),
                                           (HubCustomer.first_name ** pattern) | (HubCustomer.id.in_(ids)) |
                                           (HubCustomer.uuid == needle))
                .order_by(HubCustomer.created_at).limit(limit))


def export(customer: HubCustomer) -> dict[str, Any]:
    """Everything the hub holds about one person, as a JSON-ready document (a data access request)."""
    doc: dict[str, Any] = {
        "uuid": customer.uuid, "first_name": customer.first_name, "created_at": customer.created_at.isoformat(),
        "erased_at": customer.erased_at.isoformat() if customer.erased_at else None,
        "identities": [{"kind": i.kind, "value": i.value, "source": i.source}
                       for i in HubIdentity.select().where(HubIdentity.customer == customer).order_by(HubIdentity.id)],
        "consents": [{"channel": c.channel, "granted": c.granted, "at": c.at.isoformat(), "source": c.source,
                      "wording_version": c.wording_version}
                     for c in HubConsent.select().where(HubConsent.customer == customer).order_by(HubConsent.at, HubConsent.id)],
        "current_consents": current_consents(customer),
        "groups": [g.group for g in HubGroupMember.select().where(HubGroupMember.customer == customer)
                   .order_by(HubGroupMember.group)],
        "push_subscriptions": [p.endpoint for p in HubPushSubscription.select().where(HubPushSubscription.customer == customer)],
    }
    for exporter in EXPORTERS:
        doc.update(exporter(customer))
    return doc


def erase(customer: HubCustomer, now: datetime | None = None) -> None:
    """Erase a person: identities, consents, groups, push keys and name go; a tombstone row stays."""
    with hub_database.atomic():
        for model in (HubIdentity, HubConsent, HubGroupMember, HubPushSubscription):
            model.delete().where(model.customer == customer).execute()
        for eraser in ERASERS:
            eraser(customer)
        HubCustomer.update(first_name="", erased_at=now or _now()).where(HubCustomer.id == customer.id).execute()
