"""A whole receipt and kitchen ticket as documents, block by block, written out by hand from receipt.py's docstrings
(58 mm paper: 32 columns, big lines get half; amounts right-aligned; a voided copy carries no claim and says so at
both ends). Mutation testing found the layout flags and texts of the blocks the golden samples never print unpinned
(reprint mark, mobile marks, void banner, discount code and segment, change, inclusive tax)."""

from __future__ import annotations

from datetime import datetime

from truck_pos.domain.order import TenderEntry
from truck_pos.domain.receipt import (DiscountLine, Document, ItemLine, QrBlock, ReceiptData, TextLine, fit, max_line_width,
                                      render_kitchen_ticket, render_receipt, shown_code, status_banner)

DATA = ReceiptData(
    truck_name="Taco Bus", stop="Main St", local_time=datetime(2026, 6, 1, 12, 5), business_day="2026-06-01", number=42,
    channel="mobile", items=(ItemLine("Taco", 2, 700, ("extra salsa",)),), subtotal_cents=700, tax_cents=52,
    total_cents=652, discounts=(DiscountLine("Summer deal", 100, code="SUMMER10", segment="regulars"),),
    tenders=(TenderEntry("cash", 652, 1000, 348),), claim="CLAIM-XYZ", registration_url="https://t.example/r",
    note="no onions")


def row(left: str, right: str, width: int = 32) -> str:
    return left + " " * (width - len(left) - len(right)) + right


RULE = TextLine("-" * 32)
HEADER = (TextLine("Taco Bus", "center", True, True), TextLine("Main St", "center"), TextLine("2026-06-01 12:05", "center"),
          TextLine("Order #42", "center", True, True), TextLine("MOBILE ORDER - PREPAID", "center", True))
BODY = (RULE, TextLine(row("2 x Taco", "$7.00")), TextLine("  + extra salsa"), RULE,
        TextLine(row("Subtotal", "$7.00")), TextLine(row("Summer deal [SUMMER10]", "-$1.00")),
        TextLine("  segment: regulars"), TextLine(row("Tax", "$0.52")), TextLine(row("TOTAL", "$6.52"), bold=True),
        TextLine(row("Cash", "$10.00")), TextLine(row("Change", "$3.48")), TextLine("Note: no onions"))
CLAIM = (RULE, TextLine("Show this code at the pickup", "center"), TextLine("window", "center"), QrBlock("CLAIM-XYZ"),
         TextLine("#42", "center", True))
REGISTRATION = (RULE, TextLine("Join our list for deals:", "center"), QrBlock("https://t.example/r", size=4))
FOOTER = (TextLine("Thank you!", "center"),)


def test_a_receipt_reprinted_is_marked_then_prints_header_items_totals_claim_and_registration():
    doc = render_receipt(DATA, 32, reprint=True)
    assert doc == Document("receipt", 32, (TextLine("** REPRINT **", "center", True), *HEADER, *BODY, *CLAIM,
                                           *REGISTRATION, *FOOTER))
    assert render_receipt(DATA, 32) == Document("receipt", 32, (*HEADER, *BODY, *CLAIM, *REGISTRATION, *FOOTER))


def test_a_voided_receipt_says_so_at_both_ends_and_carries_no_claim():
    banner = (TextLine("*VOID*", "center", True, True), TextLine("Order voided - not for sale or p", "center", True))
    assert render_receipt(DATA, 32, status="voided") == Document(
        "receipt", 32, (*banner, *HEADER, *BODY, *REGISTRATION, *FOOTER, *banner))
    assert status_banner("refunded", 48) == [TextLine("*REFUNDED*", "center", True, True),
                                             TextLine("Order refunded - not for sale or pickup", "center", True)]
    assert status_banner("completed", 48) == [] and status_banner("", 48) == []


def test_inclusive_tax_is_labelled_as_included():
    lines = render_receipt(ReceiptData(**{**DATA.__dict__, "tax_mode": "inclusive"}), 32).text_lines()
    assert row("Tax included", "$0.52") in lines and row("Tax", "$0.52") not in lines


def test_a_kitchen_ticket_has_the_number_and_mobile_mark_big_items_big_and_the_note_but_no_prices():
    assert render_kitchen_ticket(DATA, 32) == Document("kitchen", 32, (
        TextLine("#42", "center", True, True), TextLine("MOBILE", "center", True, True),
        TextLine("12:05  2026-06-01", "center"), TextLine("=" * 32), TextLine("2 x Taco", bold=True, big=True),
        TextLine("   + extra salsa"), TextLine("=" * 32), TextLine("NOTE: no onions", bold=True)))
    voided = render_kitchen_ticket(DATA, 32, status="voided").blocks
    assert voided[0] == TextLine("*VOID*", "center", True, True) and voided[-1].text == "Order voided - not for sale or p"


def test_a_code_is_shown_whole_up_to_16_characters():
    assert shown_code("A" * 16) == "A" * 16
    assert shown_code("ABCDEFGHIJKLMNOPQ") == "ABCDEF...NOPQ"  # 17: its first 6 and last 4


def test_the_widest_line_counts_big_lines_double():
    assert max_line_width(Document("test", 32, (TextLine("abcd", big=True), TextLine("abc"), QrBlock("x")))) == 8
    assert max_line_width(Document("test", 32, (QrBlock("x"),))) == 0


def test_a_receipt_in_cp437_measures_its_accented_names_and_pound_amounts_in_cells():
    # cp437 prints é, ñ, á, É, ¡ and £ as one byte each: the same layout as ASCII, one cell per character.
    from dataclasses import replace

    from truck_pos.domain.printable import Charset

    data = replace(DATA, truck_name="Café Bus", items=(ItemLine("Jalapeño", 2, 700, ("más salsa",)),),
                   discounts=(DiscountLine("Été", 100, code="SUMMER10", segment="habitués"),), currency_symbol="£",
                   note="sin ñ", footer=("¡Gracias!",), tenders=(TenderEntry("cash", 652, 1000, 348),))
    doc = render_receipt(data, 32, charset=Charset("cp437"))
    assert doc.text_lines() == [
        "Café Bus", "Main St", "2026-06-01 12:05", "Order #42", "MOBILE ORDER - PREPAID", "-" * 32,
        row("2 x Jalapeño", "£7.00"), "  + más salsa", "-" * 32, row("Subtotal", "£7.00"),
        row("Été [SUMMER10]", "-£1.00"), "  segment: habitués", row("Tax", "£0.52"), row("TOTAL", "£6.52"),
        row("Cash", "£10.00"), row("Change", "£3.48"), "Note: sin ñ", "-" * 32, "Show this code at the pickup", "window",
        "#42", "-" * 32, "Join our list for deals:", "¡Gracias!"]
    assert render_kitchen_ticket(data, 32, charset=Charset("cp437")).text_lines() == [
        "#42", "MOBILE", "12:05  2026-06-01", "=" * 32, "2 x Jalapeño", "   + más salsa", "=" * 32, "NOTE: sin ñ"]


def test_a_kanji_name_takes_two_cells_a_character_on_both_copies():
    from dataclasses import replace

    from truck_pos.domain.printable import Charset

    data = replace(DATA, items=(ItemLine("拉面", 2, 700, ("辣",)),), note="")
    kanji = Charset("cp437", wide=True)
    lines = render_receipt(data, 32, charset=kanji).text_lines()
    assert lines[6:8] == ["2 x 拉面" + " " * (32 - 8 - 5) + "$7.00", "  + 辣"]
    kitchen = render_kitchen_ticket(replace(data, items=(ItemLine("拉面拉面拉面", 2, 700),
                                                        ItemLine("拉面拉面拉面拉面", 1, 700))), 32, charset=kanji)
    # a big line has 16 cells: "2 x " (4) + 12 fits; a 16-cell word does not fit after "1 x", so it takes its own line
    assert kitchen.text_lines()[4:7] == ["2 x 拉面拉面拉面", "1 x", "拉面拉面拉面拉面"]


def test_every_supplied_text_is_cleaned_before_layout():
    # A BEL (0x07) inside every customer- or owner-supplied field: the printer would ring or worse; clean() removes
    # control characters, so the document is exactly the clean one.
    from dataclasses import replace

    b = "\x07"
    dirty = replace(DATA, truck_name=f"Taco{b} Bus", stop=f"Main{b} St", note=f"no{b} onions", claim=f"CLAIM{b}-XYZ",
                    currency_symbol=f"${b}", footer=(f"Thank{b} you!",),
                    items=(ItemLine(f"Ta{b}co", 2, 700, (f"extra{b} salsa",)),),
                    discounts=(DiscountLine(f"Summer{b} deal", 100, code=f"SUMMER{b}10", segment=f"regu{b}lars"),),
                    tenders=(TenderEntry(f"ca{b}sh", 652, 1000, 348),))
    assert render_receipt(dirty, 32) == render_receipt(DATA, 32)
    assert render_kitchen_ticket(dirty, 32) == render_kitchen_ticket(DATA, 32)
    plain = replace(DATA, discounts=(DiscountLine("Staff meal", 100),))  # no code, no segment
    assert row("Staff meal", "-$1.00") in render_receipt(plain, 32).text_lines()


def test_kanji_text_wraps_by_cells_everywhere_and_amounts_in_yuan_end_at_the_edge():
    from dataclasses import replace

    from truck_pos.domain.printable import Charset, cells

    kanji = Charset("cp437", wide=True)
    k20 = "拉面" * 10  # 20 characters, 40 cells
    data = replace(DATA, truck_name="拉面" * 5, stop=k20, note=k20, footer=(k20,), currency_symbol="元",
                   items=(ItemLine("拉面", 2, 700, (k20,)),),
                   discounts=(DiscountLine("优惠", 100, code="SUMMER10", segment=k20),))
    for doc in (render_receipt(data, 32, charset=kanji), render_kitchen_ticket(data, 32, charset=kanji)):
        assert doc.charset == kanji
        for block in doc.blocks:
            if isinstance(block, TextLine):
                assert cells(block.text, kanji) * (2 if block.big else 1) <= 32, block
    lines = render_receipt(data, 32, charset=kanji).text_lines()
    assert lines[:2] == ["拉面拉面拉面拉面", "拉面"]  # 16 cells for the big name, then the rest
    assert "拉面" * 8 in lines  # the stop, the modifier, the segment and the note wrap at 16 characters
    for left, right in [("2 x 拉面", "元7.00"), ("Subtotal", "元7.00"), ("优惠 [SUMMER10]", "-元1.00"), ("Tax", "元0.52"),
                        ("TOTAL", "元6.52"), ("Cash", "元10.00"), ("Change", "元3.48")]:
        gap = 32 - cells(left, kanji) - cells(right, kanji)
        assert left + " " * gap + right in lines, left


def test_big_lines_get_half_the_columns():
    from dataclasses import replace

    lines = render_receipt(replace(DATA, number=123456789, truck_name="Supercalifragilistic"), 32).text_lines()
    assert lines[:3] == ["Supercalifragili", "stic", "Main St"] and "Order #123456789" in lines
    assert status_banner("refunded", 24)[0] == TextLine("*REFUNDED*", "center", True, True)


def test_wide_characters_in_a_one_cell_gap():
    from truck_pos.domain.printable import Charset

    kanji = Charset("cp437", wide=True)
    assert fit("a 拉面拉面拉面拉面拉面", 8, charset=kanji) == ["a 拉面拉", "面拉面拉", "面拉面"]
    assert fit("abcdef 拉面拉面拉面 ab", 8, charset=kanji) == ["abcdef", "拉面拉面", "拉面 ab"]
    assert fit("ab cd 拉面拉面拉面", 7, charset=kanji) == ["ab cd", "拉面拉", "面拉面"]  # one cell left after "ab cd"
    assert fit("拉面", 1, charset=kanji) == ["?", "?"]  # a column too narrow for any wide character


def test_words_after_a_cut_word_are_measured_from_the_new_line():
    import textwrap

    assert fit("abcdefghij xyz a", 8) == textwrap.wrap("abcdefghij xyz a", 8) == ["abcdefgh", "ij xyz a"]


def test_two_columns_fit_any_width_with_a_space_before_the_amount():
    """``left ........ right`` in ``width`` cells, however narrow: no line wider than the paper, and the amount (what
    is left of it) set off from the text by a space; at width 2 or less no amount fits at all."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from truck_pos.domain.receipt import two_columns

    @settings(max_examples=400, deadline=None)
    @given(words=st.lists(st.text("abcdefgh", min_size=1, max_size=9), min_size=1, max_size=5),
           amount=st.sampled_from(["$4.75", "$1,234.50", "-$0.10"]), width=st.integers(1, 24))
    def check(words, amount, width):
        lines = two_columns(" ".join(words), amount, width)
        assert all(len(line) <= width for line in lines), (lines, width)
        last = lines[-1]
        shown = amount[:max(0, width - 2)]
        assert last.endswith(shown)
        if shown:
            assert last[: len(last) - len(shown)].endswith(" ") and last[: len(last) - len(shown)].strip()

    check()
