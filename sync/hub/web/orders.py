"""Order ahead on the hub: the menu the hub published, pickup slots, placing, paying, and the order's state.

No HTTP here: the customer routes call these with plain values. The truck's own events come back
through ingest (``pickup`` queued/ready/handed_over, the ``order`` row for delivery) and are read
by their deterministic envelope ids, so no JSON query is needed on either database.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import peewee

from sync.hub.models import HubMessage, HubMobileOrder, HubTruck, hub_database
from sync.hub.web.models import HubWebMenu, HubWebOrder
from truck_pos.domain.order import TicketLine, compute_totals

log = logging.getLogger(__name__)

MAX_QTY = 20
SLOT_STEP_MIN = 15
SLOT_LEAD_MIN = 15
SLOT_COUNT = 8


class OrderProblem(ValueError):
    """Something the customer has to fix; ``field`` names the form field."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class MenuItem:
    """One item the customer can order (sold-out items are listed but not orderable)."""

    sku: str
    name: str
    category: str
    price_cents: int
    tax_rate_bp: int
    sold_out: bool


def remember_menu(truck: str, document: dict[str, Any], tax_mode: str, now: datetime) -> None:
    """Keep the menu just published to ``truck`` (retained at the broker) for the customer page."""
    HubWebMenu.insert(truck=truck, document=document, tax_mode=tax_mode, updated_utc=now).on_conflict(
        conflict_target=[HubWebMenu.truck],
        update={HubWebMenu.document: document, HubWebMenu.tax_mode: tax_mode, HubWebMenu.updated_utc: now}).execute()


def menu_for(truck: str) -> tuple[list[MenuItem], str] | None:
    """The truck's items in menu order and its tax mode; None when the hub never published one."""
    row = HubWebMenu.get_or_none(HubWebMenu.truck == truck)
    if row is None:
        return None
    items = [MenuItem(str(i["sku"]), str(i["name"]), str(c["name"]), int(i["price_cents"]), int(i.get("tax_rate_bp", 0)),
                      bool(i.get("sold_out", False)))
             for c in row.document.get("categories", []) for i in c.get("items", [])]
    return items, row.tax_mode


def slots(now: datetime, tz: str, truck: str, capacity: int) -> list[tuple[str, bool]]:
    """Pickup times (local HH:MM) from ``SLOT_LEAD_MIN`` ahead, each with whether it still has room."""
    local = now.astimezone(ZoneInfo(tz))
    start = local + timedelta(minutes=SLOT_LEAD_MIN)
    start = start.replace(second=0, microsecond=0) + timedelta(minutes=-start.minute % SLOT_STEP_MIN)
    day = local.date().isoformat()
    times = [(start + timedelta(minutes=SLOT_STEP_MIN * i)) for i in range(SLOT_COUNT)]
    times = [t for t in times if t.date() == local.date()]  # the truck serves today's orders only
    labels = [t.strftime("%H:%M") for t in times]
    taken = dict(HubWebOrder.select(HubWebOrder.slot, peewee.fn.COUNT(HubWebOrder.id)).where(
        HubWebOrder.truck == truck, HubWebOrder.slot_day == day, HubWebOrder.slot.in_(labels or [""]),
        HubWebOrder.status == "paid").group_by(HubWebOrder.slot).tuples())
    return [(label, taken.get(label, 0) < capacity) for label in labels]


def build_lines(quantities: dict[str, str], items: list[MenuItem]) -> list[TicketLine]:
    """Ticket lines for the quantities asked (``qty-<sku>`` form values); OrderProblem when wrong."""
    by_sku = {i.sku: i for i in items}
    lines = []
    for sku, raw in quantities.items():
        raw = raw.strip()
        if raw in ("", "0"):
            continue
        if not raw.isdigit() or not 0 < int(raw) <= MAX_QTY:
            raise OrderProblem(f"qty-{sku}", f"Choose 0 to {MAX_QTY}")
        item = by_sku.get(sku)
        if item is None:
            raise OrderProblem("items", "That item is not on today's menu")
        if item.sold_out:
            raise OrderProblem(f"qty-{sku}", f"{item.name} is sold out")
        lines.append(TicketLine(item.sku, item.name, item.price_cents, int(raw), item.tax_rate_bp))
    if not lines:
        raise OrderProblem("items", "Choose at least one item")
    return lines


def place(truck: str, lines: list[TicketLine], tax_mode: str, slot: str, open_slots: list[tuple[str, bool]],
          customer_ref: str | None, now: datetime, tz: str) -> HubWebOrder:
    """Record an unpaid order for a free slot; the truck hears of it only once it is paid."""
    if slot not in [label for label, free in open_slots if free]:
        raise OrderProblem("slot", "Choose one of the pickup times offered")
    total = compute_totals(lines, (), tax_mode).total_cents  # type: ignore[arg-type]
    order_id = str(uuid.uuid4())
    body: dict[str, Any] = {
        "order_id": order_id, "total_cents": total, "customer_ref": customer_ref,
        "claim": order_id[:8].upper(), "note": f"web order, pickup {slot}",
        "lines": [{"sku": ln.sku, "name": ln.name, "quantity": ln.quantity, "unit_price_cents": ln.unit_price_cents,
                   "tax_rate_bp": ln.tax_rate_bp} for ln in lines]}
    return HubWebOrder.create(token=secrets.token_urlsafe(24), order_id=order_id, truck=truck, body=body,
                              total_cents=total, slot=slot, slot_day=now.astimezone(ZoneInfo(tz)).date().isoformat(),
                              created_utc=now)


def mark_paid(token: str, amount_cents: int, payment_ref: str, hub: Any, now: datetime) -> str:
    """Mark a pending order paid once and send it to its truck: paid | already | unknown | amount_mismatch."""
    order = HubWebOrder.get_or_none(HubWebOrder.token == token)
    if order is None:
        return "unknown"
    if order.total_cents != amount_cents:
        log.warning("payment for order %s is %d cents, the order is %d", order.order_id, amount_cents, order.total_cents)
        return "amount_mismatch"
    with hub_database.atomic():
        changed = HubWebOrder.update(status="paid", paid_utc=now, payment_ref=payment_ref[:120]).where(
            HubWebOrder.id == order.id, HubWebOrder.status == "pending").execute()
    if not changed:
        return "already"
    body = {**order.body, "payment_ref": payment_ref[:120]}
    if body.get("customer_ref") is None:
        body.pop("customer_ref")
    # Recorded in hub_mobile_order first: an order paid while the broker is unreachable is re-sent later.
    hub.send_mobile_order(order.truck, body)
    return "paid"


def pickup_key(order_id: str, event: str) -> str:
    """The envelope id the truck gives a pickup event (see truck_pos.services.pickup)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"pickup:{order_id}:{event}"))


@dataclass(frozen=True)
class OrderState:
    """What the order page shows."""

    step: str  # pending | paid | preparing | ready | collected
    text: str
    claim: str
    truck_online: bool


STEP_TEXT = {"pending": "Waiting for your payment", "paid": "Paid - sent to the truck",
             "preparing": "Preparing", "ready": "Ready - show the code at the window", "collected": "Collected - enjoy!"}


def state_of(order: HubWebOrder) -> OrderState:
    """The order's step from the truck's events (ingested), and whether the truck is online."""
    truck = HubTruck.get_or_none(HubTruck.truck == order.truck)
    online = truck is not None and truck.status == "online"
    if order.status != "paid":
        return OrderState("pending", STEP_TEXT["pending"], "", online)
    events = {m.key: m for m in HubMessage.select(HubMessage.key, HubMessage.body).where(
        HubMessage.key.in_([pickup_key(order.order_id, e) for e in ("queued", "ready", "handed_over")]))}
    queued = events.get(pickup_key(order.order_id, "queued"))
    claim = str((queued.body or {}).get("claim") or "") if queued is not None else ""
    if pickup_key(order.order_id, "handed_over") in events:
        step = "collected"
    elif pickup_key(order.order_id, "ready") in events:
        step = "ready"
    elif queued is not None:
        step = "preparing"
    else:
        delivered = HubMobileOrder.select().where(HubMobileOrder.order_id == order.order_id,
                                                  HubMobileOrder.delivered_utc.is_null(False)).exists()
        step = "preparing" if delivered else "paid"
    text = STEP_TEXT[step]
    if step == "paid" and not online:
        text = "Paid - the truck is offline right now; it gets your order as soon as it reconnects"
    return OrderState(step, text, claim, online)
