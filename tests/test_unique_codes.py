"""Unique single-use codes: made by the owner's CLI, carried hashed in a signed bundle, each accepted once."""

from __future__ import annotations

import base64
import json
import random

import pytest

from campaign_support import bare_svc, demo_document, install, owner  # noqa: F401 (fixtures)
from sync import protocol
from truck_pos.domain.bundle import sign_bundle, verify_bundle
from truck_pos.domain.campaign import normalize
from truck_pos.domain.codes import CodeAccepted, CodeRefused
from truck_pos.domain.codeset import CODE_ALPHABET, UniqueCodeSet, encode_codes, make_codes


def with_codes(codes: list[str], segment: str = "twitter_followers") -> dict:
    doc = demo_document(version=3)
    seg = next(s for s in doc["segments"] if s["name"] == segment)
    seg.pop("valid_from"), seg.pop("valid_until")
    seg["unique_codes"] = encode_codes(doc["id"], [normalize(c) for c in codes])
    return doc


def test_each_issued_code_works_once_and_nothing_else_does(bare_svc, owner):
    codes = make_codes(1000, random.Random(7).choice)
    install(bare_svc, owner, with_codes(codes))
    reg, red = bare_svc.register, bare_svc.redemption
    tid = reg.open_ticket().id
    reg.add_item(tid, "bowl-burrito")
    result = red.apply_code(tid, codes[123].lower().replace("-", " "))  # typed in any case and spacing
    assert isinstance(result, CodeAccepted) and result.kind == "unique" and result.segment == "twitter_followers"
    reg.pay_card(tid)
    again = reg.open_ticket().id
    reg.add_item(again, "bowl-burrito")
    assert red.apply_code(again, codes[123]) == CodeRefused("already used at 12:00")
    assert isinstance(red.apply_code(again, codes[124]), CodeAccepted)
    rng = random.Random(11)
    for code in codes[:200]:  # one character changed: never an issued code
        i = rng.choice([k for k, ch in enumerate(code) if ch != "-"])
        mutated = code[:i] + rng.choice(CODE_ALPHABET.replace(code[i], "")) + code[i + 1:]
        if mutated not in codes:
            assert red.check(mutated, reg.ticket(again)) == CodeRefused("unknown code")


def test_a_second_open_ticket_cannot_also_spend_the_same_code(bare_svc, owner):
    codes = make_codes(10, random.Random(3).choice)
    install(bare_svc, owner, with_codes(codes))
    reg, red = bare_svc.register, bare_svc.redemption
    first, second = reg.open_ticket().id, reg.open_ticket().id
    for t in (first, second):
        reg.add_item(t, "bowl-burrito")
        assert isinstance(red.apply_code(t, codes[0]), CodeAccepted)
    reg.pay_card(first)
    with pytest.raises(Exception, match="already used"):
        reg.pay_card(second)


def test_100k_codes_fit_one_mqtt_message(owner):
    codes = [f"{i:012d}" for i in range(100_000)]
    doc = with_codes(codes)
    bundle = sign_bundle(doc, owner)
    body = {"campaign_id": doc["id"], "bundle_b64": base64.b64encode(bundle).decode("ascii")}
    assert len(bundle) < 700 * 1024
    assert len(json.dumps(body)) < protocol.MAX_PAYLOAD_BYTES
    parsed = UniqueCodeSet(doc["id"], verify_bundle(bundle, [owner.public_key()])["segments"][1]["unique_codes"])
    assert len(parsed) == 100_000 and codes[99_999] in parsed and "X" + codes[0] not in parsed


@pytest.mark.parametrize("change, reason", [
    ({"count": 5}, "does not hold 5 codes"), ({"bucket_bits": 30}, "bucket_bits"), ({"data": "!!"}, "not base64url"),
    ({"extra": 1}, "unique_codes must be an object"),
])
def test_a_damaged_code_set_is_refused_with_the_field_named(bare_svc, owner, change, reason):
    doc = with_codes(["AAAA-BBBB-CCCC", "DDDD-EEEE-FFFF"])
    doc["segments"][1]["unique_codes"].update(change)
    result = bare_svc.campaigns.install_bundle(sign_bundle(doc, owner))
    assert not result.accepted and "segments[1].unique_codes" in result.reason and reason in result.reason


def test_the_owner_cli_adds_codes_to_a_document(tmp_path, monkeypatch, capsys):
    from truck_pos.cli import main

    monkeypatch.setenv("TRUCK_POS_STORE_PATH", str(tmp_path / "truck.db"))
    monkeypatch.delenv("TRUCK_POS_CONFIG", raising=False)
    (tmp_path / "doc.json").write_text(json.dumps(demo_document()))
    assert main(["campaign", "unique-codes", str(tmp_path / "doc.json"), "--segment", "facebook_likers", "--count", "50",
                 "--codes-out", str(tmp_path / "codes.csv")]) == 0
    codes = (tmp_path / "codes.csv").read_text().split()[1:]
    assert len(set(codes)) == 50 and (tmp_path / "codes.csv").stat().st_mode & 0o777 == 0o600
    field = json.loads((tmp_path / "doc.json").read_text())["segments"][0]["unique_codes"]
    assert all(normalize(c) in UniqueCodeSet("summer-launch", field) for c in codes)


from hypothesis import given, settings, strategies as st  # noqa: E402

CODE = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=1, max_size=14)


@settings(max_examples=200, deadline=None)
@given(codes=st.lists(CODE, max_size=300), probes=st.lists(CODE, max_size=50), campaign=st.sampled_from(["a", "summer-launch"]))
def test_the_code_set_answers_exactly_like_a_plain_set(codes, probes, campaign):
    """Reference model: a Python set of the issued codes (false positives are ~2**-32 a guess: never seen here)."""
    issued = set(codes)
    code_set = UniqueCodeSet(campaign, encode_codes(campaign, codes))
    assert len(code_set) == len(issued)
    assert all(c in code_set for c in issued)
    assert all((p in code_set) == (p in issued) for p in probes)
    salted = UniqueCodeSet("other-campaign", encode_codes(campaign, codes))  # another campaign's hashes never match
    assert not any(c in salted for c in issued)
