"""The durable print queue: an order never waits for the printer, and every job prints exactly once."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace

from escpos_decode import decode
from truck_pos.bootstrap import build
from truck_pos.devices.printer import EscposPrinter, build_printer
from truck_pos.domain.order import ModifierChoice, TenderEntry, Ticket, TicketLine
from truck_pos.store.models import Order
from truck_pos.store.outbox import Outbox
from truck_pos.store.print_models import PrintJob, PrintLease


def test_paper_out_mid_job_keeps_the_order_and_reprints_after_a_cut_with_a_notice(wired, roll, ring_up, clock):
    roll.fail_next = 3
    paid = ring_up("taco-al-pastor", "taco-fish")
    # The order and its outbox row are durable before the printer was even tried.
    assert Order.get(Order.uuid == paid.order_uuid).status == "paid"
    assert Outbox.get(Outbox.key == paid.order_uuid).kind == "order"
    assert [j.kind for j in PrintJob.select().order_by(PrintJob.id)] == ["receipt", "kitchen"]

    printing = wired.printing
    for _ in range(3):
        assert printing.run_once() == 0
        state = printing.printer_state()
        assert not state.ok and "not responding" in state.message and state.pending_jobs == 2
        assert printing.run_once() == 0  # within the probe interval: no hammering the printer
        clock.advance(2)  # the printer is looked at again within 2 s, not after a growing backoff
    assert printing.run_once() == 2
    assert printing.printer_state().ok and printing.printer_state().message == "Printer ready"

    assert len(roll.partial) == 3 and len(roll.jobs) == 2  # three torn attempts, then each job exactly once
    receipt, kitchen = (decode(b) for b in roll.jobs)
    # The torn copy is cut off first, and the new one says why there are two.
    assert receipt.events[0] == "cut" and receipt.texts[0] == "REPRINT - previous copy incomplete"
    assert receipt.qr_payloads == [wired.pickup.claim_for(Order.get(Order.uuid == paid.order_uuid))]
    assert f"Order #{paid.order_number}" in receipt.texts and receipt.cuts == 2
    assert kitchen.texts[0] == f"#{paid.order_number}" and kitchen.cuts == 1  # it never failed: no notice
    job = PrintJob.get(PrintJob.kind == "receipt")
    assert (job.status, job.attempts, job.last_error) == ("printed", 4, "")
    assert not PrintLease.get_by_id(job.id).torn and PrintLease.get_by_id(job.id).owner is None
    assert printing.run_once() == 0 and len(roll.jobs) == 2  # nothing printed twice


def test_jobs_print_in_order_after_the_printer_comes_back(wired, roll, ring_up, clock):
    roll.fail_next = 1
    first, second = ring_up("taco-veggie"), ring_up("taco-fish")
    wired.printing.run_once()
    clock.advance(5)
    assert wired.printing.run_once() == 4
    numbers = [decode(b).texts for b in roll.jobs]
    assert f"Order #{first.order_number}" in numbers[0] and f"Order #{second.order_number}" in numbers[2]


def test_reprint_prints_the_same_claim_marked_reprint(wired, roll, ring_up):
    paid = ring_up("taco-carnitas")
    wired.printing.run_once()
    wired.printing.reprint(paid.order_uuid)
    assert wired.printing.run_once() == 1
    original, copy = decode(roll.jobs[0]), decode(roll.jobs[-1])
    assert copy.texts[0] == "** REPRINT **"
    assert copy.qr_payloads == original.qr_payloads


def test_a_mobile_order_prints_only_a_kitchen_ticket_marked_mobile(wired, roll):
    ticket = Ticket(id="0d7a6c1e-2f3b-4a5c-8d9e-112233445566", tax_mode="exclusive",
                    lines=(TicketLine("taco-al-pastor", "Taco al pastor", 450, 2, 825, (ModifierChoice("No onions", 0),)),),
                    tenders=(TenderEntry("prepaid", 974, 974),), note="Call me at the window")
    wired.register.write_order(ticket, None, "mobile")
    assert wired.printing.run_once() == 1
    kitchen = decode(roll.jobs[0])
    assert kitchen.texts[:2] == ["#1", "MOBILE"]
    assert "   + No onions" in kitchen.texts and any("Call me" in t for t in kitchen.texts)


@contextmanager
def file_printer_services(settings, clock, **printer_settings):
    """Services printing through the real python-escpos File printer, with one card order already paid."""
    printer = build_printer(replace(settings.printer, kind="file", **printer_settings))
    svc = build(settings, clock=clock, printer=printer, print_autostart=False)
    try:
        ticket = svc.register.open_ticket()
        svc.register.add_item(ticket.id, "taco-fish")
        svc.register.pay_card(ticket.id)
        yield svc
    finally:
        svc.close()


def test_a_file_printer_receives_the_bytes(settings, clock, tmp_path):
    out = tmp_path / "printer.bin"
    with file_printer_services(settings, clock, file_path=str(out), paper_mm=58, profile="POS-5890") as svc:
        assert svc.printing.printer.columns == 32
        assert svc.printing.run_once() == 2
        svc.printing.printer.close()
        decoded = decode(out.read_bytes(), "zjiang")
        # POS-5890 per its profile: no native QR (the claim is a raster image), no cutter (feed only).
        assert decoded.max_columns() <= 32 and decoded.qr_payloads == [] and decoded.images == 1
        order = Order.get()
        assert decoded.image_qr_payloads == [svc.pickup.claim_for(order)]  # the raster QR reads back as the claim
        assert decoded.cuts == 0 and b"\x1d(k" not in out.read_bytes()


def test_an_unreachable_printer_is_a_state_not_a_crash(settings, clock, tmp_path):
    with file_printer_services(settings, clock, file_path=str(tmp_path / "no" / "such" / "lp0")) as svc:
        assert svc.printing.run_once() == 0
        state = svc.printing.printer_state()
        assert not state.ok and "Printer not found" in state.message and state.pending_jobs == 2


def test_the_background_worker_prints_after_the_order_commits(settings, clock, roll):
    import time

    svc = build(settings, clock=clock, printer=EscposPrinter(roll.device, columns=48))
    try:
        ticket = svc.register.open_ticket()
        svc.register.add_item(ticket.id, "taco-fish")
        svc.register.pay_card(ticket.id)
        deadline = time.monotonic() + 10
        while len(roll.jobs) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(roll.jobs) == 2
    finally:
        svc.close()


def test_a_campaign_registration_link_adds_a_second_qr(wired, roll, ring_up):
    wired.printing.registration_url = lambda order: f"https://example.invalid/join?o={order.number}"
    paid = ring_up("taco-fish")
    wired.printing.run_once()
    receipt = decode(roll.jobs[0])
    assert receipt.qr_payloads[1] == f"https://example.invalid/join?o={paid.order_number}"
    assert "Join our list for deals:" in receipt.texts
