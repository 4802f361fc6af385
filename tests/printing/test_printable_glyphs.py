"""The sanitizer's charset probes (mutation testing found them unpinned): what the active code page prints as one
cell, what Kanji mode prints as two, and what becomes ``?``. Expected values from the module docstring and the code
pages themselves (cp437 has é at 0x82 and no euro sign; GB18030 has 中 as two bytes and U+20000 only as four)."""

from __future__ import annotations

import pytest

from truck_pos.domain.printable import ASCII_ONLY, Charset, cells, clean, cut_to, is_wide

CP437 = Charset("cp437")
KANJI = Charset("cp437", wide=True)


@pytest.mark.parametrize("text, charset, printed, width", [
    ("café", CP437, "café", 4),  # é is one byte of cp437: printed as is
    ("café", ASCII_ONLY, "cafe", 4),  # not in ASCII: falls back to the base letter
    ("5€", CP437, "5?", 2),  # no euro sign in cp437 and no base letter: a visible ?
    ("ñ", Charset("no-such-codec"), "n", 1),  # an unknown code page prints nothing beyond ASCII
    ("中", KANJI, "中", 2),  # a double-byte GB18030 character in Kanji mode: two cells
    ("中", CP437, "?", 1),  # ... and without Kanji mode: ?
    ("\U00020000", KANJI, "?", 1),  # wide, but four bytes in GB18030: the printer's Kanji font lacks it
])
def test_clean_keeps_what_the_printer_prints_and_replaces_the_rest(text, charset, printed, width):
    assert clean(text, charset) == printed
    assert cells(printed, charset) == width
    assert is_wide(printed[-1], charset) is (width - len(printed) == 1)


def test_cut_to_never_returns_more_than_the_width():
    assert cut_to("abc", 0, ASCII_ONLY) == "" and cut_to("abc", -3, ASCII_ONLY) == "" and cut_to("abc", 2, ASCII_ONLY) == "ab"
    assert cut_to("a中b", 2, KANJI) == "a" and cut_to("a中b", 3, KANJI) == "a中" and cut_to("中", 0, KANJI) == ""
