"""Code rules at their edges (truck_pos.domain.codes), with expectations from the docstrings, worked by hand.

Validity windows accept both edges and name the edge in truck time; a percent benefit rounds half up on the
subtotal in cents; a minimum spend is reached at exactly the amount; personal-code fields hold up to 255 bytes;
a personal code is longer than any segment code (32) and starts with TP1.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from truck_pos.domain.campaign import Benefit, normalize
from truck_pos.domain.codes import (
    CodeRefused, PersonalCode, is_personal, issue_personal_code, read_personal_code, resolve_amount, window_refusal,
)
from truck_pos.domain.order import TicketLine

TZ = "Europe/Berlin"  # CEST in June: UTC+2
FROM = datetime(2026, 6, 1, 10, 0, tzinfo=timezone.utc)  # 12:00 local
UNTIL = datetime(2026, 6, 1, 16, 0, tzinfo=timezone.utc)  # 18:00 local


def test_a_window_accepts_both_edges_and_names_the_edge_outside_it():
    assert window_refusal(FROM, UNTIL, FROM, TZ) is None
    assert window_refusal(FROM, UNTIL, UNTIL, TZ) is None
    assert window_refusal(FROM, UNTIL, FROM - timedelta(seconds=1), TZ) == CodeRefused("not valid until 12:00")
    assert window_refusal(FROM, UNTIL, UNTIL + timedelta(seconds=1), TZ) == CodeRefused("expired at 18:00")
    odd = UNTIL + timedelta(seconds=30)
    assert window_refusal(FROM, odd, odd + timedelta(days=2), TZ) == CodeRefused("expired at Jun 1 18:00:30")


def line(sku: str, cents: int, qty: int = 1) -> TicketLine:
    return TicketLine(sku, sku, cents, qty, 0)


@pytest.mark.parametrize("percent, subtotal, off", [
    (10, 1005, 101), (10, 1004, 100), (15, 333, 50), (50, 1, 1), (7, 707, 49),
])
def test_percent_off_rounds_half_a_cent_up(percent, subtotal, off):
    # 10 % of $10.05 is 100.5 cents -> 101; of $10.04 is 100.4 -> 100; 15 % of 333 is 49.95 -> 50;
    # 50 % of 1 is 0.5 -> 1; 7 % of 707 is 49.49 -> 49
    assert resolve_amount(Benefit("percent_off", percent=percent), [line("a", subtotal)]) == off


def test_the_minimum_spend_is_reached_at_exactly_the_amount():
    benefit = Benefit("amount_off", amount_cents=300, min_spend_cents=1000)
    assert resolve_amount(benefit, [line("a", 600), line("b", 400)]) == 300
    assert resolve_amount(benefit, [line("a", 999)]) == CodeRefused("minimum spend $10.00 not reached")
    assert resolve_amount(benefit, [line("a", 5)], subtotal=1000) == 300  # a given subtotal wins over the lines
    assert resolve_amount(Benefit("amount_off", amount_cents=300), [line("a", 200)]) == 200  # never more than due


def test_personal_code_fields_hold_up_to_255_bytes():
    key = Ed25519PrivateKey.generate()
    longest = PersonalCode("c" * 255, "s", "r", "t")  # one field at the limit
    assert read_personal_code(normalize(issue_personal_code(longest, key)), key.public_key()) == longest
    assert PersonalCode("c", "s", "r", "é" * 127).payload()[-255:] == bytes([254]) + "é".encode() * 127
    with pytest.raises(ValueError, match="^personal code fields are limited to 255 bytes$"):
        PersonalCode("c" * 256, "s", "r").payload()
    with pytest.raises(ValueError, match="^personal code fields are limited to 255 bytes$"):
        PersonalCode("c", "s", "r", "é" * 128).payload()  # 256 bytes


def test_the_longest_personal_code_that_can_be_issued_is_read_and_one_character_more_is_not_a_code():
    key = Ed25519PrivateKey.generate()
    longest = PersonalCode("c" * 255, "s" * 255, "r" * 255, "t" * 255)  # every field at its limit
    text = normalize(issue_personal_code(longest, key))
    # version byte + 4 x (length byte + 255) + 64 signature bytes = 1,089 bytes: 1,743 base32 characters
    assert len(text) == len("TP1") + 1743
    assert read_personal_code(text, key.public_key()) == longest
    assert read_personal_code(text + "A", key.public_key()) is None


def test_a_personal_code_is_longer_than_a_segment_code_and_starts_with_tp1():
    assert not is_personal("TP1" + "A" * 29)  # 32 characters: a segment code may be that long
    assert is_personal("TP1" + "A" * 30)
    assert not is_personal("XP1" + "A" * 40)


def test_a_personal_code_whose_payload_stops_after_two_fields_is_refused_not_an_error():
    key = Ed25519PrivateKey.generate()
    blob = b"\x01\x00" + bytes(64)  # version, one empty field, then the 64 signature bytes: three fields missing
    text = "TP1" + base64.b32encode(blob).decode().rstrip("=")
    assert read_personal_code(text, key.public_key()) is None
