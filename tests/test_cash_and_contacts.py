"""Quick cash buttons and contact normalization (pure domain), against models written from their docstrings.

Cash: exact, then the next whole $1/$5/$10/$20 strictly above what is due, ascending, no repeats; the model
counts up in whole steps instead of dividing. Phones: E.164 ('+' and 8-15 digits); a national 10-digit
number gets the default country code, '00' is the international prefix. Emails: one '@', a dot in the domain,
no spaces, compared in lower case.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from truck_pos.domain.cash import quick_cash_amounts
from truck_pos.domain.contacts import normalize_email, normalize_phone
from truck_pos.errors import InvalidInput


def cash_model(due_cents: int) -> list[int]:
    if due_cents <= 0:
        return []
    amounts = [due_cents]
    for step in (100, 500, 1000, 2000):
        above = step
        while above <= due_cents:
            above += step
        if above not in amounts:
            amounts.append(above)
    return sorted(amounts)


@pytest.mark.parametrize("due, buttons", [
    (1272, [1272, 1300, 1500, 2000]),           # the issue's $12.72
    (309, [309, 400, 500, 1000, 2000]),
    (2000, [2000, 2100, 2500, 3000, 4000]),     # exactly $20: every button is strictly above
    (1, [1, 100, 500, 1000, 2000]),
    (99, [99, 100, 500, 1000, 2000]),
    (100, [100, 200, 500, 1000, 2000]),
    (1999, [1999, 2000]),                       # $20 is the next $1, $5, $10 and $20: shown once
    (0, []), (-500, []),
])
def test_quick_cash_buttons(due, buttons):
    assert quick_cash_amounts(due) == buttons


@settings(max_examples=300, deadline=None)
@given(st.integers(-1000, 250_000))
def test_quick_cash_buttons_match_counting_up_in_whole_notes(due):
    assert quick_cash_amounts(due) == cash_model(due)


@pytest.mark.parametrize("typed, stored", [
    ("(312) 555-0100", "+13125550100"), ("+1 312 555 0100", "+13125550100"),
    ("0044 20 7946 0958", "+442079460958"), ("  +44 20 7946 0958  ", "+442079460958"),
    ("+12345678", "+12345678"),                          # 8 digits: the shortest accepted
    ("+123456789012345", "+123456789012345"),            # 15 digits: E.164's longest
    ("00 1234 5678", "+12345678"),
    ("44 20 7946 0958", "+442079460958"),                # 12 digits, no prefix: already international
])
def test_phone_numbers_become_e164(typed, stored):
    assert normalize_phone(typed) == stored


def test_a_ten_digit_national_number_gets_the_default_country():
    assert normalize_phone("312 555 0100", default_country="52") == "+523125550100"
    assert normalize_phone("+312 555 0100", default_country="52") == "+3125550100"  # '+' means it is already international


@pytest.mark.parametrize("typed", ["+1234567", "+1234567890123456", "00 1234 567", "12", "abc-def"])
def test_too_short_or_too_long_a_phone_number_is_refused_with_what_was_typed(typed):
    with pytest.raises(InvalidInput) as refused:
        normalize_phone(typed)
    assert str(refused.value) == f"{typed.strip()!r} does not look like a phone number"


@pytest.mark.parametrize("typed", [None, "", "   "])
def test_no_contact_is_none(typed):
    assert normalize_phone(typed) is None and normalize_email(typed) is None


def test_emails_are_trimmed_and_lower_cased():
    assert normalize_email("  Ana@Example.COM ") == "ana@example.com"
    assert normalize_email("a.b+c@x.co.uk") == "a.b+c@x.co.uk"


@pytest.mark.parametrize("typed", ["not-an-address", "a@b", "a@@b.c", "a b@c.de", "@c.de", "a@.", " x@y.z w "])
def test_what_is_not_an_email_address_is_refused_with_what_was_typed(typed):
    with pytest.raises(InvalidInput) as refused:
        normalize_email(typed)
    assert str(refused.value) == f"{typed.strip()!r} does not look like an email address"
