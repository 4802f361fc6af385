"""Fixtures for printing and pickup: wired services whose printer is a real python-escpos Dummy that can fail."""

from __future__ import annotations

import errno

import pytest
from escpos.printer import Dummy

from truck_pos.bootstrap import build
from truck_pos.devices.printer import EscposPrinter


class PaperRoll:
    """What came out of the printer: complete jobs only. ``fail_next`` jobs die half-way (paper out);
    ``plugged = False`` is a printer switched off or unplugged (opening it fails like a missing USB device)."""

    def __init__(self, fail_next: int = 0):
        self.fail_next = fail_next
        self.plugged = True
        self.jobs: list[bytes] = []
        self.partial: list[bytes] = []
        self.connects = 0

    def device(self) -> Dummy:
        self.connects += 1
        return FlakyDummy(self)


class FlakyDummy(Dummy):
    """The real escpos Dummy, except a write can time out after half the bytes, like a printer running out of paper."""

    def __init__(self, roll: PaperRoll):
        super().__init__(profile="TM-T20II")
        self.roll = roll

    def open(self) -> None:
        if not self.roll.plugged:
            raise OSError(errno.ENODEV, "No such device")

    def _raw(self, msg: bytes) -> None:
        if not self.roll.plugged:
            raise OSError(errno.ENODEV, "No such device")
        if self.roll.fail_next:
            self.roll.fail_next -= 1
            self.roll.partial.append(msg[: len(msg) // 2])
            raise OSError(errno.ETIMEDOUT, "Operation timed out")
        self.roll.jobs.append(bytes(msg))


@pytest.fixture
def roll() -> PaperRoll:
    return PaperRoll()


@pytest.fixture
def wired(settings, clock, roll):
    """Services with the flaky printer and no background worker (tests call run_once)."""
    printer = EscposPrinter(roll.device, profile="TM-T20II", columns=48, describe="test printer")
    svc = build(settings, clock=clock, printer=printer, print_autostart=False)
    yield svc
    svc.close()


@pytest.fixture
def ring_up(wired):
    """ring_up(*skus) -> Paid: a cash counter order through the real register."""

    def ring(*items: str, cash_cents: int = 10_000):
        ticket = wired.register.open_ticket()
        for sku in items:
            wired.register.add_item(ticket.id, sku)
        return wired.register.pay_cash(ticket.id, cash_cents)

    return ring
