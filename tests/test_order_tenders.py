"""Tenders and ticket edits at their edges: apply_tender's rules and staff messages, with_quantity on a middle line.

Expected values come from apply_tender's docstring and README's tender rules (cash gives change, card and prepaid
never exceed what is due, a tender must be > 0, nothing is taken once nothing is due), worked by hand.
"""

from __future__ import annotations

import pytest

from truck_pos.domain.order import Discount, TenderEntry, TenderRefused, Ticket, TicketLine, apply_tender, compute_totals


def refusal(*args) -> str:
    with pytest.raises(TenderRefused) as e:
        apply_tender(*args)
    return str(e.value)


def test_a_tender_of_zero_is_refused_for_every_kind():
    for kind in ("cash", "card", "prepaid"):
        assert refusal(500, (), kind, 0) == "Enter an amount greater than zero"
        assert refusal(500, (), kind, -100) == "Enter an amount greater than zero"


def test_nothing_more_is_taken_once_the_ticket_is_paid():
    paid = (TenderEntry("card", 500, 500),)
    assert refusal(500, paid, "cash", 100) == "Nothing is due on this ticket"
    assert refusal(0, (), "card", 1) == "Nothing is due on this ticket"


def test_card_and_prepaid_cannot_exceed_the_amount_due_which_the_message_gives_in_dollars():
    part = TenderEntry("cash", 1000, 1000)
    assert refusal(1234, (part,), "card", 235) == "Card amount is more than the 2.34 due"
    assert refusal(1234, (), "prepaid", 1300) == "Prepaid amount is more than the 12.34 due"
    assert refusal(1234, (), "cheque", 100) == "Unknown tender 'cheque'"


def test_each_tender_keeps_its_reference_and_prepaid_is_taken_like_card():
    assert apply_tender(1234, (), "prepaid", 1234, "mobile-7") == TenderEntry("prepaid", 1234, 1234, 0, "mobile-7")
    assert apply_tender(1234, (), "card", 234, "auth 99") == TenderEntry("card", 234, 234, 0, "auth 99")
    assert apply_tender(1234, (), "cash", 2000, "drawer 1") == TenderEntry("cash", 1234, 2000, 766, "drawer 1")
    assert apply_tender(1234, (), "cash", 1000).reference == ""
    assert apply_tender(1234, (), "card", 1000).reference == ""


def test_changing_the_quantity_of_a_middle_line_keeps_the_lines_around_it():
    lines = tuple(TicketLine(sku, sku, 100 * (i + 1), 1, 0) for i, sku in enumerate(["a", "b", "c", "d"]))
    t = Ticket("t1", "exclusive", lines).with_quantity(1, 3)
    assert [(x.sku, x.quantity) for x in t.lines] == [("a", 1), ("b", 3), ("c", 1), ("d", 1)]
    assert t.totals.subtotal_cents == 100 + 600 + 300 + 400
    assert [x.sku for x in t.with_quantity(2, 0).lines] == ["a", "b", "d"]


def test_a_ticket_of_free_items_takes_no_discount_and_no_tax():
    free = [TicketLine("water", "Water", 0, 2, 825)]
    totals = compute_totals(free, [Discount("5 off", 500)], "exclusive")
    assert (totals.subtotal_cents, totals.discount_cents, totals.tax_cents, totals.total_cents) == (0, 0, 0, 0)
    assert totals.discounts_applied == (0,) and [lt.discount_cents for lt in totals.lines] == [0]
