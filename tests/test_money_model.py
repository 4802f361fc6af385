"""Money rules against an independent model built here on fractions.Fraction (mutation testing found gaps).

The model: half-up rounding is floor(|x| + 1/2) with the sign put back; largest-remainder allocation gives each
weight floor(total * w / sum) and hands the leftover cents to the largest fractional parts, earliest first.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truck_pos.domain.money import allocate, decimal_to_cents, div_round_half_up, format_cents, parse_cents


def half_up(n: int, d: int) -> int:
    x = Fraction(n, d)
    return int(math.copysign(math.floor(abs(x) + Fraction(1, 2)), x)) if x else 0


def largest_remainder(total: int, weights: list[int]) -> list[int]:
    s = sum(weights)
    exact = [Fraction(total * w, s) for w in weights]
    parts = [math.floor(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


@settings(max_examples=300, deadline=None)
@given(st.integers(-10**9, 10**9), st.integers(1, 10**6))
def test_half_up_division_matches_the_fraction_model(n, d):
    assert div_round_half_up(n, d) == half_up(n, d)


def test_half_up_division_edges():
    assert [div_round_half_up(n, 4) for n in (1, 2, 3, -1, -2, -3, 0)] == [0, 1, 1, 0, -1, -1, 0]
    for d in (0, -3):
        with pytest.raises(ValueError, match="denominator must be positive"):
            div_round_half_up(7, d)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**7), st.lists(st.integers(0, 1000), min_size=1, max_size=8).filter(lambda w: sum(w) > 0))
def test_allocation_matches_the_largest_remainder_model(total, weights):
    assert allocate(total, weights) == largest_remainder(total, weights)


def test_allocation_ties_go_to_the_earlier_weight_and_zero_weights_take_nothing():
    assert allocate(1, [1, 1, 1]) == [1, 0, 0]
    assert allocate(2, [1, 1, 1]) == [1, 1, 0]
    assert allocate(10, [0, 1, 0]) == [0, 10, 0]
    assert allocate(0, [0, 0]) == [0, 0]
    assert allocate(5, [2, 3]) == [2, 3]
    for bad in ((-1, [1]), (1, [-1, 2])):
        with pytest.raises(ValueError, match="non-negative"):
            allocate(*bad)
    with pytest.raises(ValueError, match="zero weights"):
        allocate(3, [0, 0])


@pytest.mark.parametrize("cents, text", [
    (0, "$0.00"), (5, "$0.05"), (100, "$1.00"), (-100, "-$1.00"), (99_999, "$999.99"), (100_000, "$1,000.00"),
    (-123_456_789, "-$1,234,567.89"),
])
def test_format_cents_writes_dollars_with_thousands_and_two_decimals(cents, text):
    assert format_cents(cents) == text


def test_format_cents_takes_another_symbol():
    assert format_cents(1999, symbol="EUR ") == "EUR 19.99"


@pytest.mark.parametrize("text, cents", [
    ("0", 0), ("0.5", 50), (".5", 50), ("7.", 700), (" $ 1 234.50 ", 123450), ("1,234.50", 123450),
    ("1,234,567", 123456700), ("12,3", 1230), ("3.99", 399),
])
def test_parse_cents_reads_what_a_person_types(text, cents):
    assert parse_cents(text) == cents


@pytest.mark.parametrize("text", ["", "$", "-1", "-$1", "1.234", "1.2.3", "abc", "1e3", "١٢", "1.٥", "12,34,5.6x",
                                  "+5", "nan", "inf"])
def test_parse_cents_refuses_anything_else(text):
    with pytest.raises(ValueError):
        parse_cents(text)


def test_parse_cents_refuses_non_text():
    with pytest.raises(ValueError, match="not an amount"):
        parse_cents(5)  # type: ignore[arg-type]


@pytest.mark.parametrize("value, cents", [
    ("3.99", 399), (3.99, 399), (Decimal("3.99"), 399), (7, 700), (0.1 + 0.2 - 0.3 + 1, 100), ("-2.5", -250),
    ("1e2", 10000), (Decimal("999999999999999.99"), 99999999999999999),
])
def test_decimal_to_cents_is_exact(value, cents):
    assert decimal_to_cents(value) == cents


@pytest.mark.parametrize("value, words", [
    (True, "not an amount"), (None, "not an amount"), ("x", "not an amount"), (float("nan"), "not an amount"),
    ("Infinity", "not an amount"), ("1e15", "too large"), ("1e999999999", "too large"), ("0.001", "more than two decimals"),
    (3.999, "more than two decimals"),
])
def test_decimal_to_cents_refuses_with_a_reason(value, words):
    with pytest.raises(ValueError, match=words):
        decimal_to_cents(value)


# The refusals' exact wording: staff and the menu/campaign tools show these messages; hostile input is quoted, cut to
# 40 characters (mutation testing found only substrings checked).
@pytest.mark.parametrize("text", ["", "   ", "$", " $ ", "-1", "-$1,5", "-.5"])
def test_parse_cents_names_the_typed_text_when_it_is_empty_or_negative(text):
    with pytest.raises(ValueError) as e:
        parse_cents(text)
    assert str(e.value) == f"not an amount: {text!r}"


@pytest.mark.parametrize("text", ["1.2x", "abc", "1e3", "1.2.3", "12,34,5.6x"])
def test_parse_cents_names_the_typed_text_when_it_is_not_digits(text):
    with pytest.raises(ValueError) as e:
        parse_cents(text)
    assert str(e.value) == f"not an amount: {text!r}"


LONG = "x" * 39 + "yz"  # 41 characters: the message keeps the first 40


@pytest.mark.parametrize("value, message", [
    ("x", "not an amount: 'x'"), (LONG, f"not an amount: {LONG[:40]!r}"), (float("nan"), "not an amount: 'nan'"),
    ("Infinity", "not an amount: 'Infinity'"), (" " * 40 + "Infinity", f"not an amount: {' ' * 40!r}"), ("-" + "9" * 44, "-" + "9" * 39 + " is too large an amount"),
    ("1e15", "1e15 is too large an amount"), ("0.001", "0.001 has more than two decimals"),
    ("0." + "0" * 39 + "1", "0." + "0" * 38 + " has more than two decimals"),
])
def test_decimal_to_cents_refusals_quote_the_value_cut_to_40_characters(value, message):
    with pytest.raises(ValueError) as e:
        decimal_to_cents(value)
    assert str(e.value) == message


def test_money_refusals_say_exactly_what_is_wrong():
    for call, message in [(lambda: div_round_half_up(7, 0), "denominator must be positive"),
                          (lambda: allocate(-1, [1]), "allocate takes non-negative amounts"),
                          (lambda: allocate(3, [0, 0]), "cannot allocate a non-zero amount over zero weights")]:
        with pytest.raises(ValueError) as e:
            call()
        assert str(e.value) == message
