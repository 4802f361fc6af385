"""Text for the receipt printer: the one sanitizer for customer- and owner-supplied text, and widths in cells. Pure.

A thermal printer prints one code page at a time (one cell per character) and, on printers with a
Chinese font, double-byte GB18030 characters in Kanji mode (two cells each). Anything else it would
print as garbage or act on as a command, so :func:`clean` keeps only what the active :class:`Charset`
prints: control and format characters are removed (line breaks and tabs become spaces), accents that
cannot be printed fall back to the base letter, and every other character becomes a visible ``?``.
Layout measures with :func:`cells`, never ``len``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

REPLACEMENT = "?"
_SPACES = frozenset("\t\n\r\v\f\x85\u2028\u2029")


@dataclass(frozen=True)
class Charset:
    """What the printer prints: ``codec`` is the active single-byte code page; ``wide``: Kanji mode (GB18030)."""

    codec: str = "cp437"
    wide: bool = False


ASCII_ONLY = Charset("ascii", wide=False)


@lru_cache(maxsize=65536)
def _glyph(ch: str, codec: str, wide: bool) -> tuple[str, int]:
    """(printed text, cells) for one character; ``("", 0)`` when it is removed."""
    if ch in _SPACES:
        return " ", 1
    category = unicodedata.category(ch)
    if category[0] == "C" or category in ("Zl", "Zp"):  # controls, format (bidi, zero-width), surrogates, unassigned
        return "", 0
    if category[0] == "Z":
        return " ", 1
    if category in ("Mn", "Me"):  # a combining mark NFC could not merge: the printer has no way to overstrike
        return "", 0
    if ch.isascii() or _single_byte(ch, codec):
        return ch, 1
    if wide and unicodedata.east_asian_width(ch) in ("W", "F") and _double_byte(ch):
        return ch, 2
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    if base and base != ch and all(_glyph(c, codec, wide) == (c, 1) for c in base):
        return base, len(base)  # e.g. a letter with an accent the code page lacks, a ligature, a fullwidth digit
    return REPLACEMENT, 1


def _single_byte(ch: str, codec: str) -> bool:
    try:
        return len(ch.encode(codec)) == 1
    except (UnicodeEncodeError, LookupError):
        return False


def _double_byte(ch: str) -> bool:
    try:
        return len(ch.encode("gb18030")) == 2
    except UnicodeEncodeError:
        return False


def clean(text: str, charset: Charset) -> str:
    """``text`` as the printer can print it: no control characters, nothing unprintable (replaced by ``?``)."""
    if text.isascii() and text.isprintable():
        return text
    text = unicodedata.normalize("NFC", text)
    return "".join(_glyph(ch, charset.codec, charset.wide)[0] for ch in text)


def cells(text: str, charset: Charset) -> int:
    """How many printed cells ``text`` (already cleaned) takes in normal size."""
    if text.isascii():
        return len(text)
    return sum(_glyph(ch, charset.codec, charset.wide)[1] for ch in text)


def is_wide(ch: str, charset: Charset) -> bool:
    """True for a character printed in Kanji mode (two cells); the printer adapter switches modes on it."""
    return _glyph(ch, charset.codec, charset.wide)[1] == 2


def cut_to(text: str, width: int, charset: Charset) -> str:
    """The longest prefix of cleaned ``text`` that fits in ``width`` cells."""
    if text.isascii():
        return text[:max(0, width)]
    used, out = 0, []
    for ch in text:
        w = _glyph(ch, charset.codec, charset.wide)[1]
        if used + w > width:
            break
        used += w
        out.append(ch)
    return "".join(out)
