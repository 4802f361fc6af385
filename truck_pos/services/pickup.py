"""The pickup window: paid orders (counter and mobile) go preparing -> ready -> handed over.

Scanning (or typing) a claim code hands the order over exactly once; a second scan answers
"already collected at 12:31" in the truck's time zone. Every state change and its ``pickup``
outbox row are one transaction. Thread-safety: scans from the scanner thread and taps from the UI
may race; the hand-over is a conditional UPDATE, so only one of them wins.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import peewee

from truck_pos.clock import Clock
from truck_pos.domain.calendar import local
from truck_pos.domain.claims import Claim, ClaimRefused, verify_claim
from truck_pos.domain.order import Ticket, Totals
from truck_pos.errors import InvalidInput, NotFound
from truck_pos.services.claim_key import claim_for
from truck_pos.store import outbox
from truck_pos.store.models import Order
from truck_pos.store.print_models import PickupEntry
from truck_pos.store.prepared import PreparedInsert

log = logging.getLogger(__name__)

RECENT_HANDED_OVER = 10
WAITING = ("preparing", "ready")  # on the window; voided/refunded entries left it


@dataclass(frozen=True)
class PickupCard:
    """One order on the window screen; ``number`` is what the screen shows big."""

    order_uuid: str
    number: int
    channel: str
    state: str
    since: str  # HH:MM local: paid, ready or handed over, by state
    items: tuple[str, ...]


@dataclass(frozen=True)
class PickupQueue:
    """The window screen's three columns, oldest first (handed over: newest first, recent only)."""

    preparing: tuple[PickupCard, ...]
    ready: tuple[PickupCard, ...]
    handed_over: tuple[PickupCard, ...]


@dataclass(frozen=True)
class ScanResult:
    """What a scan did: ``handed_over`` (give the food), ``already_collected`` or ``refused``; ``message`` is for staff."""

    outcome: Literal["handed_over", "already_collected", "refused"]
    message: str
    card: PickupCard | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "handed_over"


# On the ring-up hot path (inside the order transaction): SQL prepared once, see store/prepared.py.
_NEW_ENTRY = PreparedInsert(PickupEntry, ["order_uuid", "business_day", "number", "channel", "state", "created_utc"])


class PickupService:
    """The window's use cases. UI calls: ``queue()``, ``mark_ready(uuid)``, ``hand_over(uuid)``, ``scan(text)``."""

    def __init__(self, db: peewee.Database, clock: Clock, *, truck_id: str, timezone: str, claim_key: bytes):
        self.db = db
        self.clock = clock
        self.truck_id = truck_id
        self.timezone = timezone
        self._claim_key = claim_key

    # --- the register's completion hook (inside the order transaction) -------------------------
    def on_order_completed(self, order: Order, ticket: Ticket, totals: Totals, now: datetime) -> None:
        """Put the paid order in the queue; a mobile order's claim code goes up so the customer's phone gets it."""
        _NEW_ENTRY.one(self.db, (order.uuid, order.business_day, order.number, order.channel, "preparing", now))
        if order.channel == "mobile":
            self._event(order, "queued", now, claim=self.claim_for(order))

    def on_status_changed(self, order: Order, status: str) -> None:
        """A void or refund (inside its transaction): the order leaves the window unless already handed over."""
        if status in ("voided", "refunded"):
            PickupEntry.update(state=status).where((PickupEntry.order_uuid == order.uuid)
                                                   & PickupEntry.state.in_(WAITING)).execute()

    def claim_for(self, order: Order) -> str:
        """The signed claim code of an order (same text as its receipt QR)."""
        return claim_for(order, self._claim_key, self.truck_id)

    # --- UI -----------------------------------------------------------------------------------
    def queue(self) -> PickupQueue:
        """Orders waiting (preparing, ready) and the last few handed over."""
        waiting = list(PickupEntry.select().where(PickupEntry.state.in_(WAITING)).order_by(PickupEntry.id))
        done = list(PickupEntry.select().where(PickupEntry.state == "handed_over")
                    .order_by(PickupEntry.handed_over_utc.desc()).limit(RECENT_HANDED_OVER))
        cards = {e.id: self._card(e) for e in waiting + done}
        return PickupQueue(
            preparing=tuple(cards[e.id] for e in waiting if e.state == "preparing"),
            ready=tuple(cards[e.id] for e in waiting if e.state == "ready"),
            handed_over=tuple(cards[e.id] for e in done),
        )

    def mark_ready(self, order_uuid: str) -> PickupCard:
        """The kitchen finished: show the number as ready (idempotent); a voided or refunded order is refused."""
        now = self.clock.now()
        with self.db.atomic():
            order = Order.get_or_none(Order.uuid == order_uuid)
            if order is not None and order.status in ("voided", "refunded"):
                raise InvalidInput(f"Order #{order.number} was {order.status} - do not hand it out")
            entry = self._entry(order_uuid, order)
            changed = (PickupEntry.update(state="ready", ready_utc=now)
                       .where((PickupEntry.id == entry.id) & (PickupEntry.state == "preparing")).execute())
            if changed:
                self._event(Order.get(Order.uuid == order_uuid), "ready", now)
        return self._card(PickupEntry.get_by_id(entry.id))

    def hand_over(self, order_uuid: str) -> ScanResult:
        """Staff hand the order over without a code (customer named the number)."""
        return self._hand_over(order_uuid)

    def scan(self, text: str) -> ScanResult:
        """A scanned or typed claim: hand over once, or say why not (never raises for bad input)."""
        result = verify_claim(text, self._claim_key, self.truck_id)
        if isinstance(result, ClaimRefused):
            log.info("pickup scan refused (%s): %r", result.kind, text[:80])
            return ScanResult("refused", result.reason)
        return self._hand_over(result.order_uuid, result)

    # --- internals ----------------------------------------------------------------------------
    def _hand_over(self, order_uuid: str, claim: Claim | None = None) -> ScanResult:
        now = self.clock.now()
        with self.db.atomic():
            order = Order.get_or_none(Order.uuid == order_uuid)
            if order is None:
                number = f"#{claim.number} of {claim.business_day}" if claim else "that order"
                return ScanResult("refused", f"Order {number} is not on this register (mobile order not synced yet?)")
            if order.status in ("voided", "refunded"):
                return ScanResult("refused", f"Order #{order.number} was {order.status} - see a manager")
            entry = self._entry(order_uuid, order)
            changed = (PickupEntry.update(state="handed_over", handed_over_utc=now)
                       .where((PickupEntry.id == entry.id) & (PickupEntry.state != "handed_over")).execute())
            if changed:
                Order.update(status="handed_over").where((Order.id == order.id) & (Order.status == "paid")).execute()
                self._event(order, "handed_over", now, scanned=claim is not None)
        entry = PickupEntry.get_by_id(entry.id)
        card = self._card(entry)
        if not changed:
            return ScanResult("already_collected", f"Order #{entry.number} already collected at {card.since}", card)
        log.info("order %s #%d handed over", order_uuid, entry.number)
        return ScanResult("handed_over", f"Order #{entry.number} - hand it over", card)

    def _entry(self, order_uuid: str, order: Order | None = None) -> PickupEntry:
        entry = PickupEntry.get_or_none(PickupEntry.order_uuid == order_uuid)
        if entry is not None:
            return entry
        order = order or Order.get_or_none(Order.uuid == order_uuid)
        if order is None:
            raise NotFound("No such order")
        # An order paid before the pickup queue existed (upgrade): join the queue now.
        return PickupEntry.create(order_uuid=order.uuid, business_day=order.business_day, number=order.number,
                                  channel=order.channel, state="preparing", created_utc=order.created_utc)

    def _card(self, entry: PickupEntry) -> PickupCard:
        when = {"ready": entry.ready_utc, "handed_over": entry.handed_over_utc}.get(entry.state) or entry.created_utc
        order = Order.get_or_none(Order.uuid == entry.order_uuid)
        items = tuple(f"{ln.quantity} x {ln.name}" for ln in order.lines) if order else ()
        return PickupCard(entry.order_uuid, entry.number, entry.channel, entry.state,
                          f"{local(when, self.timezone):%H:%M}", items)

    def _event(self, order: Order, event: str, now: datetime, **extra: Any) -> None:
        body = {"order_id": order.uuid, "truck": self.truck_id, "number": order.number,
                "business_day": order.business_day, "channel": order.channel, "event": event,
                "at": now.isoformat(), **extra}
        # A deterministic uuid: the same event can never be queued twice, and the key stays a uuid.
        outbox.enqueue("pickup", body, now=now, key=str(uuid.uuid5(uuid.NAMESPACE_URL, f"pickup:{order.uuid}:{event}")))
