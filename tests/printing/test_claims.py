"""Claim codes: round trip, and every forged or altered code is refused with a reason."""

from __future__ import annotations

import os
import uuid
from datetime import date

import pytest
from hypothesis import assume, given, settings, strategies as st

from truck_pos.domain.claims import Claim, ClaimRefused, make_claim, verify_claim

KEY = b"k" * 32
ORDER = "5b3c1f0e-8a7d-4c2b-9e6f-0123456789ab"
CODE = make_claim(KEY, "truck-demo", date(2026, 6, 1), 42, ORDER)
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567.-0189"


def test_a_claim_round_trips_and_is_qr_alphanumeric():
    assert verify_claim(CODE, KEY, "truck-demo") == Claim("TRUCK-DEMO", date(2026, 6, 1), 42, ORDER)
    assert set(CODE) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 $%*+-./:")
    assert make_claim(KEY, "truck-demo", date(2026, 6, 1), 42, ORDER) == CODE  # reprints carry the same code


def test_scanner_noise_around_a_claim_and_caps_lock_are_tolerated():
    assert isinstance(verify_claim(f"  {CODE.lower()}\r\n", KEY, "TRUCK-DEMO"), Claim)


@pytest.mark.parametrize("text, kind", [
    ("", "not_a_claim"), ("hello", "not_a_claim"), ("https://example.invalid/r/x", "not_a_claim"),
    ("TP1.TRUCK-DEMO.2026.42.X.Y", "not_a_claim"), ("TP1" + "." * 5, "not_a_claim"), ("\x00\xff" * 300, "not_a_claim"),
])
def test_garbage_is_not_a_claim(text, kind):
    result = verify_claim(text, KEY, "truck-demo")
    assert isinstance(result, ClaimRefused) and result.kind == kind and result.reason


def test_a_claim_from_another_truck_says_so():
    other = make_claim(KEY, "truck-two", date(2026, 6, 1), 42, ORDER)
    result = verify_claim(other, KEY, "truck-demo")
    assert isinstance(result, ClaimRefused) and result.kind == "other_truck" and "TRUCK-TWO" in result.reason


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(CODE) - 1), st.sampled_from(ALPHABET))
def test_any_altered_character_is_refused(position, replacement):
    assume(CODE[position] != replacement)
    altered = CODE[:position] + replacement + CODE[position + 1:]
    result = verify_claim(altered, KEY, "truck-demo")
    assert isinstance(result, ClaimRefused)
    assert result.kind in ("forged", "not_a_claim", "other_truck")


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=16, max_size=32), st.integers(1, 9999), st.dates(date(2020, 1, 1), date(2099, 12, 31)),
       st.uuids())
def test_a_code_signed_with_another_key_or_edited_fields_is_forged(key, number, day, order):
    assume(key != KEY)
    forged = make_claim(key, "truck-demo", day, number, str(order))
    assert verify_claim(forged, KEY, "truck-demo").kind == "forged"
    genuine = make_claim(KEY, "truck-demo", day, number, str(order))
    assert isinstance(verify_claim(genuine, KEY, "truck-demo"), Claim)
    parts = genuine.split(".")
    parts[3] = str(number + 1)  # someone edits the order number to collect another order
    assert verify_claim(".".join(parts), KEY, "truck-demo").kind == "forged"


def test_random_keys_give_different_codes():
    a = make_claim(os.urandom(32), "t", date(2026, 6, 1), 1, str(uuid.uuid4()))
    assert verify_claim(a, KEY, "t").kind == "forged"


def test_any_truck_id_works_even_with_dots_spaces_or_accents():
    for truck in ("truck.one", "Tía Rosa 2", "a_b"):
        code = make_claim(KEY, truck, date(2026, 6, 1), 1, ORDER)
        assert len(code.split(".")) == 6
        assert isinstance(verify_claim(code, KEY, truck), Claim)
