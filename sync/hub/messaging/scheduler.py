"""The durable send scheduler: rows claimed with leases, sent through the channel adapters, retried, never re-sent.

A worker claims a batch of due rows (``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number of
hub processes share the work; one ``BEGIN IMMEDIATE`` writer at a time on SQLite), marking them ``sending``
with a lease. Each row is marked ``sent`` in its own commit right after the channel took it; a row whose
lease ran out while ``sending`` (its worker died) is claimed again with ``in_doubt`` counted, and sent again
with the same idempotency key (the channel's Message-ID / Topic / Idempotency-Key), so the receiving side
can recognise it. A worker stops using its batch before the lease ends, so a live worker's row is never
taken over.

The commit that marks a row is made by the worker's second thread (:class:`Marks`) while the worker sends
the next message, and the worker waits for it before it hands over the next mark: at any moment at most
two of a worker's rows have been taken by a channel and are not yet marked (the one being marked and the
one just sent), which a crash leaves ``sending``, to be re-sent in doubt with the same key.
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta
from typing import Any, Callable

import peewee

from sync.hub import customers as cu
from sync.hub.messaging import campaigns, document, unsubscribe
from sync.hub.messaging.channels import Channel, Outgoing, SendError
from sync.hub.messaging.config import ReachConfig
from sync.hub.messaging.manners import Facts, code_for, quiet_until, window_text
from sync.hub.messaging.models import DEAD, PENDING, SENDING, SENT, SKIPPED, HubSend, HubSendJob
from sync.hub.models import hub_database
from truck_pos.clock import Clock, SystemClock

log = logging.getLogger(__name__)
RUNNING: list["Scheduler"] = []
_FINISH_SQL: dict[tuple[str, tuple[str, ...]], str] = {}  # schedulers of this process, woken when a proximity event arrives


def _is_pg() -> bool:
    return isinstance(hub_database.obj, peewee.PostgresqlDatabase)


def _async_commit() -> None:
    """A lost commit only matters if PostgreSQL itself crashes (then a send is retried with its key); a hub
    process dying after COMMIT returned loses nothing. Saves an fsync per message. Per connection (thread)."""
    if _is_pg():
        hub_database.execute_sql("SET synchronous_commit TO OFF")


class Marks:
    """A worker's second thread, on its own database connection: commits the outcome of one send while the
    worker sends the next one (a commit costs about as much as the SMTP exchange on a quiet server).

    ``put`` first waits for the mark handed over before (and raises its database error, if any), so at most
    one mark is in flight; ``drain`` waits for the last one. ``close`` stops the thread and closes its
    connection.
    """

    def __init__(self) -> None:
        self._todo: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._idle = threading.Event()
        self._idle.set()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="reach-marks", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            _async_commit()
            while (job := self._todo.get()) is not None:
                try:
                    job()
                except BaseException as exc:  # noqa: BLE001 - handed to the worker, which logs and carries on
                    self._error = exc
                finally:
                    self._idle.set()
        finally:
            if not hub_database.is_closed():
                hub_database.close()

    def put(self, job: Callable[[], None]) -> None:
        self.drain()
        self._idle.clear()
        self._todo.put(job)

    def drain(self) -> None:
        self._idle.wait()
        if self._error is not None:
            exc, self._error = self._error, None
            raise exc

    def close(self) -> None:
        try:
            self.drain()
        finally:
            self._todo.put(None)
            self._thread.join(30)


def claim_txn() -> Any:
    """The transaction claims run in: SQLite takes the write lock up front (no two claimers interleave)."""
    return hub_database.atomic() if _is_pg() else hub_database.atomic("IMMEDIATE")


class Scheduler:
    """Expands due campaign messages and sends due rows; ``run_once`` for tests, ``start`` for threads."""

    def __init__(self, config: ReachConfig, clock: Clock | None = None, worker_id: str = ""):
        self.config = config
        self.clock = clock or SystemClock()
        self.worker_id = worker_id or f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._local = threading.local()
        self.sent = 0
        self._count_lock = threading.Lock()
        # A batch is given up this long before its lease ends: the slowest send (its timeout) still finishes in time.
        self.margin_s = 2.0 + max((float(c.get("timeout", 10)) for c in config.channels.values()), default=10.0)
        if config.lease_s < self.margin_s + 1:
            raise ValueError(f"lease_s ({config.lease_s}) must be at least {self.margin_s + 1:.0f} s: channel timeouts + 3 s")

    # --- threads -------------------------------------------------------------------------------------
    def start(self) -> "Scheduler":
        """Start ``config.workers`` threads (each with its own channel adapters)."""
        self._stop.clear()
        RUNNING.append(self)
        for i in range(max(1, self.config.workers)):
            t = threading.Thread(target=self._loop, args=(f"{self.worker_id}/{i}",), name=f"reach-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        """Finish the row in hand and stop (unfinished claimed rows are released)."""
        self._stop.set()
        self.wake.set()
        for t in self._threads:
            t.join(self.config.lease_s + 5)
        self._threads.clear()
        if self in RUNNING:
            RUNNING.remove(self)

    def _loop(self, worker: str) -> None:
        channels = self.config.make_channels()
        marks = Marks()
        try:
            while not self._stop.is_set():
                try:
                    done = self.run_once(channels, worker, marks)
                except peewee.PeeweeException:
                    log.exception("reach worker %s: database error; trying again", worker)
                    done = 0
                    self._stop.wait(min(5.0, self.config.poll_s * 4))
                if not done:
                    self.wake.wait(self.config.poll_s)
                    self.wake.clear()
        finally:
            try:
                marks.close()
            except peewee.PeeweeException:
                log.exception("reach worker %s: the last outcome was not stored (its row is sent again, same key)", worker)
            for ch in channels.values():
                ch.close()

    # --- one round -----------------------------------------------------------------------------------
    def run_once(self, channels: dict[str, Channel], worker: str = "", marks: Marks | None = None) -> int:
        """Expand due jobs, then claim and handle one batch of sends; returns how many rows were handled.

        Every outcome of the batch is committed when this returns (``marks`` is the worker's; a call
        without one makes its own for the batch).
        """
        worker = worker or self.worker_id
        if not getattr(self._local, "async_commit", False):
            _async_commit()
            self._local.async_commit = True
        handled = self._expand_due(worker)
        rows = self._claim(worker)
        if not rows:
            return handled
        own = marks is None
        marks = marks or Marks()
        try:
            deadline = time.monotonic() + self.config.lease_s - self.margin_s
            facts = Facts.of(rows, self.clock.now())
            docs = {cid: campaigns.campaign_doc(cid) for cid in {r.campaign_id for r in rows}}
            for i, row in enumerate(rows):
                if self._stop.is_set() or time.monotonic() > deadline:
                    marks.drain()
                    self._release(rows[i:], worker)  # never work past the lease: another worker may take them
                    break
                self._handle(row, channels, worker, facts, docs[row.campaign_id], marks)  # type: ignore[arg-type]
                handled += 1
            marks.drain()
        finally:
            if own:
                marks.close()
        return handled

    def _expand_due(self, worker: str) -> int:
        now = self.clock.now()
        with claim_txn():
            query = (HubSendJob.select().where(((HubSendJob.state == PENDING) & (HubSendJob.due_at <= now)) |
                                               ((HubSendJob.state == SENDING) & (HubSendJob.claimed_until < now)))
                     .order_by(HubSendJob.due_at).limit(5))
            jobs = list(query.for_update("FOR UPDATE SKIP LOCKED") if _is_pg() else query)
            if not jobs:
                return 0
            HubSendJob.update(state=SENDING, claimed_by=worker, claimed_until=now + timedelta(seconds=self.config.lease_s)).where(
                HubSendJob.id.in_([j.id for j in jobs])).execute()
        for job in jobs:
            doc = campaigns.campaign_doc(job.campaign_id)
            message = doc.message(job.message_id) if doc else None
            try:
                if message is None:
                    raise LookupError("the message is no longer in the campaign")
                count = campaigns.expand(doc, message, now)
                HubSendJob.update(state="done", recipients=count, error="").where(HubSendJob.id == job.id).execute()
            except Exception as exc:  # noqa: BLE001 - one broken message must not stop the others
                log.exception("could not expand %s", job.key)
                error = f"{type(exc).__name__}: {exc}"[:2000]
                HubSendJob.update(state=DEAD, error=error).where(HubSendJob.id == job.id).execute()
        return len(jobs)

    def _claim(self, worker: str) -> list[HubSend]:
        now = self.clock.now()
        due = (((HubSend.state == PENDING) & (HubSend.due_at <= now)) |
               ((HubSend.state == SENDING) & (HubSend.claimed_until < now)))  # a dead worker's claim
        with claim_txn():
            query = HubSend.select(HubSend.id).where(due).order_by(HubSend.due_at, HubSend.id).limit(self.config.batch)
            ids = [i for (i,) in (query.for_update("FOR UPDATE SKIP LOCKED") if _is_pg() else query).tuples()]
            if not ids:
                return []
            doubt = peewee.Case(None, [(HubSend.state == SENDING, HubSend.in_doubt + 1)], HubSend.in_doubt)
            HubSend.update(state=SENDING, claimed_by=worker, claimed_until=now + timedelta(seconds=self.config.lease_s),
                           attempts=HubSend.attempts + 1, in_doubt=doubt).where(HubSend.id.in_(ids)).execute()
        return list(HubSend.select(HubSend, cu.HubCustomer).join(cu.HubCustomer, peewee.JOIN.LEFT_OUTER)
                    .where(HubSend.id.in_(ids)).order_by(HubSend.due_at, HubSend.id))

    def _release(self, rows: list[HubSend], worker: str) -> None:
        HubSend.update(state=PENDING, claimed_by=None, claimed_until=None, attempts=HubSend.attempts - 1).where(
            HubSend.id.in_([r.id for r in rows]), HubSend.claimed_by == worker, HubSend.state == SENDING).execute()

    def _finish(self, row: HubSend, worker: str, **fields: Any) -> None:
        """One UPDATE, committed on its own (by the Marks thread): the outcome of one send is never held back by the next.

        The statement text is made once per set of columns: building it through the query builder
        for every message cost more than running it.
        """
        fields.update(claimed_by=None, claimed_until=None)
        db = hub_database.obj
        key = (db.param, tuple(fields))  # the text depends only on the placeholder style and the columns
        sql = _FINISH_SQL.get(key)
        if sql is None:
            ph = db.param
            cols = ", ".join(f'"{getattr(HubSend, n).column_name}" = {ph}' for n in fields)
            sql = _FINISH_SQL[key] = (f'UPDATE "{HubSend._meta.table_name}" SET {cols} '
                                      f'WHERE "id" = {ph} AND "claimed_by" = {ph}')
        db.execute_sql(sql, [getattr(HubSend, n).db_value(v) for n, v in fields.items()] + [row.id, worker])

    # --- one row -------------------------------------------------------------------------------------
    def _handle(self, row: HubSend, channels: dict[str, Channel], worker: str, facts: Facts,
                doc: document.HubCampaignDoc | None, marks: Marks) -> None:
        now = self.clock.now()

        def finish(**fields: Any) -> None:
            marks.put(functools.partial(self._finish, row, worker, **fields))

        message = doc.message(row.message_id) if doc else None
        if doc is None or message is None:
            return finish(state=DEAD, error="the campaign or message is no longer stored")
        customer = row.customer
        if customer is not None:
            if customer.erased_at is not None:
                return finish(state=SKIPPED, error="the customer's data was erased")
            if not facts.consent.get((customer.id, campaigns.CONSENT_OF[row.channel])):
                return finish(state=SKIPPED, error=f"no {campaigns.CONSENT_OF[row.channel]} consent")
            later = quiet_until(doc, now)
            if later is not None:
                return finish(state=PENDING, due_at=later, attempts=row.attempts - 1, error="quiet hours")
            if doc.daily_cap and row.trigger == "schedule" and facts.sent_today[customer.id] >= doc.daily_cap:
                return finish(state=SKIPPED, error=f"daily cap of {doc.daily_cap} messages reached")
        channel = channels.get(row.channel)
        if channel is None:
            return self._retry_or_dead(row, finish, SendError(f"channel {row.channel} is not configured on this hub", True), now)
        try:
            out, code = self._render(row, doc, message, customer, facts)
        except SendError as exc:
            return self._retry_or_dead(row, finish, exc, now)
        except Exception as exc:  # noqa: BLE001 - a template error is this message's, not the scheduler's
            return finish(state=DEAD, error=f"template failed to render: {type(exc).__name__}: {exc}"[:2000])
        try:
            provider_id = channel.send(out)
        except SendError as exc:
            return self._retry_or_dead(row, finish, exc, now, code=code)
        if customer is not None:
            facts.sent_today[customer.id] += 1
        fields = dict(state=SENT, sent_at=now, sent_by=worker, provider_id=provider_id[:500], error="", text=out.text[:4000], **code)

        def sent() -> None:
            self._finish(row, worker, **fields)
            with self._count_lock:
                self.sent += 1  # counted once stored

        marks.put(sent)

    def _render(self, row: HubSend, doc: document.HubCampaignDoc, message: document.Message,
                customer: cu.HubCustomer | None, facts: Facts) -> tuple[Outgoing, dict[str, str]]:
        variant = next((v for v in message.variants if v.name == row.variant), message.variants[0])
        ref = (facts.refs.get(customer.id) or f"hub-{customer.uuid}") if customer is not None else None
        code = code_for(row, doc, ref, self.config.code_key)
        link = unsubscribe.link(self.config.base_url, self.config.secret, row.id, row.key) if customer is not None else ""
        seg = doc.segment(row.segment)
        variables = {"first_name": (customer.first_name if customer else "") or "there", "code": code["code"],
                     "window": window_text(seg, doc.timezone), "stop": doc.stop.name, "map_link": doc.stop.map_link,
                     "unsubscribe_link": link}
        subject = document.render(variant.subject or doc.campaign.name, variables)
        text = document.render(variant.template, variables)
        if row.channel == "email" and link and link not in text:
            text = f"{text.rstrip()}\n\nUnsubscribe: {link}\n"
        elif row.channel == "sms" and "STOP" not in text.upper():
            text = f"{text.rstrip()} Reply STOP to opt out."
        return Outgoing(row.key, row.recipient, subject, text, link), code

    def _retry_or_dead(self, row: HubSend, finish: Callable[..., None], exc: SendError, now: datetime,
                       code: dict[str, str] | None = None) -> None:
        if exc.transient and row.attempts < self.config.max_attempts:
            delay = min(self.config.backoff_s * (2 ** (row.attempts - 1)), 6 * 3600)
            log.warning("send %s failed (attempt %d), retry in %.0fs: %s", row.key, row.attempts, delay, exc)
            finish(state=PENDING, due_at=now + timedelta(seconds=delay), error=str(exc)[:2000], **(code or {}))
        else:
            log.warning("send %s dead after %d attempts: %s", row.key, row.attempts, exc)
            finish(state=DEAD, error=str(exc)[:2000], **(code or {}))
