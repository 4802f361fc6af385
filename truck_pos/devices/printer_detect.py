"""Finding the receipt printer: USB printers (pyusb) and serial ports (pyserial), as candidates for ``[printer]``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

USB_PRINTER_CLASS = 7
# USB vendors of receipt printers (and the chips their clones use) -> a python-escpos profile to start from.
RECEIPT_VENDORS = {0x04B8: ("Epson", "TM-T20II"), 0x0416: ("Winbond (POS-58/80 clones)", "POS-5890"),
                   0x0483: ("STMicro (POS-58 clones)", "POS-5890"), 0x0FE6: ("ICS (POS-80 clones)", "default"),
                   0x1FC9: ("NXP (thermal clones)", "default"), 0x28E9: ("GD32 (thermal clones)", "POS-5890"),
                   0x154F: ("SNBC", "default"), 0x0DD4: ("Custom", "default"), 0x0519: ("Star", "default"),
                   0x1504: ("Bixolon", "default")}


@dataclass(frozen=True)
class Candidate:
    """One device that may be the receipt printer, with the ``[printer]`` keys that select it."""

    kind: str  # usb | serial
    description: str
    settings: dict[str, str]


def _is_printer(dev: Any) -> bool:
    if getattr(dev, "bDeviceClass", 0) == USB_PRINTER_CLASS:
        return True
    try:
        return any(intf.bInterfaceClass == USB_PRINTER_CLASS for cfg in dev for intf in cfg)
    except Exception:  # no permission to read the configuration: fall back to the vendor list
        return False


def usb_candidates(find: Callable[..., Iterable[Any]] | None = None) -> tuple[list[Candidate], str]:
    """USB printers (printer class, or a known receipt-printer vendor); and a note when USB cannot be read."""
    if find is None:
        try:
            import usb.core

            find = usb.core.find
        except ImportError:
            return [], "pyusb is not installed"
    try:
        devices = list(find(find_all=True))
    except Exception as exc:  # usb.core.NoBackendError: libusb missing
        return [], f"USB not readable ({exc}); install libusb-1.0-0"
    found = []
    for dev in devices:
        vid, pid = int(dev.idVendor), int(dev.idProduct)
        vendor, profile = RECEIPT_VENDORS.get(vid, ("", "default"))
        if not (_is_printer(dev) or vendor):
            continue
        name = " ".join(str(x) for x in (vendor or "USB printer", f"{vid:04x}:{pid:04x}"))
        found.append(Candidate("usb", name, {"kind": "usb", "usb_vendor": f"0x{vid:04x}", "usb_product": f"0x{pid:04x}",
                                             "profile": profile}))
    return found, ""


def serial_candidates(list_ports: Callable[[], Iterable[Any]] | None = None) -> list[Candidate]:
    """Serial ports (USB-serial adapters, on-board UARTs) a serial printer may hang on."""
    if list_ports is None:
        from serial.tools.list_ports import comports as list_ports
    found = []
    for port in list_ports():
        device = str(port.device)
        what = " ".join(x for x in (getattr(port, "description", "") or "", getattr(port, "hwid", "") or "") if x and x != "n/a")
        found.append(Candidate("serial", f"serial port {device}" + (f" ({what})" if what else ""),
                               {"kind": "serial", "serial_port": device}))
    return found


def detect(find: Callable[..., Iterable[Any]] | None = None,
           list_ports: Callable[[], Iterable[Any]] | None = None) -> tuple[list[Candidate], list[str]]:
    """All candidates, USB first (the usual receipt printer), and notes on what could not be searched."""
    usb, note = usb_candidates(find)
    return usb + serial_candidates(list_ports), [note] if note else []
