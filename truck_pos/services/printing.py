"""The durable print queue: receipts and kitchen tickets are stored with the order and printed by a worker.

Printing never blocks or fails an order: the register's completion hook only inserts
:class:`PrintJob` rows inside the order's transaction; a background worker (or ``run_once`` in
tests) prints them in order, and when the printer is offline, out of paper or errors, waits
(backoff 2, 4, 8 ... 60 s) and retries the same job. Delivery is at-least-once: only a crash
between the printer accepting the bytes and the job being marked printed can print a job twice.
Thread-safety: the hook runs on the register's thread, the worker on its own; they share only
the database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import peewee

from truck_pos.clock import Clock
from truck_pos.devices.printer import ReceiptPrinter
from truck_pos.domain.calendar import local
from truck_pos.domain.order import TenderEntry, Ticket, Totals
from truck_pos.domain.receipt import DiscountLine, Document, ItemLine, ReceiptData, render_kitchen_ticket, render_receipt
from truck_pos.errors import DeviceUnavailable, NotFound
from truck_pos.services.claim_key import claim_for
from truck_pos.store.models import Order, OrderLine
from truck_pos.store.print_models import PrintJob
from truck_pos.store.prepared import PreparedInsert

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 60


@dataclass(frozen=True)
class PrinterState:
    """For the status bar: ``ok`` False means staff should look at the printer; ``message`` says why."""

    ok: bool
    message: str
    pending_jobs: int


def receipt_data(order: Order, *, truck_name: str, timezone: str, claim: str = "", registration_url: str = "",
                 currency_symbol: str = "$") -> ReceiptData:
    """What the receipt and kitchen ticket show for a stored order, in the truck's local time."""
    items = tuple(
        ItemLine(ln.name, ln.quantity, ln.gross_cents, tuple(m["name"] for m in ln.modifiers))
        for ln in order.lines.order_by(OrderLine.position)
    )
    discounts = tuple(DiscountLine(d.label, d.amount_cents, d.code, d.segment) for d in order.discounts)
    tenders = tuple(TenderEntry(t.kind, t.amount_cents, t.tendered_cents, t.change_cents)
                    for t in order.tenders if t.amount_cents > 0)
    return ReceiptData(
        truck_name=truck_name, stop=order.stop, local_time=local(order.paid_utc or order.created_utc, timezone),
        business_day=order.business_day, number=order.number, channel=order.channel, items=items,
        subtotal_cents=order.subtotal_cents, tax_cents=order.tax_cents, total_cents=order.total_cents,
        tax_mode=order.tax_mode, discounts=discounts, tenders=tenders, claim=claim,
        registration_url=registration_url, note=order.note, currency_symbol=currency_symbol,
    )


# On the ring-up hot path (inside the order transaction): SQL prepared once, see store/prepared.py.
_NEW_JOBS = PreparedInsert(PrintJob, ["order_uuid", "kind", "reprint", "status", "attempts", "created_utc",
                                      "next_attempt_utc", "last_error"])


def queue_print_jobs(db: peewee.Database, order: Order, now: datetime, *, kitchen_tickets: bool) -> None:
    """Insert an order's print jobs (receipt for counter orders, kitchen ticket); the caller's transaction commits them.

    Also what the sync process does for a mobile order: it owns no printer, the register's worker prints the rows.
    """
    kinds = ["receipt"] if order.channel != "mobile" else []
    if kitchen_tickets or order.channel == "mobile":
        kinds.append("kitchen")
    _NEW_JOBS.many(db, ({"order_uuid": order.uuid, "kind": kind, "created_utc": now, "next_attempt_utc": now}
                        for kind in kinds))


class PrintingService:
    """Stores print jobs with each order, prints them in the background, reports the printer's state.

    UI calls: ``printer_state()`` for the status bar, ``reprint(order_uuid)`` from the orders list.
    ``registration_url`` may be set by the campaigns part: ``fn(order) -> url or None``.
    """

    def __init__(self, db: peewee.Database, clock: Clock, printer: ReceiptPrinter, *, truck_id: str, truck_name: str,
                 timezone: str, claim_key: bytes, columns: int = 48, kitchen_tickets: bool = True,
                 currency_symbol: str = "$", autostart: bool = False, poll_s: float = 0.5):
        self.db = db
        self.clock = clock
        self.printer = printer
        self.truck_id = truck_id
        self.truck_name = truck_name
        self.timezone = timezone
        self._claim_key = claim_key
        self.columns = columns
        self.kitchen_tickets = kitchen_tickets
        self.currency_symbol = currency_symbol
        self.autostart = autostart
        self.poll_s = poll_s
        self.registration_url: Callable[[Order], str | None] | None = None
        self._error = ""
        self._failures = 0
        self._retry_at: datetime | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._run_lock = threading.Lock()

    # --- the register's hooks: rows inside the order transaction, the wake-up after its commit ---------
    def on_order_completed(self, order: Order, ticket: Ticket, totals: Totals, now: datetime) -> None:
        """Queue the receipt (counter orders) and the kitchen ticket; runs inside the order's transaction."""
        queue_print_jobs(self.db, order, now, kitchen_tickets=self.kitchen_tickets)

    def on_order_committed(self, order_uuid: str) -> None:
        """After the order committed: start (autostart) or wake the worker so the jobs print now."""
        if self.autostart:
            self.start()
        self._wake.set()

    # --- UI -----------------------------------------------------------------------------------
    def reprint(self, order_uuid: str) -> int:
        """Queue a copy of an order's receipt (marked REPRINT); returns the job id."""
        if Order.get_or_none(Order.uuid == order_uuid) is None:
            raise NotFound("No such order to reprint")
        now = self.clock.now()
        job = PrintJob.create(order_uuid=order_uuid, kind="receipt", reprint=True, created_utc=now, next_attempt_utc=now)
        self._retry_at = None  # staff asked: try the printer now
        self._wake.set()
        return job.id

    def printer_state(self) -> PrinterState:
        """Printer state for the status bar (cheap: one COUNT query)."""
        pending = PrintJob.select().where(PrintJob.status == "pending").count()
        if self._error:
            return PrinterState(False, f"{self._error} ({pending} waiting)", pending)
        if pending:
            return PrinterState(True, f"Printing ({pending} waiting)", pending)
        return PrinterState(True, "Printer ready", 0)

    def document(self, job_or_order: PrintJob | str, kind: str = "receipt", reprint: bool = False) -> Document:
        """Lay out a receipt or kitchen ticket for an order (also a preview for the screen)."""
        if isinstance(job_or_order, PrintJob):
            order_uuid, kind, reprint = job_or_order.order_uuid, job_or_order.kind, job_or_order.reprint
        else:
            order_uuid = job_or_order
        order = Order.get_or_none(Order.uuid == order_uuid)
        if order is None:
            raise NotFound(f"Order {order_uuid} is not in the database")
        claim = claim_for(order, self._claim_key, self.truck_id) if kind == "receipt" else ""
        reg = (self.registration_url(order) if self.registration_url else None) or ""
        data = receipt_data(order, truck_name=self.truck_name, timezone=self.timezone, claim=claim,
                            registration_url=reg if kind == "receipt" else "", currency_symbol=self.currency_symbol)
        if kind == "kitchen":
            return render_kitchen_ticket(data, self.columns)
        return render_receipt(data, self.columns, reprint=reprint)

    # --- the worker ---------------------------------------------------------------------------
    def run_once(self) -> int:
        """Print every due job in order until one fails; returns how many printed."""
        with self._run_lock:
            now = self.clock.now()
            if self._retry_at is not None and now < self._retry_at:
                return 0
            printed = 0
            # list(): finish the read before the first UPDATE; an open SELECT pins a stale snapshot and the
            # UPDATE fails "database is locked" (no busy wait) once another thread has committed meanwhile.
            due = list(PrintJob.select().where((PrintJob.status == "pending") & (PrintJob.next_attempt_utc <= now))
                       .order_by(PrintJob.id))
            for job in due:
                if not self._print(job, now):
                    break
                printed += 1
            return printed

    def _print(self, job: PrintJob, now: datetime) -> bool:
        try:
            doc = self.document(job)
        except Exception as exc:  # a job we cannot lay out must not stop the queue
            log.exception("print job %s cannot be rendered", job.id)
            self._failed(job, now, f"cannot lay out: {exc}", device=False)
            return True
        try:
            self.printer.print_document(doc)
        except DeviceUnavailable as exc:
            self._failed(job, now, str(exc), device=True)
            return False
        except Exception as exc:  # an adapter bug: keep the job, say so, keep running
            log.exception("printer failed on job %s", job.id)
            self._failed(job, now, f"Printer error ({exc})", device=True)
            return False
        PrintJob.update(status="printed", printed_utc=self.clock.now(), attempts=PrintJob.attempts + 1,
                        last_error="").where(PrintJob.id == job.id).execute()
        self._error, self._failures, self._retry_at = "", 0, None
        return True

    def _failed(self, job: PrintJob, now: datetime, message: str, *, device: bool) -> None:
        attempts = job.attempts + 1
        delay = timedelta(seconds=min(MAX_BACKOFF_S, 2 ** min(attempts, 6)))
        PrintJob.update(attempts=attempts, last_error=message,
                        next_attempt_utc=now if device else now + delay).where(PrintJob.id == job.id).execute()
        if device:
            self._failures += 1
            self._error = message
            self._retry_at = now + timedelta(seconds=min(MAX_BACKOFF_S, 2 ** min(self._failures, 6)))
            log.warning("print job %s (%s %s) waits: %s", job.id, job.kind, job.order_uuid, message)

    def start(self) -> None:
        """Start the background worker (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="print-queue", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker and release the printer."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.printer.close()

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                self._wake.clear()  # before the round: a wake-up during it makes the next wait return at once
                try:
                    self.run_once()
                except Exception:  # the database or a bug: log and keep the queue alive
                    log.exception("print queue round failed")
                self._wake.wait(self.poll_s)  # set after an order committed (RegisterService.after_commit_hooks)
        finally:
            if not self.db.is_closed():
                self.db.close()  # this thread's connection
