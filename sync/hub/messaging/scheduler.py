"""The durable send scheduler: rows claimed with leases, sent through the channel adapters, retried, never re-sent.

A worker claims a batch of due rows (``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number of
hub processes share the work; one ``BEGIN IMMEDIATE`` writer at a time on SQLite), marking them ``sending``
with a lease. A row is marked ``sent`` (or retried, dead, skipped) only after the channel answered, and the
outcomes are committed together: one commit for up to ``MARK_EVERY`` sends, with the next outcome once
the first has waited ``MARK_WITHIN_S`` (a slow channel gets each outcome committed before its next message
but one), and always before the batch is left (a commit cost as much as a message's whole share of the
SMTP exchange). A row whose lease ran out while ``sending`` (its worker died: at most the rows of the last
uncommitted outcomes and the one on the wire) is claimed again with ``in_doubt`` counted, and sent again
with the same idempotency key (the channel's Message-ID / Topic / Idempotency-Key), so the receiving side
can recognise it. A worker stops using its batch before the lease ends, so a live worker's row is never
taken over.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import peewee

from sync.hub import customers as cu
from sync.hub.messaging import audiences, campaigns, document, unsubscribe
from sync.hub.messaging.channels import Channel, Outgoing, SendError
from sync.hub.messaging.config import ReachConfig
from sync.hub.messaging.manners import Facts, code_for, code_ref, id_in, key_id, mint_ahead, quiet_until, window_text
from sync.hub.messaging.models import DEAD, PENDING, SENDING, SENT, SKIPPED, HubSend, HubSendJob
from sync.hub.models import hub_database
from truck_pos.clock import Clock, SystemClock

log = logging.getLogger(__name__)
RUNNING: list["Scheduler"] = []  # schedulers of this process, woken when a proximity event arrives
_FINISH_SQL: dict[tuple[str, tuple[str, ...]], str] = {}  # UPDATE text per (placeholder, columns)
MARK_EVERY = 8  # outcomes committed together at most (a crash re-sends at most these, with their keys)
MARK_WITHIN_S = 0.05  # or fewer, with the next outcome, once the first of them has waited this long
PLAN_AHEAD_S = 36 * 3600  # personal codes of scheduled messages due within this are minted ahead (the night before)


def _is_pg() -> bool:
    return isinstance(hub_database.obj, peewee.PostgresqlDatabase)


_SEND_COLUMNS = ("id", "key", "campaign_id", "message_id", "segment", "channel", "variant", "customer", "recipient",
                 "code_mode", "due_at", "attempts", "trigger")
_CUSTOMER_COLUMNS = (cu.HubCustomer.id, cu.HubCustomer.uuid, cu.HubCustomer.first_name, cu.HubCustomer.erased_at)


class _Marks:
    """The outcomes of a worker's sends not yet committed: (columns set, their values + row id + worker), oldest first."""

    def __init__(self) -> None:
        self.rows: list[tuple[tuple[str, ...], list[Any]]] = []
        self.since = 0.0
        self.sent = 0

    def add(self, names: tuple[str, ...], params: list[Any], sent: bool) -> None:
        if not self.rows:
            self.since = time.monotonic()
        self.rows.append((names, params))
        self.sent += sent

    def take(self) -> tuple[list[tuple[tuple[str, ...], list[Any]]], int]:
        out = self.rows, self.sent
        self.rows, self.sent = [], 0
        return out


def _update_one_sql(ph: str, names: tuple[str, ...]) -> str:
    """``UPDATE ... SET <names> WHERE id AND claimed_by``, made once per placeholder style and set of columns
    (building it through the query builder for every message cost more than running it)."""
    key = (ph, names)
    sql = _FINISH_SQL.get(key)
    if sql is None:
        cols = ", ".join(f'"{getattr(HubSend, n).column_name}" = {ph}' for n in names)
        sql = _FINISH_SQL[key] = f'UPDATE "{HubSend._meta.table_name}" SET {cols} WHERE "id" = {ph} AND "claimed_by" = {ph}'
    return sql


def _update_many_sql(names: tuple[str, ...], count: int) -> str:
    """PostgreSQL: one UPDATE for ``count`` rows, their values (then id, worker) in a VALUES list."""
    cols = [getattr(HubSend, n).column_name for n in names]
    values = "(" + ", ".join(["%s"] * (len(cols) + 2)) + ")"
    sets = ", ".join(f'"{c}" = v."{c}"' for c in cols)
    aliases = ", ".join(f'"{c}"' for c in cols)
    return (f'UPDATE "{HubSend._meta.table_name}" AS s SET {sets} FROM (VALUES {", ".join([values] * count)}) '
            f'AS v({aliases}, "row_id", "worker") WHERE s."id" = v."row_id" AND s."claimed_by" = v."worker"')


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
        self.sent = 0  # sends stored as sent
        self._count_lock = threading.Lock()
        self._key_id = key_id(config.code_key) if config.code_key is not None else ""
        self._planned: set[tuple[str, str, str]] = set()  # (job, segment, key) whose codes are minted
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
            t = threading.Thread(target=self._loop, args=(f"{self.worker_id}/{i}", i == 0), name=f"reach-{i}", daemon=True)
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

    def _loop(self, worker: str, planner: bool = False) -> None:
        channels = self.config.make_channels()
        try:
            while not self._stop.is_set():
                try:
                    done = self.run_once(channels, worker)
                    if not done and planner:
                        self.plan()  # nothing due: mint the codes of what comes next
                except peewee.PeeweeException:
                    log.exception("reach worker %s: database error; trying again", worker)
                    done = 0
                    self._stop.wait(min(5.0, self.config.poll_s * 4))
                if not done:
                    self.wake.wait(self.config.poll_s)
                    self.wake.clear()
        finally:
            for ch in channels.values():
                ch.close()

    # --- one round -----------------------------------------------------------------------------------
    def run_once(self, channels: dict[str, Channel], worker: str = "") -> int:
        """Expand due jobs, then claim and handle one batch of sends; returns how many rows were handled."""
        worker = worker or self.worker_id
        if _is_pg() and not getattr(self._local, "async_commit", False):
            # A lost commit only matters if PostgreSQL itself crashes (then a send is retried with its key);
            # a hub process dying after COMMIT returned loses nothing. Saves an fsync per message.
            hub_database.execute_sql("SET synchronous_commit TO OFF")
            self._local.async_commit = True
        handled = self._expand_due(worker)
        rows = self._claim(worker)
        deadline = time.monotonic() + self.config.lease_s - self.margin_s
        facts = Facts.of(rows, self.clock.now(), self._key_id) if rows else None
        docs = {cid: campaigns.campaign_doc(cid) for cid in {r.campaign_id for r in rows}}
        self._local.marks = marks = _Marks()
        try:
            for i, row in enumerate(rows):
                if self._stop.is_set() or time.monotonic() > deadline:
                    self._release(rows[i:], worker)  # never work past the lease: another worker may take them
                    break
                self._handle(row, channels, worker, facts, docs[row.campaign_id])  # type: ignore[arg-type]
                handled += 1
        finally:
            self._commit_marks(marks)  # every outcome known is stored before the batch is left
        return handled

    def plan(self, ahead_s: float = PLAN_AHEAD_S) -> int:
        """Mint ahead the personal codes of the scheduled messages due within ``ahead_s`` (not yet expanded), for
        their audience as it is now; returns how many were minted. A send finds its code by campaign, segment,
        ref and key (``HubCode``), else signs it then: people who joined the audience later, whose ref changed,
        or a new key. The first worker thread calls this when nothing is due; it stops between chunks of 500
        when a send is waiting (``wake``) or the scheduler stops, and goes on at the next quiet moment."""
        key = self.config.code_key
        if key is None:
            return 0
        now = self.clock.now()
        minted = 0
        jobs = HubSendJob.select().where(HubSendJob.state == PENDING, HubSendJob.due_at <= now + timedelta(seconds=ahead_s))
        for job in jobs.order_by(HubSendJob.due_at):
            try:
                doc = campaigns.campaign_doc(job.campaign_id)
                message = doc.message(job.message_id) if doc else None
                if doc is None or message is None or message.code != "personal" or message.channel in document.BROADCAST:
                    continue
                mark = (job.key, message.segment, self._key_id)
                if mark in self._planned:
                    continue
                people = audiences.members(doc.audiences[message.segment], now)
                for start in range(0, len(people), 500):
                    if self.wake.is_set() or self._stop.is_set():
                        return minted
                    minted += mint_ahead(doc, message.segment, people[start:start + 500], key)
                self._planned.add(mark)
            except peewee.PeeweeException:
                raise
            except Exception:  # noqa: BLE001 - minting ahead only saves time; a send signs what is missing
                log.exception("could not mint the codes of %s ahead", job.key)
        return minted

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
        query = HubSend.select(HubSend.id).where(due).order_by(HubSend.due_at, HubSend.id).limit(self.config.batch)
        doubt = peewee.Case(None, [(HubSend.state == SENDING, HubSend.in_doubt + 1)], HubSend.in_doubt)
        claim = HubSend.update(state=SENDING, claimed_by=worker, claimed_until=now + timedelta(seconds=self.config.lease_s),
                               attempts=HubSend.attempts + 1, in_doubt=doubt)
        if _is_pg():  # one statement, one round trip: the rows are locked, skipped by other claimers, and claimed
            ids = [i for (i,) in claim.where(HubSend.id.in_(query.for_update("FOR UPDATE SKIP LOCKED")))
                   .returning(HubSend.id).tuples()]
        else:
            with claim_txn():
                ids = [i for (i,) in query.tuples()]
                if ids:
                    claim.where(id_in(HubSend.id, ids)).execute()
        if not ids:
            return []
        # only the columns sending reads (a whole joined row cost more to build than its SMTP exchange's share)
        return list(HubSend.select(*(getattr(HubSend, n) for n in _SEND_COLUMNS), *_CUSTOMER_COLUMNS)
                    .join(cu.HubCustomer, peewee.JOIN.LEFT_OUTER)
                    .where(id_in(HubSend.id, ids)).order_by(HubSend.due_at, HubSend.id))

    def _release(self, rows: list[HubSend], worker: str) -> None:
        HubSend.update(state=PENDING, claimed_by=None, claimed_until=None, attempts=HubSend.attempts - 1).where(
            id_in(HubSend.id, [r.id for r in rows]), HubSend.claimed_by == worker, HubSend.state == SENDING).execute()

    def _finish(self, row: HubSend, worker: str, **fields: Any) -> None:
        """The outcome of one send, as one row of an UPDATE committed with the batch's next few (``MARK_EVERY``)."""
        fields.update(claimed_by=None, claimed_until=None)
        marks = self._local.marks
        marks.add(tuple(fields), [getattr(HubSend, n).db_value(v) for n, v in fields.items()] + [row.id, worker],
                  fields["state"] == SENT)
        if len(marks.rows) >= MARK_EVERY or time.monotonic() - marks.since >= MARK_WITHIN_S:
            self._commit_marks(marks)

    def _commit_marks(self, marks: "_Marks") -> None:
        """One commit for the outcomes gathered: SQLite, an UPDATE per row in one transaction; PostgreSQL, per
        set of columns one ``UPDATE ... FROM (VALUES ...)``, all in one round trip (a statement each cost the
        server more than the rows)."""
        if not marks.rows:
            return
        rows, sent = marks.take()
        groups: dict[tuple[str, ...], list[list[Any]]] = {}
        for names, params in rows:
            groups.setdefault(names, []).append(params)
        db = hub_database.obj
        if _is_pg():
            # a multi-statement query runs as one transaction; psycopg2 binds the parameters client side
            db.execute_sql("; ".join(_update_many_sql(names, len(group)) for names, group in groups.items()),
                           [p for group in groups.values() for params in group for p in params])
        else:
            with db.atomic():
                for names, group in groups.items():
                    sql = _update_one_sql(db.param, names)
                    for params in group:
                        db.execute_sql(sql, params)
        with self._count_lock:
            self.sent += sent

    # --- one row -------------------------------------------------------------------------------------
    def _handle(self, row: HubSend, channels: dict[str, Channel], worker: str, facts: Facts,
                doc: document.HubCampaignDoc | None) -> None:
        now = self.clock.now()
        message = doc.message(row.message_id) if doc else None
        if doc is None or message is None:
            return self._finish(row, worker, state=DEAD, error="the campaign or message is no longer stored")
        customer = row.customer
        if customer is not None:
            if customer.erased_at is not None:
                return self._finish(row, worker, state=SKIPPED, error="the customer's data was erased")
            if not facts.consent.get((customer.id, campaigns.CONSENT_OF[row.channel])):
                return self._finish(row, worker, state=SKIPPED, error=f"no {campaigns.CONSENT_OF[row.channel]} consent")
            later = quiet_until(doc, now)
            if later is not None:
                return self._finish(row, worker, state=PENDING, due_at=later, attempts=row.attempts - 1,
                                    error="quiet hours")
            if doc.daily_cap and row.trigger == "schedule" and facts.sent_today[customer.id] >= doc.daily_cap:
                return self._finish(row, worker, state=SKIPPED, error=f"daily cap of {doc.daily_cap} messages reached")
        channel = channels.get(row.channel)
        if channel is None:
            return self._retry_or_dead(row, worker, SendError(f"channel {row.channel} is not configured on this hub", True), now)
        try:
            out, code = self._render(row, doc, message, customer, facts)
        except SendError as exc:
            return self._retry_or_dead(row, worker, exc, now)
        except Exception as exc:  # noqa: BLE001 - a template error is this message's, not the scheduler's
            return self._finish(row, worker, state=DEAD, error=f"template failed to render: {type(exc).__name__}: {exc}"[:2000])
        try:
            provider_id = channel.send(out)
        except SendError as exc:
            return self._retry_or_dead(row, worker, exc, now, code=code)
        self._finish(row, worker, state=SENT, sent_at=now, sent_by=worker, provider_id=provider_id[:500], error="",
                     text=out.text[:4000], **code)
        if customer is not None:
            facts.sent_today[customer.id] += 1

    def _render(self, row: HubSend, doc: document.HubCampaignDoc, message: document.Message,
                customer: cu.HubCustomer | None, facts: Facts) -> tuple[Outgoing, dict[str, str]]:
        variant = next((v for v in message.variants if v.name == row.variant), message.variants[0])
        ref = code_ref(facts.refs, customer) if customer is not None else None
        code = code_for(row, doc, ref, self.config.code_key, facts.minted)
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

    def _retry_or_dead(self, row: HubSend, worker: str, exc: SendError, now: datetime,
                       code: dict[str, str] | None = None) -> None:
        if exc.transient and row.attempts < self.config.max_attempts:
            delay = min(self.config.backoff_s * (2 ** (row.attempts - 1)), 6 * 3600)
            log.warning("send %s failed (attempt %d), retry in %.0fs: %s", row.key, row.attempts, delay, exc)
            self._finish(row, worker, state=PENDING, due_at=now + timedelta(seconds=delay), error=str(exc)[:2000], **(code or {}))
        else:
            log.warning("send %s dead after %d attempts: %s", row.key, row.attempts, exc)
            self._finish(row, worker, state=DEAD, error=str(exc)[:2000], **(code or {}))
