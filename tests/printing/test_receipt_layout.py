"""Receipt and kitchen-ticket layout, checked through the real python-escpos Dummy bytes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from escpos_decode import decode
from receipt_samples import CLAIM, COLUMNS, PROFILES, SAMPLE, golden_bytes
from truck_pos.devices.printer import columns_for, render_bytes
from truck_pos.domain.receipt import ItemLine, ReceiptData, fit, max_line_width, render_kitchen_ticket, render_receipt, two_columns

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "receipts"


@pytest.mark.parametrize("name", sorted(golden_bytes()))
def test_receipt_bytes_match_the_golden_file(name):
    expected = (GOLDEN / f"{name}.bin").read_bytes()
    actual = golden_bytes()[name]
    # Compare decoded text first so a layout change reads as text, then the exact bytes.
    assert decode(actual).texts == decode(expected).texts
    assert actual == expected, "same text, different ESC/POS commands: run scripts/make_golden_receipts.py and review"


def test_receipts_are_left_as_text_for_a_person_to_read(output_dir):
    folder = output_dir / "receipts"
    folder.mkdir(exist_ok=True)
    for name, data in golden_bytes().items():
        d = decode(data)
        width = max(d.max_columns(), 1)
        text = "\n".join((line.text.center(width) if line.align == 1 else line.text) for line in d.lines)
        (folder / f"{name}.txt").write_text(f"{text}\n[QR] " + "\n[QR] ".join(d.qr_payloads) + "\n", "utf-8")
        (folder / f"{name}.bin").write_bytes(data)
    assert len(list(folder.glob("*.txt"))) == len(golden_bytes())


def test_decoded_80mm_receipt_has_lines_totals_qr_and_cut():
    d = decode(golden_bytes()["receipt_80mm"])
    assert d.texts[0] == "Taco Truck Deluxe" and d.lines[0].double_width and d.lines[0].bold
    assert "Order #42" in d.texts
    assert "  + extra cheese" in d.texts
    assert "First hour 10% off [EARLY10]              -$3.70" in d.texts
    assert "  segment: registered_nearby" in d.texts
    assert "TOTAL                                     $36.13" in d.texts
    assert "Change                                     $3.87" in d.texts
    assert d.qr_payloads == [CLAIM, "https://example.invalid/r/truck-demo"]
    assert d.cuts == 1 and d.feeds >= 6
    assert d.max_columns() <= 48


def test_58mm_receipt_fits_32_columns_and_feeds_for_the_tear_bar():
    d = decode(golden_bytes()["receipt_58mm"])
    assert d.max_columns() <= 32
    assert "TOTAL                     $36.13" in d.texts
    assert d.qr_payloads[0] == CLAIM
    assert d.cuts == 0 and d.feeds >= 6  # POS-5890 has no cutter: feed past the tear bar instead


def test_mobile_kitchen_ticket_is_marked_and_has_no_prices():
    d = decode(golden_bytes()["kitchen_mobile_80mm"])
    assert d.texts[:2] == ["#43", "MOBILE"]
    assert all("$" not in t for t in d.texts)
    assert d.qr_payloads == [] and d.cuts == 1


def test_image_qr_fallback_sends_a_raster_not_gs_k():
    data = render_bytes(render_receipt(SAMPLE, 48), profile=PROFILES[80], native_qr=False)
    d = decode(data)
    assert d.qr_payloads == [] and d.images == 2
    assert b"\x1d(k" not in data


def test_columns_come_from_the_profile_capped_by_the_paper():
    assert columns_for("TM-T20II", 80) == 48
    assert columns_for("TM-T88V", 80) == 42
    assert columns_for("TM-T20II", 58) == 32
    assert columns_for("no-such-profile", 58) == 32
    assert columns_for("TM-T20II", 80, override=42) == 42


def test_reprint_is_marked():
    assert render_receipt(SAMPLE, 32, reprint=True).text_lines()[0] == "** REPRINT **"


names = st.text(st.characters(min_codepoint=32, max_codepoint=255, blacklist_categories=("Cc",)), max_size=120)
cents = st.integers(min_value=0, max_value=10**9)


@st.composite
def receipts(draw):
    items = tuple(ItemLine(draw(names), draw(st.integers(1, 99)), draw(cents), tuple(draw(st.lists(names, max_size=3))))
                  for _ in range(draw(st.integers(1, 4))))
    return ReceiptData(truck_name=draw(names), stop=draw(names), local_time=SAMPLE.local_time, business_day="2026-06-01",
                       number=draw(st.integers(1, 10**6)), channel=draw(st.sampled_from(["counter", "mobile"])),
                       items=items, subtotal_cents=draw(cents), tax_cents=draw(cents), total_cents=draw(cents),
                       discounts=SAMPLE.discounts, tenders=SAMPLE.tenders, claim=CLAIM, note=draw(names))


@settings(max_examples=60, deadline=None)
@given(receipts(), st.sampled_from([58, 80]))
def test_no_printed_line_exceeds_the_paper_width(data, paper_mm):
    columns = COLUMNS[paper_mm]
    for doc in (render_receipt(data, columns), render_kitchen_ticket(data, columns)):
        assert max_line_width(doc) <= columns
        assert decode(render_bytes(doc, profile=PROFILES[paper_mm])).max_columns() <= columns


@settings(deadline=None)
@given(names, names, st.integers(8, 64))
def test_two_columns_keeps_the_amount_on_the_right(left, right, width):
    lines = two_columns(left, right, width)
    assert all(len(line) <= width for line in lines)
    assert lines[-1].endswith(right[: max(0, width - 2)])
    assert all(len(line) <= width for line in fit(left, width, indent=3))
