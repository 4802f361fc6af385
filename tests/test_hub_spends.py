"""Double spends: a limited code used beyond its limit across trucks is flagged at the hub, with both orders."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sync import protocol
from sync.hub import Hub, HubConfig
from sync.hub.models import HubDoubleSpend
from sync.owner import nightly
from tests.test_sync_hub import hub_url  # noqa: F401 - SQLite always, PostgreSQL with TRUCK_POS_TEST_PG
from truck_pos.clock import FakeClock

NOW = datetime(2026, 6, 1, 17, 0, tzinfo=timezone.utc)


def redemption(truck: str, seq: int, order: str, code: str, *, kind: str = "personal", customer: str | None = "c-7",
               per_customer: int | None = None) -> tuple[str, bytes]:
    body = {"redemption_id": f"{order}:{code}", "order_id": order, "truck": truck, "campaign_id": "summer",
            "segment": "vip", "channel": "email", "kind": kind, "code": code, "customer_ref": customer,
            "amount_cents": 100, "redeemed_at": (NOW + timedelta(minutes=seq)).isoformat(), "stop": ""}
    if per_customer is not None:
        body["uses_per_customer"] = per_customer
    env = protocol.envelope(truck=truck, seq=seq, kind="redemption", key=f"redemption:{order}:{code}",
                            ts=NOW + timedelta(minutes=seq), body=body)
    return protocol.up_topic(truck, "redemption"), protocol.encode(env)


def test_a_personal_code_used_on_two_trucks_is_flagged_once_with_both_orders(hub_url, tmp_path, capsys):  # noqa: F811
    hub = Hub(HubConfig(), clock=FakeClock(NOW))
    assert hub.ingest(*redemption("truck-a", 1, "order-a", "TP1CODE"))[0] == "new"
    assert not HubDoubleSpend.select().exists()  # one use of a single-use code is fine
    assert hub.ingest(*redemption("truck-b", 1, "order-b", "TP1CODE"))[0] == "new"
    assert hub.ingest(*redemption("truck-b", 1, "order-b", "TP1CODE"))[0] == "duplicate"  # a re-delivery flags nothing new
    flags = list(HubDoubleSpend.select())
    assert [(f.first_truck, f.first_order, f.second_truck, f.second_order) for f in flags] == [
        ("truck-a", "order-a", "truck-b", "order-b")]
    assert nightly.main(["nightly", "--hub-db", hub_url, "--day", "2026-06-01", "--out", str(tmp_path / "n"),
                         "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "DOUBLE SPEND TP1CODE (c-7): truck-a order order-a and truck-b order order-b" in out
    doc = nightly.json.loads((tmp_path / "n" / "summary.json").read_text())
    assert doc["double_spends"][0]["first"]["order_id"] == "order-a"
    assert doc["double_spends"][0]["second"] == {"truck": "truck-b", "order_id": "order-b", "at": (NOW + timedelta(minutes=1)).isoformat()}


def test_limits_follow_the_segment_and_unlimited_codes_are_never_flagged(hub_url):  # noqa: F811
    hub = Hub(HubConfig(), clock=FakeClock(NOW))
    for seq, truck in enumerate(["truck-a", "truck-b", "truck-c"], 1):  # uses_per_customer 2: the third use is one too many
        hub.ingest(*redemption(truck, seq, f"o-{truck}", "VIP-TWICE", kind="segment", per_customer=2))
    for seq in range(4, 8):  # a segment code with no per-customer limit
        hub.ingest(*redemption("truck-a", seq, f"o-{seq}", "FB-LIKE-10", kind="segment", customer=None))
    assert [(f.code, f.first_order, f.second_order) for f in HubDoubleSpend.select()] == [("VIP-TWICE", "o-truck-a", "o-truck-c")]
