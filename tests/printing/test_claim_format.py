"""Claim codes field by field, against a model written from the format in truck_pos/domain/claims.py's docstring.

``TP1.<TRUCK>.<YYYYMMDD>.<NUMBER>.<ORDER>.<SIG>``: truck upper case with dots and spaces as dashes (ASCII only),
order = the uuid's 16 bytes in base32 (26 chars), SIG = the first 10 bytes of HMAC-SHA256(key, body) in base32
(16 chars). The model below builds codes with hashlib/hmac/base64 directly, so a code signed by the model is
genuine by the spec even when its fields are damaged: the parser must still refuse what the format forbids.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import date

import pytest

from truck_pos.domain.claims import MAX_CLAIM_CHARS, Claim, ClaimRefused, make_claim, verify_claim

KEY = b"format-test-key-of-32-bytes-long"
TRUCK = "truck-demo"
ORDER = "5b3c1f0e-8a7d-4c2b-9e6f-0123456789ab"
DAY = date(2026, 6, 1)
NOT_A_CLAIM = "Not a pickup code from this system"
DAMAGED = "Pickup code is damaged or incomplete - ask for the order number"
FORGED = "Pickup code is not genuine (signature does not match) - check the order by number"


def model_sig(body: str, key: bytes = KEY) -> str:
    return base64.b32encode(hmac.new(key, body.encode(), hashlib.sha256).digest()[:10]).decode()[:16]


def model_body(truck: str = "TRUCK-DEMO", day: str = "20260601", number: str = "42", order: str | None = None) -> str:
    order = order if order is not None else base64.b32encode(uuid.UUID(ORDER).bytes).decode()[:26]
    return f"TP1.{truck}.{day}.{number}.{order}"


def model_code(**fields: str) -> str:
    body = model_body(**fields)
    return f"{body}.{model_sig(body)}"


def refusal(text, truck: str = TRUCK) -> ClaimRefused:
    result = verify_claim(text, KEY, truck)
    assert isinstance(result, ClaimRefused), result
    return result


def test_the_printed_code_is_exactly_the_format_with_an_unpadded_base32_signature():
    # a signature whose last base32 character is "X" (the model looks for an order number that gives one),
    # so a code that stripped more than the "=" padding would differ
    number = next(n for n in range(1, 5000) if model_sig(model_body(number=str(n))).endswith("X"))
    expected = model_code(number=str(number))
    assert make_claim(KEY, TRUCK, DAY, number, ORDER) == expected
    assert verify_claim(expected, KEY, TRUCK) == Claim("TRUCK-DEMO", DAY, number, ORDER)


@pytest.mark.parametrize("truck_id, field", [
    ("truck one", "TRUCK-ONE"), ("  truck.one  ", "TRUCK-ONE"), ("a  b..c", "A-B-C"),
    ("Tía Rosa 2", "T-A-ROSA-2"), ("", "-"), ("   ", "-"),
])
def test_the_truck_field_is_upper_case_ascii_with_dashes(truck_id, field):
    code = make_claim(KEY, truck_id, DAY, 7, ORDER)
    assert code.split(".")[1] == field
    assert verify_claim(code, KEY, truck_id) == Claim(field, DAY, 7, ORDER)


def test_a_truck_field_of_64_characters_fits_and_65_is_refused_before_printing():
    assert verify_claim(make_claim(KEY, "T" * 64, DAY, 1, ORDER), KEY, "T" * 64).truck_id == "T" * 64
    with pytest.raises(ValueError, match="truck id longer than 64 characters cannot go into a claim"):
        make_claim(KEY, "T" * 65, DAY, 1, ORDER)


def test_no_claim_without_a_key():
    with pytest.raises(ValueError, match="^a claim key is required$"):
        make_claim(b"", TRUCK, DAY, 1, ORDER)


def test_numbers_of_one_to_nine_digits_round_trip():
    for number in (0, 7, 123456789):
        assert verify_claim(make_claim(KEY, TRUCK, DAY, number, ORDER), KEY, TRUCK).number == number


@pytest.mark.parametrize("fields", [
    {"number": "1234567890"},                 # ten digits
    {"number": ""},                           # no number
    {"day": "2026061"},                       # seven digits
    {"day": "20260230"},                      # February 30th
    {"day": "2026-6-1"},
    {"order": "A" * 25},                      # one base32 character short
    {"order": "A" * 28},
    {"order": "A" * 25 + "1"},                # "1" is not base32
    {"truck": "T" * 65},                      # longer than any truck field
])
def test_a_correctly_signed_code_with_a_malformed_field_is_damaged_not_forged(fields):
    result = refusal(model_code(**fields), truck="T" * 65 if "truck" in fields else TRUCK)
    assert (result.kind, result.reason) == ("not_a_claim", DAMAGED)


@pytest.mark.parametrize("text", ["", "hello", "TP1.A.B", "TP2" + model_code()[3:], 12345, None, 4.2])
def test_what_is_not_six_fields_or_not_text_is_not_a_claim(text):
    assert (refusal(text).kind, refusal(text).reason) == ("not_a_claim", NOT_A_CLAIM)


def test_the_code_arrives_as_bytes_from_the_serial_scanner():
    code = model_code()
    assert isinstance(verify_claim(code.encode() + b"\r\n", KEY, TRUCK), Claim)
    assert isinstance(verify_claim(bytearray(code.encode()), KEY, TRUCK), Claim)
    assert refusal(code.encode() + b"\xff").kind == "not_a_claim"


def test_only_ascii_counts_even_where_upper_case_would_make_it_match():
    code = model_code(truck="TRIS").lower()
    look_alike = code.replace("i", "\u0131").replace("s", "\u017f")  # dotless i and long s: upper "I", "S"
    assert look_alike != code and look_alike.upper() == code.upper()
    assert isinstance(verify_claim(code, KEY, "tris"), Claim)
    result = refusal(look_alike, truck="tris")
    assert (result.kind, result.reason) == ("not_a_claim", NOT_A_CLAIM)


def test_only_spaces_tabs_and_line_ends_around_the_code_are_forgiven():
    code = model_code()
    assert isinstance(verify_claim(f" \t{code}\r\n", KEY, TRUCK), Claim)
    for other in ("\x0b", "\x0c", "\x1c", "\x85"):
        assert refusal(other + code).kind == "not_a_claim"


def test_control_characters_inside_are_not_a_claim_rather_than_forged():
    for text in (model_code() + "\x1b", model_code() + "\x00"):
        assert (refusal(text).kind, refusal(text).reason) == ("not_a_claim", NOT_A_CLAIM)


def test_scanner_padding_up_to_sixteen_characters_past_the_length_limit_is_read():
    code = model_code()
    longest = code + " " * (MAX_CLAIM_CHARS + 16 - len(code))
    assert len(longest) == 216 and isinstance(verify_claim(longest, KEY, TRUCK), Claim)
    assert refusal(longest + " ").kind == "not_a_claim"
    assert refusal(" " + longest).kind == "not_a_claim"


def test_a_text_of_exactly_the_length_limit_is_judged_and_one_more_is_not():
    body = model_body()
    at_limit = body + "." + "A" * (MAX_CLAIM_CHARS - len(body) - 1)
    assert len(at_limit) == MAX_CLAIM_CHARS
    assert (refusal(at_limit).kind, refusal(at_limit).reason) == ("forged", FORGED)
    assert refusal(at_limit + "A").kind == "not_a_claim"


def test_a_forged_signature_says_so_in_plain_words():
    body = model_body()
    assert (refusal(f"{body}.{model_sig(body, b'another key')}").reason) == FORGED
    assert refusal(f"{body}.{model_sig(body)[:-1]}").kind == "forged"


def test_the_other_trucks_name_is_shown_up_to_forty_characters():
    other = "B" * 64
    result = refusal(make_claim(KEY, other, DAY, 1, ORDER))
    assert (result.kind, result.reason) == ("other_truck", f"This pickup code is for another truck ({'B' * 40})")
