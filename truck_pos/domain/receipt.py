"""Receipt and kitchen-ticket layout: lines fitted to the paper's columns, totals, QR payloads. Pure.

The layout is a :class:`Document` of blocks (text lines and QR codes); only the printer adapter
knows ESC/POS. Widths: a 58 mm printer has 32 columns in font A, an 80 mm printer 42 or 48
(the printer profile says which). ``big`` lines are printed double width, so they get half the
columns. Every text that comes from a customer or the owner goes through ``printable.clean`` for the
printer's charset first, and widths are printed cells (a CJK character takes two), so no line ever
exceeds its width: long names wrap, long words are cut.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal, Union

from truck_pos.domain.money import format_cents
from truck_pos.domain.order import TenderEntry
from truck_pos.domain.printable import ASCII_ONLY, REPLACEMENT, Charset, cells, clean, cut_to

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
    charset: Charset = ASCII_ONLY  # what the widths were measured for

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


def fit(text: str, width: int, indent: int = 0, charset: Charset = ASCII_ONLY) -> list[str]:
    """Wrap cleaned text to ``width`` cells (long words are cut), every line indented; always at least one line."""
    pad = " " * min(indent, max(0, width - 1))
    avail = max(1, width - len(pad))
    lines: list[str] = []
    line: list[str] = []
    used = 0
    for word in text.split():
        size = cells(word, charset)
        while size > avail - (used + 1 if line else 0):
            room = avail - (used + 1 if line else 0)
            if size <= avail or room < 1:  # it fits on a line of its own: start one
                lines.append(pad + " ".join(line))
                line, used = [], 0
                if size <= avail:
                    break
                continue
            # A word longer than a line: fill this line with its head (cell-exact), like textwrap does.
            head = cut_to(word, room, charset)
            if not head:  # a wide character in a one-cell gap
                head, word = (REPLACEMENT, word[1:]) if not line else ("", word)
                if line:
                    lines.append(pad + " ".join(line))
                    line, used = [], 0
                    continue
            else:
                word = word[len(head):]
            lines.append(pad + " ".join([*line, head]))
            line, used = [], 0
            size = cells(word, charset)
        if word:
            used += size + (1 if line else 0)
            line.append(word)
    if line:
        lines.append(pad + " ".join(line))
    return lines or [""]


def two_columns(left: str, right: str, width: int, indent: int = 0, charset: Charset = ASCII_ONLY) -> list[str]:
    """``left ........ right`` in ``width`` cells; the left text wraps, the amount stays on its line."""
    right = cut_to(right, max(0, width - 2), charset)
    right_cells = cells(right, charset)
    lines = fit(left, max(1, width - right_cells - 1), indent, charset)
    last = lines[-1]
    lines[-1] = last + " " * (width - cells(last, charset) - right_cells) + right
    return lines


def printable_data(data: ReceiptData, charset: Charset) -> ReceiptData:
    """Every customer- or owner-supplied text of ``data`` cleaned for the printer (the one sanitizer)."""
    c = lambda text: clean(text, charset)  # noqa: E731
    return replace(
        data, truck_name=c(data.truck_name), stop=c(data.stop), note=c(data.note), claim=c(data.claim),
        currency_symbol=c(data.currency_symbol), footer=tuple(c(f) for f in data.footer),
        items=tuple(ItemLine(c(i.name), i.quantity, i.gross_cents, tuple(c(m) for m in i.modifiers)) for i in data.items),
        discounts=tuple(DiscountLine(c(d.label), d.amount_cents, c(d.code) if d.code else d.code,
                                     c(d.segment) if d.segment else d.segment) for d in data.discounts),
        tenders=tuple(replace(t, kind=c(t.kind)) for t in data.tenders),
    )


def _lines(texts: list[str], **style) -> list[TextLine]:
    return [TextLine(t, **style) for t in texts]


def _header(data: ReceiptData, width: int, cs: Charset) -> list[TextLine]:
    out = _lines(fit(data.truck_name, width // 2, charset=cs), align="center", bold=True, big=True)
    if data.stop:
        out += _lines(fit(data.stop, width, charset=cs), align="center")
    out += _lines(fit(f"{data.local_time:%Y-%m-%d %H:%M}", width), align="center")
    out.append(TextLine(f"Order #{data.number}"[: width // 2], align="center", bold=True, big=True))
    if data.channel == "mobile":
        out.append(TextLine("MOBILE ORDER - PREPAID"[:width], align="center", bold=True))
    return out


def _items(data: ReceiptData, width: int, money, cs: Charset) -> list[TextLine]:
    out: list[TextLine] = []
    for item in data.items:
        out += _lines(two_columns(f"{item.quantity} x {item.name}", money(item.gross_cents), width, charset=cs))
        for mod in item.modifiers:
            out += _lines(fit(f"+ {mod}", width, indent=2, charset=cs))
    return out


SHOWN_CODE_MAX = 16  # segment codes are typed by people; longer ones (personal codes, ~200 characters) are QR-only


def shown_code(code: str) -> str:
    """A code as a receipt shows it: whole when a person could type it, else its start and end (``P1.AbC...x9Z``)."""
    return code if len(code) <= SHOWN_CODE_MAX else f"{code[:6]}...{code[-4:]}"


def _totals(data: ReceiptData, width: int, money, cs: Charset) -> list[TextLine]:
    out = _lines(two_columns("Subtotal", money(data.subtotal_cents), width, charset=cs))
    for d in data.discounts:
        label = d.label + (f" [{shown_code(d.code)}]" if d.code else "")
        out += _lines(two_columns(label, money(-d.amount_cents), width, charset=cs))
        if d.segment:
            out += _lines(fit(f"segment: {d.segment}", width, indent=2, charset=cs))
    tax_label = "Tax" if data.tax_mode == "exclusive" else "Tax included"
    out += _lines(two_columns(tax_label, money(data.tax_cents), width, charset=cs))
    out += _lines(two_columns("TOTAL", money(data.total_cents), width, charset=cs), bold=True)
    for t in data.tenders:
        out += _lines(two_columns(t.kind.title(), money(t.tendered_cents), width, charset=cs))
        if t.change_cents:
            out += _lines(two_columns("Change", money(t.change_cents), width, charset=cs))
    return out


def status_banner(status: str, columns: int) -> list[TextLine]:
    """A voided or refunded order's copies say so in large print; nothing for a sale that stands."""
    word = {"voided": "VOID", "refunded": "REFUNDED"}.get(status)
    if word is None:
        return []
    return [TextLine(f"*{word}*"[: columns // 2], align="center", bold=True, big=True),
            TextLine(f"Order {status} - not for sale or pickup"[:columns], align="center", bold=True)]


def render_receipt(data: ReceiptData, columns: int, *, reprint: bool = False, status: str = "",
                   charset: Charset = ASCII_ONLY) -> Document:
    """The customer's receipt: header, items, totals, tenders, claim QR, registration QR (text cleaned for ``charset``)."""
    data = printable_data(data, charset)
    money = lambda cents: cut_to(format_cents(cents, data.currency_symbol), columns, charset)  # noqa: E731
    rule = TextLine("-" * columns)
    banner = status_banner(status, columns)
    blocks: list[Block] = [*banner]
    if reprint:
        blocks.append(TextLine("** REPRINT **", align="center", bold=True))
    blocks += _header(data, columns, charset)
    blocks += [rule, *_items(data, columns, money, charset), rule, *_totals(data, columns, money, charset)]
    if data.note:
        blocks += _lines(fit(f"Note: {data.note}", columns, charset=charset))
    if data.claim and not banner:  # a voided order's code must not be handed to anyone
        blocks += [rule, *_lines(fit("Show this code at the pickup window", columns), align="center"),
                   QrBlock(data.claim), TextLine(f"#{data.number}", align="center", bold=True)]
    if data.registration_url:
        blocks += [rule, *_lines(fit("Join our list for deals:", columns), align="center"),
                   QrBlock(data.registration_url, size=4)]
    blocks += _lines([line for text in data.footer for line in fit(text, columns, charset=charset)], align="center")
    blocks += banner
    return Document("receipt", columns, tuple(blocks), charset)


def render_kitchen_ticket(data: ReceiptData, columns: int, *, status: str = "",
                          charset: Charset = ASCII_ONLY) -> Document:
    """The kitchen's ticket: a big order number, items with modifiers and the note; no prices."""
    data = printable_data(data, charset)
    half = columns // 2
    banner = status_banner(status, columns)
    blocks: list[Block] = [*banner, TextLine(f"#{data.number}"[:half], align="center", bold=True, big=True)]
    if data.channel == "mobile":
        blocks.append(TextLine("MOBILE"[:half], align="center", bold=True, big=True))
    blocks.append(TextLine(f"{data.local_time:%H:%M}  {data.business_day}"[:columns], align="center"))
    blocks.append(TextLine("=" * columns))
    for item in data.items:
        blocks += _lines(fit(f"{item.quantity} x {item.name}", half, charset=charset), bold=True, big=True)
        for mod in item.modifiers:
            blocks += _lines(fit(f"+ {mod}", columns, indent=3, charset=charset))
    if data.note:
        blocks += [TextLine("=" * columns), *_lines(fit(f"NOTE: {data.note}", columns, charset=charset), bold=True)]
    return Document("kitchen", columns, tuple(blocks) + tuple(banner), charset)


def max_line_width(doc: Document) -> int:
    """The widest printed line in cells (a big line counts double)."""
    return max((cells(b.text, doc.charset) * (2 if b.big else 1) for b in doc.blocks if isinstance(b, TextLine)),
               default=0)
