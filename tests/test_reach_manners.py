"""Manners and the owner's commands: quiet hours, the daily cap, SMS STOP/START, consent going down to the trucks,
and ``truck-pos-hub audience import / campaign schedule / reach report`` on a real database and SMTP server."""

from __future__ import annotations

import csv
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from sync import protocol
from sync.hub import customers as cu
from sync.hub.cli import main as hub_cli
from sync.hub.messaging import campaigns, unsubscribe
from sync.hub.messaging.models import PENDING, SENT, SKIPPED, HubSend
from sync.hub.messaging.scheduler import Scheduler
from sync.hub.models import HubTruck
from tests.reach.db import hub_url  # noqa: F401 (fixture)
from tests.reach.servers import HttpSink, SmtpSink
from tests.reach.world import campaign_document, drain, reach_config, utc
from truck_pos.clock import FakeClock
from truck_pos.domain.bundle import verify_bundle


def one_email_campaign(**manners) -> dict:
    return campaign_document(
        manners=manners, audiences={"pos_registrants": {"group": "g"}},
        messages=[{"id": f"m{i}", "segment": "pos_registrants", "channel": "email", "send_at": f"-{10 - i}h",
                   "code": "segment", "template": f"message {i}"} for i in range(3)])


def person(name: str, now) -> cu.HubCustomer:
    phone = f"+1312555{sum(map(ord, name)) % 10000:04d}" if name != "ana" else "+13125550199"
    c, _ = cu.upsert_profile({"email": f"{name}@example.com", "truck_ref": f"c-{name}", "phone": phone}, name, now=now)
    cu.join_group(c, "g")
    cu.record_consent(c, "email", True, source="test", at=now)
    cu.record_consent(c, "sms", True, source="test", at=now)
    return c


def test_quiet_hours_hold_a_message_until_morning_and_the_daily_cap_skips_the_rest(hub_url):
    clock = FakeClock(utc(2026, 5, 31, 12))
    with SmtpSink() as smtp, HttpSink() as http:
        person("ana", clock.now())
        bo = person("bo", clock.now())
        config = reach_config(smtp, http, Ed25519PrivateKey.generate())
        # window starts 11:00 Chicago (16:00Z): messages at 01:00, 02:00, 03:00 local, inside 21:00-08:00 quiet hours
        campaigns.schedule(one_email_campaign(quiet_hours={"start": "21:00", "end": "08:00"}, daily_cap=2), clock.now())
        scheduler, channels = Scheduler(config, clock), config.make_channels()
        clock.set(utc(2026, 6, 1, 8))  # 03:00 in Chicago: all three are due, all quiet
        drain(scheduler, channels)
        assert smtp.messages == []
        assert {(s.state, s.due_at, s.error) for s in HubSend.select()} == {(PENDING, utc(2026, 6, 1, 13), "quiet hours")}
        cu.record_consent(bo, "email", False, source="unsubscribe", at=clock.now())  # during the night
        clock.set(utc(2026, 6, 1, 13))  # 08:00 local
        drain(scheduler, channels)
        assert sorted((m["To"], m.get_content().splitlines()[0]) for m in smtp.messages) == [
            ("ana@example.com", "message 0"), ("ana@example.com", "message 1")]
        assert [(s.state, s.error) for s in HubSend.select().where(HubSend.message_id == "m2", HubSend.customer != bo)] == [
            (SKIPPED, "daily cap of 2 messages reached")]
        assert {(s.state, s.error) for s in HubSend.select().where(HubSend.customer == bo)} == {(SKIPPED, "no email consent")}
        for ch in channels.values():
            ch.close()


def test_sms_stop_withdraws_start_grants_and_each_change_goes_down_to_every_truck_as_a_valid_message(hub_url):
    now = utc(2026, 6, 1, 18)
    ana = person("ana", now)
    HubTruck.create(truck="truck-a")
    HubTruck.create(truck="truck-b")
    assert unsubscribe.sms_reply("(312) 555-0199", " stop ", now).startswith("You are unsubscribed")
    assert cu.current_consents(ana)["sms"] is False and cu.current_consents(ana)["email"] is True
    assert unsubscribe.sms_reply("+13125550199", "START", now).startswith("You are subscribed again")
    assert unsubscribe.sms_reply("+13125550199", "what time do you open?", now) == ""
    assert unsubscribe.sms_reply("+19995550000", "STOP", now) == ""  # not a customer of ours
    sent = []
    assert unsubscribe.publish_pending(lambda truck, kind, body, key: sent.append((truck, kind, body, key)), now) == 2
    assert unsubscribe.publish_pending(lambda *a: sent.append(a), now) == 0  # published once
    assert [(t, b["granted"], b["channel"]) for t, _, b, _ in sent] == [
        ("truck-a", False, "sms"), ("truck-b", False, "sms"), ("truck-a", True, "sms"), ("truck-b", True, "sms")]
    for truck, kind, body, key in sent:
        env = protocol.envelope(truck=truck, seq=0, kind=kind, key=key, ts=now, body=body)
        checked = protocol.check(protocol.encode(env), direction="down", truck=truck, kind="consent")
        assert checked.ok, checked.reason
        assert body["customer_ref"] == "c-ana"


def test_the_owner_commands_import_schedule_sign_and_report(hub_url, tmp_path, capsys):
    owner = Ed25519PrivateKey.generate()
    key = tmp_path / "owner.key"
    key.write_bytes(owner.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    likers = tmp_path / "likers.csv"
    likers.write_bytes("Full Name,E-mail,Mobile\nZoë Ünal,zoe@example.com,\nZoë Ünal,ZOE@example.com,312 555 0150\n"
                       "nobody,,\n,broken@,\n".encode("latin-1"))
    assert hub_cli(["--db", hub_url, "audience", "import", str(likers), "--group", "fb-likers", "--consent", "email"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("4 rows: 1 new profiles, 1 merged, 2 refused")
    assert "refused line 4: a profile needs at least one" in out and "refused line 5: 'broken@' does not look like" in out
    assert cu.find("phone", "+13125550150").first_name == "Zoë"

    doc = tmp_path / "campaign.json"
    doc.write_text(json.dumps(campaign_document()), "utf-8")
    bundle = tmp_path / "truck.bundle"
    assert hub_cli(["--db", hub_url, "campaign", "schedule", str(doc), "--sign-key", str(key), "--bundle-out", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert "campaign cloud-burst: 16 messages" in out and "A50%/B50%" in out and "when the customer comes near" in out
    signed = verify_bundle(bundle.read_bytes(), [owner.public_key()])
    assert "messages" not in signed and "audiences" not in signed and signed["segments"] == campaign_document()["segments"]

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(campaign_document(colour="red")), "utf-8")
    assert hub_cli(["--db", hub_url, "campaign", "schedule", str(bad)]) == 1
    assert "unknown field 'colour'" in capsys.readouterr().err

    HubSend.create(key="k1", campaign_id="cloud-burst", message_id="fb-post", segment="facebook_likers", channel="facebook",
                   due_at=utc(2026, 6, 1), state=SENT, text="Say FB-LIKE-10 at Daley Plaza")
    assert hub_cli(["--db", hub_url, "reach", "report", "cloud-burst", "--csv", str(tmp_path / "r.csv"),
                    "--png", str(tmp_path / "charts")]) == 0
    out = capsys.readouterr().out
    assert "--- copy this text (facebook) ---\nSay FB-LIKE-10 at Daley Plaza\n---" in out
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert [(r["segment"], r["channel"], r["sent"], r["delivered"]) for r in rows] == [("facebook_likers", "facebook", "1", "1")]
    assert (tmp_path / "charts" / "reach-cloud-burst.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
