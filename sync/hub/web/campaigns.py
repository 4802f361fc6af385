"""Campaign editing on the hub: form fields <-> campaign document, field-level errors, sign and publish.

Validation is the truck's own (``truck_pos.domain.campaign.parse_campaign``): its messages name the
path of the bad field (``segments[2].benefit.percent``), which is also the form field's name, so
the error is shown next to that field. Keys the editor does not show (e.g. ``messages`` written by
the messaging tools) are kept as they are.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync import protocol
from sync.hub.models import HubMessage, HubTruck
from sync.hub.web.models import HubWebCampaign, HubWebMenu, HubWebPublish
from truck_pos.domain.bundle import BundleRefused, sign_bundle
from truck_pos.domain.campaign import BENEFIT_KINDS, CHANNELS, parse_campaign

try:  # the messaging tools (sync/hub/messaging) own the hub-only fields when they are installed
    from sync.hub.messaging.document import HUB_FIELDS
    from sync.hub.messaging.document import parse_document as hub_checker
    from sync.hub.messaging.document import render as _render
    from sync.hub.messaging.document import truck_document as _truck_document
except ImportError:  # pragma: no cover - depends on what is merged
    HUB_FIELDS = ("timezone", "stop", "manners", "audiences", "messages")
    hub_checker = None
    _truck_document = None
    _render = None

SEGMENT_ROWS = 6
SEGMENT_INTS = ("total_uses", "uses_per_customer", "audience")
_PATH = re.compile(r"invalid campaign: ((?:campaign|goal|segments\[\d+\])(?:\.[a-z_]+)*)")


def blank_document() -> dict[str, Any]:
    """What a new campaign starts from."""
    return {"format": 1, "id": "", "name": "", "trucks": ["*"], "valid_from": "", "valid_until": "", "stacking": False,
            "segments": [], "groups": [], "devices": []}


def to_fields(doc: dict[str, Any]) -> dict[str, str]:
    """The form values for a document (every value as text)."""
    f = {k: str(doc.get(k, "") or "") for k in ("id", "name", "valid_from", "valid_until")}
    stop = doc.get("stop") if isinstance(doc.get("stop"), dict) else {"name": doc.get("stop") or ""}
    for k in ("name", "lat", "lon"):
        f[f"stop.{k}"] = "" if stop.get(k) is None else str(stop[k])
    f["messages"] = json.dumps(doc["messages"], indent=1, ensure_ascii=False) if doc.get("messages") else ""
    f["trucks"] = ", ".join(doc.get("trucks", ["*"]))
    for k, v in (doc.get("goal") or {}).items():
        f[f"goal.{k}"] = "" if v is None else str(v)
    for i, seg in enumerate(doc.get("segments", [])[:SEGMENT_ROWS]):
        p = f"segments[{i}]"
        for k in ("name", "channel", "code", "group", *SEGMENT_INTS):
            f[f"{p}.{k}"] = "" if seg.get(k) is None else str(seg.get(k))
        b = seg.get("benefit") or {}
        f[f"{p}.benefit.kind"] = str(b.get("kind", ""))
        f[f"{p}.benefit.value"] = str(b.get("percent") or b.get("amount_cents") or b.get("sku") or "")
        f[f"{p}.benefit.min_spend_cents"] = str(b.get("min_spend_cents") or "")
    return f


def _int(fields: dict[str, str], name: str, errors: dict[str, str], minimum: int = 0) -> int | None:
    raw = fields.get(name, "").strip()
    if not raw:
        return None
    if not re.fullmatch(r"\d{1,9}", raw) or int(raw) < minimum:
        errors[name] = f"a whole number, {minimum} or more"
        return None
    return int(raw)


def from_fields(fields: dict[str, str], base: dict[str, Any], tz: str, now: datetime) -> tuple[dict[str, Any], dict[str, str]]:
    """The document the form describes (on top of ``base``), and the errors by field name."""
    errors: dict[str, str] = {}
    doc = {**base, "format": 1, "issued_at": now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    for k in ("id", "name", "valid_from", "valid_until"):
        doc[k] = fields.get(k, "").strip()
    _stop(fields, doc, errors)
    _messages(fields, doc, errors)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", doc["id"]):
        errors["id"] = "1-64 letters, digits, '-', '_' or '.'"
    doc["trucks"] = [t.strip() for t in fields.get("trucks", "*").split(",") if t.strip()] or ["*"]
    bad = [t for t in doc["trucks"] if t != "*" and not protocol.TRUCK_ID_RE.match(t)]
    if bad:
        errors["trucks"] = f"not a truck id: {bad[0][:40]}"
    goal = {"label": fields.get("goal.label", "").strip() or "first hour", "start": fields.get("goal.start", "").strip(),
            "end": fields.get("goal.end", "").strip(), "customers": _int(fields, "goal.customers", errors, 1),
            "sales_cents": _int(fields, "goal.sales_cents", errors, 1)}
    doc["goal"] = goal if goal["start"] or goal["end"] else None
    if doc["goal"] is None:
        doc.pop("goal")
    doc["segments"] = [s for i in range(SEGMENT_ROWS) if (s := _segment(fields, i, errors)) is not None]
    if not doc["segments"]:
        errors["segments[0].name"] = "a campaign needs at least one segment"
    if not errors:
        try:
            parse_campaign(truck_document(doc), tz)
        except BundleRefused as exc:
            errors[_field_of(str(exc))] = str(exc).removeprefix("invalid campaign: ")
    if not errors and hub_checker is not None:
        try:
            hub_checker(doc, tz)
        except ValueError as exc:  # the messaging tools' CampaignError names the field in its text
            errors["messages" if "message" in str(exc) else "form"] = str(exc)
    return doc, errors


def _stop(fields: dict[str, str], doc: dict[str, Any], errors: dict[str, str]) -> None:
    """``stop``: where the truck parks (name, and lat/lon for the reports' map), as the messaging tools read it."""
    name = fields.get("stop.name", "").strip()[:200]
    base = doc.get("stop") if isinstance(doc.get("stop"), dict) else {}
    stop = {k: v for k, v in base.items() if k not in ("name", "lat", "lon")}
    coords = []
    for k, limit in (("lat", 90), ("lon", 180)):
        raw = fields.get(f"stop.{k}", "").strip()
        if raw:
            try:
                value = float(raw)
                if not -limit <= value <= limit or value != value:
                    raise ValueError
                coords.append((k, value))
            except ValueError:
                errors[f"stop.{k}"] = f"a number from -{limit} to {limit}"
    if len(coords) == 1:
        errors["stop.lat" if coords[0][0] == "lon" else "stop.lon"] = "give both latitude and longitude"
    if name or coords:
        doc["stop"] = {**stop, "name": name, **dict(coords)}
    else:
        doc.pop("stop", None)


def _messages(fields: dict[str, str], doc: dict[str, Any], errors: dict[str, str]) -> None:
    raw = fields.get("messages", "").strip()
    if not raw:
        doc.pop("messages", None)
        return
    try:
        messages = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        errors["messages"] = f"not JSON: {str(exc)[:120]}"
        return
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        errors["messages"] = "a JSON list of message objects"
        return
    doc["messages"] = messages


def truck_document(doc: dict[str, Any]) -> dict[str, Any]:
    """What is signed for the trucks: the campaign without the hub-only fields (messages, stop, ...)."""
    if _truck_document is not None:
        return _truck_document(doc)
    return {k: v for k, v in doc.items() if k not in HUB_FIELDS}


def _segment(fields: dict[str, str], i: int, errors: dict[str, str]) -> dict[str, Any] | None:
    p = f"segments[{i}]"
    name = fields.get(f"{p}.name", "").strip()
    if not name:
        return None
    seg: dict[str, Any] = {"name": name, "channel": fields.get(f"{p}.channel", "").strip()}
    if seg["channel"] not in CHANNELS:
        errors[f"{p}.channel"] = f"one of {', '.join(CHANNELS)}"
    for k in ("code", "group"):
        if fields.get(f"{p}.{k}", "").strip():
            seg[k] = fields[f"{p}.{k}"].strip()
    for k in SEGMENT_INTS:
        value = _int(fields, f"{p}.{k}", errors, 0 if k == "audience" else 1)
        if value is not None:
            seg[k] = value
    kind = fields.get(f"{p}.benefit.kind", "").strip()
    value = fields.get(f"{p}.benefit.value", "").strip()
    benefit: dict[str, Any] = {"kind": kind}
    if kind not in BENEFIT_KINDS:
        errors[f"{p}.benefit.kind"] = f"one of {', '.join(BENEFIT_KINDS)}"
    elif kind == "free_item":
        benefit["sku"] = value
    else:
        number = _int(fields, f"{p}.benefit.value", errors, 1)
        if number is None and f"{p}.benefit.value" not in errors:
            errors[f"{p}.benefit.value"] = "give the percent or the amount in cents"
        benefit["percent" if kind == "percent_off" else "amount_cents"] = number
    spend = _int(fields, f"{p}.benefit.min_spend_cents", errors)
    if spend:
        benefit["min_spend_cents"] = spend
    seg["benefit"] = benefit
    return seg


def _field_of(message: str) -> str:
    """The form field a parse_campaign message is about (``campaign.x`` -> ``x``; unknown -> ``form``)."""
    m = _PATH.search(message)
    if not m:
        return "form"
    path = m.group(1).removeprefix("campaign.")
    if path.startswith("segments[") and ".benefit." in path and path.rsplit(".", 1)[1] in ("percent", "amount_cents", "sku"):
        return path.rsplit(".", 1)[0] + ".value"
    return path


def save(doc: dict[str, Any], now: datetime) -> HubWebCampaign:
    """Store the edited document under its id."""
    HubWebCampaign.insert(campaign_id=doc["id"], document=doc, updated_utc=now).on_conflict(
        conflict_target=[HubWebCampaign.campaign_id],
        update={HubWebCampaign.document: doc, HubWebCampaign.updated_utc: now}).execute()
    return HubWebCampaign.get(HubWebCampaign.campaign_id == doc["id"])


def fleet() -> list[str]:
    """Every truck the hub has heard from or published a menu to."""
    names = {t.truck for t in HubTruck.select(HubTruck.truck)} | {m.truck for m in HubWebMenu.select(HubWebMenu.truck)}
    return sorted(n for n in names if protocol.TRUCK_ID_RE.match(n))


def publish(row: HubWebCampaign, key: Ed25519PrivateKey, hub: Any, devices: list[dict[str, Any]], user: str,
            now: datetime) -> list[str]:
    """Sign the document (with the registered phones) and send it, retained, to each truck it is for."""
    doc = {**row.document, "devices": devices, "issued_at": now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    bundle = sign_bundle(truck_document(doc), key)
    sha = hashlib.sha256(bundle).hexdigest()
    targets = [t for t in fleet() if "*" in doc.get("trucks", ["*"]) or t in doc["trucks"]]
    for truck in targets:
        hub.publish_campaign(truck, doc["id"], bundle).wait_for_publish(10)
        HubWebPublish.create(campaign_id=doc["id"], truck=truck, bundle_sha=sha, published_utc=now, by_user=user)
    # The phones' secrets go only into the signed bundle, never into the stored (and previewed) document.
    HubWebCampaign.update(published_utc=now, document={**doc, "devices": []}).where(HubWebCampaign.id == row.id).execute()
    return targets


def publish_status(campaign_id: str) -> list[dict[str, str]]:
    """Per truck published to: sent, then installed or refused with the truck's reason."""
    out = []
    latest: dict[str, HubWebPublish] = {}
    for p in HubWebPublish.select().where(HubWebPublish.campaign_id == campaign_id).order_by(HubWebPublish.id):
        latest[p.truck] = p
    for truck, pub in sorted(latest.items()):
        state, reason = "sent", "waiting for the truck"
        for msg in (HubMessage.select(HubMessage.body, HubMessage.received_utc).where(
                HubMessage.truck == truck, HubMessage.kind == "campaign_status", HubMessage.status == "ok",
                HubMessage.received_utc >= pub.published_utc).order_by(HubMessage.id.desc()).limit(50)):
            if (msg.body or {}).get("campaign_id") == campaign_id:
                state = "installed" if msg.body.get("accepted") else "refused"
                reason = str(msg.body.get("reason", ""))[:300]
                break
        out.append({"truck": truck, "state": state, "reason": reason,
                    "published": pub.published_utc.strftime("%Y-%m-%d %H:%M UTC")})
    return out


def previews(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Each message and variant as a customer would read it (sample name and code; raw text without the tools)."""
    stop = doc.get("stop") if isinstance(doc.get("stop"), dict) else {}
    sample = {"first_name": "Ana", "code": "K7Q2-9XA", "window": f"{doc.get('valid_from', '')} to {doc.get('valid_until', '')}",
              "stop": stop.get("name", ""), "map_link": "https://example.com/map", "unsubscribe_link": "https://example.com/u"}
    out = []
    for m in doc.get("messages") or []:
        if not isinstance(m, dict):
            continue
        arms = m.get("variants") if isinstance(m.get("variants"), list) else [{"name": "", "split": 100}]
        shown = []
        for v in arms:
            v = v if isinstance(v, dict) else {}
            subject, text = str(v.get("subject", m.get("subject", ""))), str(v.get("template", m.get("template", "")))
            try:
                if _render is not None:
                    subject, text = _render(subject, sample), _render(text, sample)
            except Exception as exc:  # noqa: BLE001 - a template the tools refuse: show why, next to it
                text = f"(cannot render: {exc})"
            shown.append({"name": str(v.get("name", "")), "split": v.get("split", 100), "subject": subject, "text": text})
        out.append({"id": str(m.get("id", "")), "segment": str(m.get("segment", "")), "channel": str(m.get("channel", "")),
                    "variants": shown})
    return out


def pretty(doc: dict[str, Any]) -> str:
    """The document as the owner would read it."""
    return json.dumps(doc, indent=2, ensure_ascii=False)
