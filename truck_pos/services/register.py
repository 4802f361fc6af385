"""Ring-up use case: open a ticket, change lines, discounts, tender, and complete durably.

Tickets live in memory until they are paid; completing writes the order, its lines, discounts,
tenders, whatever the completion hooks add (redemptions, print jobs, pickup entries) and one
``order`` outbox row in **one** SQLite transaction, and only then returns ``Paid``. Work that
needs the committed order (waking the print worker) runs from ``after_commit_hooks``, after the
commit. A void or refund writes its ``order_voided`` / ``order_refunded`` outbox row in the same
transaction as the status change.
Thread-safety: one lock guards the open tickets; call from any thread.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import peewee

from sync.protocol import ORDER_LINE, SCHEMAS, bounded_id
from truck_pos.clock import Clock
from truck_pos.domain.calendar import business_day
from truck_pos.domain.money import format_cents
from truck_pos.domain.order import Discount, TenderRefused, Ticket, Totals, apply_tender
from truck_pos.errors import InvalidInput, NotFound
from truck_pos.services.menu import MenuService
from truck_pos.services.reports import day_money
from truck_pos.services.staff import StaffMember, StaffService
from truck_pos.store import outbox
from truck_pos.store.models import Order, OrderDiscount, OrderLine, Tender
from truck_pos.store.prepared import PreparedInsert

log = logging.getLogger(__name__)

MAX_QUANTITY = ORDER_LINE["quantity"].max or 99  # the sync contract's bound: the hub refuses more on one line
MAX_ORDER_CENTS = SCHEMAS["order"]["total_cents"].max or 10**8
MAX_LINES = SCHEMAS["order"]["lines"].max or 200
DISCOUNT_SOURCES = ("code", "group", "override", "loyalty")
OVERRIDES_KEY = "overrides"

# The hot path's statements, prepared once (store/prepared.py). The order takes the next number of its
# business day in its own INSERT (the write lock is held from BEGIN IMMEDIATE, so no other writer interleaves).
_ORDER_FIELDS = ["uuid", "business_day", "number", "status", "channel", "created_utc", "paid_utc",
                 "subtotal_cents", "discount_cents", "tax_cents", "total_cents", "tax_mode", "staff",
                 "customer_ref", "stop", "note"]
_ORDER = PreparedInsert(Order, _ORDER_FIELDS, returning=("id", "number"), expressions={
    "number": '(SELECT COALESCE(MAX("number"), 0) + 1 FROM "order" WHERE "business_day" = ?)'})
_LINES = PreparedInsert(OrderLine, ["order", "position", "sku", "name", "quantity", "unit_price_cents", "modifiers",
                                    "tax_rate_bp", "gross_cents", "discount_cents", "tax_cents"])
_DISCOUNTS = PreparedInsert(OrderDiscount, ["order", "label", "code", "segment", "amount_cents"])
_TENDERS = PreparedInsert(Tender, ["order", "kind", "amount_cents", "tendered_cents", "change_cents", "reference"])

# A hook runs inside the completing transaction: (order row, ticket, totals, now).
CompletionHook = Callable[[Order, Ticket, Totals, datetime], None]


@dataclass(frozen=True)
class Paid:
    """The register may say "paid": the order is durable."""

    order_uuid: str
    order_number: int
    business_day: str
    total_cents: int
    change_cents: int


def order_body(order: Order, ticket: Ticket, totals: Totals, truck_id: str, staff_name: str | None) -> dict[str, Any]:
    """The ``order`` outbox payload (see sync/PROTOCOL.md)."""
    return {
        "order_id": order.uuid,
        "truck": truck_id,
        "number": order.number,
        "business_day": order.business_day,
        "channel": order.channel,
        "status": order.status,
        "paid_at": order.paid_utc.isoformat(),
        "stop": order.stop,
        "customer_ref": order.customer_ref,
        "staff": staff_name,
        "tax_mode": order.tax_mode,
        "subtotal_cents": totals.subtotal_cents,
        "discount_cents": totals.discount_cents,
        "tax_cents": totals.tax_cents,
        "total_cents": totals.total_cents,
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price_cents": line.unit_price_cents,
                "modifiers": [{"name": m.name, "price_cents": m.price_cents} for m in line.modifiers],
                "gross_cents": lt.gross_cents,
                "discount_cents": lt.discount_cents,
                "tax_cents": lt.tax_cents,
            }
            for line, lt in zip(ticket.lines, totals.lines)
        ],
        "discounts": [
            {"label": d.label, "code": d.code, "segment": d.segment, "source": d.source, "amount_cents": a}
            for d, a in zip(ticket.discounts, totals.discounts_applied)
        ],
        "tenders": [
            {"kind": t.kind, "amount_cents": t.amount_cents, "tendered_cents": t.tendered_cents, "change_cents": t.change_cents}
            for t in ticket.tenders
        ],
    }


class RegisterService:
    """The register's use cases; the UI, the CLI and the tests all go through here."""

    def __init__(self, db: peewee.Database, clock: Clock, staff: StaffService, menu: MenuService, *, truck_id: str,
                 timezone: str, tax_mode: str, stop: str = "", day_start_hour: int = 4):
        self.db = db
        self.menu = menu
        self.clock = clock
        self.staff = staff
        self.truck_id = truck_id
        self.timezone = timezone
        self.tax_mode = tax_mode
        self.stop = stop
        self.day_start_hour = day_start_hour
        self.completion_hooks: list[CompletionHook] = [self._audit_overrides]
        self.after_commit_hooks: list[Callable[[str], None]] = []  # order uuid, once the order is committed
        self.status_hooks: list[Callable[[Order, str], None]] = []
        self._tickets: dict[str, Ticket] = {}
        self._lock = threading.RLock()

    # --- tickets -------------------------------------------------------------------------
    def open_ticket(self) -> Ticket:
        """Start an empty ticket."""
        ticket = Ticket(id=str(uuid.uuid4()), tax_mode=self.tax_mode)  # type: ignore[arg-type]
        return self._put(ticket)

    def ticket(self, ticket_id: str) -> Ticket:
        """The open ticket with this id."""
        with self._lock:
            try:
                return self._tickets[ticket_id]
            except KeyError:
                raise NotFound("That ticket is closed or unknown") from None

    def _put(self, ticket: Ticket) -> Ticket:
        with self._lock:
            self._tickets[ticket.id] = ticket
        return ticket

    def _editable(self, ticket_id: str) -> Ticket:
        ticket = self.ticket(ticket_id)
        if ticket.tenders:
            raise InvalidInput("Payment has started; finish or clear the payment before changing the ticket")
        return ticket

    def add_item(self, ticket_id: str, sku: str, quantity: int = 1, modifiers: tuple[str, ...] = ()) -> Ticket:
        """Add an item (with named modifiers) to a ticket."""
        _check_quantity(quantity)
        ticket = self._editable(ticket_id)
        line = self.menu.line_for(sku, quantity, modifiers)
        return self._put(_within_limits(ticket.with_line(line)))

    def set_quantity(self, ticket_id: str, index: int, quantity: int) -> Ticket:
        """Change a line's quantity; 0 removes it."""
        if quantity != 0:
            _check_quantity(quantity)
        ticket = self._editable(ticket_id)
        _check_index(ticket, index)
        return self._put(_within_limits(ticket.with_quantity(index, quantity)))

    def remove_line(self, ticket_id: str, index: int) -> Ticket:
        """Take a line off the ticket."""
        ticket = self._editable(ticket_id)
        _check_index(ticket, index)
        return self._put(ticket.without_line(index))

    def apply_discount(self, ticket_id: str, discount: Discount, *, meta: dict[str, Any] | None = None,
                       manager_pin: str | None = None, staff: StaffMember | None = None) -> Ticket:
        """The discount hook: codes, group discounts and overrides arrive here already resolved.

        ``meta`` travels with the ticket to the completion hooks (e.g. the redemption to record). An
        override (``source="override"``) needs a manager PIN; it is audited in the sale's transaction.
        """
        ticket = self._editable(ticket_id)
        if not isinstance(discount.amount_cents, int) or discount.amount_cents < 0:
            raise InvalidInput("A discount cannot be negative")
        if discount.amount_cents > MAX_ORDER_CENTS:
            raise InvalidInput(f"A discount cannot be more than {format_cents(MAX_ORDER_CENTS)}")
        if discount.source not in DISCOUNT_SOURCES:
            raise InvalidInput(f"Unknown discount source {str(discount.source)[:20]!r}")
        meta = dict(meta or {})
        if discount.source == "override":
            manager = self.staff.require_manager(manager_pin or "", "discount override")
            entry = {"label": discount.label, "amount_cents": discount.amount_cents, "manager_id": manager.id,
                     "manager": manager.name, "staff_id": staff.id if staff else None, "staff": staff.name if staff else None}
            meta[OVERRIDES_KEY] = [*ticket.meta.get(OVERRIDES_KEY, []), entry]
        return self._put(replace(ticket, discounts=ticket.discounts + (discount,), meta={**ticket.meta, **meta}))

    def _audit_overrides(self, order: Order, ticket: Ticket, totals: Totals, now: datetime) -> None:
        """Completion hook: one audit row per override, inside the order's transaction (both or neither)."""
        for entry in ticket.meta.get(OVERRIDES_KEY, []):
            applied = next((a for d, a in zip(ticket.discounts, totals.discounts_applied)
                            if d.source == "override" and d.label == entry["label"]), entry["amount_cents"])
            manager = StaffMember(entry["manager_id"], entry["manager"], "manager")
            staff = StaffMember(entry["staff_id"], entry["staff"], "staff") if entry.get("staff_id") else None
            self.staff.audit("override", staff=staff, manager=manager, target=order.uuid,
                             details={"label": entry["label"], "amount_cents": applied, "number": order.number})

    def remove_discounts(self, ticket_id: str, sources: tuple[str, ...] | None = None,
                         meta_keys: tuple[str, ...] = ()) -> Ticket:
        """Take every discount off the ticket, or only those from ``sources`` (dropping ``meta_keys``)."""
        ticket = self._editable(ticket_id)
        if sources is None:
            return self._put(replace(ticket, discounts=(), meta={}))
        return self._put(replace(ticket, discounts=tuple(d for d in ticket.discounts if d.source not in sources),
                                 meta={k: v for k, v in ticket.meta.items() if k not in meta_keys}))

    def set_customer(self, ticket_id: str, customer_ref: str | None) -> Ticket:
        """Attach a known customer (registration, group member) to the ticket."""
        return self._put(replace(self.ticket(ticket_id), customer_ref=customer_ref))

    def cancel(self, ticket_id: str) -> None:
        """Drop an unpaid ticket (nothing was written)."""
        with self._lock:
            self._tickets.pop(ticket_id, None)

    # --- tender ------------------------------------------------------------------------
    def add_tender(self, ticket_id: str, kind: str, amount_cents: int, reference: str = "") -> Ticket:
        """Take part or all of the payment (split tender). Nothing is written until complete()."""
        ticket = self.ticket(ticket_id)
        if not ticket.lines:
            raise InvalidInput("The ticket is empty")
        try:
            entry = apply_tender(ticket.totals.total_cents, ticket.tenders, kind, amount_cents, reference)
        except TenderRefused as exc:
            raise InvalidInput(str(exc)) from None
        return self._put(replace(ticket, tenders=ticket.tenders + (entry,)))

    def clear_tenders(self, ticket_id: str) -> Ticket:
        """Undo the tenders taken so far (the cash goes back to the customer)."""
        return self._put(replace(self.ticket(ticket_id), tenders=()))

    def pay_cash(self, ticket_id: str, tendered_cents: int, staff: StaffMember | None = None) -> Paid:
        """Cash for the rest of the ticket; refused (nothing changes) when short."""
        due = self._due(ticket_id)
        if due == 0:  # e.g. only a free item: nothing to take
            return self.complete(ticket_id, staff)
        if tendered_cents < due:
            raise InvalidInput(f"Cash {format_cents(tendered_cents)} is short of the {format_cents(due)} due")
        self.add_tender(ticket_id, "cash", tendered_cents)
        return self.complete(ticket_id, staff)

    def pay_card(self, ticket_id: str, staff: StaffMember | None = None, reference: str = "") -> Paid:
        """The external card terminal took the rest of the ticket."""
        due = self._due(ticket_id)
        if due:
            self.add_tender(ticket_id, "card", due, reference)
        return self.complete(ticket_id, staff)

    def _due(self, ticket_id: str) -> int:
        ticket = self.ticket(ticket_id)
        if not ticket.lines:
            raise InvalidInput("The ticket is empty")
        return ticket.due_cents

    # --- complete ----------------------------------------------------------------------
    def complete(self, ticket_id: str, staff: StaffMember | None = None, *, channel: str = "counter") -> Paid:
        """Write the paid order and its outbox row in one transaction; then, and only then, say paid."""
        ticket = self.ticket(ticket_id)
        if not ticket.lines:
            raise InvalidInput("The ticket is empty")
        if not ticket.fully_paid:
            raise InvalidInput(f"{format_cents(ticket.due_cents)} is still due")
        paid = self.write_order(ticket, staff, channel)
        with self._lock:
            self._tickets.pop(ticket_id, None)
        log.info("order %s #%d paid %s", paid.order_uuid, paid.order_number, format_cents(paid.total_cents))
        return paid

    def write_order(self, ticket: Ticket, staff: StaffMember | None, channel: str) -> Paid:
        """Persist a fully paid ticket as an order (also used for prepaid mobile orders)."""
        now = self.clock.now()
        totals = ticket.totals
        day = business_day(now, self.timezone, self.day_start_hour).isoformat()
        row = [ticket.id, day, day, "paid", channel, now, now, totals.subtotal_cents, totals.discount_cents,
               totals.tax_cents, totals.total_cents, ticket.tax_mode, staff.id if staff else None,
               ticket.customer_ref, self.stop, ticket.note]  # the 3rd value: the day the next number is counted in
        db = self.db
        with db.atomic():
            order_id, number = _ORDER.one(db, row)
            row[2] = number
            order = _order_row(order_id, row)
            _LINES.many(db, [
                (order_id, i, ln.sku, ln.name, ln.quantity, ln.unit_price_cents,
                 [{"name": m.name, "price_cents": m.price_cents} for m in ln.modifiers],
                 ln.tax_rate_bp, lt.gross_cents, lt.discount_cents, lt.tax_cents)
                for i, (ln, lt) in enumerate(zip(ticket.lines, totals.lines))
            ])
            if ticket.discounts:
                _DISCOUNTS.many(db, [(order_id, d.label, d.code, d.segment, a)
                                     for d, a in zip(ticket.discounts, totals.discounts_applied)])
            _TENDERS.many(db, [(order_id, t.kind, t.amount_cents, t.tendered_cents, t.change_cents, t.reference)
                               for t in ticket.tenders])
            for hook in self.completion_hooks:
                hook(order, ticket, totals, now)
            body = order_body(order, ticket, totals, self.truck_id, staff.name if staff else None)
            outbox.append("order", body, now=now, key=ticket.id)
        if not self.db.in_transaction():  # else the caller's transaction commits it and calls committed()
            self.committed(order.uuid)
        return Paid(order.uuid, number, day, totals.total_cents, ticket.change_cents)

    def committed(self, order_uuid: str) -> None:
        """Run the after-commit hooks for an order now durable; a hook's failure is logged, never raised."""
        for hook in list(self.after_commit_hooks):
            try:
                hook(order_uuid)
            except Exception:  # noqa: BLE001 - the sale is already paid; a printer wake-up must not undo that
                log.exception("after-commit hook %r failed for order %s", hook, order_uuid)

    # --- after the sale ----------------------------------------------------------------
    def void_order(self, order_uuid: str, manager_pin: str, reason: str, staff: StaffMember | None = None) -> None:
        """Void a paid order that has not been handed over (manager only, audited, sent up as ``order_voided``)."""
        manager = self.staff.require_manager(manager_pin, "void")
        with self.db.atomic():
            order = _changeable_order(order_uuid, ("paid",))
            order.status = "voided"
            order.save()
            for hook in self.status_hooks:
                hook(order, "voided")
            self._change_event("order_voided", order, order.total_cents, reason, manager)
            self.staff.audit("void", staff=staff, manager=manager, target=order_uuid,
                             details={"reason": reason, "number": order.number, "total_cents": order.total_cents})

    def refund_order(self, order_uuid: str, manager_pin: str, reason: str, staff: StaffMember | None = None) -> int:
        """Refund an order in full to its tenders (manager only, audited, sent up as ``order_refunded``)."""
        manager = self.staff.require_manager(manager_pin, "refund")
        with self.db.atomic():
            order = _changeable_order(order_uuid, ("paid", "handed_over"))
            refunded = 0
            for t in list(order.tenders):
                if t.amount_cents > 0:
                    Tender.create(order=order, kind=t.kind, amount_cents=-t.amount_cents,
                                  tendered_cents=-t.amount_cents, reference="refund")
                    refunded += t.amount_cents
            order.status = "refunded"
            order.save()
            for hook in self.status_hooks:
                hook(order, "refunded")
            self._change_event("order_refunded", order, refunded, reason, manager)
            self.staff.audit("refund", staff=staff, manager=manager, target=order_uuid,
                             details={"reason": reason, "number": order.number, "amount_cents": refunded})
        return refunded

    def _change_event(self, kind: str, order: Order, amount_cents: int, reason: str, manager: StaffMember) -> None:
        now = self.clock.now()
        outbox.enqueue(kind, {"order_id": order.uuid, "truck": self.truck_id, "business_day": order.business_day,
                              "number": order.number, "amount_cents": amount_cents, "tax_cents": order.tax_cents,
                              "reason": reason[:500], "manager": manager.name[:200], "ts": now.isoformat()},
                       now=now, key=bounded_id(kind, order.uuid))

    def recent_orders(self, limit: int = 20) -> list[Order]:
        """The newest orders first."""
        return list(Order.select().order_by(Order.id.desc()).limit(limit))

    def find_order(self, day: str, number: int) -> Order:
        """An order by business day and number."""
        order = Order.get_or_none((Order.business_day == day) & (Order.number == number))
        if order is None:
            raise NotFound(f"No order #{number} on {day}")
        return order

    def today(self) -> str:
        """Today's business day (YYYY-MM-DD, truck time zone)."""
        return business_day(self.clock.now(), self.timezone, self.day_start_hour).isoformat()

    def day_summary(self, day: str | None = None) -> dict[str, Any]:
        """Counts and money for one business day (paid and handed-over orders count as sales)."""
        day = day or self.today()
        in_day = Order.business_day == day
        sold = Order.select().where(in_day & Order.status.in_(("paid", "handed_over")))
        by_tender = {
            kind: int(amount)
            for kind, amount in Tender.select(Tender.kind, peewee.fn.SUM(Tender.amount_cents)).join(Order)
            .where(in_day & Order.status.in_(("paid", "handed_over"))).group_by(Tender.kind).tuples()
        }
        return {
            "business_day": day,
            "orders": sold.count(),
            "sales_cents": int(sold.select(peewee.fn.SUM(Order.total_cents)).scalar() or 0),
            "tax_cents": int(sold.select(peewee.fn.SUM(Order.tax_cents)).scalar() or 0),
            "discount_cents": int(sold.select(peewee.fn.SUM(Order.discount_cents)).scalar() or 0),
            "voided": Order.select().where(in_day & (Order.status == "voided")).count(),
            "refunded": Order.select().where(in_day & (Order.status == "refunded")).count(),
            "by_tender": by_tender,
            "money": dataclasses.asdict(day_money([day])),
        }


def _order_row(order_id: int, row: list[Any]) -> Order:
    """The just-inserted order as a model for the hooks, without peewee's per-field defaults and setters."""
    order = Order(__no_default__=True)
    order.__data__ = dict(zip(_ORDER_FIELDS, row), id=order_id)
    return order


def _check_quantity(quantity: int) -> None:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidInput(f"Quantity must be a whole number from 1 to {MAX_QUANTITY}")


def _within_limits(ticket: Ticket) -> Ticket:
    """The ticket after a change, if the hub would take it as an order (merged lines included); else InvalidInput."""
    for line in ticket.lines:
        if line.quantity > MAX_QUANTITY:
            raise InvalidInput(f"At most {MAX_QUANTITY} {line.name} on one line (this would make {line.quantity})")
    if len(ticket.lines) > MAX_LINES:
        raise InvalidInput(f"A ticket holds at most {MAX_LINES} lines; start a second ticket")
    if ticket.totals.total_cents > MAX_ORDER_CENTS:
        raise InvalidInput(f"A ticket cannot be more than {format_cents(MAX_ORDER_CENTS)}")
    return ticket


def _check_index(ticket: Ticket, index: int) -> None:
    if not isinstance(index, int) or not 0 <= index < len(ticket.lines):
        raise InvalidInput("That line is not on the ticket")


def _changeable_order(order_uuid: str, allowed: tuple[str, ...]) -> Order:
    order = Order.get_or_none(Order.uuid == order_uuid)
    if order is None:
        raise NotFound("No such order")
    if order.status not in allowed:
        raise InvalidInput(f"Order #{order.number} is {order.status.replace('_', ' ')} and cannot be changed")
    return order
