"""Receipt printer: the ``ReceiptPrinter`` port and its python-escpos adapter (usb, serial, network, file, dummy).

A job is first encoded into python-escpos's in-memory ``Dummy`` printer (fast, no I/O), then sent
to the device in one write, so a printer that fails mid-job raises before or during that single
write and the job is retried whole. Every library or OS error is translated here, once, into
:class:`~truck_pos.errors.DeviceUnavailable` with a sentence for the status bar.
Not thread-safe: one worker (the print queue) owns the printer.

python-escpos is imported on first use, not with this module: its import (the printer capability database,
python-barcode, Pillow) costs the register's start-up about half a second and ~12 MB, and the print worker
pays it once, off the UI thread (:meth:`EscposPrinter.warm`). Its capability database is cached as a pickle
in the user cache directory instead of a new temporary directory per process, so it is parsed once per install.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from truck_pos.domain.printable import Charset, clean, cut_to, is_wide
from truck_pos.domain.receipt import COLUMNS_BY_PAPER_MM, Document, QrBlock, TextLine
from truck_pos.errors import DeviceUnavailable

if TYPE_CHECKING:
    from escpos.escpos import Escpos

log = logging.getLogger(__name__)
PAPER_FULL_CUT = b"\x1dV\x00"  # GS V 0 (python-escpos' escpos.constants.PAPER_FULL_CUT)


def _escpos_cache() -> None:
    """Point python-escpos' capability pickle at a lasting cache dir before its first import (else: a new
    temporary directory, and a full parse of its YAML database, in every process)."""
    if "ESCPOS_CAPABILITIES_PICKLE_DIR" in os.environ:
        return
    try:
        from platformdirs import user_cache_dir

        path = os.path.join(user_cache_dir("truck_pos", appauthor=False), "escpos")
        os.makedirs(path, mode=0o700, exist_ok=True)
        if os.access(path, os.W_OK):
            os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"] = path
    except OSError:  # no writable home (a locked-down service user): python-escpos' own default
        log.debug("no cache directory for the printer profiles", exc_info=True)


def _get_profile(name: str | None) -> Any:
    _escpos_cache()
    from escpos.capabilities import get_profile

    return get_profile(name)


def _make(kind: str, **kwargs: Any) -> Escpos:
    """A python-escpos printer of class ``kind`` (Usb, Serial, Network, File, Dummy), imported now."""
    _escpos_cache()
    from escpos import printer as escpos_printer

    return getattr(escpos_printer, kind)(**kwargs)


class ReceiptPrinter(Protocol):
    """Prints one laid-out document and cuts; raises DeviceUnavailable when it cannot."""

    def print_document(self, doc: Document) -> None: ...

    def close(self) -> None: ...


def _style(p: Escpos, line: TextLine, current: tuple | None) -> tuple:
    style = (line.align, line.bold, line.big)
    if style != current:
        if line.big:
            p.set(align=line.align, bold=line.bold, double_width=True, double_height=True)
        else:
            p.set(align=line.align, bold=line.bold, normal_textsize=True)
    return style


@dataclass(frozen=True)
class Capabilities:
    """What the printer model does, from python-escpos' profile unless the settings override it."""

    native_qr: bool = True
    cut: bool = True
    charset: Charset = field(default_factory=lambda: Charset("cp437"))
    codepage: str = "CP437"  # python-escpos' name of ``charset.codec`` (its ESC t number comes from the profile)


# Code pages we print in, best first: python codec -> python-escpos code page name.
PREFERRED_CODEPAGES = (("cp1252", "CP1252"), ("cp858", "CP858"), ("cp850", "CP850"), ("cp437", "CP437"))
KANJI_ON, KANJI_OFF = b"\x1c&", b"\x1c."  # FS & / FS . : GB18030 double-byte mode on and off


def _flag(setting: Any, profile_says: bool) -> bool:
    text = str(setting).strip().lower()
    if text in ("", "auto"):
        return profile_says
    return text in ("1", "true", "yes", "on")


def capabilities(profile: str | None, *, native_qr: Any = "auto", cut: Any = "auto", cjk: bool = True) -> Capabilities:
    """Native QR or image, cut or feed, and the code page, from the model's profile; settings other than auto win."""
    try:
        prof = _get_profile(profile)
        pages = prof.get_code_pages()
        supports = prof.supports
    except Exception:  # an unknown profile name: plain ESC/POS, code page 437, no promises
        pages, supports = {"CP437": "0"}, (lambda feature: feature == "qrCode" or feature == "paperFullCut")
    codec, name = next(((c, n) for c, n in PREFERRED_CODEPAGES if n in pages), ("cp437", "CP437"))
    return Capabilities(native_qr=_flag(native_qr, supports("qrCode")),
                        cut=_flag(cut, supports("paperFullCut") or supports("paperPartCut")),
                        charset=Charset(codec, wide=cjk), codepage=name)


def _write_text(p: Escpos, text: str, charset: Charset) -> None:
    """Cleaned text as bytes: code-page runs as they are, wide runs inside Kanji mode as GB18030."""
    if text.isascii():
        p._raw(text.encode("ascii"))
        return
    run: list[str] = []
    wide = False
    for ch in text + "\0":
        w = ch != "\0" and is_wide(ch, charset)
        if (w != wide or ch == "\0") and run:
            chunk = "".join(run)
            p._raw(KANJI_ON + chunk.encode("gb18030") + KANJI_OFF if wide else chunk.encode(charset.codec))
            run = []
        wide = w
        run.append(ch)


def encode(doc: Document, p: Escpos, caps: Capabilities, *, cut_first: bool = False) -> None:
    """Write a document to a python-escpos printer: code page, styled text lines, QR codes, then feed and cut.

    Every line goes through the sanitizer again here, at the boundary, and is cut to the paper in cells,
    so no document (whoever built it) can send a control byte or overflow the paper.
    """
    charset = caps.charset
    if cut_first and caps.cut:  # the previous job tore off half-way: start on a clean edge
        p._raw(PAPER_FULL_CUT)
    # One code page for the whole job (ESC t once); python-escpos' own text() then never switches pages behind us.
    p.magic.force_encoding(caps.codepage)
    current: tuple | None = None
    for block in doc.blocks:
        if isinstance(block, TextLine):
            current = _style(p, block, current)
            width = doc.columns // 2 if block.big else doc.columns
            _write_text(p, cut_to(clean(block.text, charset), width, charset), charset)
            p._raw(b"\n")
        elif isinstance(block, QrBlock):
            p.set(align="center", normal_textsize=True, bold=False)
            current = None
            # Native GS ( k is fast; models without it (per their profile) get the raster image instead.
            p.qr(block.payload, size=block.size, native=caps.native_qr)
    p.set(align="left", bold=False, normal_textsize=True)
    p.print_and_feed(6)
    if caps.cut:
        p._raw(PAPER_FULL_CUT)


def render_bytes(doc: Document, *, profile: str | None = None, caps: Capabilities | None = None,
                 cut_first: bool = False) -> bytes:
    """The exact ESC/POS bytes for a document (what goes down the wire)."""
    dummy = _make("Dummy", profile=profile)
    encode(doc, dummy, caps or capabilities(profile), cut_first=cut_first)
    return dummy.output


def columns_for(profile: str | None, paper_mm: int, override: int = 0) -> int:
    """Font-A columns: the override, else the profile's, capped at what the paper width holds."""
    if override:
        return override
    cap = COLUMNS_BY_PAPER_MM.get(paper_mm, 32)
    try:
        return min(_get_profile(profile).get_columns("a"), cap)
    except Exception:  # unknown profile or font: the paper width decides
        return cap


def human_message(exc: BaseException) -> str:
    """A sentence for staff about why the printer cannot print."""
    text = str(exc).lower()
    code = getattr(exc, "errno", None) or getattr(exc, "backend_error_code", None)
    if code in (errno.EACCES, errno.EPERM) or "access denied" in text or "permission" in text:
        return "Printer access denied - install the udev rule (firmware_config/udev) and replug"
    if code == errno.EBUSY or "busy" in text:
        return "Printer busy - another program is using it"
    if "timed out" in text or "timeout" in text or code == errno.ETIMEDOUT:
        return "Printer not responding - check paper, lid and power"
    _escpos_cache()
    from escpos.exceptions import DeviceNotFoundError

    if isinstance(exc, DeviceNotFoundError) or "not found" in text or code in (errno.ENOENT, errno.ENODEV):
        return "Printer not found - is it plugged in and switched on?"
    if "requires" in text and "library" in text:
        return f"Printer support missing: {exc}"
    return f"Printer error - check paper and cable ({exc})"


def _translatable() -> tuple[type[BaseException], ...]:
    _escpos_cache()
    from escpos.exceptions import Error as EscposError

    kinds: list[type[BaseException]] = [EscposError, OSError, RuntimeError, ValueError]
    try:
        import serial

        kinds.append(serial.SerialException)
    except ImportError:  # pragma: no cover - pyserial is a dependency
        pass
    try:
        import usb.core

        kinds.append(usb.core.USBError)
    except ImportError:  # without pyusb the Usb printer raises RuntimeError, handled above
        pass
    return tuple(kinds)


class EscposPrinter:
    """A :class:`ReceiptPrinter` over any python-escpos printer made by ``connect``.

    ``caps`` and ``columns`` may be given as values or as zero-argument functions; functions run once, on
    first use (``warm()`` from the print worker), so building the printer imports nothing from python-escpos.
    """

    def __init__(self, connect: Callable[[], Escpos], *, profile: str | None = None,
                 caps: Capabilities | Callable[[], Capabilities] | None = None,
                 columns: int | Callable[[], int] = 48, describe: str = "printer"):
        self._connect = connect
        self.profile = profile
        self._caps_source = caps if caps is not None else (lambda: capabilities(profile))
        self._columns_source = columns
        self._resolved: tuple[Capabilities, int, tuple[type[BaseException], ...]] | None = None
        self._resolving = threading.Lock()
        self.describe = describe
        self._device: Escpos | None = None
        self.last_bytes = b""

    def warm(self) -> None:
        """Load python-escpos and the model's profile now (the print worker calls this when idle)."""
        if self._resolved is not None:
            return
        with self._resolving:
            if self._resolved is None:
                src, cols = self._caps_source, self._columns_source
                caps = src() if callable(src) else src
                columns = cols() if callable(cols) else cols
                self._resolved = (caps, columns, _translatable())

    def _ready(self) -> tuple[Capabilities, int, tuple[type[BaseException], ...]]:
        if self._resolved is None:
            self.warm()
        assert self._resolved is not None
        return self._resolved

    @property
    def caps(self) -> Capabilities:
        return self._ready()[0]

    @property
    def charset(self) -> Charset:
        return self._ready()[0].charset

    @property
    def columns(self) -> int:
        return self._ready()[1]

    @property
    def _errors(self) -> tuple[type[BaseException], ...]:
        return self._ready()[2]

    def print_document(self, doc: Document, *, cut_first: bool = False) -> None:
        """Encode then send in one write; raises DeviceUnavailable (and reconnects next time) on failure."""
        data = render_bytes(doc, profile=self.profile, caps=self.caps, cut_first=cut_first)
        sending = False
        try:
            device = self._device or self._open()
            sending = True
            device._raw(data)
            flush = getattr(device, "flush", None)
            if callable(flush):
                flush()
        except self._errors as exc:
            self._drop()
            log.warning("%s: %s", self.describe, exc)
            error = DeviceUnavailable(human_message(exc))
            error.partial = sending  # type: ignore[attr-defined]  # bytes may be on paper: a torn copy
            raise error from exc
        self.last_bytes = data

    def probe(self) -> bool:
        """Cheap check that the printer is there: (re)open the device; never raises."""
        if self._device is not None:
            return True
        try:
            self._open()
            return True
        except self._errors as exc:
            self._drop()
            log.debug("%s not back yet: %s", self.describe, exc)
            return False

    def _open(self) -> Escpos:
        device = self._connect()
        device.open()
        self._device = device
        return device

    def _drop(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            try:
                device.close()
            except Exception:  # closing a dead device may fail again; we reconnect anyway
                log.debug("closing %s failed", self.describe, exc_info=True)

    def close(self) -> None:
        """Release the device (the next job reconnects)."""
        self._drop()


NO_PRINTER = "No printer configured - run: truck-pos-admin printer detect"


class NoPrinter:
    """``[printer] kind = none``: nothing to print on; jobs wait in the queue until a printer is set up."""

    configured = False
    describe = "no printer"
    columns = 48
    charset = Charset("cp437")

    def print_document(self, doc: Document, *, cut_first: bool = False) -> None:
        raise DeviceUnavailable(NO_PRINTER)

    def probe(self) -> bool:
        return False

    def close(self) -> None:
        """Nothing to release."""


def connector(settings: Any) -> tuple[Callable[[], Escpos], str]:
    """A factory for the python-escpos printer named by ``settings.printer`` (kind, address, profile)."""
    profile = settings.profile or None
    kind = settings.kind
    if kind == "usb":
        vid, pid = int(str(settings.usb_vendor), 0), int(str(settings.usb_product), 0)
        return (lambda: _make("Usb", idVendor=vid, idProduct=pid, timeout=5000, profile=profile),
                f"USB printer {vid:04x}:{pid:04x}")
    if kind == "serial":
        return (lambda: _make("Serial", devfile=settings.serial_port, baudrate=settings.serial_baudrate, timeout=5,
                              profile=profile)), f"serial printer {settings.serial_port}"
    if kind == "network":
        return (lambda: _make("Network", host=settings.host, port=settings.port, timeout=3,
                              profile=profile)), f"network printer {settings.host}:{settings.port}"
    if kind == "file":
        return (lambda: _make("File", devfile=settings.file_path, profile=profile)), f"file printer {settings.file_path}"
    return (lambda: _make("Dummy", profile=profile)), "dummy printer (no paper)"


def build_printer(settings: Any) -> EscposPrinter | NoPrinter:
    """The configured printer from ``settings.printer`` (see config.PrinterSettings); NoPrinter for kind = none."""
    if settings.kind == "none":
        return NoPrinter()
    connect, describe = connector(settings)
    profile = settings.profile or None
    return EscposPrinter(connect, profile=profile, describe=describe,
                         columns=lambda: columns_for(profile, settings.paper_mm, settings.columns),
                         caps=lambda: capabilities(profile, native_qr=settings.native_qr, cut=settings.cut,
                                                   cjk=settings.cjk))
