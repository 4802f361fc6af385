"""Edges of the sync contract that mutation testing found unpinned: ids, hashes, topics, placement, bounds.

Expected values come from sync/PROTOCOL.md and from hashlib/json computed here, never from protocol.py itself.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

from sync import protocol

TS = "2026-06-01T17:00:00+00:00"


def up(**changes) -> bytes:
    doc = {"v": 1, "id": "k-1", "truck": "truck-a", "seq": 7, "kind": "audit", "ts": TS, "body": {}}
    doc.update(changes)
    return json.dumps(doc).encode()


def test_topics_are_the_documented_strings():
    assert protocol.down_topic("t1", "menu") == "tp/v1/trucks/t1/down/menu"
    assert protocol.status_topic("t1") == "tp/v1/trucks/t1/status"
    assert protocol.truck_subscription("t1") == "tp/v1/trucks/t1/down/#"
    assert protocol.hub_subscription(shared=False) == "tp/v1/trucks/+/up/#"
    assert protocol.parse_topic("tp/v1/trucks/t1/down/menu") == protocol.Topic("t1", "down", "menu")
    for foreign in ("tp/v1/trucks/t1/up/", "tp/v1/trucks/t1/up/order/extra", "tp/v1/trucks/t1/state",
                    "tp/v1/trucks/t1", "tp/v1/trucks/t1/status/x"):
        assert protocol.parse_topic(foreign) is None, foreign


def test_bounded_id_joins_short_parts_and_digests_long_or_control_text():
    assert protocol.bounded_id("redemption", "o1", "CODE") == "redemption:o1:CODE"
    exactly = "a" * 30 + ":" + "b" * 33  # 64 characters: still fits
    assert protocol.bounded_id("a" * 30, "b" * 33) == exactly
    long_text = "redemption:" + "x" * 100
    digest = hashlib.sha256(long_text.encode()).hexdigest()
    # the first part kept, then "h" and as much of the digest as fits 64 characters
    assert protocol.bounded_id("redemption", "x" * 100) == "redemption:h" + digest[:64 - len("redemption:") - 1]
    assert len(protocol.bounded_id("redemption", "x" * 100)) == protocol.MAX_ID_LEN
    # a single long part: no head, all digest
    single = "y" * 65
    assert protocol.bounded_id(single) == "h" + hashlib.sha256(single.encode()).hexdigest()[:63]
    # control characters (and DEL) never reach an id, even when short
    for bad in ("a\x1fb", "a\x7fb", "a\x00"):
        assert protocol.bounded_id("p", bad) == "p:h" + hashlib.sha256(f"p:{bad}".encode()).hexdigest()[:61]
    assert protocol.bounded_id("p", "a\x20b") == "p:a b"  # space (32) is not a control character
    # a first part longer than half the limit, or unprintable, is not kept as the head
    head33 = "z" * 33
    assert protocol.bounded_id(head33, "q" * 40).startswith("h")
    assert protocol.bounded_id("z" * 32, "q" * 40).startswith("z" * 32 + ":h")
    assert protocol.bounded_id("a\tb", "q" * 70).startswith("h")
    # a short limit still keeps at least 8 digest characters
    text = "abcdef:" + "x" * 20  # head too long for limit 10: no head, 9 digest characters
    assert protocol.bounded_id("abcdef", "x" * 20, limit=10) == "h" + hashlib.sha256(text.encode()).hexdigest()[:9]
    assert protocol.bounded_id("abcd", "x" * 20, limit=10) == "abcd:h" + hashlib.sha256(
        ("abcd:" + "x" * 20).encode()).hexdigest()[:8]


def test_encode_stored_is_byte_for_byte_the_encoded_envelope():
    ts = datetime(2026, 6, 1, 17, 0, 0, 512000, tzinfo=timezone.utc)
    body = {"b": "ñ", "a": [1, 2]}
    message = protocol.envelope(truck="truck-01", seq=1042, kind="order", key="5b0c", ts=ts, body=body)
    assert message == {"v": 1, "id": "5b0c", "truck": "truck-01", "seq": 1042, "kind": "order",
                       "ts": "2026-06-01T17:00:00.512+00:00", "body": body}
    stored = protocol.encode_stored(truck="truck-01", seq=1042, kind="order", key="5b0c",
                                    ts_text="2026-06-01T17:00:00.512+00:00",
                                    body_json=json.dumps(body, separators=(",", ":"), ensure_ascii=False))
    expected = ('{"v":1,"id":"5b0c","truck":"truck-01","seq":1042,"kind":"order",'
                '"ts":"2026-06-01T17:00:00.512+00:00","body":{"b":"ñ","a":[1,2]}}').encode("utf-8")
    assert stored == expected
    assert protocol.encode(message) == expected


def test_body_hash_is_sha256_of_sorted_compact_ascii_json():
    body = {"z": 1, "a": "é", "m": [True, None]}
    canonical = '{"a":"\\u00e9","m":[true,null],"z":1}'
    assert protocol.canonical(body) == canonical
    assert protocol.body_hash(body) == hashlib.sha256(canonical.encode()).hexdigest()
    assert protocol.text_hash(canonical) == hashlib.sha256(canonical.encode()).hexdigest()
    assert protocol.raw_hash(b"\xff\x00raw") == hashlib.sha256(b"\xff\x00raw").hexdigest()
    assert len(protocol.body_hash({})) == protocol.HASH_LEN


def test_parse_ts_converts_offsets_to_utc_and_refuses_what_the_contract_refuses():
    assert protocol.parse_ts("2026-06-01T19:00:00+02:00") == datetime(2026, 6, 1, 17, 0, tzinfo=timezone.utc)
    assert protocol.parse_ts("2026-06-01T19:00:00+02:00").utcoffset() == timedelta(0)
    for bad in ("2026-06-01T19:00:00", "nonsense", "1999-12-31T23:59:59+00:00", "2201-01-01T00:00:00+00:00"):
        assert protocol.parse_ts(bad) is None, bad
    # the documented bounds are inclusive: years 2000 and 2200 are fine
    assert protocol.ts_problem("2000-01-01T00:00:00+00:00") == ""
    assert protocol.ts_problem("2200-12-31T23:59:59+00:00") == ""
    assert protocol.ts_problem("2026-06-01T19:00:00") == "has no UTC offset"
    assert protocol.ts_problem("x") == "is not an ISO-8601 time"
    assert protocol.ts_problem("1999-01-01T00:00:00+00:00") == "is outside the years 2000-2200"


def test_unstorable_text_names_the_path_of_the_first_bad_string():
    assert protocol.unstorable_text({"a": ["ok", {"b": "x\x00"}]}) == "/a/1/b"
    assert protocol.unstorable_text("\ud800") == "(value)"
    assert protocol.unstorable_text({"ok": "fine", "n": 1}) == ""
    assert protocol.unstorable_text({"k\x00": 1}) == "/(key)"
    long_key = "k" * 50  # a path names at most the first 40 characters of each key
    assert protocol.unstorable_text({long_key: "\x00"}) == "/" + "k" * 40
    assert protocol.unstorable_text({"a": "tab\tand\x1f are storable"}) == ""  # only NUL and surrogates
    assert protocol.has_control_chars("a\x1f") and protocol.has_control_chars("\x7f")
    assert protocol.has_control_chars("\udfff") and not protocol.has_control_chars("plain ~ text é")


def test_placement_needs_the_same_truck_an_integer_seq_in_range_and_a_usable_id():
    assert protocol.place(b"not json", "truck-a") is None
    assert protocol.place(b"[1]", "truck-a") is None
    assert protocol.place(up(), "truck-b") is None
    assert protocol.place(up(seq=True), "truck-a") is None
    assert protocol.place(up(seq="7"), "truck-a") is None
    assert protocol.place(up(seq=2**53), "truck-a") is None
    assert protocol.place(up(seq=2**53 - 1), "truck-a") == protocol.Placement(2**53 - 1, "k-1")
    assert protocol.place(up(seq=1), "truck-a") == protocol.Placement(1, "k-1")
    assert protocol.place(up(id=""), "truck-a") == protocol.Placement(7, "")
    assert protocol.place(up(id="x" * 64), "truck-a") == protocol.Placement(7, "x" * 64)
    assert protocol.place(up(id="a\x01"), "truck-a") == protocol.Placement(7, "")
    assert protocol.place(up(id=5), "truck-a") == protocol.Placement(7, "")
    assert protocol.place(b"\xff", "truck-a") is None


def test_check_accepts_bytearray_refuses_non_bytes_and_names_each_problem_exactly():
    assert protocol.check(bytearray(up()), direction="up", truck="truck-a", kind="audit").ok
    assert protocol.check(b"[1]", direction="up").reason == "envelope is not a JSON object"
    assert protocol.check("text", direction="up").reason == "payload is not bytes"  # type: ignore[arg-type]
    assert protocol.check(up(kind="audit"), direction="up", kind="order").reason == \
        "envelope kind 'audit' does not match the topic kind 'order'"
    assert protocol.check(up(truck="truck-b"), direction="up", truck="truck-a").reason == \
        "envelope names truck 'truck-b' but came on the topic of 'truck-a'"
    assert protocol.check(up(v=2), direction="up").reason == "unsupported protocol version '2' (this side speaks v1)"
    assert protocol.check(up(v=1.0), direction="up").reason.startswith("unsupported protocol version")
    assert protocol.check(up(kind="menu"), direction="up").reason == "unknown up kind 'menu'"
    assert protocol.check(up(kind="order", body={}), direction="up").reason == "order body: missing field 'order_id'"
    assert protocol.check(up(body=[]), direction="up").reason == "envelope: field 'body' should be an object, got a list"
    big = b" " * (protocol.MAX_PAYLOAD_BYTES - len(up())) + up()
    assert len(big) == protocol.MAX_PAYLOAD_BYTES and protocol.check(big, direction="up").ok  # 1 MiB exactly is fine


def test_value_bounds_are_inclusive_and_messages_say_which_bound():
    pickup = {"order_id": "o", "number": 0, "business_day": "2026-06-01", "event": "queued", "at": TS}
    assert protocol.body_problem("pickup", pickup) == ""  # number min 0 inclusive
    assert protocol.body_problem("pickup", {**pickup, "number": -1}) == "field 'number' is below 0"
    assert protocol.body_problem("pickup", {**pickup, "business_day": "2026-06-1"}) == \
        "field 'business_day' is shorter than 10"
    assert protocol.body_problem("pickup", {**pickup, "business_day": "2026-06-011"}) == \
        "field 'business_day' is longer than 10"
    assert protocol.body_problem("pickup", {**pickup, "event": ""}) == "field 'event' is empty"
    assert protocol.body_problem("pickup", {**pickup, "number": 1.5}) == "field 'number' should be integer, got a number"
    assert protocol.body_problem("pickup", {**pickup, "order_id": None}) == "field 'order_id' should be text, got null"
    assert protocol.body_problem("pickup", "x") == "is not a JSON object"
    ack = {"through_seq": protocol.MAX_SEQ}
    assert protocol.body_problem("ack", ack) == ""
    assert protocol.body_problem("ack", {"through_seq": protocol.MAX_SEQ + 1}) == "field 'through_seq' is above 9007199254740991"
    assert protocol.body_problem("ack", {"through_seq": 1, "missing": [[1, 1], [2, 9]]}) == ""
    for gap in ([0, 1], [1], [1, True], "1-2", [3, 2], [1, 2**53]):
        assert protocol.body_problem("ack", {"through_seq": 1, "missing": [gap]}) == \
            "field 'missing' should list [first, last] seq ranges", gap
    items = [{"sku": "a", "name": "A", "price_cents": 1}, "oops"]
    assert protocol.body_problem("menu", {"categories": [{"name": "C", "items": items}]}) == \
        "field 'categories' item 0: field 'items' item 1 is not an object"
    rejected = {"seq": 1, "outcome": "rejected", "reason": "r"}
    assert protocol.body_problem("rejected", rejected) == ""  # key is optional
    assert protocol.body_problem("unknown-kind", {"any": 1}) == ""  # no schema: check() refuses the kind instead


def test_a_mobile_order_id_is_a_canonical_uuid_in_any_case():
    line = {"sku": "a", "name": "A", "quantity": 1, "unit_price_cents": 1, "tax_rate_bp": 0}
    order = {"order_id": "6F1D0C1E-0000-4000-8000-000000000001", "lines": [line], "total_cents": 1}
    assert protocol.body_problem("mobile_order", order) == ""
    braces = {**order, "order_id": "{6f1d0c1e-0000-4000-8000-000000000001}"}
    assert protocol.body_problem("mobile_order", braces).startswith("field 'order_id'")
    assert protocol.body_problem("mobile_order", {**order, "order_id": "6f1d0c1e000040008000000000000001"}) == \
        "field 'order_id' is not a uuid (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"


def test_parse_ts_gives_utc_whatever_the_machines_time_zone(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "America/Chicago")
    time.tzset()
    try:
        parsed = protocol.parse_ts("2026-06-01T19:00:00+02:00")
        assert parsed is not None and parsed.tzinfo is timezone.utc and parsed.hour == 17
    finally:
        monkeypatch.undo()
        time.tzset()


def test_encode_is_compact_utf8_not_ascii_escaped():
    assert protocol.encode({"a": "é", "b": [1, 2]}) == '{"a":"é","b":[1,2]}'.encode("utf-8")


def test_every_refusal_reason_is_the_documented_sentence():
    reasons = {
        b"\xff": "payload is not UTF-8 text",
        up(id="a\x01"): "envelope: id has control characters",
        up(truck="truck a"): "envelope: truck id has characters outside A-Z a-z 0-9 _ . -",
        up(seq=0): "envelope: seq starts at 1",
        up(ts="x"): "envelope: ts is not an ISO-8601 time",
        up(ts="2026-06-01T17:00:00"): "envelope: ts has no UTC offset",
        up(v="x" * 30): f"unsupported protocol version {'x' * 20!r} (this side speaks v1)",
        up(body={"x": [1]}, kind="order_voided"): "order_voided body: missing field 'order_id'",
    }
    for raw, reason in reasons.items():
        assert protocol.check(raw, direction="up").reason == reason
    assert protocol.check(b"{oops", direction="up").reason.startswith("payload is not JSON (Expecting property name")
    bodies = {
        ("menu", '{"categories": {}}'): "field 'categories' should be a list, got an object",
        ("menu", '{"categories": [{"name": "C", "items": null}]}'):
            "field 'categories' item 0: field 'items' should be a list, got null",
        ("ack", '{"through_seq": 1, "missing": {}}'): "field 'missing' should be a list, got an object",
    }
    for (kind, body), reason in bodies.items():
        assert protocol.body_problem(kind, json.loads(body)) == reason


def test_required_numbers_and_lists_are_required_and_optional_fields_take_null():
    assert protocol.body_problem("ack", {}) == "missing field 'through_seq'"
    assert protocol.body_problem("mobile_order", {"order_id": "6f1d0c1e-0000-4000-8000-000000000001",
                                                  "total_cents": 1}) == "missing field 'lines'"
    proximity = {"event_key": "k", "customer_ref": "c-1", "segment": "s", "source": "truck_scan", "first_seen": TS}
    assert protocol.body_problem("proximity", {**proximity, "campaign_id": None}) == ""
    assert protocol.body_problem("proximity", {**proximity, "campaign_id": 5}) == \
        "field 'campaign_id' should be text or null, got integer"


def test_a_one_character_id_is_usable_and_an_ack_gap_may_end_at_the_largest_seq():
    """PROTOCOL.md: ids are 1-64 characters; seqs run up to 2^53-1, and an ack's gap may reach the last of them."""
    assert protocol.place(up(id="x"), "truck-a") == protocol.Placement(7, "x")
    top = protocol.MAX_SEQ
    assert protocol.body_problem("ack", {"through_seq": 0, "missing": [[top, top]]}) == ""
    assert protocol.body_problem("ack", {"through_seq": 0, "missing": [[1, top + 1]]}) == \
        "field 'missing' should list [first, last] seq ranges"


def test_bounded_id_of_text_with_a_lone_surrogate_is_a_stable_digest_not_a_crash():
    """Any Unicode never crashes: a lone surrogate (which UTF-8 cannot encode) is hashed as surrogatepass writes it."""
    text = "c" * 70 + "\ud800"
    got = protocol.bounded_id(text)
    assert got == "h" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:63]
    assert got == protocol.bounded_id(text) and len(got) <= protocol.MAX_ID_LEN
