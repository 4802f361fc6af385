"""Totals, tax and change for inclusive and exclusive tax, with property-based checks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truck_pos.domain.money import allocate, div_round_half_up, format_cents, parse_cents
from truck_pos.domain.order import (Discount, ModifierChoice, TenderRefused, TicketLine, apply_tender,
                                    compute_totals, line_tax)


def test_half_up_rounding_is_exact_and_symmetric():
    assert div_round_half_up(5, 2) == 3
    assert div_round_half_up(-5, 2) == -3
    assert div_round_half_up(4, 3) == 1
    assert div_round_half_up(309375, 10000) == 31  # 375 * 8.25 % = 30.9375


def test_exclusive_tax_is_added_per_line():
    lines = [TicketLine("a", "Taco", 375, 2, 825), TicketLine("w", "Water", 150, 1, 0)]
    t = compute_totals(lines, [], "exclusive")
    assert (t.subtotal_cents, t.tax_cents, t.total_cents) == (900, 62, 962)


def test_inclusive_tax_is_contained_in_the_price():
    t = compute_totals([TicketLine("a", "Taco", 1083, 1, 825)], [], "inclusive")
    # 1083 / 1.0825 = 1000.46 -> net 1000, tax 83; total stays the shelf price.
    assert (t.tax_cents, t.total_cents) == (83, 1083)


def test_modifiers_are_priced_into_the_line():
    line = TicketLine("a", "Taco", 375, 2, 0, (ModifierChoice("Extra cheese", 75), ModifierChoice("No onions", 0)))
    assert line.gross_cents == 900


def test_discount_reduces_taxable_amount_and_is_capped_at_subtotal():
    lines = [TicketLine("a", "Bowl", 1000, 1, 1000)]
    t = compute_totals(lines, [Discount("Big", 400), Discount("Bigger", 5000)], "exclusive")
    assert t.discount_cents == 1000 and t.discounts_applied == (400, 600)
    assert t.tax_cents == 0 and t.total_cents == 0


def test_cash_gives_change_and_card_cannot_exceed_due():
    cash = apply_tender(962, (), "cash", 2000)
    assert (cash.amount_cents, cash.change_cents) == (962, 1038)
    with pytest.raises(TenderRefused):
        apply_tender(962, (), "card", 1000)
    part = apply_tender(962, (), "card", 500)
    rest = apply_tender(962, (part,), "cash", 500)
    assert (rest.amount_cents, rest.change_cents) == (462, 38)
    with pytest.raises(TenderRefused):
        apply_tender(962, (part, rest), "cash", 100)


def test_amounts_parse_and_format():
    assert parse_cents("12.5") == 1250 and parse_cents("$3") == 300 and parse_cents("4,75") == 475
    assert format_cents(123456) == "$1,234.56" and format_cents(-5) == "-$0.05"
    for bad in ["", "-1", "1.234", "abc", "1.2.3"]:
        with pytest.raises(ValueError):
            parse_cents(bad)


lines_st = st.lists(
    st.builds(
        TicketLine,
        sku=st.sampled_from(["a", "b", "c"]),
        name=st.just("x"),
        unit_price_cents=st.integers(0, 50_000),
        quantity=st.integers(1, 99),
        tax_rate_bp=st.sampled_from([0, 500, 725, 825, 1000, 2000]),
        modifiers=st.lists(st.builds(ModifierChoice, st.just("m"), st.integers(0, 500)), max_size=2).map(tuple),
    ),
    min_size=1,
    max_size=12,
)
discounts_st = st.lists(st.builds(Discount, label=st.just("d"), amount_cents=st.integers(0, 100_000)), max_size=3)


@settings(max_examples=400, deadline=None)
@given(lines_st, discounts_st, st.sampled_from(["inclusive", "exclusive"]))
def test_totals_equal_the_sum_of_their_parts_and_never_go_negative(lines, discounts, mode):
    t = compute_totals(lines, discounts, mode)
    assert t.subtotal_cents == sum(line.gross_cents for line in lines) == sum(lt.gross_cents for lt in t.lines)
    assert t.discount_cents == sum(lt.discount_cents for lt in t.lines) == sum(t.discounts_applied)
    assert t.tax_cents == sum(lt.tax_cents for lt in t.lines)
    assert 0 <= t.discount_cents <= t.subtotal_cents
    assert all(lt.tax_cents >= 0 and lt.net_cents >= 0 for lt in t.lines)
    if mode == "exclusive":
        assert t.total_cents == t.subtotal_cents - t.discount_cents + t.tax_cents
    else:
        assert t.total_cents == t.subtotal_cents - t.discount_cents
        assert t.tax_cents <= t.total_cents
    assert t.total_cents >= 0


@given(st.integers(0, 10**7), st.lists(st.integers(0, 10**6), min_size=1, max_size=20))
def test_allocation_is_exact_and_proportional(total, weights):
    if sum(weights) == 0:
        return
    parts = allocate(total, weights)
    assert sum(parts) == total
    for part, w in zip(parts, weights):
        assert abs(part - total * w / sum(weights)) < 1


@given(st.integers(0, 10**6), st.sampled_from([0, 500, 825, 1000]))
def test_inclusive_and_exclusive_tax_agree_on_the_same_net(net, rate):
    gross = net + line_tax(net, rate, "exclusive")
    assert abs(line_tax(gross, rate, "inclusive") - line_tax(net, rate, "exclusive")) <= 1


@given(st.integers(1, 10**6), st.integers(1, 10**6))
def test_cash_change_is_tendered_minus_due(due, tendered):
    if tendered < due:
        entry = apply_tender(due, (), "cash", tendered)
        assert entry.amount_cents == tendered and entry.change_cents == 0
    else:
        entry = apply_tender(due, (), "cash", tendered)
        assert entry.amount_cents == due and entry.change_cents == tendered - due
