"""What the hub sends down, on its own MQTT connection: acks, rejection notices, menus, campaigns, mobile orders.

Acks and notices never wait behind the ingest connection's PUBACKs: a timer thread publishes
them on this connection, at most every ``ack_interval_s``, for the trucks that sent something.
"""

from __future__ import annotations

import base64
import logging
import threading
import uuid
from collections import deque
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import paho.mqtt.client as mqtt
import peewee

from sync import protocol
from sync.hub.models import HubDeadLetter, HubMessage, HubMobileOrder, HubTruck, hub_database
from sync.transport import connect_persistent, new_client
from truck_pos.clock import Clock

log = logging.getLogger(__name__)

ACK_SCAN_ROWS = 20_000  # seqs looked at past the contiguous point when listing gaps
OUT_INFLIGHT = 100


class Notice(NamedTuple):
    """The hub's word to a truck about one up message it did not store as sent (``down/rejected``)."""

    truck: str
    seq: int
    key: str
    outcome: str  # rejected | dead_letter | conflict
    reason: str


class Outbound:
    """The publishing half of a hub process (see sync.hub.ingest.Hub)."""

    def __init__(self, config: Any, clock: Clock):
        self.config = config
        self.clock = clock
        self.connected = threading.Event()
        self.last_error = ""
        self.out: mqtt.Client | None = None
        self._out_connected = threading.Event()
        self._stop = threading.Event()
        self._dirty: set[str] = set()
        self._dirty_lock = threading.Lock()
        self._notices: deque[Notice] = deque()
        self._timer: threading.Thread | None = None

    def start_outbound(self) -> None:
        c = new_client(f"{self.config.client_id}-out", self.config.login)
        c.max_inflight_messages_set(OUT_INFLIGHT)
        c.on_connect = self._on_out_connect
        c.on_disconnect = lambda *_: self._out_connected.clear()
        c.reconnect_delay_set(self.config.reconnect_min_s, self.config.reconnect_max_s)  # type: ignore[arg-type]
        self.out = c
        connect_persistent(c, self.config.login)
        c.loop_start()
        self._timer = threading.Thread(target=self._ack_loop, name="hub-acks", daemon=True)
        self._timer.start()

    def stop_outbound(self) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.join(5)
            self._timer = None
        if self.out is not None:
            self.out.disconnect()
            self.out.loop_stop()
            self.out = None
        self._out_connected.clear()
        self.connected.clear()

    def _on_out_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self.last_error = f"hub login refused by the broker: {reason}"
            log.error("%s", self.last_error)
            return
        self._out_connected.set()

    # --- bookkeeping for the ack thread --------------------------------------------------
    def mark_dirty(self, truck: str) -> None:
        with self._dirty_lock:
            self._dirty.add(truck)

    def notify(self, notices: list[Notice]) -> None:
        """Queue rejection notices (after their transaction committed)."""
        self._notices.extend(notices)
        for n in notices:
            self.mark_dirty(n.truck)

    def record_status(self, truck: str, payload: bytes, now: datetime) -> None:
        state = bytes(payload).decode("utf-8", "replace")[:10].replace("\x00", "")
        self._truck_row(truck)
        HubTruck.update(status=state, last_seen_utc=now).where(HubTruck.truck == truck).execute()

    # --- acks ----------------------------------------------------------------------------
    def _ack_loop(self) -> None:
        while not self._stop.wait(self.config.ack_interval_s):
            self.flush_acks()
        self.flush_acks()

    def flush_acks(self) -> None:
        """Publish pending notices, then the ack of every truck that sent something since the last flush."""
        while self._notices:
            n = self._notices.popleft()
            body = {"seq": n.seq, "outcome": n.outcome, "reason": n.reason or "no reason given", "key": n.key}
            self._publish(n.truck, "rejected", body, key=f"rej-{n.truck}-{n.seq}-{n.outcome}"[:protocol.MAX_ID_LEN])
        with self._dirty_lock:
            trucks, self._dirty = self._dirty, set()
        for truck in sorted(trucks):
            try:
                body = self.ack_body(truck)
            except peewee.PeeweeException:
                log.exception("could not compute the ack for %s", truck)
                self.mark_dirty(truck)
                continue
            self._publish(truck, "ack", body, retain=True)

    def ack_body(self, truck: str) -> dict[str, Any]:
        """The contiguous seq (moved forward over what is stored or dead-lettered), the highest seq and the gaps."""
        start = self._truck_row(truck).contiguous_seq
        seqs = sorted(set(_seqs(HubMessage, truck, start)) | set(_seqs(HubDeadLetter, truck, start)))[:ACK_SCAN_ROWS]
        through = prev = start
        missing: list[list[int]] = []
        for s in seqs:
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
        if self.out is None:
            raise RuntimeError("hub is not started")
        env = protocol.envelope(truck=truck, seq=seq, kind=kind, key=key or str(uuid.uuid4()), ts=self.clock.now(), body=body)
        return self.out.publish(protocol.down_topic(truck, kind), protocol.encode(env), qos=1, retain=retain)

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


def _seqs(model: Any, truck: str, start: int) -> list[int]:
    return [s for (s,) in model.select(model.seq).where(model.truck == truck, model.seq > start)
            .order_by(model.seq).limit(ACK_SCAN_ROWS).tuples()]
