"""Hub customer profiles: one profile per person across identities, consent history, groups, export, erase."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sync import protocol
from sync.hub import Hub, HubConfig
from sync.hub import customers as cu
from sync.hub.messaging.models import HubSend
from tests.reach.db import hub_url  # noqa: F401 (fixture)
from truck_pos.clock import FakeClock
from truck_pos.errors import InvalidInput

NOW = datetime(2026, 6, 1, 17, 0, tzinfo=timezone.utc)


def test_the_same_person_typed_differently_is_one_profile_and_two_profiles_merge(hub_url):
    ana, merged = cu.upsert_profile({"email": " Ana@Example.COM "}, "Ana", "csv", now=NOW)
    assert not merged
    again, merged = cu.upsert_profile({"email": "ana@example.com", "phone": "(312) 555-0100"}, source="web", now=NOW)
    assert merged and again.id == ana.id
    bob_phone, _ = cu.upsert_profile({"x": "@AnaTheCook"}, "Ana", now=NOW + timedelta(hours=1))
    cu.record_consent(bob_phone, "sms", True, source="web", at=NOW)
    # one row names identities of two profiles: they fold into the older one
    both, merged = cu.upsert_profile([("phone", "+1 312 555 0100"), ("x", "anathecook")], now=NOW)
    assert merged and both.id == ana.id
    assert cu.find("x", "@ANATHECOOK").id == ana.id
    assert cu.by_uuid(bob_phone.uuid).id == ana.id  # an old link still finds the person
    assert cu.current_consents(both) == {"sms": True}
    assert {(i["kind"], i["value"]) for i in cu.export(both)["identities"]} == {
        ("email", "ana@example.com"), ("phone", "+13125550100"), ("x", "anathecook")}
    assert [c.id for c in cu.search("ANA")] == [ana.id]


def test_bad_identities_are_refused_with_a_sentence_and_nothing_is_written(hub_url):
    for ids in ({"email": "not-an-address"}, {"phone": "12"}, {"x": "has space"}, {"carrier_pigeon": "x"}, {}):
        with pytest.raises(InvalidInput):
            cu.upsert_profile(ids, now=NOW)
    assert cu.HubCustomer.select().count() == 0


def test_consent_history_latest_wins_export_and_erase(hub_url):
    c, _ = cu.upsert_profile({"email": "e@x.io"}, "Eve", now=NOW)
    cu.record_consent(c, "email", True, source="csv", wording_version="v1", at=NOW)
    cu.record_consent(c, "email", False, source="unsubscribe", at=NOW + timedelta(minutes=5))
    cu.record_consent(c, "push", True, source="web", at=NOW + timedelta(minutes=1))
    assert cu.current_consents(c) == {"email": False, "push": True}
    assert not cu.has_consent(c, "email") and cu.has_consent(c, "push") and not cu.has_consent(c, "sms")
    cu.join_group(c, "Acme  Corp")
    assert not cu.join_group(c, "Acme Corp")
    HubSend.create(key="k", campaign_id="cb", message_id="m", segment="s", channel="email", customer=c, due_at=NOW,
                   recipient="e@x.io", text="Hi Eve", state="sent", sent_at=NOW)
    doc = cu.export(c)
    assert [x["granted"] for x in doc["consents"]] == [True, True, False] and doc["groups"] == ["Acme Corp"]
    assert [(m["channel"], m["text"]) for m in doc["messages"]] == [("email", "Hi Eve")]
    cu.erase(c, now=NOW)
    assert [(s.recipient, s.text, s.state) for s in HubSend.select()] == [("", "", "sent")]  # counts stay, the person goes
    gone = cu.by_uuid(c.uuid)
    assert gone.erased_at == NOW and gone.first_name == ""
    assert cu.find("email", "e@x.io") is None and cu.export(gone)["identities"] == [] and cu.search("eve") == []


def envelope(seq: int, kind: str, body: dict) -> tuple[str, bytes]:
    env = protocol.envelope(truck="truck-a", seq=seq, kind=kind, key=f"k-{seq}", ts=NOW, body=body)
    return protocol.up_topic("truck-a", kind), protocol.encode(env)


def test_truck_registrations_consents_and_group_joins_feed_the_profiles_once(hub_url):
    hub = Hub(HubConfig(), clock=FakeClock(NOW))
    reg = {"customer_ref": "c-1", "email": "ana@example.com", "phone": "+13125550100", "registered_at": NOW.isoformat(),
           "consent": {"granted": True, "wording_version": "2026-05", "at": NOW.isoformat()}}
    assert hub.ingest(*envelope(1, "registration", reg))[0] == "new"
    assert hub.ingest(*envelope(1, "registration", reg))[0] == "duplicate"
    hub.ingest(*envelope(2, "group_join", {"customer_ref": "c-1", "group": "Acme", "joined_at": NOW.isoformat()}))
    c = cu.find("truck_ref", "c-1")
    assert cu.find("email", "ANA@example.com").id == c.id
    assert cu.current_consents(c) == {"email": True, "sms": True}
    assert cu.export(c)["groups"] == ["Acme"]
    later = (NOW + timedelta(hours=1)).isoformat()
    hub.ingest(*envelope(3, "consent", {"customer_ref": "c-1", "granted": False, "wording_version": "withdrawal", "at": later}))
    assert cu.current_consents(c) == {"email": False, "sms": False, "push": False}
    assert cu.HubConsent.select().count() == 5  # the duplicate registration added nothing
