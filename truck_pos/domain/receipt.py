"""Receipt and kitchen-ticket layout: lines fitted to the paper's columns, totals, QR payloads. Pure.

The layout is a :class:`Document` of blocks (text lines and QR codes); only the printer adapter
knows ESC/POS. Widths: a 58 mm printer has 32 columns in font A, an 80 mm printer 42 or 48
(the printer profile says which). ``big`` lines are printed double width, so they get half the
columns. No line ever exceeds its width: long names wrap, long words are cut.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Union

from truck_pos.domain.money import format_cents
from truck_pos.domain.order import TenderEntry

Align = Literal["left", "center", "right"]
COLUMNS_BY_PAPER_MM = {58: 32, 80: 48}


@dataclass(frozen=True)
class TextLine:
    """One printed line; ``big`` = double width and height (half the columns)."""

    text: str
    align: Align = "left"
    bold: bool = False
    big: bool = False


@dataclass(frozen=True)
class QrBlock:
    """A QR code with the text it encodes."""

    payload: str
    size: int = 6  # module size in printer dots (1-16)


Block = Union[TextLine, QrBlock]


@dataclass(frozen=True)
class Document:
    """What the printer prints for one job, then cuts."""

    kind: str  # receipt | kitchen | test
    columns: int
    blocks: tuple[Block, ...]

    def text_lines(self) -> list[str]:
        """The text as printed (for logs, tests and the reprint preview)."""
        return [b.text for b in self.blocks if isinstance(b, TextLine)]


@dataclass(frozen=True)
class ItemLine:
    """An order line as sold."""

    name: str
    quantity: int
    gross_cents: int
    modifiers: tuple[str, ...] = ()


@dataclass(frozen=True)
class DiscountLine:
    """A discount as applied; ``segment`` is the campaign segment its code belongs to."""

    label: str
    amount_cents: int
    code: str | None = None
    segment: str | None = None


@dataclass(frozen=True)
class ReceiptData:
    """Everything a receipt or kitchen ticket shows, already in the truck's local time."""

    truck_name: str
    stop: str
    local_time: datetime
    business_day: str
    number: int
    channel: str  # counter | mobile
    items: tuple[ItemLine, ...]
    subtotal_cents: int
    tax_cents: int
    total_cents: int
    tax_mode: str = "exclusive"
    discounts: tuple[DiscountLine, ...] = ()
    tenders: tuple[TenderEntry, ...] = ()
    claim: str = ""
    registration_url: str = ""
    note: str = ""
    currency_symbol: str = "$"
    footer: tuple[str, ...] = field(default=("Thank you!",))


def fit(text: str, width: int, indent: int = 0) -> list[str]:
    """Wrap text to ``width`` columns (long words are cut), every line indented; always at least one line."""
    clean = " ".join(text.split())
    pad = " " * min(indent, max(0, width - 1))
    return textwrap.wrap(clean, width, initial_indent=pad, subsequent_indent=pad, break_long_words=True,
                         break_on_hyphens=False) or [""]


def two_columns(left: str, right: str, width: int, indent: int = 0) -> list[str]:
    """``left ........ right`` in ``width`` columns; the left text wraps, the amount stays on its line."""
    right = right[: max(0, width - 2)]
    lines = fit(left, max(1, width - len(right) - 1), indent)
    last = lines[-1]
    lines[-1] = last + " " * (width - len(last) - len(right)) + right
    return lines


def _lines(texts: list[str], **style) -> list[TextLine]:
    return [TextLine(t, **style) for t in texts]


def _header(data: ReceiptData, width: int) -> list[TextLine]:
    out = _lines(fit(data.truck_name, width // 2), align="center", bold=True, big=True)
    if data.stop:
        out += _lines(fit(data.stop, width), align="center")
    out += _lines(fit(f"{data.local_time:%Y-%m-%d %H:%M}", width), align="center")
    out.append(TextLine(f"Order #{data.number}"[: width // 2], align="center", bold=True, big=True))
    if data.channel == "mobile":
        out.append(TextLine("MOBILE ORDER - PREPAID"[:width], align="center", bold=True))
    return out


def _items(data: ReceiptData, width: int, money) -> list[TextLine]:
    out: list[TextLine] = []
    for item in data.items:
        out += _lines(two_columns(f"{item.quantity} x {item.name}", money(item.gross_cents), width))
        for mod in item.modifiers:
            out += _lines(fit(f"+ {mod}", width, indent=2))
    return out


def _totals(data: ReceiptData, width: int, money) -> list[TextLine]:
    out = _lines(two_columns("Subtotal", money(data.subtotal_cents), width))
    for d in data.discounts:
        label = d.label + (f" [{d.code}]" if d.code else "")
        out += _lines(two_columns(label, money(-d.amount_cents), width))
        if d.segment:
            out += _lines(fit(f"segment: {d.segment}", width, indent=2))
    tax_label = "Tax" if data.tax_mode == "exclusive" else "Tax included"
    out += _lines(two_columns(tax_label, money(data.tax_cents), width))
    out += _lines(two_columns("TOTAL", money(data.total_cents), width), bold=True)
    for t in data.tenders:
        out += _lines(two_columns(t.kind.title(), money(t.tendered_cents), width))
        if t.change_cents:
            out += _lines(two_columns("Change", money(t.change_cents), width))
    return out


def render_receipt(data: ReceiptData, columns: int, *, reprint: bool = False) -> Document:
    """The customer's receipt: header, items, totals, tenders, claim QR, registration QR."""
    money = lambda cents: format_cents(cents, data.currency_symbol)  # noqa: E731
    rule = TextLine("-" * columns)
    blocks: list[Block] = []
    if reprint:
        blocks.append(TextLine("** REPRINT **", align="center", bold=True))
    blocks += _header(data, columns)
    blocks += [rule, *_items(data, columns, money), rule, *_totals(data, columns, money)]
    if data.note:
        blocks += _lines(fit(f"Note: {data.note}", columns))
    if data.claim:
        blocks += [rule, *_lines(fit("Show this code at the pickup window", columns), align="center"),
                   QrBlock(data.claim), TextLine(f"#{data.number}", align="center", bold=True)]
    if data.registration_url:
        blocks += [rule, *_lines(fit("Join our list for deals:", columns), align="center"),
                   QrBlock(data.registration_url, size=4)]
    blocks += _lines([line for text in data.footer for line in fit(text, columns)], align="center")
    return Document("receipt", columns, tuple(blocks))


def render_kitchen_ticket(data: ReceiptData, columns: int) -> Document:
    """The kitchen's ticket: a big order number, items with modifiers and the note; no prices."""
    half = columns // 2
    blocks: list[Block] = [TextLine(f"#{data.number}"[:half], align="center", bold=True, big=True)]
    if data.channel == "mobile":
        blocks.append(TextLine("MOBILE"[:half], align="center", bold=True, big=True))
    blocks.append(TextLine(f"{data.local_time:%H:%M}  {data.business_day}"[:columns], align="center"))
    blocks.append(TextLine("=" * columns))
    for item in data.items:
        blocks += _lines(fit(f"{item.quantity} x {item.name}", half), bold=True, big=True)
        for mod in item.modifiers:
            blocks += _lines(fit(f"+ {mod}", columns, indent=3))
    if data.note:
        blocks += [TextLine("=" * columns), *_lines(fit(f"NOTE: {data.note}", columns), bold=True)]
    return Document("kitchen", columns, tuple(blocks))


def max_line_width(doc: Document) -> int:
    """The widest printed line in columns (a big line counts double)."""
    return max((len(b.text) * (2 if b.big else 1) for b in doc.blocks if isinstance(b, TextLine)), default=0)
