"""Audiences: contact lists imported from CSV (Facebook/X exports too) into profiles, and segment rules over profiles."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sync.hub import customers as cu
from sync.hub.models import HubMessage, hub_database
from truck_pos.errors import InvalidInput

# Column names as people and platforms write them (compared lower-case, spaces/underscores/dashes removed).
COLUMNS = {
    "name": ("name", "firstname", "fn", "fullname", "profilename", "displayname"),
    "email": ("email", "emailaddress", "mail", "emails"),
    "phone": ("phone", "phonenumber", "mobile", "cell", "mobilephone", "tel"),
    "x": ("x", "twitter", "twitterhandle", "xhandle", "screenname", "username", "@handle"),
    "facebook": ("facebook", "fb", "facebookhandle", "facebookusername", "fbusername"),
    "handle": ("handle", "socialhandle"),
}
MAX_ROWS = 200_000
MAX_FIELD = 10_000
CONSENT_FOR = {"email": "email", "sms": "phone", "social": ("x", "facebook")}


@dataclass
class ImportReport:
    """What an import did: profiles made, rows folded into an existing profile, rows refused and why."""

    rows: int = 0
    created: int = 0
    merged: list[tuple[int, str]] = field(default_factory=list)  # (line, customer uuid)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)

    def summary(self) -> str:
        return f"{self.rows} rows: {self.created} new profiles, {len(self.merged)} merged, {len(self.refused)} refused"


def _key(name: str) -> str:
    return "".join(ch for ch in name.strip().lower() if ch not in " _-.")


def _columns(header: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for i, name in enumerate(header):
        k = _key(name)
        for target, names in COLUMNS.items():
            if (k in names or k.lstrip("@") in names) and target not in found:
                found[target] = i
    return found


def decode(data: bytes) -> str:
    """CSV bytes as text: UTF-8 (with or without BOM), else Latin-1 (never fails)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def import_csv(data: bytes, group: str, *, handle_kind: str = "x", consent: tuple[str, ...] = (), source: str = "csv",
               wording_version: str = "", now: datetime) -> ImportReport:
    """Import contacts into profiles and the group ``group``; consent for ``consent`` channels if the owner holds it."""
    if handle_kind not in ("x", "facebook"):
        raise InvalidInput("handle kind is x or facebook")
    unknown = [c for c in consent if c not in CONSENT_FOR]
    if unknown:
        raise InvalidInput(f"consent can be given for email, sms or social, not {unknown[0]!r}")
    report = ImportReport()
    csv.field_size_limit(MAX_FIELD)
    reader = csv.reader(io.StringIO(decode(data).replace("\x00", ""), newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        raise InvalidInput("the file has no header row") from None
    cols = _columns(header)
    if not set(cols) - {"name"}:
        raise InvalidInput("no email, phone or handle column found (header: " + ", ".join(h[:30] for h in header[:10]) + ")")
    line = 1
    while report.rows < MAX_ROWS:
        line += 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            report.rows += 1
            report.refused.append((line, f"unreadable row: {exc}"))
            continue
        if not any(cell.strip() for cell in row):
            continue
        report.rows += 1
        _import_row(row, cols, line, group, handle_kind, consent, source, wording_version, now, report)
    return report


def _import_row(row: list[str], cols: dict[str, int], line: int, group: str, handle_kind: str, consent: tuple[str, ...],
                source: str, wording_version: str, now: datetime, report: ImportReport) -> None:
    cell = lambda name: row[cols[name]].strip() if name in cols and cols[name] < len(row) else ""  # noqa: E731
    ids = [("email", cell("email")), ("phone", cell("phone")), ("x", cell("x")), ("facebook", cell("facebook")),
           (handle_kind, cell("handle"))]
    names = cell("name").split()
    try:
        with hub_database.atomic():
            customer, merged = cu.upsert_profile(ids, names[0] if names else None, source, now=now)
            cu.join_group(customer, group, now)
            for channel in consent:
                kinds = CONSENT_FOR[channel]
                if any(k == kind and v for k, v in ids for kind in ((kinds,) if isinstance(kinds, str) else kinds)):
                    cu.record_consent(customer, channel, True, source=source, wording_version=wording_version, at=now)
    except InvalidInput as exc:
        report.refused.append((line, str(exc)))
        return
    if merged:
        report.merged.append((line, customer.uuid))
    else:
        report.created += 1


# --- segment rules, evaluated at send time ----------------------------------------------------------
def members(audience: dict[str, Any], now: datetime) -> list[cu.HubCustomer]:
    """The live profiles an audience spec (``{"group": ...}`` or ``{"rule": {...}}``) names right now."""
    live = cu.HubCustomer.select().where(cu.HubCustomer.erased_at.is_null())
    if "group" in audience:
        ids = cu.HubGroupMember.select(cu.HubGroupMember.customer).where(cu.HubGroupMember.group == audience["group"])
        return list(live.where(cu.HubCustomer.id.in_(ids)).order_by(cu.HubCustomer.id))
    rule = audience["rule"]
    query = live
    if rule.get("registered_at_truck"):
        query = query.where(cu.HubCustomer.id.in_(cu.HubIdentity.select(cu.HubIdentity.customer)
                                                  .where(cu.HubIdentity.kind == "truck_ref")))
    if rule.get("in_group"):
        query = query.where(cu.HubCustomer.id.in_(cu.HubGroupMember.select(cu.HubGroupMember.customer)
                                                  .where(cu.HubGroupMember.group == rule["in_group"])))
    if rule.get("has") in ("email", "phone"):
        query = query.where(cu.HubCustomer.id.in_(cu.HubIdentity.select(cu.HubIdentity.customer)
                                                  .where(cu.HubIdentity.kind == rule["has"])))
    elif rule.get("has") == "push":
        query = query.where(cu.HubCustomer.id.in_(cu.HubPushSubscription.select(cu.HubPushSubscription.customer)))
    found = list(query.order_by(cu.HubCustomer.id))
    if rule.get("min_purchases") or rule.get("not_seen_days"):
        found = _activity_filter(found, rule, now)
    return found


def _activity_filter(found: list[cu.HubCustomer], rule: dict[str, Any], now: datetime) -> list[cu.HubCustomer]:
    """Purchases and last-seen come from what trucks sent up (orders, visits), matched by truck customer refs."""
    refs: dict[int, set[str]] = {}
    for ident in cu.HubIdentity.select().where(cu.HubIdentity.kind == "truck_ref",
                                               cu.HubIdentity.customer.in_([c.id for c in found] or [0])):
        refs.setdefault(ident.customer_id, set()).add(ident.value)
    horizon = max(int(rule.get("days") or 30), int(rule.get("not_seen_days") or 0))
    bought: Counter[str] = Counter()
    seen: set[str] = set()
    recent = now - timedelta(days=int(rule.get("days") or 30))
    seen_since = now - timedelta(days=int(rule.get("not_seen_days") or 0))
    for kind, ts, body in (HubMessage.select(HubMessage.kind, HubMessage.ts_utc, HubMessage.body)
                           .where(HubMessage.kind.in_(["order", "proximity", "registration", "redemption"]),
                                  HubMessage.status == "ok", HubMessage.ts_utc >= now - timedelta(days=horizon)).tuples()):
        ref = body.get("customer_ref") if isinstance(body, dict) else None
        if not ref:
            continue
        if kind == "order" and ts >= recent and body.get("status", "paid") not in ("void", "voided", "refunded"):
            bought[ref] += 1
        if ts >= seen_since:
            seen.add(ref)
    out = []
    for c in found:
        mine = refs.get(c.id, set())
        if rule.get("min_purchases") and sum(bought[r] for r in mine) < rule["min_purchases"]:
            continue
        if rule.get("not_seen_days") and (mine & seen or c.created_at >= seen_since):
            continue
        out.append(c)
    return out
