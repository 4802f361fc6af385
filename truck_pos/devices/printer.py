"""Receipt printer: the ``ReceiptPrinter`` port and its python-escpos adapter (usb, serial, network, file, dummy).

A job is first encoded into python-escpos's in-memory ``Dummy`` printer (fast, no I/O), then sent
to the device in one write, so a printer that fails mid-job raises before or during that single
write and the job is retried whole. Every library or OS error is translated here, once, into
:class:`~truck_pos.errors.DeviceUnavailable` with a sentence for the status bar.
Not thread-safe: one worker (the print queue) owns the printer.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from typing import Any, Protocol

from escpos.escpos import Escpos
from escpos.exceptions import DeviceNotFoundError
from escpos.exceptions import Error as EscposError
from escpos.printer import Dummy

from truck_pos.domain.receipt import COLUMNS_BY_PAPER_MM, Document, QrBlock, TextLine
from truck_pos.errors import DeviceUnavailable

log = logging.getLogger(__name__)


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


def encode(doc: Document, p: Escpos, *, native_qr: bool) -> None:
    """Write a document to a python-escpos printer: styled text lines, QR codes, then feed and cut."""
    current: tuple | None = None
    for block in doc.blocks:
        if isinstance(block, TextLine):
            current = _style(p, block, current)
            p.textln(block.text)
        elif isinstance(block, QrBlock):
            p.set(align="center", normal_textsize=True, bold=False)
            current = None
            # Native GS ( k is fast; clones that print it as text need the raster image instead.
            p.qr(block.payload, size=block.size, native=native_qr)
    p.set(align="left", bold=False, normal_textsize=True)
    p.cut()


def render_bytes(doc: Document, *, profile: str | None = None, native_qr: bool = True) -> bytes:
    """The exact ESC/POS bytes for a document (what goes down the wire)."""
    dummy = Dummy(profile=profile)
    encode(doc, dummy, native_qr=native_qr)
    return dummy.output


def columns_for(profile: str | None, paper_mm: int, override: int = 0) -> int:
    """Font-A columns: the override, else the profile's, capped at what the paper width holds."""
    if override:
        return override
    cap = COLUMNS_BY_PAPER_MM.get(paper_mm, 32)
    try:
        from escpos.capabilities import get_profile

        return min(get_profile(profile).get_columns("a"), cap)
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
    if isinstance(exc, DeviceNotFoundError) or "not found" in text or code in (errno.ENOENT, errno.ENODEV):
        return "Printer not found - is it plugged in and switched on?"
    if "requires" in text and "library" in text:
        return f"Printer support missing: {exc}"
    return f"Printer error - check paper and cable ({exc})"


def _translatable() -> tuple[type[BaseException], ...]:
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
    """A :class:`ReceiptPrinter` over any python-escpos printer made by ``connect``."""

    def __init__(self, connect: Callable[[], Escpos], *, profile: str | None = None, native_qr: bool = True,
                 columns: int = 48, describe: str = "printer"):
        self._connect = connect
        self.profile = profile
        self.native_qr = native_qr
        self.columns = columns
        self.describe = describe
        self._device: Escpos | None = None
        self._errors = _translatable()
        self.last_bytes = b""

    def print_document(self, doc: Document) -> None:
        """Encode then send in one write; raises DeviceUnavailable (and reconnects next time) on failure."""
        data = render_bytes(doc, profile=self.profile, native_qr=self.native_qr)
        try:
            device = self._device or self._open()
            device._raw(data)
            flush = getattr(device, "flush", None)
            if callable(flush):
                flush()
        except self._errors as exc:
            self._drop()
            log.warning("%s: %s", self.describe, exc)
            raise DeviceUnavailable(human_message(exc)) from exc
        self.last_bytes = data

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


def connector(settings: Any) -> tuple[Callable[[], Escpos], str]:
    """A factory for the python-escpos printer named by ``settings.printer`` (kind, address, profile)."""
    from escpos import printer as escpos_printer

    profile = settings.profile or None
    kind = settings.kind
    if kind == "usb":
        vid, pid = int(str(settings.usb_vendor), 0), int(str(settings.usb_product), 0)
        return (lambda: escpos_printer.Usb(vid, pid, timeout=5000, profile=profile)), f"USB printer {vid:04x}:{pid:04x}"
    if kind == "serial":
        return (lambda: escpos_printer.Serial(devfile=settings.serial_port, baudrate=settings.serial_baudrate,
                                              timeout=5, profile=profile)), f"serial printer {settings.serial_port}"
    if kind == "network":
        return (lambda: escpos_printer.Network(host=settings.host, port=settings.port, timeout=10,
                                               profile=profile)), f"network printer {settings.host}:{settings.port}"
    if kind == "file":
        return (lambda: escpos_printer.File(devfile=settings.file_path, profile=profile)), f"file printer {settings.file_path}"
    return (lambda: Dummy(profile=profile)), "dummy printer (no paper)"


def build_printer(settings: Any) -> EscposPrinter:
    """The configured printer from ``settings.printer`` (see config.PrinterSettings)."""
    connect, describe = connector(settings)
    columns = columns_for(settings.profile or None, settings.paper_mm, getattr(settings, "columns", 0))
    return EscposPrinter(connect, profile=settings.profile or None, native_qr=settings.native_qr,
                         columns=columns, describe=describe)
