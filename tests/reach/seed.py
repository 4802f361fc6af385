"""Bulk set-up for the scale tests and benchmarks: many consented email profiles in one group, and a
one-message campaign to them (inserted in bulk: importing 10,000 rows one by one is not what is measured)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from sync.hub import customers as cu
from sync.hub.messaging import campaigns
from sync.hub.models import hub_database

GROUP = "bulk"


def seed_people(n: int, now: datetime) -> None:
    """``n`` profiles person{i}@example.com with email consent, all in group ``bulk``."""
    people = [{"uuid": str(uuid.uuid4()), "first_name": f"P{i}", "created_at": now} for i in range(n)]
    for start in range(0, n, 1000):
        with hub_database.atomic():
            cu.HubCustomer.insert_many(people[start:start + 1000]).execute()
    ids = {c.uuid: c.id for c in cu.HubCustomer.select(cu.HubCustomer.uuid, cu.HubCustomer.id)}
    rows = [(ids[p["uuid"]], i) for i, p in enumerate(people)]
    for start in range(0, n, 1000):
        chunk = rows[start:start + 1000]
        with hub_database.atomic():
            cu.HubIdentity.insert_many([{"customer": c, "kind": "email", "value": f"person{i}@example.com"} for c, i in chunk]).execute()
            cu.HubConsent.insert_many([{"customer": c, "channel": "email", "granted": True, "at": now, "source": "seed"}
                                       for c, _ in chunk]).execute()
            cu.HubGroupMember.insert_many([{"customer": c, "group": GROUP} for c, _ in chunk]).execute()


def bulk_document(send_at: str, code: str = "personal") -> dict[str, Any]:
    """One email message to the bulk group, with a personal code."""
    return {
        "format": 1, "id": "bulk", "name": "Bulk", "issued_at": "2026-05-31T20:00:00Z", "timezone": "UTC",
        "valid_from": "2026-06-01T16:00:00Z", "valid_until": "2026-06-01T20:00:00Z",
        "segments": [{"name": "pos_registrants", "channel": "email", "code": "BULK-1", "benefit": {"kind": "percent_off", "percent": 5}}],
        "audiences": {"pos_registrants": {"group": GROUP}},
        "messages": [{"id": "bulk-email", "segment": "pos_registrants", "channel": "email", "send_at": send_at, "code": code,
                      "subject": "Hello {{ first_name }}", "template": "Hi {{ first_name }}, your code is {{ code }}.\n"}],
    }


def schedule_bulk(now: datetime, send_at: str = "2026-06-01T00:00:00Z", code: str = "personal") -> None:
    campaigns.schedule(bulk_document(send_at, code), now)


def write_settings(path: Path, smtp_port: int, code_key_file: Path, **extra: Any) -> Path:
    """A reach settings file with only the email channel, pointed at the local SMTP server."""
    settings = {"base_url": "https://hub.test", "secret_file": "reach.secret", "code_key_file": str(code_key_file),
                "workers": 2, "lease_s": 5, "poll_s": 0.05, "batch": 50, "backoff_s": 1,
                "email": {"host": "127.0.0.1", "port": smtp_port, "sender": "Truck <hello@truck.test>", "timeout": 1.5}, **extra}
    path.write_text(json.dumps(settings), "utf-8")
    return path
