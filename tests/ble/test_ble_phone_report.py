"""Reverse mode at the hub: a phone report with a fresh / stale / forged truck token -> event / refusal / refusal."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from sync.hub.models import HubMessage, open_hub_database
from sync.hub.phone_report import PhoneReportConfig, load_config, routes, verify_report
from truck_pos.clock import FakeClock
from truck_pos.domain.tokens import derive_token, slot_of, truck_token

TRUCK_SECRET = bytes(range(32))
PHONE_SECRET = bytes(range(32, 64))
NOW = datetime(2026, 6, 1, 17, 2, 3, tzinfo=timezone.utc)  # slot 5934444


def cfg() -> PhoneReportConfig:
    return PhoneReportConfig({"truck-1": TRUCK_SECRET, "truck-2": b"\x07" * 32},
                             [("phone-1", "cust-1", "regulars", PHONE_SECRET)])


def report(truck_tok: int, at: datetime = NOW, customer_secret: bytes = PHONE_SECRET, **extra) -> dict:
    return {"version": 1, "truck_token": f"{truck_tok:08x}", "customer_token": derive_token(customer_secret, slot_of(at.timestamp(), 300)).hex(),
            "rssi_dbm": -67, "seen_at": at.isoformat().replace("+00:00", "Z"), **extra}


@pytest.fixture
def client(tmp_path):
    db = open_hub_database(f"sqlite:///{tmp_path / 'hub.db'}")
    app = Starlette(routes=routes)
    app.state.phone_report = cfg()
    app.state.clock = FakeClock(NOW + timedelta(seconds=5))
    with TestClient(app) as c:
        yield c
    db.close()


def fresh() -> int:
    return truck_token(TRUCK_SECRET, slot_of(NOW.timestamp(), 300))


def test_fresh_truck_token_raises_one_proximity_event_with_source_phone_report(client):
    r = client.post("/api/v1/phone-report", json=report(fresh()))
    assert r.status_code == 201, r.text
    assert r.json() == {"status": "new", "event_key": "proximity:cust-1:day:2026-06-01:truck-1"}
    (msg,) = HubMessage.select()
    assert (msg.kind, msg.truck, msg.seq, msg.status) == ("proximity", "truck-1", 0, "ok")
    assert msg.body["source"] == "phone_report" and msg.body["customer_ref"] == "cust-1" and msg.body["segment"] == "regulars"
    assert msg.body["first_seen"] == "2026-06-01T17:02:03+00:00" and msg.body["rssi_dbm"] == -67
    again = client.post("/api/v1/phone-report", json=report(fresh(), NOW + timedelta(seconds=2)))
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert HubMessage.select().count() == 1


def test_a_truck_token_from_the_previous_slot_is_still_fresh():
    prev = truck_token(TRUCK_SECRET, slot_of(NOW.timestamp(), 300) - 1)
    assert verify_report(report(prev), cfg(), NOW).ok


def test_stale_truck_token_is_refused(client):
    stale = truck_token(TRUCK_SECRET, slot_of(NOW.timestamp(), 300) - 3)  # 15 minutes old: replayed or kept
    r = client.post("/api/v1/phone-report", json=report(stale))
    assert r.status_code == 403 and r.json() == {"error": "stale truck token"}
    assert HubMessage.select().count() == 0


def test_forged_truck_token_is_refused(client):
    forged = fresh() ^ 0x00010000
    r = client.post("/api/v1/phone-report", json=report(forged))
    assert r.status_code == 403 and r.json() == {"error": "unknown truck token"}
    assert HubMessage.select().count() == 0


@pytest.mark.parametrize("doc,status,words", [
    ("not json", 400, "not JSON"),
    ([], 400, "version-1"),
    ({"version": 2}, 400, "version-1"),
    ({**report(0), "truck_token": "DD4A8F12"}, 400, "hex"),
    ({**report(0), "rssi_dbm": 127}, 400, "rssi_dbm"),
    ({**report(0), "seen_at": "yesterday"}, 400, "ISO-8601"),
    ({**report(0), "seen_at": "2026-06-01T17:02:03"}, 400, "ISO-8601"),
])
def test_malformed_reports_are_refused_and_leave_nothing(client, doc, status, words):
    r = client.post("/api/v1/phone-report", content=doc if isinstance(doc, str) else None, json=None if isinstance(doc, str) else doc)
    assert r.status_code == status and words in r.json()["error"]
    assert HubMessage.select().count() == 0


def test_old_sighting_or_unknown_customer_is_refused():
    assert verify_report(report(fresh(), NOW - timedelta(hours=1)), cfg(), NOW).reason == "stale report: seen_at is not within the last minutes"
    assert verify_report(report(fresh(), customer_secret=b"\x09" * 32), cfg(), NOW).reason == "unknown customer token"


def test_config_loads_truck_secrets_and_a_bundle_devices_list(tmp_path):
    import json

    (tmp_path / "trucks.json").write_text(json.dumps({"truck-1": TRUCK_SECRET.hex()}))
    (tmp_path / "bundle.json").write_text(json.dumps({"devices": [{"device_id": "phone-1", "customer_ref": "cust-1",
                                                                   "secret": PHONE_SECRET.hex()}]}))
    c = load_config(str(tmp_path / "trucks.json"), str(tmp_path / "bundle.json"))
    assert c.trucks == {"truck-1": TRUCK_SECRET} and c.devices == [("phone-1", "cust-1", "nearby_devices", PHONE_SECRET)]
    assert verify_report(report(fresh()), c, NOW).ok


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
                    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.one_of(JSON, st.fixed_dictionaries({"version": st.just(1), "truck_token": st.text(max_size=10),
                                              "customer_token": st.text(max_size=20), "rssi_dbm": JSON, "seen_at": JSON})))
def test_any_json_gets_a_verdict_and_never_an_exception(doc):
    verdict = verify_report(doc, cfg(), NOW)
    assert not verdict.ok and verdict.status in (400, 403)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=6000))
def test_any_bytes_posted_get_an_answer_and_store_nothing(client, raw):
    r = client.post("/api/v1/phone-report", content=raw)
    assert r.status_code in (400, 403, 413)
    assert HubMessage.select().count() == 0
