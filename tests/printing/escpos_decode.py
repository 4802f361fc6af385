"""A reference ESC/POS decoder: bytes -> printed lines, styles, QR payloads, images, cuts and every command seen.

Written from the ESC/POS command reference (Epson's, and the Zjiang POS-58 manual for its code page
numbers), not from python-escpos or truck_pos: it models what a printer does with the bytes. A printed
line's width is counted in cells: one per single-byte character, two per double-byte character in Kanji
mode (FS &), times the character width set by ESC ! or GS !. Commands a receipt must never contain (a
drawer kick, real-time requests, a reset in the middle) are decoded and listed in ``commands`` so a test
can refuse them; a byte sequence the decoder does not know raises, so nothing slips through unread.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ESC, GS, FS, DLE, LF, CR = 0x1B, 0x1D, 0x1C, 0x10, 0x0A, 0x0D
# ESC t n: code page numbers -> Python codecs, per printer family (from the vendors' manuals).
CODEPAGES = {
    "epson": {0: "cp437", 2: "cp850", 3: "cp860", 4: "cp863", 5: "cp865", 16: "cp1252", 17: "cp866", 18: "cp852",
              19: "cp858"},
    "zjiang": {2: "cp850", 52: "cp437", 53: "cp858", 54: "cp852", 59: "cp866", 71: "cp1252"},
}
ESC_ONE_ARG = {ord(c): name for c, name in {"!": "print mode", "a": "justify", "E": "bold", "t": "code page",
                                             "d": "feed lines", "-": "underline", "M": "font", "{": "upside down",
                                             "G": "double strike", "r": "color", "J": "feed dots", "R": "charset",
                                             "3": "line spacing", "c": "panel", "V": "rotate"}.items()}
ESC_NO_ARG = {ord("@"): "initialize", ord("i"): "partial cut (ESC i)", ord("m"): "partial cut (ESC m)",
              ord("2"): "default line spacing", ord("<"): "return home"}
GS_ONE_ARG = {ord(c): name for c, name in {"!": "character size", "B": "reverse", "b": "smoothing", "|": "density",
                                            "H": "HRI position", "h": "barcode height", "w": "barcode width",
                                            "f": "HRI font", "a": "auto status back", "r": "status request",
                                            "I": "printer id"}.items()}
FS_NO_ARG = {ord("&"): "kanji on", ord("."): "kanji off"}
FS_ONE_ARG = {ord("!"): "kanji print mode", ord("-"): "kanji underline", ord("W"): "kanji quadruple"}


@dataclass
class Line:
    """One printed line: text as printed and how wide it is on the paper."""

    text: str
    align: int = 0
    bold: bool = False
    width_mult: int = 1
    base_cells: int = 0

    @property
    def double_width(self) -> bool:
        return self.width_mult > 1

    @property
    def columns(self) -> int:
        """Printed cells (font A character widths) the line takes on the paper."""
        return self.base_cells * self.width_mult


@dataclass
class Decoded:
    """Everything the printer did with a job's bytes."""

    lines: list[Line] = field(default_factory=list)
    qr_payloads: list[str] = field(default_factory=list)
    images: int = 0
    cuts: int = 0
    feeds: int = 0
    commands: list[str] = field(default_factory=list)  # every command, in order (names as above)
    stray_controls: list[int] = field(default_factory=list)  # control bytes printed as text: never expected
    image_qr_payloads: list[str] = field(default_factory=list)  # QR codes read back from raster images (zbar)
    events: list[str] = field(default_factory=list)  # "text" / "cut" / "image" / "qr", in order

    @property
    def texts(self) -> list[str]:
        return [line.text for line in self.lines]

    def max_columns(self) -> int:
        return max((line.columns for line in self.lines), default=0)


def read_qr(raster: bytes, width_bytes: int, height: int) -> list[str]:
    """The QR codes a phone would read off a printed raster image (1 bit per dot, MSB first, 1 = black)."""
    from PIL import Image, ImageOps
    from pyzbar.pyzbar import ZBarSymbol
    from pyzbar.pyzbar import decode as zbar

    image = Image.frombytes("1", (width_bytes * 8, height), bytes(raster))
    image = ImageOps.expand(ImageOps.invert(image.convert("L")), border=16, fill=255)  # paper is white
    return [symbol.data.decode("utf-8") for symbol in zbar(image, symbols=[ZBarSymbol.QRCODE])]


def _u16(data: bytes, i: int) -> int:
    return data[i] | data[i + 1] << 8


def decode(data: bytes, family: str = "epson") -> Decoded:
    """Decode one job's bytes as a printer of ``family`` (epson | zjiang) would print them."""
    out = Decoded()
    pages = CODEPAGES[family]
    chars: list[str] = []
    cells = 0
    align = bold = 0
    mult = 1
    codec = pages.get(0, "cp437")
    kanji = False
    i = 0

    def flush() -> None:
        nonlocal cells
        out.lines.append(Line("".join(chars), align, bool(bold), mult, cells))
        out.events.append("text")
        chars.clear()
        cells = 0

    while i < len(data):
        b = data[i]
        if b == ESC:
            cmd = data[i + 1]
            if cmd in ESC_NO_ARG:
                out.commands.append(ESC_NO_ARG[cmd])
                if cmd in (ord("i"), ord("m")):
                    out.cuts += 1
                    out.events.append("cut")
                if cmd == ord("@"):
                    align = bold = 0
                    mult, codec, kanji = 1, pages.get(0, "cp437"), False
                i += 2
            elif cmd == ord("p"):  # ESC p m t1 t2: pulse the cash drawer
                out.commands.append("drawer kick")
                i += 5
            elif cmd in ESC_ONE_ARG:
                arg = data[i + 2]
                out.commands.append(ESC_ONE_ARG[cmd])
                if cmd == ord("a"):
                    align = arg
                elif cmd == ord("E"):
                    bold = arg & 1
                elif cmd == ord("!"):
                    mult = 2 if arg & 0x20 else 1
                elif cmd == ord("t"):
                    if arg not in pages:
                        raise ValueError(f"code page {arg} unknown to a {family} printer (at {i})")
                    codec = pages[arg]
                elif cmd == ord("d"):
                    out.feeds += arg
                i += 3
            else:
                raise ValueError(f"unknown ESC {chr(cmd)!r} at {i}")
        elif b == GS:
            cmd = data[i + 1]
            if data[i + 1:i + 3] == b"(k":
                size = _u16(data, i + 3)
                body = data[i + 5:i + 5 + size]
                out.commands.append("QR")
                if body[:3] == b"1P0":  # function 180: store the symbol data
                    out.qr_payloads.append(body[3:].decode("utf-8"))
                elif body[:2] == b"1Q":
                    out.events.append("qr")
                i += 5 + size
            elif data[i + 1:i + 3] == b"v0":  # raster image: m xL xH yL yH d1...dk
                width_bytes, height = _u16(data, i + 4), _u16(data, i + 6)
                out.images += 1
                out.commands.append("raster image")
                out.events.append("image")
                out.image_qr_payloads += read_qr(data[i + 8:i + 8 + width_bytes * height], width_bytes, height)
                i += 8 + width_bytes * height
            elif cmd == ord("V"):  # cut: m (0, 1, 48, 49) or m (65, 66) n
                out.cuts += 1
                out.commands.append("cut")
                out.events.append("cut")
                i += 4 if data[i + 2] in (65, 66) else 3
            elif cmd in GS_ONE_ARG:
                out.commands.append(GS_ONE_ARG[cmd])
                if cmd == ord("!"):
                    mult = (data[i + 2] >> 4) + 1
                i += 3
            elif cmd in (ord("L"), ord("W")):  # left margin, print area width: nL nH
                out.commands.append("margin" if cmd == ord("L") else "print width")
                i += 4
            else:
                raise ValueError(f"unknown GS {chr(cmd)!r} at {i}")
        elif b == FS:
            cmd = data[i + 1]
            if cmd in FS_NO_ARG:
                kanji = cmd == ord("&")
                out.commands.append(FS_NO_ARG[cmd])
                i += 2
            elif cmd in FS_ONE_ARG:
                out.commands.append(FS_ONE_ARG[cmd])
                i += 3
            else:
                raise ValueError(f"unknown FS {chr(cmd)!r} at {i}")
        elif b == DLE:
            cmd = data[i + 1]
            if cmd == 0x14:  # DLE DC4 fn m t: real-time request (drawer pulse, power off, buffer clear)
                out.commands.append("real-time request (DLE DC4)")
                i += 5
            elif cmd in (0x04, 0x05):  # DLE EOT n / DLE ENQ n
                out.commands.append("real-time status" if cmd == 0x04 else "real-time recover")
                i += 3
            else:
                out.stray_controls.append(b)
                i += 1
        elif b == LF:
            flush()
            i += 1
        elif b < 0x20 or b == 0x7F:
            out.stray_controls.append(b)
            i += 1
        elif kanji and b >= 0x81:
            chars.append(data[i:i + 2].decode("gb18030", errors="replace"))
            cells += 2
            i += 2
        else:
            chars.append(bytes([b]).decode(codec, errors="replace"))
            cells += 1
            i += 1
    if chars:
        flush()
    return out
