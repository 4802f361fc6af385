"""Phone reports (BLE reverse mode): a phone saw a truck's beacon; the hub checks it and raises the proximity event.

The truck advertises an iBeacon frame whose major/minor carry its rotating 32-bit token
(truck_pos.devices.ble_advertiser); the customer's app, woken by iOS region monitoring, POSTs to
``/api/v1/phone-report`` (JSON, docs/ble-advertising.md)::

    {"version": 1, "truck_token": "dd4a8f12", "customer_token": "6bd05ff902a04aa6",
     "rssi_dbm": -67, "seen_at": "2026-06-01T17:02:03Z"}

:func:`verify_report` (pure) accepts it only if the truck token is one of a known truck's tokens
for the hub's current slot +-1 (fresh), the customer token resolves to a registered phone for the
slot of ``seen_at`` +-1, and ``seen_at`` is recent. A token of an older slot is refused as stale, one
no truck ever had as unknown (forged). :func:`record` stores the same ``proximity`` body the trucks
send (``source: phone_report``) as a hub message (``seq`` 0: outside the truck's own sequence),
once per customer, truck and UTC day. ``routes`` is for the hub's Starlette app, which sets
``app.state.phone_report`` to a :class:`PhoneReportConfig` (see :func:`load_config`).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any


from sync import protocol
from sync.hub.models import hub_database, insert_message
from truck_pos.domain.tokens import derive_token, slot_of, truck_token

REPORT_NS = uuid.UUID("0d6b1c52-8a43-4f0e-b1d7-3c9e2a5f7b60")
MAX_BODY_BYTES = 4096
_HEX8, _HEX16 = re.compile(r"^[0-9a-f]{8}$"), re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class PhoneReportConfig:
    """What the hub needs to check reports: truck beacon secrets, registered phones, time limits."""

    trucks: dict[str, bytes]  # truck id -> beacon secret
    devices: list[tuple[str, str, str, bytes]]  # (device_id, customer_ref, segment, secret)
    slot_s: int = 300
    skew_slots: int = 1
    max_age_s: float = 900.0  # a sighting older than this is not reported as "at the truck now"
    stale_lookback_slots: int = 288  # how far back a token is recognised as stale rather than forged (a day)
    _customer_cache: dict[int, dict[bytes, tuple[str, str]]] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Verdict:
    """``ok`` with the event body, else the refusal ``reason`` and the HTTP status to answer with."""

    ok: bool
    reason: str = ""
    status: int = 201
    body: dict[str, Any] | None = None


def _refuse(reason: str, status: int = 403) -> Verdict:
    return Verdict(False, reason, status)


def _truck_for(token: int, cfg: PhoneReportConfig, slots: range) -> str | None:
    for slot in slots:
        for truck, secret in cfg.trucks.items():
            if truck_token(secret, slot) == token:
                return truck
    return None


def _customer_for(token: bytes, cfg: PhoneReportConfig, slot: int) -> tuple[str, str] | None:
    found = None
    for s in range(slot - cfg.skew_slots, slot + cfg.skew_slots + 1):
        table = cfg._customer_cache.get(s)
        if table is None:
            if len(cfg._customer_cache) > 64:
                cfg._customer_cache.clear()
            table = cfg._customer_cache[s] = {derive_token(sec, s): (cust, seg) for _, cust, seg, sec in cfg.devices}
        found = found or table.get(token)
    return found


def verify_report(doc: Any, cfg: PhoneReportConfig, now: datetime) -> Verdict:
    """Check one decoded report against the hub's clock ``now``; never raises."""
    if not isinstance(doc, dict) or doc.get("version") != 1:
        return _refuse("not a version-1 phone report", 400)
    tt, ct, rssi, seen = doc.get("truck_token"), doc.get("customer_token"), doc.get("rssi_dbm"), doc.get("seen_at")
    if not isinstance(tt, str) or not _HEX8.match(tt) or not isinstance(ct, str) or not _HEX16.match(ct):
        return _refuse("truck_token must be 8 and customer_token 16 lower-case hex digits", 400)
    if type(rssi) is not int or not -110 <= rssi <= 0:
        return _refuse("rssi_dbm must be an integer within -110..0", 400)
    try:
        seen_at = datetime.fromisoformat(str(seen).replace("Z", "+00:00"))
    except ValueError:
        return _refuse("seen_at must be an ISO-8601 time with a zone", 400)
    if seen_at.tzinfo is None:
        return _refuse("seen_at must be an ISO-8601 time with a zone", 400)
    if not now - timedelta(seconds=cfg.max_age_s) <= seen_at <= now + timedelta(seconds=60):
        return _refuse("stale report: seen_at is not within the last minutes")
    token, slot = int(tt, 16), slot_of(now.timestamp(), cfg.slot_s)
    truck = _truck_for(token, cfg, range(slot - cfg.skew_slots, slot + cfg.skew_slots + 1))
    if truck is None:
        old = _truck_for(token, cfg, range(slot - cfg.stale_lookback_slots, slot - cfg.skew_slots))
        return _refuse("stale truck token" if old else "unknown truck token")
    who = _customer_for(bytes.fromhex(ct), cfg, slot_of(seen_at.timestamp(), cfg.slot_s))
    if who is None:
        return _refuse("unknown customer token")
    customer, segment = who
    day = seen_at.astimezone(timezone.utc).date()
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    body = {"event_key": f"proximity:{customer}:day:{day.isoformat()}:{truck}", "truck": truck, "customer_ref": customer,
            "segment": segment, "campaign_id": None, "window_start": start.isoformat(),
            "window_end": (start + timedelta(days=1)).isoformat(), "source": "phone_report",
            "first_seen": seen_at.astimezone(timezone.utc).isoformat(), "rssi_dbm": rssi, "distance_m": None, "zone": "beacon"}
    problem = protocol.body_problem("proximity", body)
    return Verdict(True, body=body) if not problem else _refuse(f"event body {problem}", 400)


def record(verdict: Verdict, now: datetime) -> tuple[str, str]:
    """Store an accepted report's event once as a hub ``proximity`` message; returns (new | duplicate, event_key)."""
    assert verdict.ok and verdict.body is not None
    body = verdict.body
    key = str(uuid.uuid5(REPORT_NS, body["event_key"]))
    body_text = protocol.canonical(body)
    with hub_database.atomic():
        # seq 0: made at the hub, not in the truck's outbox numbering (the ack counts seqs from 1)
        if not insert_message(key, body["truck"], 0, "proximity", datetime.fromisoformat(body["first_seen"]), now, "ok", "",
                              protocol.text_hash(body_text), body_text=body_text):
            return "duplicate", body["event_key"]
        from sync.hub import messaging  # noqa: PLC0415 - reach: the same proximity -> code as a truck's own event

        messaging.on_stored("proximity", body["truck"], body, now)
    return "new", body["event_key"]


def load_config(trucks_file: str, devices_file: str, **limits: Any) -> PhoneReportConfig:
    """Truck beacon secrets (JSON {truck: hex}) and registered phones (a bundle's ``devices`` list, or the list)."""
    trucks = {str(k): bytes.fromhex(v) for k, v in json.loads(Path(trucks_file).read_text("utf-8")).items()}
    doc = json.loads(Path(devices_file).read_text("utf-8"))
    devices = doc["devices"] if isinstance(doc, dict) else doc
    rows = [(str(d["device_id"]), str(d["customer_ref"]), str(d.get("segment") or "nearby_devices"), bytes.fromhex(d["secret"]))
            for d in devices if d.get("active", True)]
    return PhoneReportConfig(trucks, rows, **limits)


async def phone_report(request: Any) -> Any:
    """POST /api/v1/phone-report: 201 with the event key, 400 malformed, 403 refused (stale, forged, unknown)."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse

    cfg: PhoneReportConfig | None = getattr(request.app.state, "phone_report", None)
    if cfg is None:
        return JSONResponse({"error": "phone reports are not configured on this hub"}, status_code=503)
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        return JSONResponse({"error": "report too large"}, status_code=413)
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return JSONResponse({"error": "body is not JSON"}, status_code=400)
    clock = getattr(request.app.state, "clock", None)
    now = clock.now() if clock is not None else datetime.now(timezone.utc)
    verdict = verify_report(doc, cfg, now)
    if not verdict.ok:
        return JSONResponse({"error": verdict.reason}, status_code=verdict.status)
    outcome, event_key = await run_in_threadpool(record, verdict, now)
    return JSONResponse({"status": outcome, "event_key": event_key}, status_code=201 if outcome == "new" else 200)


def _routes() -> list[Any]:
    from starlette.routing import Route

    return [Route("/api/v1/phone-report", phone_report, methods=["POST"])]


routes = _routes()
