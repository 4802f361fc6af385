"""The truck's store-and-forward sync agent: drains the outbox to MQTT, applies what comes down.

Threads: paho's network loop (callbacks, inbound messages) and one drainer thread that
publishes outbox rows in ``seq`` order with at most ``max_inflight`` awaiting PUBACK. The
SQLite outbox and the envelope ``id`` are the record of truth: rows are marked *sent* on the
broker's PUBACK and *acked* on the hub's ``ack``; nothing is deleted here. If the hub's ack
stalls (the broker died holding messages it had PUBACKed) the agent re-sends the gaps the ack
lists; the hub ingests each id once. Inbound messages go through :class:`sync.agent.inbound.Inbox`.
``status()`` is safe from any thread and never blocks on the network or the database.
"""

from __future__ import annotations

import functools
import logging
import operator
import sys
import threading
import time
from collections import deque
from dataclasses import replace
from typing import Any

import paho.mqtt.client as mqtt
import peewee
from paho.mqtt.subscribeoptions import SubscribeOptions

from sync import protocol
from sync.agent.inbound import BodyHandler, BundleHandler, Inbox, Outcome
from sync.agent.config import AgentConfig, SyncStatus, explain_connect_failure
from sync.transport import connect_persistent, new_client
from truck_pos.clock import Clock
from truck_pos.store import outbox
from truck_pos.store.outbox import Outbox, mark_sent_ranges, stored_rows
from truck_pos.store.sync_models import rejection_summary

log = logging.getLogger(__name__)

MARK_CHUNK = 500  # PUBACKed rows recorded per transaction
MARK_EVERY_S = 0.25  # ... or at least this often
PREFETCH = 1000  # outbox rows read per query
COUNTS_EVERY_S = 1.0  # status-bar counts refresh
HANDOFF_FACTOR = 10  # rows handed to paho per row allowed in flight on the wire
# The drain's two busy threads (drainer, paho's loop) hold the GIL up to the interpreter's switch
# interval (5 ms) at a time; the register's sale thread waiting behind them showed as a 3x p99
# ring-up while draining a backlog (benchmarks/bench_sync_ringup.py). 1 ms keeps the sale in front.
GIL_SWITCH_S = 0.001
# A gap the hub keeps listing this long while its acks keep coming (the hub is reachable and moving
# on) was lost on the way: re-send just those rows now instead of waiting for ack_timeout_s.
GAP_RESEND_S = 10.0


class SyncAgent:
    """Store-and-forward MQTT agent for one truck. start() / stop(); poke() after enqueueing."""

    def __init__(self, db: peewee.Database, clock: Clock, config: AgentConfig, *,
                 on_campaign: BundleHandler | None = None, on_menu: BodyHandler | None = None,
                 on_mobile_order: BodyHandler | None = None, poll_s: float = 0.5):
        self.db = db
        self.clock = clock
        self.config = config
        self.inbox = Inbox(config.truck_id, clock, {"campaign": on_campaign, "menu": on_menu, "mobile_order": on_mobile_order},
                           on_ack=self._apply_ack)
        self.poll_s = poll_s
        self.client: mqtt.Client | None = None
        self._lock = threading.Lock()  # guards the status fields below; never held while calling paho
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pubacks: deque[tuple[int, bool, str]] = deque()  # (mid, ok, reason) from paho's thread
        self._inflight: dict[int, int] = {}  # mid -> seq; drainer thread only
        self._cursor = 0  # highest seq handed to paho by the window; drainer thread only
        self._loaded = 0  # highest seq read into _buffer
        self._buffer: deque[tuple] = deque()
        self._sent: list[int] = []  # PUBACKed seqs not yet recorded
        self._next_mark = 0.0
        self._max_published = 0
        self._last_ack_move = time.monotonic()
        self._ack_hint: dict[str, Any] | None = None
        self._hub_progress = time.monotonic()  # when the hub's max_seq last moved
        self._hub_heard = time.monotonic()  # when the last ack arrived (the hub is reachable)
        self._resend_wait_s = config.ack_timeout_s
        self._rewind = threading.Event()  # the broker lost our session: what it held may be gone
        self._gaps_seen: dict[tuple[int, int], float] = {}  # gap range -> when an ack first listed it
        self._status = SyncStatus(False, 0, 0, 0, None, "")

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> "SyncAgent":
        """Connect in the background (retrying with backoff) and start draining."""
        if self._thread is not None:
            return self
        self._stop.clear()
        if sys.getswitchinterval() > GIL_SWITCH_S:
            sys.setswitchinterval(GIL_SWITCH_S)
        self._cursor = self._loaded = self._acked_through()
        self._buffer.clear()
        self._set(acked_through_seq=self._cursor)
        self.client = self._make_client()
        connect_persistent(self.client, self.config.login)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._drain_loop, name="sync-drainer", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Say "offline", disconnect and stop both threads. Safe to call twice or before start()."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        client, self.client = self.client, None
        if client is not None:
            if self._status.connected:
                client.publish(protocol.status_topic(self.config.truck_id), protocol.OFFLINE, qos=1, retain=True)
            client.disconnect()
            client.loop_stop()
        self._set(connected=False)

    def poke(self) -> None:
        """Wake the drainer now (call after committing new outbox rows)."""
        self._wake.set()

    def status(self) -> SyncStatus:
        """A snapshot for the status bar; never blocks on I/O."""
        with self._lock:
            return self._status

    def _set(self, **changes: Any) -> None:
        with self._lock:
            self._status = replace(self._status, **changes)

    # --- paho ------------------------------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        c = new_client(self.config.effective_client_id, self.config.login)
        c.will_set(protocol.status_topic(self.config.truck_id), protocol.OFFLINE, qos=1, retain=True)
        c.reconnect_delay_set(self.config.reconnect_min_s, self.config.reconnect_max_s)  # type: ignore[arg-type]
        c.max_inflight_messages_set(self.config.max_inflight)
        c.on_connect = self._on_connect
        c.on_connect_fail = self._on_connect_fail
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_message = self._on_message
        return c

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            message = explain_connect_failure(reason, self.config.login)
            log.error("%s", message)
            self._set(connected=False, last_error=message)
            return
        log.info("connected to %r (session present: %s)", self.config.login, flags.session_present)
        if not flags.session_present:
            self._rewind.set()  # a broker restarted without persistence lost what it had PUBACKed
        self._set(connected=True, last_error="")
        client.publish(protocol.status_topic(self.config.truck_id), protocol.ONLINE, qos=1, retain=True)
        client.subscribe(protocol.truck_subscription(self.config.truck_id), options=SubscribeOptions(qos=1))
        self._wake.set()

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self._set(connected=False, last_error=f"Broker {self.config.login.host}:{self.config.login.port} unreachable; retrying")

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if not self._stop.is_set():
            log.warning("disconnected from broker: %s", reason)
            error = self._status.last_error or f"Disconnected from broker ({reason}); retrying"
            self._set(connected=False, last_error=error)
        else:
            self._set(connected=False)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        # Called with paho's message lock held: only hand the fact to the drainer.
        failed = bool(getattr(reason, "is_failure", False))
        self._pubacks.append((mid, not failed, str(reason)))
        backlog = len(self._pubacks)
        # Wake the drainer once per window (not per message), or when everything handed out is back.
        if failed or backlog >= self.config.max_inflight or backlog >= len(self._inflight):
            self._wake.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = "(topic not UTF-8)"
        self.handle_inbound(topic, message.payload)

    # --- outbound --------------------------------------------------------------------------
    def _drain_loop(self) -> None:
        next_counts = 0.0
        while not self._stop.is_set():
            self._wake.wait(self.poll_s)
            self._wake.clear()
            try:
                self._collect_pubacks()
                if self._status.connected and self.client is not None:
                    if self._rewind.is_set():
                        self._rewind.clear()
                        self._rewind_to_ack()
                    self._resend_old_gaps()
                    self._maybe_resend()
                    self._publish_window()
                self._mark_sent(force=not self._inflight)  # idle: record at once
                if time.monotonic() >= next_counts:
                    self._refresh_counts()
                    next_counts = time.monotonic() + COUNTS_EVERY_S
            except peewee.OperationalError as exc:  # database busy/locked: try again next round
                log.warning("outbox drain paused: %s", exc)
                self._set(last_error=f"Outbox busy: {exc}")
            except Exception:  # noqa: BLE001 - the drainer must survive anything and keep trying
                log.exception("outbox drain failed; retrying")
                time.sleep(self.poll_s)
        self._collect_pubacks()
        self._mark_sent(force=True)

    def _publish_window(self) -> None:
        """Keep paho fed: it sends at most max_inflight on the wire and queues up to HANDOFF_FACTOR times
        that in memory, sending the next one from its own thread on each PUBACK (no thread hop per message).
        """
        room = self.config.max_inflight * HANDOFF_FACTOR - len(self._inflight)
        if room <= 0:
            return
        if len(self._buffer) < room:
            self._buffer.extend(stored_rows(Outbox.seq > self._loaded, limit=PREFETCH))
            if self._buffer:
                self._loaded = self._buffer[-1][0]
        rows = [self._buffer.popleft() for _ in range(min(room, len(self._buffer)))]
        if self._publish(rows):
            self._cursor = max(self._cursor, rows[-1][0])

    def _publish(self, rows: list[tuple]) -> bool:
        """Hand rows (from stored_rows) to paho at QoS 1; each is marked sent when its PUBACK comes back."""
        busy = set(self._inflight.values())
        client = self.client
        if client is None:
            return False
        truck = self.config.truck_id
        for seq, key, kind, ts_text, body_json in rows:
            if seq in busy:
                continue
            payload = protocol.encode_stored(truck=truck, seq=seq, kind=kind, key=key, ts_text=ts_text, body_json=body_json)
            info = client.publish(protocol.up_topic(truck, kind), payload, qos=1)
            self._inflight[info.mid] = seq
            self._max_published = max(self._max_published, seq)
        return bool(rows)

    def _collect_pubacks(self) -> None:
        while self._pubacks:
            mid, ok, reason = self._pubacks.popleft()
            seq = self._inflight.pop(mid, None)
            if seq is None:
                continue
            if ok:
                self._sent.append(seq)
            else:
                log.error("broker refused outbox seq %s: %s", seq, reason)
                self._set(last_error=f"Broker refused message {seq}: {reason} (check the truck's ACL)")

    def _mark_sent(self, *, force: bool) -> None:
        """Record PUBACKs in batches: a crash before this only means those rows are sent again."""
        if not self._sent or (not force and len(self._sent) < MARK_CHUNK and time.monotonic() < self._next_mark):
            return
        sent, self._sent = self._sent, []
        mark_sent_ranges(sent, self.clock.now())
        self._next_mark = time.monotonic() + MARK_EVERY_S

    def _rewind_to_ack(self) -> None:
        """Send again everything the hub has not acked (skipping what paho still holds to send)."""
        acked = self._acked_through()
        if acked < self._cursor:
            log.warning("broker session was lost; re-sending outbox rows after seq %s", acked)
            self._cursor = self._loaded = acked
            self._buffer.clear()

    def _resend_old_gaps(self) -> None:
        """Re-send the ranges the hub has listed as missing for GAP_RESEND_S while still acking (reachable)."""
        now = time.monotonic()
        if now - self._hub_heard > GAP_RESEND_S:
            return
        gaps = self._gaps_seen
        old = [g for g, first in gaps.items() if now - first >= GAP_RESEND_S]
        if not old:
            return
        for g in old:
            gaps[g] = now  # again at most every GAP_RESEND_S while the hub keeps listing it
        rows = stored_rows(functools.reduce(operator.or_, [Outbox.seq.between(a, b) for a, b in old]),
                           limit=self.config.resend_batch)
        if rows:
            log.warning("hub still lacks %d rows (%s); re-sending them", len(rows), old[:3])
            self._publish(rows)

    def _maybe_resend(self) -> None:
        """The hub's ack has not moved for ack_timeout_s although rows went out: send the gaps again.

        The broker PUBACKed them but lost them (killed before saving, or no hub subscription yet).
        The last ack lists the hub's gaps, and exactly those are re-sent; rows past the hub's highest
        seq are re-sent only when nothing is in flight and the hub's highest seq has stopped moving
        (a hub working through a backlog is not sent the backlog again).
        """
        if time.monotonic() - self._last_ack_move < self._resend_wait_s:
            return
        heard_since = self._hub_heard > self._last_ack_move
        self._last_ack_move = time.monotonic()
        # While acks keep coming the hub is reachable: try again after ack_timeout_s. When it is
        # silent, back off (at most 4x) so a hub working through a backlog is not flooded.
        wait = self.config.ack_timeout_s if heard_since else self._resend_wait_s * 2
        self._resend_wait_s = min(wait, self.config.ack_timeout_s * 4)
        acked = self._status.acked_through_seq
        hint = self._ack_hint
        where = [Outbox.seq > acked, Outbox.seq <= self._cursor]
        if hint is not None and hint["through_seq"] >= acked:
            wanted = [Outbox.seq.between(a, b) for a, b in hint.get("missing", [])]
            hub_idle = time.monotonic() - self._hub_progress >= self.config.ack_timeout_s
            if not self._inflight and hub_idle and "max_seq" in hint:
                wanted.append(Outbox.seq > hint["max_seq"])
            if not wanted:
                return
            where.append(functools.reduce(operator.or_, wanted))
        rows = stored_rows(*where, limit=self._missing_count(hint, acked))
        if rows:
            log.warning("hub ack stuck at seq %s; re-sending %d rows from seq %s (next try in %.0f s)",
                        acked, len(rows), rows[0][0], self._resend_wait_s)
            self._publish(rows)

    def _missing_count(self, hint: dict[str, Any] | None, acked: int) -> int:
        """Rows worth re-sending: what the ack lists as missing plus the rows past its max (capped)."""
        if hint is None:
            return self.config.resend_batch
        gaps = sum(b - a + 1 for a, b in hint.get("missing", []))
        tail = max(0, self._cursor - max(hint.get("max_seq", acked), acked))
        return max(1, min(self.config.resend_batch, gaps + tail))

    def _acked_through(self) -> int:
        """Highest seq such that it and everything before it is acked."""
        first_unacked = Outbox.select(peewee.fn.MIN(Outbox.seq)).where(Outbox.acked_utc.is_null()).scalar()
        if first_unacked is not None:
            return first_unacked - 1
        return Outbox.select(peewee.fn.MAX(Outbox.seq)).scalar() or 0

    def _refresh_counts(self) -> None:
        queued, unacked = outbox.waiting_counts()
        rejected, reason = rejection_summary()
        self._set(queued=queued, unacked=unacked, rejected=rejected, last_rejection=reason)

    # --- inbound ---------------------------------------------------------------------------
    def handle_inbound(self, topic: str, payload: bytes) -> Outcome:
        """Validate and apply one down message (what paho's on_message calls); never raises."""
        return self.inbox.handle(topic, payload)

    def _apply_ack(self, body: dict[str, Any]) -> Outcome:
        # Never trust an ack past what this process has published (e.g. a stale retained ack
        # from a hub database that was reset): those rows are re-sent and acked properly.
        previous, self._ack_hint = self._ack_hint, body
        self._hub_heard = now = time.monotonic()
        seen = self._gaps_seen  # replaced whole: the drainer thread reads it
        self._gaps_seen = {(a, b): seen.get((a, b), now) for a, b in body.get("missing", [])}
        if previous is None or previous.get("max_seq") != body.get("max_seq"):
            self._hub_progress = time.monotonic()  # the hub is still taking messages in
        through = min(body["through_seq"], self._max_published)
        if through <= self._status.acked_through_seq:
            return True, "ack already known"
        outbox.mark_acked_through(through, self.clock.now())
        self._last_ack_move = time.monotonic()
        self._resend_wait_s = self.config.ack_timeout_s
        self._set(acked_through_seq=through, last_ack_utc=self.clock.now())
        return True, f"acked through {through}"
