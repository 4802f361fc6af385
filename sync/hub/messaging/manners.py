"""What a message says and when it may go: the code it carries, the window in words, quiet hours, the daily cap."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
import peewee
from peewee import fn

from sync.hub import customers as cu
from sync.hub.messaging.channels import SendError
from sync.hub.messaging.document import HubCampaignDoc
from sync.hub.messaging.models import SENT, HubCode, HubSend
from sync.hub.models import hub_database
from truck_pos.domain.bundle import key_id as public_key_id
from truck_pos.domain.campaign import Segment, normalize
from truck_pos.domain.codes import PersonalCode, issue_personal_code


def code_key(code: str) -> str:
    """How a code is looked up when a redemption comes back: sha256 of its normalized form."""
    return hashlib.sha256(normalize(code).encode("utf-8")).hexdigest() if code else ""


def id_in(column: peewee.Field, ids: list[int]) -> peewee.Node:
    """``column IN (1, 2, ...)``: row ids (``int()`` of each, so only digits reach the text) written into the
    statement; the query builder makes a node per id, which cost more than the query for a batch of a hundred."""
    return peewee.NodeList((column, peewee.SQL(f"IN ({', '.join(str(int(i)) for i in ids) or 'NULL'})")))


def truck_refs(ids: list[int]) -> dict[int, str]:
    """Customer id -> the truck's ref for the person (the oldest), for those who registered at a truck."""
    refs: dict[int, str] = {}
    for cid, value in (cu.HubIdentity.select(cu.HubIdentity.customer, cu.HubIdentity.value)
                       .where(id_in(cu.HubIdentity.customer, ids), cu.HubIdentity.kind == "truck_ref")
                       .order_by(cu.HubIdentity.id.desc()).tuples()):
        refs[cid] = value  # the oldest wins
    return refs


def key_id(key: Ed25519PrivateKey) -> str:
    """Which signing key minted a stored code: the key id bundles name it by (sha256 of the raw public key, 16 hex)."""
    return public_key_id(key.public_key())


def code_ref(refs: dict[int, str], customer: cu.HubCustomer) -> str:
    """What a personal code names for ``customer``: the truck's ref (``refs``, from :func:`truck_refs`), else
    ``hub-<uuid>``. Minting ahead and signing at send time must agree on it, or a minted code is never found."""
    return refs.get(customer.id) or f"hub-{customer.uuid}"


@dataclass
class Facts:
    """What the rows of one claimed batch need to know about their people, read in four queries, not per row."""

    consent: dict[tuple[int, str], bool]  # (customer id, consent channel) -> current decision
    refs: dict[int, str]  # customer id -> truck ref (personal codes name it, so the truck knows the person)
    sent_today: Counter[int]  # customer id -> messages sent in the last 24 hours
    minted: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (campaign, segment, ref) -> code minted ahead

    @classmethod
    def of(cls, rows: list[HubSend], now: datetime, minted_by: str = "") -> "Facts":
        """``minted_by``: the signing key's id; the codes it minted ahead for these people are read too."""
        ids = list({r.customer_id for r in rows if r.customer_id is not None})
        consent: dict[tuple[int, str], bool] = {}
        consents = (cu.HubConsent.select(cu.HubConsent.customer, cu.HubConsent.channel, cu.HubConsent.granted)
                    .where(id_in(cu.HubConsent.customer, ids)).order_by(cu.HubConsent.at, cu.HubConsent.id))
        for cid, channel, granted in consents.tuples():
            consent[(cid, channel)] = granted  # the latest wins
        today = Counter(dict(HubSend.select(HubSend.customer, fn.COUNT(HubSend.id))
                             .where(id_in(HubSend.customer, ids), HubSend.state == SENT,
                                    HubSend.sent_at >= now - timedelta(hours=24))
                             .group_by(HubSend.customer).tuples()))
        minted: dict[tuple[str, str, str], str] = {}
        if minted_by and any(r.code_mode == "personal" for r in rows):
            for campaign, segment, ref, code in (HubCode.select(HubCode.campaign_id, HubCode.segment, HubCode.ref, HubCode.code)
                                                 .where(id_in(HubCode.customer, ids), HubCode.key_id == minted_by).tuples()):
                minted[(campaign, segment, ref)] = code
        return cls(consent, truck_refs(ids), today, minted)


def code_for(row: HubSend, doc: HubCampaignDoc, ref: str | None, key: Ed25519PrivateKey | None,
             minted: dict[tuple[str, str, str], str] | None = None) -> dict[str, str]:
    """The code this send carries, and its lookup key (Ed25519 is deterministic: a re-send carries the same code).

    ``ref`` is what a personal code names: the truck's own customer ref when the person registered at a
    truck, else ``hub-<uuid>``. ``minted``: codes signed ahead with ``key`` (:func:`mint_ahead`), used as they are.
    """
    if row.code_mode == "segment":
        code = doc.segment(row.segment).code
    elif row.code_mode == "personal" and ref is not None:
        if key is None:
            raise SendError("personal codes need code_key_file in the reach settings", transient=False)
        code = (minted or {}).get((doc.campaign.id, row.segment, ref)) or \
            issue_personal_code(PersonalCode(doc.campaign.id, row.segment, ref), key)
    else:
        code = ""
    return {"code": code, "code_key": code_key(code)}


def mint_ahead(doc: HubCampaignDoc, segment: str, people: list[cu.HubCustomer], key: Ed25519PrivateKey) -> int:
    """Sign and store the personal codes of ``segment`` for ``people`` who have none by this key yet (what
    ``code_for`` would sign at send time, same fields, same key); returns how many were minted."""
    kid, cid = key_id(key), doc.campaign.id
    minted = 0
    for start in range(0, len(people), 500):
        chunk = people[start:start + 500]
        refs = truck_refs([c.id for c in chunk])
        wanted = {code_ref(refs, c): c.id for c in chunk}
        have = {r for (r,) in HubCode.select(HubCode.ref).where(HubCode.campaign_id == cid, HubCode.segment == segment,
                                                                  HubCode.key_id == kid, HubCode.ref.in_(list(wanted))).tuples()}
        rows = [{"campaign_id": cid, "segment": segment, "ref": ref, "key_id": kid, "customer": c,
                 "code": issue_personal_code(PersonalCode(cid, segment, ref), key)} for ref, c in wanted.items() if ref not in have]
        if rows:
            with hub_database.atomic():
                HubCode.insert_many(rows).on_conflict_ignore().execute()
        minted += len(rows)
    return minted


@lru_cache(maxsize=256)
def window_text(seg: Segment, tz: str) -> str:
    """'Mon Jun 1, 11:00-12:00' (one day) or 'Jun 1 10:00 - Jun 7 22:00', in the campaign's time zone."""
    zone = ZoneInfo(tz)
    start, end = seg.valid_from_utc.astimezone(zone), seg.valid_until_utc.astimezone(zone)  # type: ignore[union-attr]
    if start.date() == end.date():
        return f"{start:%a %b} {start.day}, {start:%H:%M}-{end:%H:%M}"
    return f"{start:%b} {start.day} {start:%H:%M} - {end:%b} {end.day} {end:%H:%M}"


def quiet_until(doc: HubCampaignDoc, now: datetime) -> datetime | None:
    """When quiet hours end if ``now`` is inside them (campaign time zone), else None."""
    if doc.quiet_hours is None:
        return None
    start, end = doc.quiet_hours
    local = now.astimezone(ZoneInfo(doc.timezone))
    t = local.time().replace(tzinfo=None)
    if start <= end:
        inside = start <= t < end
        day = local.date()
    else:  # wraps midnight, e.g. 21:00-08:00
        inside = t >= start or t < end
        day = local.date() + timedelta(days=1) if t >= start else local.date()
    if not inside:
        return None
    return datetime.combine(day, end, tzinfo=ZoneInfo(doc.timezone)).astimezone(now.tzinfo)

