"""Decode ESC/POS bytes (as python-escpos writes them) back into lines, styles, QR payloads and cuts.

Only the commands truck_pos emits are understood; anything else fails loudly so a golden-file
difference reads as text, not hex.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ESC, GS = 0x1B, 0x1D
# ESC commands followed by one parameter byte.
ESC_ONE_ARG = set(b"!aEtd-M{GrJ")
GS_ONE_ARG = set(b"!BbV|")
CODEPAGES = {0: "cp437", 2: "cp850", 16: "cp1252"}


@dataclass
class Line:
    text: str
    align: int = 0
    bold: bool = False
    double_width: bool = False

    @property
    def columns(self) -> int:
        return len(self.text) * (2 if self.double_width else 1)


@dataclass
class Decoded:
    lines: list[Line] = field(default_factory=list)
    qr_payloads: list[str] = field(default_factory=list)
    images: int = 0
    cuts: int = 0
    feeds: int = 0

    @property
    def texts(self) -> list[str]:
        return [line.text for line in self.lines]

    def max_columns(self) -> int:
        return max((line.columns for line in self.lines), default=0)


def decode(data: bytes) -> Decoded:
    out = Decoded()
    text = bytearray()
    align = bold = mode = 0
    codepage = "cp437"
    i = 0

    def flush() -> None:
        out.lines.append(Line(text.decode(codepage, errors="replace"), align, bool(bold), bool(mode & 0x20)))
        text.clear()

    while i < len(data):
        b = data[i]
        if b == ESC:
            cmd, arg = data[i + 1], data[i + 2]
            if cmd not in ESC_ONE_ARG:
                raise ValueError(f"unknown ESC {chr(cmd)!r} at {i}")
            if cmd == ord("a"):
                align = arg
            elif cmd == ord("E"):
                bold = arg
            elif cmd == ord("!"):
                mode = arg
            elif cmd == ord("t"):
                codepage = CODEPAGES.get(arg, "latin-1")
            elif cmd == ord("d"):
                out.feeds += arg
            i += 3
        elif b == GS and data[i + 1 : i + 3] == b"(k":
            size = data[i + 3] | data[i + 4] << 8
            body = data[i + 5 : i + 5 + size]
            if body[:3] == b"1P0":  # fn 80: store the QR symbol data
                out.qr_payloads.append(body[3:].decode("utf-8"))
            i += 5 + size
        elif b == GS and data[i + 1 : i + 3] == b"v0":  # raster image: m xL xH yL yH data
            width_bytes = data[i + 4] | data[i + 5] << 8
            height = data[i + 6] | data[i + 7] << 8
            out.images += 1
            i += 8 + width_bytes * height
        elif b == GS:
            cmd = data[i + 1]
            if cmd not in GS_ONE_ARG:
                raise ValueError(f"unknown GS {chr(cmd)!r} at {i}")
            if cmd == ord("V"):
                out.cuts += 1
                i += 4 if data[i + 2] in (65, 66) else 3
            else:
                i += 3
        elif b == 0x0A:
            flush()
            i += 1
        else:
            text.append(b)
            i += 1
    if text:
        flush()
    return out
