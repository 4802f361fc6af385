"""A ticket being rung up: lines, discounts, tax and totals, tenders and change. Pure.

Tax rule (documented in README): tax is computed **per line**, on the line's amount after its
share of the order's discounts, and rounded half up to the cent on that line.
- exclusive: ``tax = round(net * rate)``, total = net + tax
- inclusive: prices already contain tax; ``tax = net - round(net / (1 + rate))``, total = net
Order discounts are spread over lines in proportion to their amounts (largest remainder), so the
tax on a discounted order is the tax on what the customer really pays.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import Literal

from truck_pos.domain.money import allocate, div_round_half_up

TaxMode = Literal["inclusive", "exclusive"]
BP = 10_000  # basis points in 1


@dataclass(frozen=True)
class ModifierChoice:
    """A chosen modifier and its price (may be 0)."""

    name: str
    price_cents: int


@dataclass(frozen=True)
class TicketLine:
    """One item on a ticket."""

    sku: str
    name: str
    unit_price_cents: int
    quantity: int
    tax_rate_bp: int
    modifiers: tuple[ModifierChoice, ...] = ()

    @property
    def unit_with_modifiers_cents(self) -> int:
        return self.unit_price_cents + sum(m.price_cents for m in self.modifiers)

    @property
    def gross_cents(self) -> int:
        return self.unit_with_modifiers_cents * self.quantity


@dataclass(frozen=True)
class Discount:
    """A reduction on the ticket. ``amount_cents`` is already resolved by whoever granted it.

    Kinds of benefit (percent, amount, free item) are turned into an amount by the code rules;
    the ticket only needs the amount, a label to print and where it came from.
    """

    label: str
    amount_cents: int
    code: str | None = None
    segment: str | None = None
    source: str = "code"  # code | group | override


@dataclass(frozen=True)
class LineTotals:
    """A line's money after discounts and tax."""

    gross_cents: int
    discount_cents: int
    tax_cents: int

    @property
    def net_cents(self) -> int:
        return self.gross_cents - self.discount_cents


@dataclass(frozen=True)
class Totals:
    """What the customer owes."""

    subtotal_cents: int  # sum of line gross amounts as priced
    discount_cents: int
    tax_cents: int
    total_cents: int
    lines: tuple[LineTotals, ...]
    discounts_applied: tuple[int, ...]  # per Discount, after capping at what is left


def line_tax(net_cents: int, rate_bp: int, mode: TaxMode) -> int:
    """Tax on one line's net amount, rounded half up."""
    if mode == "exclusive":
        return div_round_half_up(net_cents * rate_bp, BP)
    return net_cents - div_round_half_up(net_cents * BP, BP + rate_bp)


def compute_totals(lines: list[TicketLine] | tuple[TicketLine, ...], discounts: list[Discount] | tuple[Discount, ...], mode: TaxMode) -> Totals:
    """Subtotal, discounts, tax and total for a ticket. Never negative."""
    gross = [line.gross_cents for line in lines]
    subtotal = sum(gross)
    applied: list[int] = []
    left = subtotal
    for d in discounts:
        amount = max(0, min(d.amount_cents, left))
        applied.append(amount)
        left -= amount
    discount_total = subtotal - left
    line_discounts = allocate(discount_total, gross) if subtotal else [0] * len(lines)
    line_totals = tuple(
        LineTotals(g, ld, line_tax(g - ld, line.tax_rate_bp, mode))
        for line, g, ld in zip(lines, gross, line_discounts)
    )
    tax = sum(lt.tax_cents for lt in line_totals)
    total = subtotal - discount_total + (tax if mode == "exclusive" else 0)
    return Totals(subtotal, discount_total, tax, total, line_totals, tuple(applied))


@lru_cache(maxsize=64)
def _cached_totals(lines: tuple[TicketLine, ...], discounts: tuple[Discount, ...], mode: TaxMode) -> Totals:
    return compute_totals(lines, discounts, mode)


@dataclass(frozen=True)
class TenderEntry:
    """Money taken: ``amount_cents`` applied to the order, ``change_cents`` handed back."""

    kind: str
    amount_cents: int
    tendered_cents: int
    change_cents: int = 0
    reference: str = ""


class TenderRefused(ValueError):
    """A tender the ticket cannot take; the message is for staff."""


def apply_tender(total_cents: int, taken: tuple[TenderEntry, ...], kind: str, tendered_cents: int, reference: str = "") -> TenderEntry:
    """Work out how a new tender applies to what is still due (split tender, cash change)."""
    due = total_cents - sum(t.amount_cents for t in taken)
    if tendered_cents <= 0:
        raise TenderRefused("Enter an amount greater than zero")
    if due <= 0:
        raise TenderRefused("Nothing is due on this ticket")
    if kind == "cash":
        applied = min(tendered_cents, due)
        return TenderEntry("cash", applied, tendered_cents, tendered_cents - applied, reference)
    if kind in ("card", "prepaid"):
        if tendered_cents > due:
            raise TenderRefused(f"{kind.title()} amount is more than the {due / 100:.2f} due")
        return TenderEntry(kind, tendered_cents, tendered_cents, 0, reference)
    raise TenderRefused(f"Unknown tender {kind!r}")


@dataclass(frozen=True)
class Ticket:
    """An open ticket. Immutable: each change returns a new ticket."""

    id: str
    tax_mode: TaxMode
    lines: tuple[TicketLine, ...] = ()
    discounts: tuple[Discount, ...] = ()
    tenders: tuple[TenderEntry, ...] = ()
    customer_ref: str | None = None
    note: str = ""
    meta: dict = field(default_factory=dict, compare=False)  # e.g. redemption details for hooks

    @cached_property
    def totals(self) -> Totals:
        """Computed once per ticket value (tickets are immutable); a ticket that only took a tender
        has the same lines and discounts, so the small cache answers it without recomputing."""
        return _cached_totals(self.lines, self.discounts, self.tax_mode)

    @property
    def paid_cents(self) -> int:
        return sum(t.amount_cents for t in self.tenders)

    @property
    def due_cents(self) -> int:
        return max(0, self.totals.total_cents - self.paid_cents)

    @property
    def change_cents(self) -> int:
        return sum(t.change_cents for t in self.tenders)

    @property
    def fully_paid(self) -> bool:
        return bool(self.lines) and self.paid_cents >= self.totals.total_cents

    def with_line(self, line: TicketLine) -> "Ticket":
        """Add a line, merging with an identical one (same item and modifiers)."""
        for i, existing in enumerate(self.lines):
            if (existing.sku, existing.modifiers, existing.unit_price_cents) == (line.sku, line.modifiers, line.unit_price_cents):
                merged = replace(existing, quantity=existing.quantity + line.quantity)
                return replace(self, lines=self.lines[:i] + (merged,) + self.lines[i + 1 :])
        return replace(self, lines=self.lines + (line,))

    def with_quantity(self, index: int, quantity: int) -> "Ticket":
        if quantity == 0:
            return self.without_line(index)
        line = replace(self.lines[index], quantity=quantity)
        return replace(self, lines=self.lines[:index] + (line,) + self.lines[index + 1 :])

    def without_line(self, index: int) -> "Ticket":
        return replace(self, lines=self.lines[:index] + self.lines[index + 1 :])
