"""Campaign reach end to end: 4 segments x 3 channels (+ page posts), two variants, sent at their scheduled times
to real local servers (aiosmtpd, a Twilio-API server, push endpoints that decrypt, Facebook/X post endpoints).

Expected texts are written out here from the templates in tests/reach/world.py, not taken from the renderer."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync import protocol
from sync.hub import Hub, HubConfig
from sync.hub import customers as cu
from sync.hub.messaging import audiences, campaigns, unsubscribe
from sync.hub.messaging.models import SENT, SKIPPED, HubConsentDown, HubSend
from sync.hub.messaging.scheduler import Scheduler
from tests.reach.db import hub_url  # noqa: F401 (fixture)
from tests.reach.servers import HttpSink, SmtpSink
from tests.reach.world import UNSUB, campaign_document, drain, reach_config, sms_received, utc
from truck_pos.clock import FakeClock
from truck_pos.domain.codes import PersonalCode, issue_personal_code

WINDOW = "Mon Jun 1, 11:00-14:00"  # 11:00-14:00 Chicago (CDT) on Monday June 1st
STOP = "Daley Plaza"
MAP = "https://www.openstreetmap.org/?mlat=41.883700&mlon=-87.629800#map=17/41.883700/-87.629800"
REGISTRANTS = 30


def register_at_truck(hub: Hub, n: int) -> None:
    for i in range(n):
        body = {"customer_ref": f"c-reg{i:02d}", "email": f"reg{i}@example.com", "phone": f"+1312555{1000 + i}",
                "registered_at": "2026-05-30T18:00:00+00:00", "first_name": f"Reg{i}" if i != 1 else None,
                "consent": {"granted": True, "wording_version": "2026-05", "at": "2026-05-30T18:00:00+00:00"}}
        env = protocol.envelope(truck="truck-a", seq=i + 1, kind="registration", key=f"reg-{i}", ts=utc(2026, 5, 30, 18), body=body)
        assert hub.ingest(protocol.up_topic("truck-a", "registration"), protocol.encode(env))[0] == "new"


def people(http: HttpSink) -> dict[str, object]:
    """The audience: 30 registered at the truck (one withdrew email), a Facebook export, an X export."""
    clock_now = utc(2026, 5, 31, 20)
    hub = Hub(HubConfig(), clock=FakeClock(clock_now))
    register_at_truck(hub, REGISTRANTS)
    r29 = cu.find("truck_ref", "c-reg29")
    cu.record_consent(r29, "email", False, source="test", at=clock_now)
    fb = audiences.import_csv(b"fn,email,phone\nFia,fia@example.com,\nFinn,finn@example.com,(312) 555-0111\nBad,not-an-email,\n",
                              "fb-likers", consent=("email",), source="fb-export", now=clock_now)
    assert (fb.created, len(fb.merged), [line for line, _ in fb.refused]) == (2, 0, [4])
    xs = audiences.import_csv("Twitter handle,Phone,Email\n@tess_eats,+1 312 555 0122,\n@tom,,tom@example.com\n".encode(),
                              "x-followers", consent=("sms",), source="x-export", now=clock_now)
    assert xs.created == 2 and not xs.refused
    browsers = {}
    for who, name in ((cu.find("truck_ref", "c-reg00"), "reg0"), (cu.find("email", "fia@example.com"), "fia")):
        b = http.browser(name)
        cu.add_push_subscription(who, b.endpoint, b.p256dh, b.auth_b64)
        cu.record_consent(who, "push", True, source="web", at=clock_now)
        browsers[name] = who
    return browsers


def code(owner: Ed25519PrivateKey, segment: str, ref: str) -> str:
    return issue_personal_code(PersonalCode("cloud-burst", segment, ref), owner)


def email_text(name: str, c: str, variant: str = "A") -> str:
    if variant == "B":
        return f"{name}, show {c} at the window ({WINDOW}).\n\nUnsubscribe: <link>\n"
    return f"Hi {name}! Your code {c} is good {WINDOW} at {STOP}: {MAP}\nUnsubscribe: <link>\n"


def test_each_server_gets_exactly_the_expected_messages_at_their_times_and_no_one_without_consent(hub_url):
    owner = Ed25519PrivateKey.generate()
    clock = FakeClock(utc(2026, 5, 31, 20))
    with SmtpSink() as smtp, HttpSink() as http:
        people(http)
        config = reach_config(smtp, http, owner)
        campaigns.schedule(campaign_document(), clock.now())
        scheduler, channels = Scheduler(config, clock, "w1"), config.make_channels()

        clock.set(utc(2026, 6, 1, 3, 59, 59))  # a second before the first message (-12h of 16:00Z)
        drain(scheduler, channels)
        assert (smtp.messages, http.requests) == ([], [])

        clock.set(utc(2026, 6, 1, 4))
        drain(scheduler, channels)
        got_email = {}
        for msg in smtp.messages:
            text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
            links = UNSUB.findall(text)
            assert len(links) == 1 and msg["List-Unsubscribe"] == f"<https://hub.test/u/{links[0]}>"
            got_email.setdefault(msg["To"], []).append((msg["Subject"], UNSUB.sub("<link>", text)))
        reg = lambda i: f"c-reg{i:02d}"  # noqa: E731
        name = lambda i: "there" if i == 1 else f"Reg{i}"  # noqa: E731
        variants = {s.customer.uuid: s.variant for s in HubSend.select().where(HubSend.message_id == "pos_registrants-email")}
        expected = {}
        for i in range(REGISTRANTS - 1):  # Reg29 withdrew email consent
            who = cu.find("truck_ref", reg(i))
            expected[f"reg{i}@example.com"] = [(f"{name(i)}, see you at {STOP}",
                                                email_text(name(i), code(owner, "pos_registrants", reg(i)), variants[who.uuid]))]
        expected["reg0@example.com"].append((f"Reg0, see you at {STOP}", email_text("Reg0", code(owner, "nearby_devices", reg(0)))))
        for addr, nm in (("fia@example.com", "Fia"), ("finn@example.com", "Finn")):
            ref = f"hub-{cu.find('email', addr).uuid}"
            expected[addr] = [(f"{nm}, see you at {STOP}", email_text(nm, code(owner, "facebook_likers", ref)))]
        assert {k: sorted(v) for k, v in got_email.items()} == {k: sorted(v) for k, v in expected.items()}
        assert set(variants.values()) == {"A", "B"}  # both arms used (30 people, a 50/50 split)
        assert http.requests == []

        clock.set(utc(2026, 6, 1, 14))  # 09:00 Chicago: the page posts
        drain(scheduler, channels)
        fb = http.on("/v19.0/4242/feed")
        assert [urllib.parse.parse_qs(r.body.decode()) for r in fb] == [
            {"message": [f"Fans: say FB-LIKE-10 at {STOP} today {WINDOW} {MAP}"], "access_token": ["fb-token"]}]
        assert [json.loads(r.body) for r in http.on("/2/tweets")] == [{"text": f"Followers: TW-FOLLOW-1 gets $1 off, {WINDOW}"}]
        assert http.on("/2/tweets")[0].headers["Authorization"] == "Bearer x-token"

        clock.set(utc(2026, 6, 1, 15, 30))
        drain(scheduler, channels)
        sms = sorted((m["To"], m["Body"]) for m in sms_received(http))
        expect_sms = [(f"+1312555{1000 + i}", f"{name(i)}: {code(owner, 'pos_registrants', reg(i))} today {WINDOW} at {STOP}"
                       " Reply STOP to opt out.") for i in range(REGISTRANTS)]
        expect_sms.append(("+13125551000", f"Reg0: {code(owner, 'nearby_devices', reg(0))} today {WINDOW} at {STOP} Reply STOP to opt out."))
        tess = f"hub-{cu.find('x', 'tess_eats').uuid}"
        expect_sms.append(("+13125550122", f"there: {code(owner, 'twitter_followers', tess)} today {WINDOW} at {STOP} Reply STOP to opt out."))
        assert sms == sorted(expect_sms)
        assert {m["From"] for m in sms_received(http)} == {"+13125550000"}
        assert http.on("/push/") == []

        clock.set(utc(2026, 6, 1, 15, 55))
        drain(scheduler, channels)
        pushes = sorted((r.path, json.loads(r.plaintext)["title"], json.loads(r.plaintext)["body"]) for r in http.on("/push/"))
        fia = f"hub-{cu.find('email', 'fia@example.com').uuid}"
        assert pushes == sorted([("/push/reg0", f"Lunch at {STOP}", f"Code {code(owner, 'pos_registrants', reg(0))} ({WINDOW})"),
                                 ("/push/reg0", f"Lunch at {STOP}", f"Code {code(owner, 'nearby_devices', reg(0))} ({WINDOW})"),
                                 ("/push/fia", f"Lunch at {STOP}", f"Code {code(owner, 'facebook_likers', fia)} ({WINDOW})")])
        sent = {ch: HubSend.select().where(HubSend.channel == ch, HubSend.state == SENT).count() for ch in ("email", "sms", "push")}
        assert sent == {"email": 32, "sms": 32, "push": 3}
        skipped = {(s.channel, s.error) for s in HubSend.select().where(HubSend.state == SKIPPED)}
        assert ("email", "no email consent") in skipped and ("sms", "no sms consent") in skipped

        # a person's unsubscribe link withdraws that channel's consent and queues the change for the trucks
        reg5 = next(m for m in smtp.messages if m["To"] == "reg5@example.com")
        token = UNSUB.findall(reg5.get_body(("plain",)).get_content())[0]
        assert unsubscribe.unsubscribe(config.secret, token, clock.now())[0]
        forged = token[:-1] + ("1" if token.endswith("0") else "0")
        assert unsubscribe.unsubscribe(config.secret, forged, clock.now()) == (
            False, "This unsubscribe link is not valid (it may have been cut short).")
        assert cu.current_consents(cu.find("truck_ref", reg(5)))["email"] is False
        assert [r.body["customer_ref"] for r in HubConsentDown.select()] == [reg(5)]

        # nothing more is due, and a second pass sends nothing twice
        before = (len(smtp.messages), len(http.requests))
        clock.advance(days=1)
        drain(scheduler, channels)
        assert (len(smtp.messages), len(http.requests)) == before
        for ch in channels.values():
            ch.close()


@pytest.mark.parametrize("change, problem", [
    ({"messages": [{"segment": "pos_registrants", "channel": "email", "send_at": "-1h", "template": "{{ coupon }}"}]},
     "unknown variable 'coupon'"),
    ({"messages": [{"segment": "pos_registrants", "channel": "email", "send_at": "-1h", "template": "{% if %}"}]},
     "does not compile"),
    ({"messages": [{"segment": "pos_registrants", "channel": "email", "send_at": "-1h", "template": "x", "colour": "red"}]},
     "unknown field 'colour'"),
    ({"surprise": 1}, "unknown field 'surprise'"),
    ({"messages": [{"segment": "nobody", "channel": "email", "send_at": "-1h", "template": "x"}]}, "no segment 'nobody'"),
    ({"messages": [{"segment": "pos_registrants", "channel": "email", "send_at": "yesterday-ish", "template": "x"}]},
     "neither a time nor relative"),
])
def test_a_bad_campaign_document_is_refused_naming_the_problem(change, problem, tmp_path):
    from sync.hub.messaging.document import CampaignError, parse_document

    with pytest.raises(CampaignError, match=problem.replace("(", r"\(")):
        parse_document(campaign_document(**change))
