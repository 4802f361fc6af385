"""The print worker next to other writers: a commit elsewhere while a job prints must not fail the round."""

from __future__ import annotations

import threading

from truck_pos.store.print_models import PrintJob


def test_an_order_committed_by_another_thread_while_a_job_prints_does_not_lock_the_queue(wired, roll, ring_up):
    ring_up("taco-fish")  # a receipt and a kitchen ticket
    sold: list[str] = []

    class Roll(list):
        def append(self, data: bytes) -> None:  # the register (another thread) commits while the printer works
            super().append(data)
            if not sold:
                t = threading.Thread(target=lambda: sold.append(ring_up("taco-veggie").order_uuid))
                t.start()
                t.join(10)

    roll.jobs = Roll()
    assert wired.printing.run_once() >= 2  # raised "database is locked" when the SELECT stayed open across the UPDATEs
    assert sold and PrintJob.select().where(PrintJob.status == "printed").count() >= 2
