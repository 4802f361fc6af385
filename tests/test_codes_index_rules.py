"""CodeIndex.check in the domain, rule by rule: the refusals in the README's words, limits counted from
UsageCounts, issued code lists, unique codes with a customer and a cap, personal codes without a key or with
a payload the format does not allow, and the base32 writer against the standard library with fresh plans."""

from __future__ import annotations

import base64
import random
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from campaign_support import demo_document
from truck_pos.domain import codes
from truck_pos.domain.campaign import normalize, parse_campaign
from truck_pos.domain.codes import (_CONTEXT, NEEDS_CUSTOMER, PERSONAL_PREFIX, CheckContext, CodeAccepted, CodeIndex, CodeRefused,
                                    PersonalCode, UsageCounts, b32encode_unpadded, issue_personal_code,
                                    read_personal_code)
from truck_pos.domain.codeset import encode_codes
from truck_pos.domain.order import TicketLine

TZ = "America/Chicago"
NOON = datetime(2026, 6, 1, 17, 0, tzinfo=timezone.utc)  # 12:00 CDT, inside every demo window
OWNER = Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)
LINES = (TicketLine(sku="bowl-burrito", name="Burrito bowl", unit_price_cents=1095, quantity=1, tax_rate_bp=0),)


def index(doc=None, **extra):
    return CodeIndex(parse_campaign(doc or demo_document(), TZ), **extra)


def ctx(customer=None, truck="truck-1", on_ticket=0, now=NOON):
    return CheckContext(now, TZ, truck, LINES, customer_ref=customer, codes_on_ticket=on_ticket)


def refusal(result) -> str:
    assert isinstance(result, CodeRefused), result
    return result.reason


def test_refusals_read_as_the_readme_says():
    idx, usage = index(), UsageCounts()
    assert refusal(idx.check("  - ", ctx(), usage)) == "no code entered"
    assert refusal(idx.check("NOPE-1", ctx(), usage)) == "unknown code"
    assert refusal(idx.check("ACME-ACCT", ctx(truck="truck-1"), usage)) == "code for another truck (truck-2)"
    assert refusal(idx.check("FB-LIKE-10", ctx(on_ticket=1), usage)) == \
        "one code per order (this campaign does not allow stacking)"


def test_a_segment_for_several_trucks_names_them_all():
    doc = demo_document()
    doc["segments"][4]["trucks"] = ["truck-2", "truck-3"]
    assert refusal(index(doc).check("ACME-ACCT", ctx(), UsageCounts())) == "code for another truck (truck-2, truck-3)"


def test_the_campaign_cap_counts_every_use_added():
    doc = demo_document()
    doc["segments"][0]["total_uses"] = 2
    idx, usage = index(doc), UsageCounts()
    for n in range(2):
        assert isinstance(idx.check("FB-LIKE-10", ctx(), usage), CodeAccepted), n
        usage.add("summer-launch", "facebook_likers", None, NOON, code="FBLIKE10", kind="segment")
    assert refusal(idx.check("FB-LIKE-10", ctx(), usage)) == "limit reached (2 uses)"
    assert usage.unique_used == {}  # only unique codes are remembered by their text


def test_already_used_names_the_latest_use_whatever_order_they_were_loaded_in():
    idx, usage = index(), UsageCounts()
    later, earlier = NOON - timedelta(minutes=18), NOON - timedelta(minutes=48)  # 11:42 and 11:12 CDT
    usage.add("summer-launch", "pos_registrants", "c-1", later)
    usage.add("summer-launch", "pos_registrants", "c-1", earlier)  # the store may hand them over in any order
    assert refusal(idx.check("THANKS-JOIN", ctx("c-1"), usage)) == "already used at 11:42"


def test_already_used_without_a_known_time_says_so_plainly():
    usage = UsageCounts(per_customer={("summer-launch", "pos_registrants", "c-1"): 1})  # counted, no time kept
    assert refusal(index().check("THANKS-JOIN", ctx("c-1"), usage)) == "already used"


def test_issued_code_lists_map_to_their_segment_and_unknown_segments_are_ignored():
    idx = index(extra_codes={"bulk-0001": "twitter_followers", "bulk-0002": "no_such_segment"})
    accepted = idx.check("BULK 0001", ctx(), UsageCounts())
    assert isinstance(accepted, CodeAccepted)
    assert (accepted.segment, accepted.amount_cents, accepted.kind) == ("twitter_followers", 100, "segment")
    assert refusal(idx.check("BULK-0002", ctx(), UsageCounts())) == "unknown code"


def unique_doc(**segment_changes):
    doc = demo_document()
    seg = doc["segments"][3]  # nearby_devices: no shared code
    seg["unique_codes"] = encode_codes(doc["id"], [normalize(c) for c in ("UNQ-AAAA1", "UNQ-AAAA2", "UNQ-AAAA3")])
    seg.update(segment_changes)
    return doc


def test_a_unique_code_keeps_the_tickets_customer_and_the_segments_cap():
    idx = index(unique_doc(uses_per_customer=1, total_uses=1))
    accepted = idx.check("unq-aaaa1", ctx("c-9"), UsageCounts())
    assert isinstance(accepted, CodeAccepted) and (accepted.kind, accepted.customer_ref) == ("unique", "c-9")
    assert refusal(idx.check("UNQ-AAAA2", ctx(None), UsageCounts())) == NEEDS_CUSTOMER
    used = UsageCounts()
    used.add("summer-launch", "nearby_devices", "c-1", NOON, code="UNQAAAA1", kind="unique")
    assert refusal(idx.check("UNQ-AAAA2", ctx("c-9"), used)) == "limit reached (1 use)"
    assert refusal(idx.check("UNQ-AAAA1", ctx("c-9"), used)) == "already used at 12:00"


def signed(payload: bytes) -> str:
    """A code made by hand from ``payload``, signed by the owner (what a buggy or hostile issuer could make)."""
    return f"{PERSONAL_PREFIX}-" + base64.b32encode(payload + OWNER.sign(_CONTEXT + payload)).decode().rstrip("=")


def test_personal_code_refusals_and_no_key_at_all():
    idx, usage, key = index(), UsageCounts(), OWNER.public_key()
    good = issue_personal_code(PersonalCode("summer-launch", "nearby_devices", "c-42"), OWNER)
    assert refusal(idx.check(good, ctx(), usage, owner_key=None)) == "unknown code (not a valid personal code)"
    assert refusal(idx.check(good[:-1] + ("A" if good[-1] != "A" else "B"), ctx(), usage, owner_key=key)) == \
        "unknown code (not a valid personal code)"
    other = issue_personal_code(PersonalCode("winter-promo", "nearby_devices", "c-42"), OWNER)
    assert refusal(idx.check(other, ctx(), usage, owner_key=key)) == "code for another campaign (winter-promo)"
    stray = issue_personal_code(PersonalCode("summer-launch", "no_such_segment", "c-42"), OWNER)
    assert refusal(idx.check(stray, ctx(), usage, owner_key=key)) == "unknown code (segment not in this campaign)"


def test_a_signed_payload_outside_the_format_is_no_code_and_never_crashes():
    key = OWNER.public_key()
    fields = b"".join(bytes([len(f)]) + f for f in (b"summer-launch", b"nearby_devices", b"c-42", b""))
    assert read_personal_code(normalize(signed(b"\x01" + fields)), key) == \
        PersonalCode("summer-launch", "nearby_devices", "c-42", "")
    assert read_personal_code(normalize(signed(b"\x01" + fields + b"\x00")), key) is None  # a byte left over
    bad_utf8 = b"".join(bytes([len(f)]) + f for f in (b"summer-launch", b"near\xffby", b"c-\xc3", b""))
    assert read_personal_code(normalize(signed(b"\x01" + bad_utf8)), key) == \
        PersonalCode("summer-launch", "near\ufffdby", "c-\ufffd", "")  # replaced, never raised


def test_base32_of_every_length_matches_the_standard_library_with_plans_made_afresh(monkeypatch):
    monkeypatch.setattr(codes, "_SPREAD", {})  # no plan cached by earlier tests: each length plans its own
    rng = random.Random(5)
    for n in range(0, 1100):
        blob = bytes(rng.getrandbits(8) for _ in range(n))
        assert b32encode_unpadded(blob) == base64.b32encode(blob).decode().rstrip("="), n
