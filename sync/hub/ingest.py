"""The reference cloud endpoint: ingests every truck envelope once, acks, and sends things down.

Subscribes with a shared subscription, so several hub processes (distinct ``client_id``) split a
fleet. paho's network thread only queues each message (a bounded queue; the broker sends at most
``receive_maximum`` unacknowledged); worker threads store them in batches through
``sync.hub.models`` (SQLite or PostgreSQL, same code) and send the MQTT PUBACK after the commit,
so keepalive is never starved and nothing is acknowledged before it is stored.

Every up message ends in exactly one outcome (PROTOCOL.md "Outcomes"): new (stored), duplicate,
conflict, rejected or dead. Anything that raises while storing one message becomes a dead letter
with the reason; the ack moves past it and the truck is told (``down/rejected``). Acks and
notices go out on their own connection from a timer thread, at most every ``ack_interval_s``.
Console script: ``truck-pos-hub``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import paho.mqtt.client as mqtt
import peewee
from paho.mqtt.subscribeoptions import SubscribeOptions

from sync import protocol
from sync.hub import messaging as reach
from sync.hub import spends
from sync.hub.models import HubMobileOrder, hub_database, insert_message, insert_messages
from sync.hub.outbound import Notice, Outbound
from sync.hub.records import dead_letter, failure_reason, stored_hash
from sync.transport import BrokerLogin, connect_persistent, new_client
from truck_pos.clock import Clock, SystemClock

log = logging.getLogger(__name__)

# The database is down or the connection dropped: retry the batch later, never dead-letter it.
TRANSIENT = (peewee.OperationalError, peewee.InterfaceError)


@dataclass(frozen=True)
class HubConfig:
    """Broker login and pacing for one hub process."""

    login: BrokerLogin = field(default_factory=lambda: BrokerLogin(username="hub"))
    client_id: str = "truck-pos-hub-1"
    shared: bool = True  # see PROTOCOL.md: mosquitto 2.0.x forgets shared subscriptions on a restart
    ack_interval_s: float = 0.2
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 10.0
    receive_maximum: int = 1000  # unacknowledged messages the broker may have out to this hub
    batch_size: int = 500  # messages stored per transaction
    workers: int = 0  # ingest threads; 0: 2 on PostgreSQL (one validates while one waits on it), 1 on SQLite


class _Item(NamedTuple):
    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int  # MQTT message ids are per connection: never ack one from an older connection


class Hub(Outbound):
    """One hub process. start() / stop(); ingest() is also callable directly (tests, replays)."""

    def __init__(self, config: HubConfig, clock: Clock | None = None):
        super().__init__(config, clock or SystemClock())
        self.client: mqtt.Client | None = None  # the ingest connection
        self.on_ingest: Callable[[str, str], None] | None = None  # (outcome, key) for tests/metrics
        self._queue: queue.Queue[_Item | None] = queue.Queue(maxsize=config.receive_maximum * 4)
        self._workers: list[threading.Thread] = []
        self._generation = 0
        self._take = threading.Lock()  # one worker at a time forms a batch, so batches keep the arrival order
        self._turn = threading.Condition()  # PUBACKs go out batch by batch in that order (MQTT 4.6)
        self._tickets = (0, 0)  # (next batch to form, next batch to acknowledge)
        self._in_connected = threading.Event()

    # --- lifecycle -----------------------------------------------------------------------
    def start(self, *, ingest: bool = True) -> "Hub":
        """Connect (persistent sessions) and start ingesting and acking (``ingest=False``: publish only)."""
        self._stop.clear()
        self.start_outbound()
        if ingest:
            c = new_client(self.config.client_id, self.config.login)
            c.manual_ack_set(True)
            c.on_connect = self._on_connect
            c.on_disconnect = self._on_disconnect
            c.on_message = self._on_message
            c.reconnect_delay_set(self.config.reconnect_min_s, self.config.reconnect_max_s)  # type: ignore[arg-type]
            self.client = c
            self._workers = [threading.Thread(target=self._work, name=f"hub-ingest-{n}", daemon=True)
                             for n in range(self.config.workers or _default_workers())]
            for w in self._workers:
                w.start()
            connect_persistent(c, self.config.login, receive_maximum=self.config.receive_maximum)
            c.loop_start()
        else:
            self._in_connected.set()
        threading.Thread(target=self._watch_connected, name="hub-connected", daemon=True).start()
        return self

    def stop(self) -> None:
        """Store what is queued, send the last acks and disconnect."""
        self._stop.set()
        if self.client is not None:
            self.client.disconnect()  # no new deliveries; un-acked ones come back to the next hub
            self.client.loop_stop()
        for _ in self._workers:
            self._queue.put(None)
        for w in self._workers:
            w.join(10)
        self._workers = []
        self.client = None
        self._in_connected.clear()
        self.stop_outbound()

    def _watch_connected(self) -> None:
        # ``connected`` means both connections are up (ingest and outbound).
        while not self._stop.is_set():
            if self._in_connected.is_set() and self._out_connected.is_set():
                self.connected.set()
            else:
                self.connected.clear()
            time.sleep(0.02)
        self.connected.clear()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self.last_error = f"hub login refused by the broker: {reason}"
            log.error("%s", self.last_error)
            return
        self._generation += 1
        client.subscribe([(protocol.hub_subscription(self.config.shared), SubscribeOptions(qos=1)),
                          (protocol.status_topic("+"), SubscribeOptions(qos=1))])
        self.last_error = ""
        self._in_connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self._in_connected.clear()
        if not self._stop.is_set():
            log.warning("hub disconnected: %s", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        # paho's network thread: hand over and return (the broker sends at most receive_maximum un-acked).
        topic = bytes(message._topic).decode("utf-8", "replace")  # .topic raises on bytes that are not UTF-8
        self._queue.put(_Item(topic, bytes(message.payload), message.mid, message.qos, self._generation))

    # --- workers -------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._take:
                batch = self._take_batch()
                if batch is None:
                    return
                ticket = self._tickets[0]
                self._tickets = (ticket + 1, self._tickets[1])
            results = self._store_batch(batch)  # workers overlap here: one in the database, one validating
            with self._turn:
                self._turn.wait_for(lambda: self._tickets[1] == ticket)
                client = self.client
                for item in batch if results is not None and client is not None else []:
                    if item.qos > 0 and item.generation == self._generation:
                        client.ack(item.mid, item.qos)  # PUBACK only now: the row is committed
                self._tickets = (self._tickets[0], ticket + 1)
                self._turn.notify_all()
            if results is None:
                continue  # stopped while the database was down: the broker re-delivers them
            if self.on_ingest is not None:
                for outcome, key in results:
                    self.on_ingest(outcome, key)

    def _take_batch(self) -> list[_Item] | None:
        """The next message and whatever else is queued behind it, up to batch_size (None: stop)."""
        first = self._queue.get()
        if first is None:
            return None
        batch = [first]
        while len(batch) < self.config.batch_size:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)  # let this worker finish the batch, then stop
                break
            batch.append(item)
        return batch

    def _store_batch(self, batch: list[_Item]) -> list[tuple[str, str]] | None:
        """One transaction for the batch; if one message raises, each is stored on its own instead."""
        wait = 0.1
        while True:
            try:
                notices: list[Notice] = []
                now = self.clock.now()
                try:
                    with self.acks_after_commit(), hub_database.atomic():
                        results = self._record_batch(batch, now, notices)
                    self.notify(notices)
                    return results
                except TRANSIENT:
                    raise
                except Exception:  # noqa: BLE001 - find the message that raised; it alone is dead-lettered
                    return [self.ingest(i.topic, i.payload) for i in batch]
            except TRANSIENT as exc:
                self.last_error = f"hub database unavailable: {exc}"
                log.warning("%s; retrying in %.1f s", self.last_error, wait)
                try:
                    hub_database.close()
                except peewee.PeeweeException:
                    pass
                if self._stop.wait(wait):
                    return None
                wait = min(wait * 2, 5.0)

    # --- ingest --------------------------------------------------------------------------
    def ingest(self, topic: str, payload: bytes) -> tuple[str, str]:
        """Store one message once; returns (outcome, key): new | duplicate | conflict | rejected | dead | status.

        Never raises for a bad message: whatever fails becomes a dead letter with the reason. Only a
        database that cannot be reached raises (peewee.OperationalError/InterfaceError).
        """
        now = self.clock.now()
        notices: list[Notice] = []
        try:
            with self.acks_after_commit(), hub_database.atomic():
                result = self._record(topic, payload, now, notices)
        except TRANSIENT:
            raise
        except Exception as exc:  # noqa: BLE001 - one message never stops the hub
            log.exception("hub could not store a message on %s", topic[:200])
            notices = []
            with self.acks_after_commit(), hub_database.atomic():
                result = self._placed_dead_letter(topic, payload, failure_reason(exc), now, notices)
        self.notify(notices)
        return result

    def _record_batch(self, batch: list[_Item], now: datetime, notices: list[Notice]) -> list[tuple[str, str]]:
        """Outcomes of a batch in the caller's transaction: the valid envelopes go in with ONE multi-row INSERT;
        everything else (status, refused, an id seen twice in the batch) goes through _record afterwards, in order."""
        results: list[tuple[str, str] | None] = [None] * len(batch)
        rows, fresh, later, keys = [], [], [], set()
        for n, item in enumerate(batch):
            parsed = protocol.parse_topic(item.topic)
            checked = (protocol.check(item.payload, direction="up", truck=parsed.truck, kind=parsed.kind)
                       if parsed is not None and parsed.direction == "up" else None)
            env = checked.envelope if checked is not None else None
            if env is None or env["id"] in keys:
                later.append(n)
                continue
            keys.add(env["id"])
            body_text = protocol.canonical(env["body"])
            digest = protocol.text_hash(body_text)
            fresh.append((n, parsed, env, digest))
            rows.append(((env["id"], parsed.truck, env["seq"], parsed.kind, protocol.parse_ts(env["ts"]), now, "ok", "",
                          digest), body_text))
        inserted = insert_messages(rows)
        for n, parsed, env, digest in fresh:
            results[n] = (self._stored(parsed, env, now) if env["id"] in inserted else
                          self._again(batch[n].topic, batch[n].payload, env["id"], env["seq"], parsed.truck, digest, now, notices))
        for n in later:
            results[n] = self._record(batch[n].topic, batch[n].payload, now, notices)
        return results  # type: ignore[return-value]

    def _record(self, topic: str, payload: bytes, now: datetime, notices: list[Notice]) -> tuple[str, str]:
        """The outcome of one message, written in the caller's transaction (may raise)."""
        parsed = protocol.parse_topic(topic)
        if parsed is not None and parsed.direction == "status":
            if protocol.TRUCK_ID_RE.fullmatch(parsed.truck):
                self.record_status(parsed.truck, payload, now)
                return "status", ""
            return dead_letter(topic, payload, "status topic of an invalid truck id", now, notices)
        if parsed is None or parsed.direction != "up":
            return dead_letter(topic, payload, "not an up topic", now, notices)
        checked = protocol.check(payload, direction="up", truck=parsed.truck, kind=parsed.kind)
        if not checked.ok:
            return self._refused(topic, payload, checked.reason, now, notices)
        env = checked.envelope
        assert env is not None
        body_text = protocol.canonical(env["body"])
        digest = protocol.text_hash(body_text)
        ts = protocol.parse_ts(env["ts"])
        if not insert_message(env["id"], parsed.truck, env["seq"], parsed.kind, ts, now, "ok", "", digest, body_text=body_text):
            return self._again(topic, payload, env["id"], env["seq"], parsed.truck, digest, now, notices)
        return self._stored(parsed, env, now)

    def _stored(self, parsed: protocol.Topic, env: dict[str, Any], now: datetime) -> tuple[str, str]:
        """What follows a newly stored message, in its transaction (hooks that raise make it a dead letter)."""
        if parsed.kind == "redemption":
            spends.record(env["id"], parsed.truck, env["body"], now)  # double spends: see sync/hub/spends.py
        reach.on_stored(parsed.kind, parsed.truck, env["body"], now)  # profiles, proximity -> code (sync/hub/messaging)
        if parsed.kind == "order" and env["body"].get("channel") == "mobile":
            HubMobileOrder.update(delivered_utc=now).where(
                HubMobileOrder.order_id == env["body"]["order_id"], HubMobileOrder.delivered_utc.is_null()).execute()
        self.mark_dirty(parsed.truck)
        return "new", env["id"]

    def _refused(self, topic: str, payload: bytes, reason: str, now: datetime, notices: list[Notice]) -> tuple[str, str]:
        """Refused by the contract: kept as ``rejected`` under its id when it has a usable one, else dead-lettered."""
        parsed = protocol.parse_topic(topic)
        assert parsed is not None
        place = protocol.place(payload, parsed.truck) if protocol.TRUCK_ID_RE.fullmatch(parsed.truck) else None
        if place is None or not place.key or parsed.kind not in protocol.UP_KINDS:
            return self._placed_dead_letter(topic, payload, reason, now, notices)
        digest = protocol.raw_hash(payload)
        reason = reason[:protocol.MAX_REASON_LEN]
        if not insert_message(place.key, parsed.truck, place.seq, parsed.kind, None, now, "rejected", reason, digest,
                              body_text=None):
            return self._again(topic, payload, place.key, place.seq, parsed.truck, digest, now, notices)
        notices.append(Notice(parsed.truck, place.seq, place.key, "rejected", reason))
        self.mark_dirty(parsed.truck)
        return "rejected", place.key

    def _placed_dead_letter(self, topic: str, payload: bytes, reason: str, now: datetime,
                            notices: list[Notice]) -> tuple[str, str]:
        """A dead letter under its truck's seq when the envelope names them (the ack then moves past it)."""
        parsed = protocol.parse_topic(topic)
        truck = parsed.truck if parsed is not None and parsed.direction == "up" else ""
        place = protocol.place(payload, truck) if protocol.TRUCK_ID_RE.fullmatch(truck) else None
        if place is None:
            return dead_letter(topic, payload, reason, now, notices)
        self.mark_dirty(truck)
        return dead_letter(topic, payload, reason, now, notices, truck=truck, seq=place.seq, key=place.key)

    def _again(self, topic: str, payload: bytes, key: str, seq: int, truck: str, digest: str, now: datetime,
               notices: list[Notice]) -> tuple[str, str]:
        """The id is stored already: the same body is a duplicate, a different one a conflict (kept, both hashes)."""
        stored = stored_hash(key)
        self.mark_dirty(truck)
        if stored == digest:
            return "duplicate", key
        reason = f"id {key!r} was already stored with another body (stored {stored[:12]}, this one {digest[:12]})"
        dead_letter(topic, payload, reason, now, notices, truck=truck, seq=seq, key=key, outcome="conflict",
                    body_hash=digest, stored=stored)
        return "conflict", key


def _default_workers() -> int:
    # SQLite takes one writer at a time: a second worker would only wait for the lock.
    return 2 if isinstance(hub_database.obj, peewee.PostgresqlDatabase) else 1
