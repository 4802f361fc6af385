"""The durable print queue: receipts and kitchen tickets are stored with the order and printed by a worker.

Printing never blocks or fails an order: the register's completion hook only inserts
:class:`PrintJob` rows inside the order's transaction, and its after-commit hook wakes the worker.
The worker claims one job at a time with a lease (one UPDATE), so two workers (two processes) never
print the same job while the lease holds; a crashed worker's expired lease is taken over. While the
printer is away the worker probes it every ``PROBE_S`` seconds, and at once when udev says a printer was
plugged in (udev touches ``plug_flag``), and prints as soon as it answers. A job
that died half-way is printed again after a cut, headed "REPRINT - previous copy incomplete". Voids and
refunds cancel the order's waiting jobs. Delivery is at-least-once: only a crash between the printer
accepting the bytes and the job being marked printed can print a job twice.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import peewee

from truck_pos.clock import Clock
from truck_pos.devices.printer import NO_PRINTER, ReceiptPrinter
from truck_pos.domain.order import Ticket, Totals
from truck_pos.domain.printable import ASCII_ONLY, Charset
from truck_pos.domain.receipt import Document, TextLine, render_kitchen_ticket, render_receipt
from truck_pos.errors import DeviceUnavailable, NotFound
from truck_pos.services.claim_key import claim_for
from truck_pos.store.models import Order
from truck_pos.store.print_models import PrintJob, claim_job, release_lease
from truck_pos.store.prepared import PreparedInsert
from truck_pos.store.receipt_rows import StoredOrder, receipt_data, stored_order

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 60  # a job that cannot be laid out (a bug, bad data) waits longer each time
PROBE_S = 1.5  # printer away and jobs waiting: look for it this often (clock seconds)
LEASE_S = 60  # a print takes seconds; a lease this old belongs to a worker that died
WARM_AFTER_S = 8.0  # load the printer driver this long after the worker starts (after the UI's first frames)
TORN_NOTICE = "REPRINT - previous copy incomplete"
MAX_URL_CHARS = 300  # a QR of this size still scans from a 58 mm receipt


@dataclass(frozen=True)
class PrinterState:
    """For the status bar: ``ok`` False means staff should look at the printer; ``message`` says why."""

    ok: bool
    message: str
    pending_jobs: int


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
    _NEW_JOBS.many(db, [(order.uuid, kind, False, "pending", 0, now, now, "") for kind in kinds])


class PrintingService:
    """Stores print jobs with each order, prints them in the background, reports the printer's state.

    UI calls: ``printer_state()`` for the status bar, ``reprint(order_uuid)`` from the orders list.
    ``registration_url`` (wired to the campaigns part): ``fn(order) -> url or None``.
    """

    def __init__(self, db: peewee.Database, clock: Clock, printer: ReceiptPrinter, *, truck_id: str, truck_name: str,
                 timezone: str, claim_key: bytes, columns: int | None = None, kitchen_tickets: bool = True,
                 currency_symbol: str = "$", autostart: bool = False, poll_s: float = 0.5, plug_flag: str = ""):
        self.db = db
        self.clock = clock
        self.printer = printer
        self.truck_id = truck_id
        self.truck_name = truck_name
        self.timezone = timezone
        self._claim_key = claim_key
        self._columns = columns  # None: the printer's own (read on first use: its profile loads lazily)
        self.kitchen_tickets = kitchen_tickets
        self.currency_symbol = currency_symbol
        self.autostart = autostart
        self.poll_s = poll_s
        self.registration_url: Callable[[Order], str | None] | None = None
        self.worker_id = uuid.uuid4().hex  # this worker's lease name (unique per process and service)
        self.probes: deque[datetime] = deque(maxlen=2000)  # clock times the printer was probed (for tests, logs)
        self.last_round_at: datetime | None = None
        self._plug_flag = plug_flag  # a file udev touches when a printer is plugged in
        self._plug_seen = self._plug_stamp()
        self._error = ""
        self._retry_at: datetime | None = None
        self._wake = threading.Event()
        self._rounds = threading.Condition()
        self._started = self._done = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._run_lock = threading.Lock()

    @property
    def columns(self) -> int:
        return self._columns or getattr(self.printer, "columns", 48)

    @property
    def charset(self) -> Charset:
        return getattr(self.printer, "charset", ASCII_ONLY)

    # --- the register's hooks: rows inside the order transaction, the wake-up after its commit ---------
    def on_order_completed(self, order: Order, ticket: Ticket, totals: Totals, now: datetime) -> None:
        """Queue the receipt (counter orders) and the kitchen ticket; runs inside the order's transaction."""
        queue_print_jobs(self.db, order, now, kitchen_tickets=self.kitchen_tickets)

    def on_order_committed(self, order_uuid: str) -> None:
        """After the order committed: start (autostart) or wake the worker so the jobs print now."""
        if self.autostart:
            self.start()
        self._wake.set()

    def on_status_changed(self, order: Order, status: str) -> None:
        """A void or refund (inside its transaction): the order's waiting jobs are never printed."""
        if status in ("voided", "refunded"):
            cancelled = (PrintJob.update(status="cancelled")
                         .where((PrintJob.order_uuid == order.uuid) & (PrintJob.status == "pending")).execute())
            if cancelled:
                log.info("order %s %s: %d print job(s) cancelled", order.uuid, status, cancelled)

    # --- UI -----------------------------------------------------------------------------------
    def reprint(self, order_uuid: str) -> int:
        """Queue a copy of an order's receipt (marked REPRINT, and VOID/REFUNDED if so); returns the job id."""
        if Order.get_or_none(Order.uuid == order_uuid) is None:
            raise NotFound("No such order to reprint")
        now = self.clock.now()
        job = PrintJob.create(order_uuid=order_uuid, kind="receipt", reprint=True, created_utc=now, next_attempt_utc=now)
        self._retry_at = None  # staff asked: try the printer now
        self._wake.set()
        return job.id

    def printer_state(self) -> PrinterState:
        """Printer state for the status bar (cheap: one COUNT query); never "ready" without a printer."""
        pending = PrintJob.select().where(PrintJob.status == "pending").count()
        waiting = f" ({pending} waiting)" if pending else ""
        if not getattr(self.printer, "configured", True):
            return PrinterState(False, f"No printer configured{waiting}", pending)
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
        order = stored_order(self.db, order_uuid)
        if order is None:
            raise NotFound(f"Order {order_uuid} is not in the database")
        claim = claim_for(order, self._claim_key, self.truck_id) if kind == "receipt" else ""
        reg = self._registration_link(order) if kind == "receipt" else ""
        data = receipt_data(order, truck_name=self.truck_name, timezone=self.timezone, claim=claim,
                            registration_url=reg, currency_symbol=self.currency_symbol)
        if kind == "kitchen":
            return render_kitchen_ticket(data, self.columns, status=order.status, charset=self.charset)
        return render_receipt(data, self.columns, reprint=reprint, status=order.status, charset=self.charset)

    def _registration_link(self, order: StoredOrder) -> str:
        """The campaign's sign-up URL for the receipt QR; anything but a short http(s) URL is left off."""
        url = (self.registration_url(order) if self.registration_url else None) or ""
        if not (url.startswith(("https://", "http://")) and len(url) <= MAX_URL_CHARS and url.isascii()
                and url.isprintable() and " " not in url):
            if url:
                log.warning("registration URL left off the receipt (not a short http(s) URL): %r", url[:80])
            return ""
        return url

    # --- the worker ---------------------------------------------------------------------------
    def run_once(self) -> int:
        """Print every due job in order until one fails; returns how many printed."""
        with self._run_lock:
            with self._rounds:
                self._started += 1
            try:
                return self._round(self.clock.now())
            finally:
                self.last_round_at = self.clock.now()
                with self._rounds:
                    self._done += 1
                    self._rounds.notify_all()

    def _plug_stamp(self) -> float:
        try:
            return os.stat(self._plug_flag).st_mtime if self._plug_flag else 0.0
        except OSError:
            return 0.0

    def _round(self, now: datetime) -> int:
        stamp = self._plug_stamp()
        if stamp != self._plug_seen:  # udev: a printer was just plugged in - look now, not at the next probe
            self._plug_seen, self._retry_at = stamp, None
        if self._retry_at is not None and now < self._retry_at:
            return 0
        if self._error and not self._waiting(now):
            return 0  # nothing to print: no need to look for the printer
        if self._error:
            self.probes.append(now)
            if not self._probe():
                self._retry_at = now + timedelta(seconds=PROBE_S)
                return 0
        printed = 0
        while (job := self._claim(now)) is not None:
            if not self._print(job, now):
                break
            printed += 1
            now = self.clock.now()
        return printed

    def _waiting(self, now: datetime) -> bool:
        return PrintJob.select().where((PrintJob.status == "pending") & (PrintJob.next_attempt_utc <= now)).exists()

    def _probe(self) -> bool:
        probe = getattr(self.printer, "probe", None)
        try:
            return bool(probe()) if callable(probe) else True
        except Exception:  # a probe must never stop the worker
            log.debug("printer probe failed", exc_info=True)
            return False

    def _claim(self, now: datetime) -> PrintJob | None:
        """Take the oldest due job whose lease is free or expired (one statement); None when there is none."""
        return claim_job(self.db, f"{self.worker_id}:{uuid.uuid4().hex[:8]}", now, LEASE_S)

    def _print(self, job: PrintJob, now: datetime) -> bool:
        mine = PrintJob.id == job.id
        try:
            doc = self.document(job)
            if job.torn:
                doc = replace(doc, blocks=(TextLine(TORN_NOTICE[:doc.columns], align="center", bold=True),
                                           *doc.blocks))
        except Exception as exc:  # a job we cannot lay out must not stop the queue
            log.exception("print job %s cannot be rendered", job.id)
            delay = timedelta(seconds=min(MAX_BACKOFF_S, 2 ** min(job.attempts + 1, 6)))
            PrintJob.update(attempts=job.attempts + 1, last_error=f"cannot lay out: {exc}",
                            next_attempt_utc=now + delay).where(mine).execute()
            release_lease(job)
            return True
        try:
            self.printer.print_document(doc, cut_first=job.torn)
        except Exception as exc:
            message = str(exc) if isinstance(exc, DeviceUnavailable) else f"Printer error ({exc})"
            if not isinstance(exc, DeviceUnavailable):  # an adapter bug: keep the job, say so, keep running
                log.exception("printer failed on job %s", job.id)
            torn = bool(getattr(exc, "partial", True)) and message != NO_PRINTER
            PrintJob.update(attempts=job.attempts + 1, last_error=message).where(mine).execute()
            release_lease(job, torn=job.torn or torn)
            self._error, self._retry_at = message, now + timedelta(seconds=PROBE_S)
            log.warning("print job %s (%s %s) waits: %s", job.id, job.kind, job.order_uuid, message)
            return False
        PrintJob.update(status="printed", printed_utc=self.clock.now(), attempts=job.attempts + 1,
                        last_error="").where(mine & (PrintJob.status == "pending")).execute()
        release_lease(job, torn=False)
        self._error, self._retry_at = "", None
        return True

    def nudge(self) -> int:
        """Wake the worker now (a udev add event, a test that moved the clock); returns a ticket for wait_round."""
        with self._rounds:
            ticket = self._started + 1  # the next round to start begins after this call
        self._wake.set()
        return ticket

    def wait_round(self, ticket: int, timeout: float) -> bool:
        """Block until the round a ``nudge`` asked for has finished."""
        with self._rounds:
            return self._rounds.wait_for(lambda: self._done >= ticket, timeout)

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

    def _warm(self) -> None:
        """Load the printer driver now, on this thread, while nothing waits on it (not during the UI's start)."""
        warm = getattr(self.printer, "warm", None)
        try:
            if callable(warm):
                warm()
        except Exception:  # a broken profile shows on the first job instead
            log.exception("printer driver failed to load")

    def _loop(self) -> None:
        warm_at = time.monotonic() + WARM_AFTER_S
        try:
            while not self._stop.is_set():
                self._wake.clear()  # before the round: a wake-up during it makes the next wait return at once
                try:
                    self.run_once()
                except Exception:  # the database or a bug: log and keep the queue alive
                    log.exception("print queue round failed")
                if warm_at and time.monotonic() >= warm_at:
                    warm_at = 0.0
                    self._warm()
                self._wake.wait(self.poll_s)  # set after an order committed (RegisterService.after_commit_hooks)
                self._wake.clear()
        finally:
            if not self.db.is_closed():
                self.db.close()  # this thread's connection
