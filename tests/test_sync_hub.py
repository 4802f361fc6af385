"""Hub ingest: exactly once per id, acks with gaps, on SQLite always and PostgreSQL when TRUCK_POS_TEST_PG is set."""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone

import pytest

from sync import protocol
from sync.hub import Hub, HubConfig
from sync.hub.models import HUB_MODELS, HubDeadLetter, HubMessage, HubMobileOrder, open_hub_database
from tests.mqtt_fixtures import fast_services, fleet_broker, hub_config, make_agent  # noqa: F401
from truck_pos.clock import FakeClock
from truck_pos.store import outbox

NOW = datetime(2026, 6, 1, 17, 0, tzinfo=timezone.utc)
PG_URL = os.environ.get("TRUCK_POS_TEST_PG", "")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(not PG_URL, reason="set TRUCK_POS_TEST_PG to a PostgreSQL URL"))]


@pytest.fixture(params=BACKENDS)
def hub_url(request, tmp_path):
    """A fresh hub database on each backend (PostgreSQL tables are dropped and made again)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hub.db'}"
    else:
        url = PG_URL
        db = open_hub_database(url)
        db.drop_tables(HUB_MODELS, safe=True)
        db.close()
    db = open_hub_database(url)
    yield url
    db.close()


def env(seq: int, key: str | None = None, kind: str = "audit", body: dict | None = None) -> bytes:
    return protocol.encode(protocol.envelope(truck="truck-a", seq=seq, kind=kind, key=key or f"k-{seq}", ts=NOW,
                                             body={} if body is None else body))


def ingest(hub: Hub, seq: int, **kw) -> str:
    return hub.ingest(protocol.up_topic("truck-a", kw.get("kind", "audit")), env(seq, **kw))[0]


def test_each_id_is_ingested_once_and_the_ack_lists_the_gaps(hub_url):
    hub = Hub(HubConfig(), clock=FakeClock(NOW))
    assert [ingest(hub, s) for s in (1, 2, 4, 5, 7)] == ["new"] * 5
    assert ingest(hub, 2) == "duplicate"
    assert hub.ack_body("truck-a") == {"through_seq": 2, "max_seq": 7, "missing": [[3, 3], [6, 6]]}
    assert ingest(hub, 3) == "new"
    assert hub.ack_body("truck-a") == {"through_seq": 5, "max_seq": 7, "missing": [[6, 6]]}
    assert HubMessage.select().count() == 6


def test_a_placeable_but_invalid_envelope_is_kept_as_rejected_and_does_not_stall_the_ack(hub_url):
    hub = Hub(HubConfig(), clock=FakeClock(NOW))
    ingest(hub, 1)
    assert ingest(hub, 2, kind="order", body={"order_id": 5}) == "rejected"
    assert hub.ack_body("truck-a")["through_seq"] == 2
    row = HubMessage.get(HubMessage.seq == 2)
    assert row.status == "rejected" and "order_id" in row.reason


def test_messages_that_cannot_be_placed_go_to_the_hub_dead_letters(hub_url):
    hub = Hub(HubConfig(), clock=FakeClock(NOW))
    assert hub.ingest("tp/v1/trucks/truck-a/up/audit", b"\x00garbage")[0] == "dead"
    assert hub.ingest("tp/v1/trucks/truck-a/up/audit", env(1).replace(b'"truck-a"', b'"truck-b"'))[0] == "dead"
    assert [d.reason for d in HubDeadLetter.select()][0].startswith("payload is not")
    assert HubMessage.select().count() == 0


def test_the_truck_order_for_a_mobile_order_marks_it_delivered(hub_url):
    hub = Hub(HubConfig(), clock=FakeClock(NOW))
    HubMobileOrder.create(order_id="mo-9", truck="truck-a", body={}, created_utc=NOW)
    body = {"order_id": "mo-9", "number": 1, "business_day": "2026-06-01", "channel": "mobile", "status": "paid",
            "total_cents": 487, "lines": [], "tenders": []}
    assert ingest(hub, 1, kind="order", body=body) == "new"
    assert HubMobileOrder.get(HubMobileOrder.order_id == "mo-9").delivered_utc == NOW


@pytest.mark.mqtt
def test_a_drain_through_the_broker_lands_once_per_row(hub_url, fleet_broker, fast_services, make_agent):
    with fast_services.db.atomic():
        for i in range(300):
            outbox.enqueue("audit", {"i": i}, now=fast_services.clock.now())
    hub = Hub(hub_config(fleet_broker)).start()
    try:
        assert hub.connected.wait(10)
        agent = make_agent(fleet_broker, fast_services).start()
        deadline = time.monotonic() + 30
        while agent.status().acked_through_seq < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        hub.stop()
    assert agent.status().acked_through_seq == 300
    assert HubMessage.select().count() == 300 and outbox.counts()["acked"] == 300


def test_a_batch_is_stored_with_one_statement_and_each_message_keeps_its_own_outcome(hub_url):
    from sync.hub.ingest import _Item
    from sync.hub.models import hub_database

    hub = Hub(HubConfig(), clock=FakeClock(NOW))
    assert ingest(hub, 1) == "new"  # already stored before the batch
    topic = protocol.up_topic("truck-a", "audit")
    batch = [_Item(topic, env(1), 1, 1, 0), _Item(topic, env(2), 2, 1, 0), _Item(topic, env(2), 3, 1, 0),
             _Item(topic, env(3, body={"x": 1}), 4, 1, 0), _Item(topic, env(4, key="k-3", body={"x": 2}), 5, 1, 0),
             _Item(topic, b"not json", 6, 1, 0)]
    with hub_database.atomic():  # the batch path itself, not the one-by-one fallback
        outcomes = [o for o, _ in hub._record_batch(batch, NOW, [])]
    assert outcomes == ["duplicate", "new", "duplicate", "new", "conflict", "dead"]
    assert HubMessage.select().count() == 3


def _set_contiguous(truck: str, seq: int) -> None:
    from sync.hub.models import HubTruck

    HubTruck.update(contiguous_seq=seq).where(HubTruck.truck == truck).execute()


def test_an_ack_built_from_a_stale_read_uses_the_point_another_hub_moved_to(hub_url, monkeypatch):
    """Hub A read contiguous = 0; hub B has since stored 1..10 and moved it to 10. A's ack must not ask again for 1..10."""
    hub = Hub(HubConfig(), clock=FakeClock(NOW))
    for s in range(1, 13):
        ingest(hub, s)
    hub.ack_body("truck-a")  # moves the stored point to 12
    _set_contiguous("truck-a", 10)  # as hub B left it; 11 and 12 are past it
    monkeypatch.setattr(hub, "_contiguous", lambda trucks: {t: 0 for t in trucks})  # A's read, made before B moved
    assert hub.ack_body("truck-a") == {"through_seq": 12, "max_seq": 12, "missing": []}


def test_an_ack_never_moves_the_stored_point_back_when_another_hub_moved_it_further(hub_url, monkeypatch):
    """A computes through = 12 while B stores 13..15 and moves the point to 15: A's write must not take it back to 12."""
    import sync.hub.outbound as outbound
    from sync.hub.models import HubTruck

    hub = Hub(HubConfig(), clock=FakeClock(NOW))
    for s in range(1, 13):
        ingest(hub, s)
    real = outbound._seqs_past

    def racing(model, trucks):
        rows = real(model, trucks)
        if model is HubDeadLetter:  # after A has read everything it uses: B moves the point to 15
            _set_contiguous("truck-a", 15)
        return rows

    monkeypatch.setattr(outbound, "_seqs_past", racing)
    assert hub.ack_body("truck-a")["through_seq"] == 12  # A's own answer, from what it read
    assert HubTruck.get(HubTruck.truck == "truck-a").contiguous_seq == 15  # B's point stands
