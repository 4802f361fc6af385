"""The reference cloud endpoint: ingests every truck envelope once, acks, and sends things down.

Subscribes with a shared subscription, so several hub processes (distinct ``client_id``) split a
fleet; each message is stored through ``sync.hub.models`` (SQLite or PostgreSQL, same code) with
the envelope ``id`` unique, so a re-delivery is a no-op. An ``ack`` (highest contiguous seq per
truck, retained) is published from a small timer thread, at most every ``ack_interval_s``.
Threads: paho's loop (ingest) and the ack timer. Console script: ``truck-pos-hub``.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
import peewee
from paho.mqtt.subscribeoptions import SubscribeOptions

from sync import protocol
from sync.hub import messaging as reach
from sync.hub.models import HubDeadLetter, HubMessage, HubMobileOrder, HubTruck, hub_database, insert_message
from sync.transport import BrokerLogin, connect_persistent, new_client
from truck_pos.clock import Clock, SystemClock

log = logging.getLogger(__name__)

ACK_SCAN_ROWS = 20_000  # seqs looked at past the contiguous point when listing gaps


@dataclass(frozen=True)
class HubConfig:
    """Broker login and pacing for one hub process."""

    login: BrokerLogin = field(default_factory=lambda: BrokerLogin(username="hub"))
    client_id: str = "truck-pos-hub-1"
    shared: bool = True  # see PROTOCOL.md: mosquitto 2.0.x forgets shared subscriptions on a restart
    ack_interval_s: float = 0.2
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 10.0


class Hub:
    """One hub process. start() / stop(); ingest() is also callable directly (tests, replays)."""

    def __init__(self, config: HubConfig, clock: Clock | None = None):
        self.config = config
        self.clock = clock or SystemClock()
        self.client: mqtt.Client | None = None
        self.connected = threading.Event()
        self.last_error = ""
        self._dirty: set[str] = set()
        self._dirty_lock = threading.Lock()
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        self.on_ingest: Callable[[str, str], None] | None = None  # (outcome, key) for tests/metrics
        self._ingest = True

    # --- lifecycle -----------------------------------------------------------------------
    def start(self, *, ingest: bool = True) -> "Hub":
        """Connect (persistent session) and start ingesting and acking (``ingest=False``: publish only)."""
        self._stop.clear()
        self._ingest = ingest
        c = new_client(self.config.client_id, self.config.login)
        c.manual_ack_set(True)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.reconnect_delay_set(self.config.reconnect_min_s, self.config.reconnect_max_s)  # type: ignore[arg-type]
        self.client = c
        connect_persistent(c, self.config.login)
        c.loop_start()
        self._timer = threading.Thread(target=self._ack_loop, name="hub-acks", daemon=True)
        self._timer.start()
        return self

    def stop(self) -> None:
        """Send the last acks and disconnect."""
        self._stop.set()
        if self._timer is not None:
            self._timer.join(5)
            self._timer = None
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None
        self.connected.clear()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self.last_error = f"hub login refused by the broker: {reason}"
            log.error("%s", self.last_error)
            return
        if self._ingest:
            client.subscribe([(protocol.hub_subscription(self.config.shared), SubscribeOptions(qos=1)),
                              (protocol.status_topic("+"), SubscribeOptions(qos=1))])
        self.last_error = ""
        self.connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self.connected.clear()
        if not self._stop.is_set():
            log.warning("hub disconnected: %s", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        # Manual PUBACK: only once the row is committed. On a database error the message stays
        # un-acked; the broker re-delivers it on reconnect and the truck re-sends after its ack timeout.
        try:
            outcome = self.ingest(message.topic, message.payload)
        except Exception:  # noqa: BLE001 - never let one message stop the hub
            log.exception("hub could not ingest a message on %s", message.topic)
            return
        client.ack(message.mid, message.qos)
        if self.on_ingest is not None:
            self.on_ingest(*outcome)

    # --- ingest --------------------------------------------------------------------------
    def ingest(self, topic: str, payload: bytes) -> tuple[str, str]:
        """Store one message once; returns (outcome, key): new | duplicate | rejected | status | dead."""
        parsed = protocol.parse_topic(topic)
        now = self.clock.now()
        if parsed is not None and parsed.direction == "status":
            self._record_status(parsed.truck, payload, now)
            return "status", ""
        if parsed is None or parsed.direction != "up":
            return self._dead(topic, payload, "not an up topic", now)
        checked = protocol.check(payload, direction="up", truck=parsed.truck, kind=parsed.kind)
        env = checked.envelope or _placeable(payload, parsed.truck)
        if env is None:
            return self._dead(topic, payload, checked.reason, now)
        try:
            ts = datetime.fromisoformat(env["ts"]) if checked.ok else None
            with hub_database.atomic():
                insert_message(env["id"], parsed.truck, env["seq"], parsed.kind, ts, now,
                               "ok" if checked.ok else "rejected", checked.reason, env.get("body") if checked.ok else None)
                if checked.ok and parsed.kind == "order" and env["body"].get("channel") == "mobile":
                    HubMobileOrder.update(delivered_utc=now).where(
                        HubMobileOrder.order_id == env["body"]["order_id"], HubMobileOrder.delivered_utc.is_null()).execute()
                if checked.ok:
                    reach.on_stored(parsed.kind, parsed.truck, env["body"], now)  # profiles, proximity -> code
            outcome = "new" if checked.ok else "rejected"
        except peewee.IntegrityError:
            outcome = "duplicate"
        self._mark_dirty(parsed.truck)
        return outcome, env["id"]

    def _dead(self, topic: str, payload: bytes, reason: str, now: datetime) -> tuple[str, str]:
        log.warning("hub dead letter on %s: %s", topic[:200], reason)
        HubDeadLetter.create(received_utc=now, topic=topic[:1000], reason=reason,
                             payload=bytes(payload[:65536]).decode("utf-8", "replace").replace("\x00", "\\x00"))  # PG text has no NUL
        return "dead", ""

    def _record_status(self, truck: str, payload: bytes, now: datetime) -> None:
        state = payload.decode("utf-8", "replace")[:10]
        self._truck_row(truck)
        HubTruck.update(status=state, last_seen_utc=now).where(HubTruck.truck == truck).execute()

    def _mark_dirty(self, truck: str) -> None:
        with self._dirty_lock:
            self._dirty.add(truck)

    # --- acks ----------------------------------------------------------------------------
    def _ack_loop(self) -> None:
        while not self._stop.wait(self.config.ack_interval_s):
            self.flush_acks()
        self.flush_acks()

    def flush_acks(self) -> None:
        """Publish the ack of every truck that sent something since the last flush."""
        with self._dirty_lock:
            trucks, self._dirty = self._dirty, set()
        for truck in sorted(trucks):
            try:
                body = self.ack_body(truck)
            except peewee.PeeweeException:
                log.exception("could not compute the ack for %s", truck)
                self._mark_dirty(truck)
                continue
            self._publish(truck, "ack", body, retain=True)

    def ack_body(self, truck: str) -> dict[str, Any]:
        """The contiguous seq (moved forward over what is stored), the highest seq seen and the gaps between."""
        start = self._truck_row(truck).contiguous_seq
        seqs = [s for (s,) in HubMessage.select(HubMessage.seq).where(HubMessage.truck == truck, HubMessage.seq > start)
                .order_by(HubMessage.seq).limit(ACK_SCAN_ROWS).tuples()]
        through = prev = start
        missing: list[list[int]] = []
        for s in seqs:
            if s <= prev:
                continue  # the same seq under another id (a truck database restored from backup)
            if prev == through and s == through + 1:
                through = s
            elif s > prev + 1 and len(missing) < protocol.MAX_ACK_GAPS:
                missing.append([prev + 1, s - 1])
            prev = s
        if through > start:
            HubTruck.update(contiguous_seq=through).where(HubTruck.truck == truck, HubTruck.contiguous_seq < through).execute()
        return {"through_seq": through, "max_seq": prev, "missing": missing}

    def _truck_row(self, truck: str) -> HubTruck:
        row = HubTruck.get_or_none(HubTruck.truck == truck)
        if row is None:
            try:
                with hub_database.atomic():
                    row = HubTruck.create(truck=truck)
            except peewee.IntegrityError:  # another hub process made it first
                row = HubTruck.get(HubTruck.truck == truck)
        return row

    # --- down ----------------------------------------------------------------------------
    def _publish(self, truck: str, kind: str, body: dict[str, Any], *, retain: bool = False, key: str | None = None,
                 seq: int = 0) -> mqtt.MQTTMessageInfo:
        if self.client is None:
            raise RuntimeError("hub is not started")
        env = protocol.envelope(truck=truck, seq=seq, kind=kind, key=key or str(uuid.uuid4()), ts=self.clock.now(), body=body)
        return self.client.publish(protocol.down_topic(truck, kind), protocol.encode(env), qos=1, retain=retain)

    def publish_menu(self, truck: str, document: dict[str, Any]) -> mqtt.MQTTMessageInfo:
        """Retained: the truck gets the newest menu whenever it connects."""
        problem = protocol.body_problem("menu", document)
        if problem:
            raise ValueError(f"menu document {problem}")
        return self._publish(truck, "menu", document, retain=True)

    def publish_campaign(self, truck: str, campaign_id: str, bundle: bytes) -> mqtt.MQTTMessageInfo:
        """Retained: the owner's signed bundle, as produced by the campaign tools (bytes, untouched)."""
        body = {"campaign_id": campaign_id, "bundle_b64": base64.b64encode(bundle).decode("ascii")}
        return self._publish(truck, "campaign", body, retain=True)

    def publish_erase(self, truck: str, body: dict[str, Any]) -> mqtt.MQTTMessageInfo:
        """Not retained: tell a truck to forget a customer erased on request (queued while it is offline)."""
        problem = protocol.body_problem("erase", body)
        if problem:
            raise ValueError(f"erase {problem}")
        return self._publish(truck, "erase", body, key=body["request_id"])

    def send_mobile_order(self, truck: str, body: dict[str, Any]) -> mqtt.MQTTMessageInfo:
        """Record and send a prepaid order; it waits at the broker while the truck is offline."""
        problem = protocol.body_problem("mobile_order", body)
        if problem:
            raise ValueError(f"mobile order {problem}")
        now = self.clock.now()
        HubMobileOrder.insert(order_id=body["order_id"], truck=truck, body=body, created_utc=now).on_conflict_ignore().execute()
        return self._send_mobile(HubMobileOrder.get(HubMobileOrder.order_id == body["order_id"]), now)

    def _send_mobile(self, row: HubMobileOrder, now: datetime) -> mqtt.MQTTMessageInfo:
        HubMobileOrder.update(sent_count=HubMobileOrder.sent_count + 1, last_sent_utc=now).where(
            HubMobileOrder.id == row.id).execute()
        return self._publish(row.truck, "mobile_order", row.body, key=row.order_id, seq=row.id)

    def resend_mobile_orders(self, older_than_s: float = 600) -> int:
        """Send again every mobile order the truck has not confirmed (its order row never came up).

        Covers the broker dropping queued messages past ``max_queued_messages``; the truck
        records each order id once, so a resend is harmless.
        """
        now = self.clock.now()
        cutoff = now - timedelta(seconds=older_than_s)
        rows = list(HubMobileOrder.select().where(HubMobileOrder.delivered_utc.is_null(),
                                                  HubMobileOrder.last_sent_utc < cutoff))
        for row in rows:
            self._send_mobile(row, now)
        return len(rows)


def _placeable(payload: bytes, truck: str) -> dict[str, Any] | None:
    """An invalid envelope that still names its id and seq is stored as rejected, so acks move on."""
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(doc, dict) or doc.get("truck") != truck:
        return None
    key, seq = doc.get("id"), doc.get("seq")
    if not isinstance(key, str) or not 0 < len(key) <= protocol.MAX_ID_LEN:
        return None
    if type(seq) is not int or not 0 < seq < 2**62:
        return None
    return doc
