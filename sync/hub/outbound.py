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
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import paho.mqtt.client as mqtt
import peewee
from peewee import Case, fn

from sync import protocol
from sync.hub.models import HubDeadLetter, HubMessage, HubMobileOrder, HubTruck, hub_database
from sync.transport import connect_persistent, new_client
from truck_pos.clock import Clock

log = logging.getLogger(__name__)

ACK_SCAN_ROWS = 20_000  # seqs looked at past the contiguous point when listing gaps
OUT_INFLIGHT = 100
ACK_CHUNK = 500  # trucks per ack query (bounded IN lists)


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
        self._local = threading.local()  # per worker thread: trucks touched in its open transaction
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
        """Ack ``truck`` at the next flush (inside ``acks_after_commit``: once the block is over)."""
        pending = getattr(self._local, "pending", None)
        if pending is not None:
            pending.add(truck)
            return
        with self._dirty_lock:
            self._dirty.add(truck)

    @contextmanager
    def acks_after_commit(self) -> Iterator[None]:
        """Wrap a transaction: trucks marked dirty inside are flushed only after it committed, or an ack
        computed before the commit would miss its rows and nothing would mark the truck again."""
        outer = getattr(self._local, "pending", None)
        self._local.pending = set()
        try:
            yield
        finally:
            pending, self._local.pending = self._local.pending, outer
            if outer is not None:
                outer |= pending
            else:
                with self._dirty_lock:
                    self._dirty |= pending

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
            trucks, self._dirty = sorted(self._dirty), set()
        for n in range(0, len(trucks), ACK_CHUNK):
            chunk = trucks[n:n + ACK_CHUNK]
            try:
                bodies = self.ack_bodies(chunk)
            except peewee.PeeweeException:
                log.exception("could not compute the acks of %d trucks", len(chunk))
                for truck in chunk:
                    self.mark_dirty(truck)
                continue
            for truck in chunk:
                self._publish(truck, "ack", bodies[truck], retain=True)

    def ack_body(self, truck: str) -> dict[str, Any]:
        """The contiguous seq (moved forward over what is stored or dead-lettered), the highest seq and the gaps."""
        return self.ack_bodies([truck])[truck]

    def ack_bodies(self, trucks: list[str]) -> dict[str, dict[str, Any]]:
        """``ack_body`` of several trucks with a fixed number of queries (not a few per truck: a flush
        of a large fleet would otherwise take seconds and every ack would wait for it)."""
        start = self._contiguous(trucks)
        seqs: dict[str, set[int]] = {t: set() for t in trucks}
        for model in (HubMessage, HubDeadLetter):
            for truck, seq, contiguous in _seqs_past(model, trucks):
                seqs[truck].add(seq)
                start[truck] = max(start[truck], contiguous)  # another hub may have moved it meanwhile
        bodies, moved = {}, {}
        for truck in trucks:
            through = prev = start[truck]
            missing: list[list[int]] = []
            for s in sorted(x for x in seqs[truck] if x > through)[:ACK_SCAN_ROWS]:
                if prev == through and s == through + 1:
                    through = s
                elif s > prev + 1 and len(missing) < protocol.MAX_ACK_GAPS:
                    missing.append([prev + 1, s - 1])
                prev = s
            if through > start[truck]:
                moved[truck] = through
            bodies[truck] = {"through_seq": through, "max_seq": prev, "missing": missing}
        if moved:  # one statement; never moves a truck backwards (another hub may be ahead)
            new = Case(HubTruck.truck, list(moved.items()))
            HubTruck.update(contiguous_seq=new).where(HubTruck.truck.in_(list(moved)),
                                                      HubTruck.contiguous_seq < new).execute()
        return bodies

    def _contiguous(self, trucks: list[str]) -> dict[str, int]:
        """Each truck's stored contiguous seq; rows are made for trucks seen for the first time."""
        query = HubTruck.select(HubTruck.truck, HubTruck.contiguous_seq).where(HubTruck.truck.in_(trucks)).tuples()
        found = dict(query)
        if len(found) < len(trucks):
            HubTruck.insert_many([{"truck": t} for t in trucks if t not in found]).on_conflict_ignore().execute()
            found = dict(query.clone())
        return found

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


def _seqs_past(model: Any, trucks: list[str]) -> list[tuple[str, int, int]]:
    """(truck, seq, the truck's contiguous seq) of the first ACK_SCAN_ROWS seqs past each truck's contiguous seq."""
    n = fn.ROW_NUMBER().over(partition_by=[model.truck], order_by=[model.seq])
    past = (model.select(model.truck, model.seq, HubTruck.contiguous_seq, n.alias("n"))
            .join(HubTruck, on=(HubTruck.truck == model.truck))
            .where(model.truck.in_(trucks), model.seq > HubTruck.contiguous_seq)).alias("past")
    return list(model.select(past.c.truck, past.c.seq, past.c.contiguous_seq).from_(past)
                .where(past.c.n <= ACK_SCAN_ROWS).tuples())
