"""Receipt and kitchen-ticket layout, checked through the real python-escpos Dummy bytes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from escpos_decode import Decoded, decode
from receipt_samples import CLAIM, COLUMNS, FAMILY, PROFILES, SAMPLE, documents, golden_bytes
from truck_pos.devices.printer import capabilities, columns_for, render_bytes
from truck_pos.domain.printable import cells, clean, cut_to
from truck_pos.domain.receipt import (ItemLine, ReceiptData, fit, max_line_width, render_kitchen_ticket, render_receipt,
                                      two_columns)

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "receipts"


def committed(name: str) -> Decoded:
    """The reviewed golden file, decoded by the reference decoder as its printer model reads it."""
    return decode((GOLDEN / f"{name}.bin").read_bytes(), FAMILY[documents()[name][1]])


@pytest.mark.parametrize("name", sorted(golden_bytes()))
def test_receipt_bytes_match_the_committed_golden_file(name):
    expected = (GOLDEN / f"{name}.bin").read_bytes()
    actual = golden_bytes()[name]
    # Compare decoded text first so a layout change reads as text, then the exact bytes.
    family = FAMILY[documents()[name][1]]
    assert decode(actual, family).texts == decode(expected, family).texts
    assert actual == expected, "same text, different ESC/POS commands: review, then scripts/make_golden_receipts.py"


def test_receipts_are_left_as_text_for_a_person_to_read(output_dir):
    folder = output_dir / "receipts"
    folder.mkdir(exist_ok=True)
    for name, data in golden_bytes().items():
        d = decode(data, FAMILY[documents()[name][1]])
        width = max(d.max_columns(), 1)
        text = "\n".join((line.text.center(width) if line.align == 1 else line.text) for line in d.lines)
        (folder / f"{name}.txt").write_text(f"{text}\n[QR] " + "\n[QR] ".join(d.qr_payloads) + "\n", "utf-8")
        (folder / f"{name}.bin").write_bytes(data)
    assert len(list(folder.glob("*.txt"))) == len(golden_bytes())


def test_decoded_80mm_receipt_has_lines_totals_qr_and_cut():
    d = committed("receipt_80mm")
    assert d.texts[0] == "Taco Truck Deluxe" and d.lines[0].double_width and d.lines[0].bold
    assert "Order #42" in d.texts
    assert "  + extra cheese" in d.texts
    assert "First hour 10% off [EARLY10]              -$3.70" in d.texts
    assert "  segment: registered_nearby" in d.texts
    assert "TOTAL                                     $36.13" in d.texts
    assert "Change                                     $3.87" in d.texts
    assert d.qr_payloads == [CLAIM, "https://example.invalid/r/truck-demo"]
    assert d.cuts == 1 and d.feeds >= 6 and d.events[-1] == "cut"
    assert d.max_columns() <= 48 and not d.stray_controls
    assert set(d.commands) <= {"code page", "print mode", "bold", "justify", "QR", "feed lines", "cut"}


def test_58mm_receipt_on_a_pos5890_fits_32_cells_prints_qr_as_images_and_feeds_for_the_tear_bar():
    d = committed("receipt_58mm")
    assert d.max_columns() <= 32 and not d.stray_controls
    assert "TOTAL                     $36.13" in d.texts
    assert "1 x Supercalifragilisticex" in d.texts  # a long word fills the line, then wraps (like textwrap)
    # Its profile has no native QR and no cutter: raster images, and a feed past the tear bar.
    assert d.qr_payloads == [] and d.images == 2 and "QR" not in d.commands
    assert d.image_qr_payloads == [CLAIM, "https://example.invalid/r/truck-demo"]  # and a phone reads them back
    assert d.cuts == 0 and d.feeds >= 6


def test_mobile_kitchen_ticket_is_marked_and_has_no_prices():
    d = committed("kitchen_mobile_80mm")
    assert d.texts[:2] == ["#43", "MOBILE"]
    assert all("$" not in t for t in d.texts)
    assert d.qr_payloads == [] and d.cuts == 1


def test_the_qr_and_cut_settings_override_the_profile():
    doc = render_receipt(SAMPLE, 48)
    image = decode(render_bytes(doc, profile=PROFILES[80], caps=capabilities(PROFILES[80], native_qr="false")))
    assert image.qr_payloads == [] and image.image_qr_payloads == [CLAIM, SAMPLE.registration_url]
    native = decode(render_bytes(doc, profile=PROFILES[58], caps=capabilities(PROFILES[58], native_qr="true",
                                                                             cut="true")), "zjiang")
    assert native.qr_payloads == [CLAIM, SAMPLE.registration_url] and native.cuts == 1
    fed = decode(render_bytes(doc, profile=PROFILES[80], caps=capabilities(PROFILES[80], cut="false")))
    assert fed.cuts == 0 and fed.feeds >= 6


def test_capabilities_follow_python_escpos_profiles():
    assert (capabilities("TM-T20II").native_qr, capabilities("TM-T20II").cut) == (True, True)
    assert (capabilities("POS-5890").native_qr, capabilities("POS-5890").cut) == (False, False)
    assert capabilities("TM-T20II").charset.codec == "cp1252"


def test_columns_come_from_the_profile_capped_by_the_paper():
    assert columns_for("TM-T20II", 80) == 48
    assert columns_for("TM-T88V", 80) == 42
    assert columns_for("TM-T20II", 58) == 32
    assert columns_for("no-such-profile", 58) == 32
    assert columns_for("TM-T20II", 80, override=42) == 42


def test_reprint_is_marked():
    assert render_receipt(SAMPLE, 32, reprint=True).text_lines()[0] == "** REPRINT **"


@pytest.mark.parametrize("status, word", [("voided", "*VOID*"), ("refunded", "*REFUNDED*")])
def test_a_voided_or_refunded_copy_says_so_in_large_print_and_carries_no_claim(status, word):
    d = decode(render_bytes(render_receipt(SAMPLE, 48, reprint=True, status=status), profile=PROFILES[80]))
    assert d.texts[0] == word and d.lines[0].double_width and d.texts[-1] != word  # top, and again at the foot
    assert [t for t in d.texts if t == word] == [word, word]
    assert CLAIM not in d.qr_payloads


# Any Unicode: letters of every script, CJK, emoji, combining marks, controls, bidi and zero-width characters.
names = st.text(max_size=120)
cents = st.integers(min_value=0, max_value=10**9)


@st.composite
def receipts(draw):
    items = tuple(ItemLine(draw(names), draw(st.integers(1, 99)), draw(cents), tuple(draw(st.lists(names, max_size=3))))
                  for _ in range(draw(st.integers(1, 4))))
    return ReceiptData(truck_name=draw(names), stop=draw(names), local_time=SAMPLE.local_time, business_day="2026-06-01",
                       number=draw(st.integers(1, 10**6)), channel=draw(st.sampled_from(["counter", "mobile"])),
                       items=items, subtotal_cents=draw(cents), tax_cents=draw(cents), total_cents=draw(cents),
                       discounts=SAMPLE.discounts, tenders=SAMPLE.tenders, claim=CLAIM, note=draw(names))


@settings(max_examples=150, deadline=None)
@given(receipts(), st.sampled_from([58, 80]))
def test_no_printed_line_exceeds_the_paper_and_no_control_byte_is_printed(data, paper_mm):
    columns, profile = COLUMNS[paper_mm], PROFILES[paper_mm]
    charset = capabilities(profile).charset
    for doc in (render_receipt(data, columns, charset=charset), render_kitchen_ticket(data, columns, charset=charset)):
        assert max_line_width(doc) <= columns
        d = decode(render_bytes(doc, profile=profile), FAMILY[profile])
        assert d.max_columns() <= columns and not d.stray_controls
        assert set(d.commands) <= {"code page", "print mode", "bold", "justify", "QR", "raster image", "feed lines",
                                   "cut", "kanji on", "kanji off"}


@settings(max_examples=500, deadline=None)
@given(st.text(st.sampled_from("abc xyz-"), max_size=80), st.integers(1, 40), st.integers(0, 5))
def test_wrapping_ascii_matches_textwrap(text, width, indent):
    """For one-cell text, wrapping by cells is what the standard library's textwrap does (our independent model)."""
    pad = " " * min(indent, max(0, width - 1))
    text = " ".join(text.split())
    expected = textwrap.wrap(text, width, initial_indent=pad, subsequent_indent=pad, break_long_words=True,
                             break_on_hyphens=False) or [""]
    assert fit(text, width, indent) == [line.rstrip() if line.strip() else line for line in expected]


@settings(max_examples=300, deadline=None)
@given(names, names, st.integers(8, 64))
def test_two_columns_keeps_the_amount_on_the_right(left, right, width):
    cs = capabilities("TM-T20II").charset
    left, right = clean(left, cs), clean(right, cs)
    lines = two_columns(left, right, width, charset=cs)
    assert all(cells(line, cs) <= width for line in lines)
    assert lines[-1].endswith(cut_to(right, width - 2, cs))
    assert all(cells(line, cs) <= width for line in fit(left, width, indent=3, charset=cs))


def test_a_personal_code_on_the_receipt_takes_two_lines_not_six():
    from dataclasses import replace

    from truck_pos.domain.receipt import DiscountLine

    personal = "P1." + "AbCdEfGh" * 24 + "x9Z"  # ~200 characters: what a signed personal code looks like
    data = replace(SAMPLE, discounts=(DiscountLine("Welcome back", 370, code=personal, segment="nearby_devices"),))
    lines = render_receipt(data, 32).text_lines()
    at = lines.index("Welcome back")  # 32 columns: the label, then the shortened code beside the amount
    assert lines[at + 1].startswith("[P1.AbC...hx9Z]") and lines[at + 1].endswith("-$3.70")
    assert lines[at + 2] == "  segment: nearby_devices"
    assert not any("AbCdEfGhAbCd" in ln for ln in lines)  # the whole code is never spelled out
    typed = render_receipt(SAMPLE, 32).text_lines()
    assert any("[EARLY10]" in ln for ln in typed)  # a segment code a person types stays whole
