"""Printer outages: voids during an outage are never cooked, and the real worker prints soon after a replug.

Times are the injected clock's: the worker records when it probed and the database when it printed; the
test moves the clock and waits for the worker's own rounds (never for wall time).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from escpos_decode import decode
from truck_pos.bootstrap import build
from truck_pos.devices.printer import EscposPrinter
from truck_pos.errors import InvalidInput
from truck_pos.store.print_models import PrintJob

MANAGER_PIN = "9999"


def numbers_printed(roll) -> list[str]:
    return [decode(job).texts[0] for job in roll.jobs]


def test_an_order_voided_during_an_outage_is_never_printed_and_leaves_the_pickup_window(wired, roll, ring_up, clock):
    wired.staff.add("Maria", MANAGER_PIN, "manager")
    roll.plugged = False
    voided, kept = ring_up("taco-fish"), ring_up("taco-veggie")
    assert wired.printing.run_once() == 0 and not wired.printing.printer_state().ok
    wired.register.void_order(voided.order_uuid, MANAGER_PIN, "customer left")

    assert [c.number for c in wired.pickup.queue().preparing] == [kept.order_number]  # the void left the window
    with pytest.raises(InvalidInput, match="voided"):
        wired.pickup.mark_ready(voided.order_uuid)
    jobs = {j.order_uuid: j.status for j in PrintJob.select()}
    assert jobs[voided.order_uuid] == "cancelled" and jobs[kept.order_uuid] == "pending"

    roll.plugged = True
    clock.advance(2)
    assert wired.printing.run_once() == 2  # only the kept order's receipt and kitchen ticket
    printed = [decode(job) for job in roll.jobs]
    assert all(f"Order #{voided.order_number}" not in d.texts and f"#{voided.order_number}" != d.texts[0]
               for d in printed)
    assert printed[1].texts[0] == f"#{kept.order_number}"
    assert wired.printing.run_once() == 0 and len(roll.jobs) == 2

    wired.printing.reprint(voided.order_uuid)  # a manager's copy for the records
    assert wired.printing.run_once() == 1
    copy = decode(roll.jobs[-1])
    assert copy.texts[0] == "*VOID*" and copy.lines[0].double_width and copy.texts.count("*VOID*") == 2
    assert copy.qr_payloads == []  # a voided order's claim is not handed out again


def test_a_refund_cancels_waiting_jobs_and_its_reprint_says_refunded(wired, roll, ring_up, clock):
    wired.staff.add("Maria", MANAGER_PIN, "manager")
    roll.plugged = False
    paid = ring_up("taco-fish")
    wired.printing.run_once()
    wired.register.refund_order(paid.order_uuid, MANAGER_PIN, "cold food")
    assert {j.status for j in PrintJob.select()} == {"cancelled"}
    assert not wired.pickup.queue().preparing
    with pytest.raises(InvalidInput, match="refunded"):
        wired.pickup.mark_ready(paid.order_uuid)
    roll.plugged = True
    wired.printing.reprint(paid.order_uuid)
    clock.advance(2)
    assert wired.printing.run_once() == 1
    assert decode(roll.jobs[0]).texts[0] == "*REFUNDED*"


def test_the_real_worker_prints_within_5_seconds_of_the_printer_coming_back_after_10_minutes(settings, clock, roll):
    roll.plugged = False
    svc = build(settings, clock=clock, printer=EscposPrinter(roll.device, profile="TM-T20II", columns=48))
    printing = svc.printing
    try:
        ticket = svc.register.open_ticket()
        svc.register.add_item(ticket.id, "taco-fish")
        svc.register.pay_card(ticket.id)  # the after-commit hook starts the worker and wakes it

        def tick(seconds: float) -> None:
            clock.advance(seconds)
            assert printing.wait_round(printing.nudge(), 10), "the worker did not run a round"

        tick(0)
        assert not printing.printer_state().ok and not roll.jobs
        went = clock.now()
        for _ in range(600):  # ten minutes with the printer off
            tick(1)
        back = clock.now()
        roll.plugged = True
        for _ in range(10):
            tick(0.5)
            if len(roll.jobs) == 2:
                break
        printed = [j.printed_utc for j in PrintJob.select().order_by(PrintJob.id)]
        assert len(roll.jobs) == 2 and all(printed)
        assert max(printed) - back <= timedelta(seconds=5)
        probes = [p for p in printing.probes if went <= p <= back]
        gaps = [(b - a).total_seconds() for a, b in zip(probes, probes[1:])]
        assert len(probes) >= 290 and all(1 <= g <= 2 for g in gaps)  # looked for it every 1-2 s, the whole time
        first, second = (decode(job) for job in roll.jobs)
        assert first.texts[0] == "Demo Truck" and first.cuts == 1  # an outage before any byte: no torn notice
    finally:
        svc.close()


def test_a_udev_plug_event_makes_the_worker_look_at_once(settings, clock, roll, tmp_path):
    import os
    from dataclasses import replace

    flag = tmp_path / "printer-plugged"  # [printer] plug_flag: the file the udev rule touches
    roll.plugged = False
    settings = replace(settings, printer=replace(settings.printer, plug_flag=str(flag)))
    svc = build(settings, clock=clock, print_autostart=False, printer=EscposPrinter(roll.device, columns=48))
    try:
        ticket = svc.register.open_ticket()
        svc.register.add_item(ticket.id, "taco-fish")
        svc.register.pay_card(ticket.id)
        assert svc.printing.run_once() == 0
        roll.plugged = True
        clock.advance(0.2)
        assert svc.printing.run_once() == 0  # the next probe is not due yet ...
        flag.touch()
        os.utime(flag, (1, 1))  # ... but udev just said a printer appeared
        assert svc.printing.run_once() == 2
    finally:
        svc.close()
