"""Bad input while sending: a template that fails for one person, a variable that is not there, malformed addresses,
servers that answer 500 or time out. Each message gets its own clear error and is retried or dead-lettered; the rest
go out. Real local servers throughout."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.hub import customers as cu
from sync.hub.messaging import campaigns
from sync.hub.messaging.models import DEAD, SENT, HubSend
from sync.hub.messaging.scheduler import Scheduler
from tests.reach.db import hub_url  # noqa: F401 (fixture)
from tests.reach.servers import HttpSink, SmtpSink
from tests.reach.world import campaign_document, drain, reach_config, sms_received, utc
from truck_pos.clock import FakeClock

NAMES = ["Adam", "Bob", "Cyra", "Dean", "Evan", "Faye"]  # Bob's name is 3 letters: the template divides by len - 3


def document() -> dict:
    g = {"group": "g"}
    return campaign_document(
        audiences={"pos_registrants": g, "facebook_likers": g, "twitter_followers": g, "nearby_devices": g},
        messages=[
            {"id": "mail", "segment": "pos_registrants", "channel": "email", "send_at": "-1h", "code": "segment",
             "template": "{{ first_name }}: {{ 100 // (first_name|length - 3) }} {{ code }}"},
            {"id": "mail-street", "segment": "facebook_likers", "channel": "email", "send_at": "-1h", "code": "segment",
             "template": "We are at {{ stop.street }}"},
            {"id": "text", "segment": "pos_registrants", "channel": "sms", "send_at": "-1h", "code": "segment",
             "template": "{{ first_name }} {{ code }}"},
            {"id": "push", "segment": "twitter_followers", "channel": "push", "send_at": "-1h", "code": "segment",
             "template": "{{ code }}"},
            {"id": "hook", "segment": "nearby_devices", "channel": "webhook", "send_at": "-1h", "template": "{{ code }}"},
            {"id": "x-post", "segment": "twitter_followers", "channel": "x", "send_at": "-1h", "template": "{{ code }} today"},
        ])


def test_each_bad_message_gets_its_own_error_and_the_rest_are_sent(hub_url):
    clock = FakeClock(utc(2026, 6, 1, 15, 30))
    with SmtpSink() as smtp, HttpSink() as http:
        for i, name in enumerate(NAMES):
            c, _ = cu.upsert_profile({"email": f"{name.lower()}@example.com", "phone": f"+1312555{2000 + i}"}, name, now=clock.now())
            cu.join_group(c, "g")
            for channel in ("email", "sms", "push"):
                cu.record_consent(c, channel, True, source="test", at=clock.now())
            b = http.browser(name.lower())
            cu.add_push_subscription(c, b.endpoint, b.p256dh if name != "Cyra" else "not-a-key", b.auth_b64)
        # legacy data the normalizer would refuse today: an address with no domain
        cu.HubIdentity.update(value="dee@").where(cu.HubIdentity.value == "dean@example.com").execute()
        smtp.refuse["evan@example.com"] = "550 5.1.1 mailbox unavailable"
        smtp.refuse["faye@example.com"] = "451 4.3.0 try again later"
        http.faults["/2010-04-01/"] = [500, 500]  # Twilio fails twice, then works
        http.faults["/2/tweets"] = [8.0]  # one answer slower than the X adapter's timeout
        http.faults["/hook"] = [500] * 30  # the webhook never works

        config = reach_config(smtp, http, Ed25519PrivateKey.generate(), workers=1)
        config.channels["x"]["timeout"] = 3  # the server below answers the first post after 8 s
        campaigns.schedule(document(), clock.now())
        scheduler, channels = Scheduler(config, clock), config.make_channels()
        drain(scheduler, channels)
        del smtp.refuse["faye@example.com"]
        for _ in range(3):  # the retries come due after 60 s, then 120 s
            clock.advance(121)
            drain(scheduler, channels)

        rows = {(s.message_id, s.customer.first_name if s.customer else ""): s for s in HubSend.select()}
        error = lambda mid, who: rows[(mid, who)].error  # noqa: E731
        assert "ZeroDivisionError" in error("mail", "Bob") and "template failed to render" in error("mail", "Bob")
        assert all("has no attribute 'street'" in error("mail-street", n) for n in NAMES)
        assert "malformed email address" in error("mail", "Dean")
        assert "refused 'evan@example.com': 550" in error("mail", "Evan")
        assert {n: rows[("mail", n)].state for n in NAMES} == {"Adam": SENT, "Bob": DEAD, "Cyra": SENT, "Dean": DEAD,
                                                                "Evan": DEAD, "Faye": SENT}
        assert rows[("mail", "Faye")].attempts == 2  # 451 is temporary: tried again
        assert sorted(m["To"] for m in smtp.messages) == ["adam@example.com", "cyra@example.com", "faye@example.com"]
        assert sorted(m.get_content().splitlines()[0] for m in smtp.messages) == [
            "Adam: 100 THANKS-JOIN", "Cyra: 100 THANKS-JOIN", "Faye: 100 THANKS-JOIN"]

        assert sorted(m["Body"] for m in sms_received(http)) == sorted(
            f"{n} THANKS-JOIN Reply STOP to opt out." for n in NAMES)  # after two 500s, every SMS went
        assert sorted(rows[("text", n)].attempts for n in NAMES) == [1, 1, 1, 1, 2, 2]

        assert "push subscription keys are not usable" in error("push", "Cyra") and rows[("push", "Cyra")].state == DEAD
        assert sorted(json.loads(r.plaintext)["body"] for r in http.on("/push/")) == ["TW-FOLLOW-1"] * 5

        assert rows[("x-post", "")].state == SENT and rows[("x-post", "")].attempts == 2  # the timeout was retried
        # the slow answer did arrive: the retry carries the same Idempotency-Key, so X can drop the copy
        for _ in range(400):  # the slow request is still sleeping in the server; let it finish
            if len(http.on("/2/tweets")) == 2:
                break
            time.sleep(0.05)
        tweets = http.on("/2/tweets")
        assert [json.loads(r.body)["text"] for r in tweets] == ["TW-FOLLOW-1 today"] * 2
        assert len({r.headers["Idempotency-Key"] for r in tweets}) == 1

        hooks = {(s.state, s.attempts, s.error) for (mid, _), s in rows.items() if mid == "hook"}
        assert hooks == {(DEAD, 3, 'the webhook answered HTTP 500: {"message": "injected failure", "status": 500}')}
        for ch in channels.values():
            ch.close()


def test_the_webhook_signature_is_a_hmac_a_receiver_can_check(hub_url):
    clock = FakeClock(utc(2026, 6, 1, 15, 30))
    with SmtpSink() as smtp, HttpSink() as http:
        c, _ = cu.upsert_profile({"email": "ada@example.com"}, "Ada", now=clock.now())
        cu.join_group(c, "g")
        cu.record_consent(c, "email", True, source="test", at=clock.now())
        config = reach_config(smtp, http, Ed25519PrivateKey.generate())
        doc = document()
        doc["messages"] = [m for m in doc["messages"] if m["id"] == "hook"]
        doc["messages"][0]["code"] = "none"
        doc["messages"][0]["template"] = "Hello {{ first_name }}"
        campaigns.schedule(doc, clock.now())
        drain(Scheduler(config, clock), config.make_channels())
        (req,) = http.on("/hook")
        t, v1 = (part.split("=", 1)[1] for part in req.headers["X-TruckPos-Signature"].split(","))
        assert v1 == hmac.new(b"hook-secret", f"{t}.".encode() + req.body, hashlib.sha256).hexdigest()
        body = json.loads(req.body)
        assert (body["to"], body["text"]) == (c.uuid, "Hello Ada")
