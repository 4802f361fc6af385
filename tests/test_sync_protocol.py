"""The shared contract: topics, envelopes and the reasons a payload is refused."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from sync import protocol

NOW = datetime(2026, 6, 1, 17, 0, tzinfo=timezone.utc)


def env(kind: str = "ack", body: dict | None = None, **changes) -> dict:
    message = protocol.envelope(truck="truck-a", seq=7, kind=kind, key="k-1", ts=NOW,
                                body={"through_seq": 3} if body is None else body)
    message.update(changes)
    return message


def test_topics_round_trip_and_foreign_topics_are_not_ours():
    assert protocol.up_topic("truck-a", "order") == "tp/v1/trucks/truck-a/up/order"
    assert protocol.parse_topic("tp/v1/trucks/truck-a/up/order") == protocol.Topic("truck-a", "up", "order")
    assert protocol.parse_topic(protocol.status_topic("truck-a")) == protocol.Topic("truck-a", "status", "status")
    assert protocol.hub_subscription() == "$share/hub/tp/v1/trucks/+/up/#"
    for foreign in ("tp/v1/trucks//up/order", "tp/v2/trucks/a/up/order", "tp/v1/trucks/a/sideways/x", "x"):
        assert protocol.parse_topic(foreign) is None


def test_a_valid_envelope_passes_and_keeps_its_fields():
    checked = protocol.check(protocol.encode(env()), direction="down", truck="truck-a", kind="ack")
    assert checked.ok and checked.envelope["body"] == {"through_seq": 3}


@pytest.mark.parametrize("payload, reason", [
    (b"\xff\xfe", "not UTF-8"),
    (b"{not json", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (protocol.encode(env(v=2)), "unsupported protocol version"),
    (protocol.encode(env(v=True)), "unsupported protocol version"),
    (protocol.encode({k: v for k, v in env().items() if k != "id"}), "missing field 'id'"),
    (protocol.encode(env(seq="7")), "field 'seq' should be integer"),
    (protocol.encode(env(ts="yesterday")), "not an ISO-8601 time"),
    (protocol.encode(env(ts="2026-06-01T12:00:00")), "no UTC offset"),
    (protocol.encode(env(kind="order")), "unknown down kind"),
    (protocol.encode(env(body={"through_seq": True})), "should be integer, got true/false"),
    (protocol.encode(env(body={"through_seq": -1})), "is below 0"),
    (protocol.encode(env(body={"through_seq": 1, "missing": [[5, 2]]})), "seq ranges"),
    (protocol.encode(env(truck="truck-b")), "came on the topic of 'truck-a'"),
    (protocol.encode(env(id="x" * 65)), "longer than 64"),
    (protocol.encode(env(id="a\u0000b")), "control characters"),
    (b"{" + b'"a":' * 10 + b"}", "not JSON"),
    (b" " * (protocol.MAX_PAYLOAD_BYTES + 1), "more than the"),
])
def test_bad_payloads_are_refused_with_a_reason(payload, reason):
    checked = protocol.check(payload, direction="down", truck="truck-a", kind="ack")
    assert not checked.ok
    assert reason in checked.reason


def test_deeply_nested_json_is_refused_not_a_crash():
    deep = b"[" * 100_000 + b"]" * 100_000
    assert not protocol.check(deep, direction="down").ok


def test_menu_and_mobile_order_schemas_name_the_bad_item():
    menu = {"categories": [{"name": "Tacos", "items": [{"sku": "t1", "name": "Taco", "price_cents": -5}]}]}
    assert protocol.body_problem("menu", menu) == "field 'categories' item 0: field 'items' item 0: field 'price_cents' is below 0"
    order = {"order_id": "6f1d0c1e-0000-4000-8000-000000000001", "lines": [], "total_cents": 100}
    assert protocol.body_problem("mobile_order", order) == "field 'lines' is empty"


def test_order_body_written_by_the_register_passes_the_hub_schema(services):
    ticket = services.register.open_ticket()
    services.register.add_item(ticket.id, "taco-fish", 2)
    services.register.pay_card(ticket.id)
    from truck_pos.store.outbox import Outbox

    row = Outbox.get(Outbox.kind == "order")
    message = protocol.envelope(truck="truck-test", seq=row.seq, kind="order", key=row.key, ts=row.created_utc, body=row.payload)
    assert protocol.check(json.dumps(message).encode(), direction="up", truck="truck-test", kind="order").ok


def test_a_mobile_order_id_must_be_a_uuid_because_the_truck_stores_it_as_the_order_uuid():
    order = {"order_id": "mo-1", "lines": [{"sku": "a", "name": "A", "quantity": 1, "unit_price_cents": 1, "tax_rate_bp": 0}],
             "total_cents": 1}
    assert protocol.body_problem("mobile_order", order).startswith("field 'order_id' is not a uuid")


def test_up_bodies_written_by_the_truck_pass_their_schemas_and_broken_ones_name_the_field():
    ts = "2026-06-01T17:00:00+00:00"
    good = {
        "redemption": {"redemption_id": "r1", "order_id": "o1", "campaign_id": "c1", "segment": "facebook_likers",
                       "channel": "facebook", "kind": "segment", "code": "FBLIKE10", "customer_ref": None,
                       "amount_cents": 140, "redeemed_at": ts},
        "registration": {"customer_ref": "c-1", "email": "ada@example.com", "phone": None, "registered_at": ts,
                         "consent": {"granted": True, "wording_version": "v1", "at": ts}},
        "consent": {"customer_ref": "c-1", "granted": False, "wording_version": "withdrawal", "at": ts},
        "group_join": {"customer_ref": "c-1", "group": "Acme Corporation, Accounting", "joined_at": ts},
        "proximity": {"event_key": "k", "customer_ref": "c-1", "segment": "nearby_devices", "campaign_id": None,
                      "source": "truck_scan", "first_seen": ts},
        "pickup": {"order_id": "o1", "number": 7, "business_day": "2026-06-01", "event": "handed_over", "at": ts},
    }
    for kind, body in good.items():
        assert protocol.body_problem(kind, body) == "", kind
    assert protocol.body_problem("redemption", {**good["redemption"], "amount_cents": "140"}) == \
        "field 'amount_cents' should be integer, got text"
    broken_consent = {**good["registration"], "consent": {"granted": "yes", "wording_version": "v1", "at": ts}}
    assert protocol.body_problem("registration", broken_consent) == "consent: field 'granted' should be true/false, got text"
    assert protocol.body_problem("pickup", {k: v for k, v in good["pickup"].items() if k != "event"}) == "missing field 'event'"


def up(**changes) -> bytes:
    doc = {"v": 1, "id": "k-1", "truck": "truck-a", "seq": 7, "kind": "audit", "ts": "2026-06-01T17:00:00+00:00", "body": {}}
    doc.update(changes)
    return json.dumps(doc).encode()  # ASCII JSON: NUL and surrogates travel as \u escapes


@pytest.mark.parametrize("payload, reason", [
    (up(seq=0), "seq starts at 1"),
    (up(seq=2**53), "is above 9007199254740991"),
    (up(ts="0001-01-01T00:00:00+14:00"), "outside the years 2000-2200"),
    (up(ts="9999-12-31T23:59:59-14:00"), "outside the years"),
    (up(id="a\u0000b"), "control characters"),
    (up(id="a\ud800"), "control characters"),
    (up(truck="truck-a\n"), "truck id has characters"),
    (up(kind="k" * 41), "longer than 40"),
    (up(body={"note": "nul \u0000 here"}), "text at /body/note holds NUL"),
    (up(body={"x": {"\udc80": 1}}), "text at /body/x/(key) holds NUL or a lone surrogate"),
    (up(kind="pickup", body={"order_id": "o", "number": 1, "business_day": "2026-06-01", "event": "queued",
                             "at": "1900-01-01T00:00:00+00:00"}), "field 'at' is outside the years"),
])
def test_up_fields_the_hub_stores_are_bounded_in_the_contract(payload, reason):
    checked = protocol.check(payload, direction="up", truck="truck-a")
    assert not checked.ok and reason in checked.reason, checked.reason


def test_text_that_only_looks_like_an_escape_is_accepted_and_seq_bounds_hold_for_down():
    assert protocol.check(up(body={"note": "a backslash-u0000: \\u0000"}), direction="up", truck="truck-a").ok
    assert protocol.check(up(seq=protocol.MAX_SEQ), direction="up").ok
    down = {"v": 1, "id": "d", "truck": "truck-a", "seq": 0, "kind": "ack", "ts": "2026-06-01T17:00:00+00:00",
            "body": {"through_seq": 0}}
    assert protocol.check(json.dumps(down).encode(), direction="down").ok  # down seq 0 is fine


def test_a_refused_payload_is_placed_only_by_a_valid_seq_of_its_own_truck():
    assert protocol.place(up(id="x" * 100), "truck-a") == protocol.Placement(7, "")
    assert protocol.place(up(), "truck-a") == protocol.Placement(7, "k-1")
    assert protocol.place(up(seq=0), "truck-a") is None
    assert protocol.place(up(), "truck-b") is None
    assert protocol.place(b"\xff", "truck-a") is None
