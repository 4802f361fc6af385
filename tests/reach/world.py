"""A reach set-up for tests: local servers, a ReachConfig pointing at them, a campaign document, helpers to run sends."""

from __future__ import annotations

import re
import urllib.parse
from datetime import datetime, timezone
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from py_vapid import Vapid02

from sync.hub.messaging.config import ReachConfig
from sync.hub.messaging.scheduler import Scheduler
from tests.reach.servers import HttpSink, SmtpSink

SID = "AC" + "0" * 32
UNSUB = re.compile(r"https://hub\.test/u/(\d+\.[0-9a-f]{24})")


def vapid_pem() -> bytes:
    v = Vapid02()
    v.generate_keys()
    return v.private_pem()


def reach_config(smtp: SmtpSink, http: HttpSink, code_key: Ed25519PrivateKey, **kw: Any) -> ReachConfig:
    """Settings whose every channel points at the local servers (timeouts generous: CI machines get loaded)."""
    channels = {
        "email": {"host": "127.0.0.1", "port": smtp.port, "sender": "Taco Truck <hello@truck.test>", "timeout": 10},
        "sms": {"account_sid": SID, "auth_token": "test-token", "from": "+13125550000", "base_url": http.base, "timeout": 10},
        "push": {"vapid_private_key": vapid_pem(), "subject": "mailto:owner@truck.test", "timeout": 10},
        "facebook": {"base_url": http.base, "token": "fb-token", "page_id": "4242", "timeout": 10},
        "x": {"base_url": http.base, "token": "x-token", "timeout": 10},
        "webhook": {"url": f"{http.base}/hook", "secret": b"hook-secret", "timeout": 10},
    }
    defaults = dict(base_url="https://hub.test", secret=b"s" * 32, code_key=code_key, timezone="America/Chicago",
                    lease_s=30.0, poll_s=0.05, backoff_s=60.0, max_attempts=3, channels=channels)
    return ReachConfig(**{**defaults, **kw})


def drain(scheduler: Scheduler, channels: dict, rounds: int = 10_000) -> int:
    """Run the scheduler until nothing more is due now; returns rows handled."""
    total = 0
    for _ in range(rounds):
        n = scheduler.run_once(channels)
        if not n:
            return total
        total += n
    raise AssertionError("the scheduler kept finding work")


def sms_received(http: HttpSink) -> list[dict[str, str]]:
    """Form fields of every message the Twilio-API server got."""
    return [{k: v[0] for k, v in urllib.parse.parse_qs(r.body.decode()).items()}
            for r in http.on(f"/2010-04-01/Accounts/{SID}/Messages.json")]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def campaign_document(code_public_key: str | None = None, **changes: Any) -> dict[str, Any]:
    """Four segments x three channels (+ the page posts); two variants on the registrants' email."""
    email = {"subject": "{{ first_name }}, see you at {{ stop }}",
             "template": "Hi {{ first_name }}! Your code {{ code }} is good {{ window }} at {{ stop }}: {{ map_link }}\n"
                         "Unsubscribe: {{ unsubscribe_link }}\n"}
    sms = {"template": "{{ first_name }}: {{ code }} today {{ window }} at {{ stop }}"}
    push = {"subject": "Lunch at {{ stop }}", "template": "Code {{ code }} ({{ window }})"}
    messages = []
    for seg in ("facebook_likers", "twitter_followers", "pos_registrants", "nearby_devices"):
        messages.append({"id": f"{seg}-email", "segment": seg, "channel": "email", "send_at": "-12h", **email})
        messages.append({"id": f"{seg}-sms", "segment": seg, "channel": "sms", "send_at": "-30m", **sms})
        messages.append({"id": f"{seg}-push", "segment": seg, "channel": "push", "send_at": "-5m", **push})
    messages[6]["variants"] = [{"name": "A", "split": 50},
                               {"name": "B", "split": 50, "template": "{{ first_name }}, show {{ code }} at the window ({{ window }})."}]
    messages += [
        {"id": "fb-post", "segment": "facebook_likers", "channel": "facebook", "send_at": "2026-06-01T09:00",
         "template": "Fans: say {{ code }} at {{ stop }} today {{ window }} {{ map_link }}"},
        {"id": "x-post", "segment": "twitter_followers", "channel": "x", "send_at": "2026-06-01T09:00",
         "template": "Followers: {{ code }} gets $1 off, {{ window }}"},
        {"id": "near-push", "segment": "nearby_devices", "channel": "push", "trigger": "proximity",
         "subject": "You're close!", "template": "{{ first_name }}, {{ code }} is yours today ({{ window }})"},
        {"id": "near-sms", "segment": "nearby_devices", "channel": "sms", "trigger": "proximity",
         "template": "{{ first_name }}, {{ code }} is yours today"},
    ]
    doc = {
        "format": 1, "id": "cloud-burst", "name": "Cloud burst", "issued_at": "2026-05-31T20:00:00Z", "trucks": ["*"],
        "valid_from": "2026-06-01T11:00", "valid_until": "2026-06-01T14:00",
        "segments": [
            {"name": "facebook_likers", "channel": "facebook", "code": "FB-LIKE-10", "benefit": {"kind": "percent_off", "percent": 10}},
            {"name": "twitter_followers", "channel": "twitter", "code": "TW-FOLLOW-1",
             "benefit": {"kind": "amount_off", "amount_cents": 100}},
            {"name": "pos_registrants", "channel": "email", "code": "THANKS-JOIN", "benefit": {"kind": "percent_off", "percent": 5}},
            {"name": "nearby_devices", "channel": "proximity", "benefit": {"kind": "percent_off", "percent": 15}},
        ],
        "timezone": "America/Chicago",
        "stop": {"name": "Daley Plaza", "lat": 41.8837, "lon": -87.6298, "radius_m": 400},
        "audiences": {"facebook_likers": {"group": "fb-likers"}, "twitter_followers": {"group": "x-followers"},
                      "pos_registrants": {"rule": {"registered_at_truck": True}},
                      "nearby_devices": {"rule": {"registered_at_truck": True, "has": "push"}}},
        "messages": messages,
    }
    if code_public_key:
        doc["code_public_key"] = code_public_key
    doc.update(changes)
    return doc
