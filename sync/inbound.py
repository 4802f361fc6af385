"""Handlers the agent calls for validated down messages; each returns ``(accepted, reason)``.

The agent takes them as constructor arguments so the register process wires the real services
(menu, register, campaigns) and tests can pass their own. A handler may raise; the agent turns
that into a dead letter, never a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import peewee

from truck_pos.domain.order import ModifierChoice, TenderEntry, Ticket, TicketLine
from truck_pos.errors import InvalidInput
from truck_pos.store.models import Order
from truck_pos.store.sync_models import MobileOrderClaim

Outcome = tuple[bool, str]
BodyHandler = Callable[[dict[str, Any]], Outcome]
BundleHandler = Callable[[bytes], Outcome]


def menu_handler(menu: Any) -> BodyHandler:
    """Apply a ``menu`` body with ``MenuService.load`` (items not listed are deactivated)."""

    def handle(body: dict[str, Any]) -> Outcome:
        try:
            count = menu.load(body)
        except InvalidInput as exc:
            return False, str(exc)
        return True, f"menu loaded: {count} items"

    return handle


def mobile_ticket(body: dict[str, Any], tax_mode: str) -> Ticket:
    """The paid ticket for a prepaid mobile order (ticket id = the mobile order's id)."""
    lines = tuple(
        TicketLine(ln["sku"], ln["name"], ln["unit_price_cents"], ln["quantity"], ln["tax_rate_bp"],
                   tuple(ModifierChoice(m["name"], m["price_cents"]) for m in ln.get("modifiers", [])))
        for ln in body["lines"]
    )
    claim = body.get("claim") or ""
    note = " ".join(part for part in (body.get("note", ""), f"claim {claim}" if claim else "") if part)
    ticket = Ticket(id=body["order_id"], tax_mode=tax_mode, lines=lines,  # type: ignore[arg-type]
                    customer_ref=body.get("customer_ref"), note=note)
    total = ticket.totals.total_cents
    return replace(ticket, tenders=(TenderEntry("prepaid", total, total, 0, body.get("payment_ref", "")),))


def mobile_order_handler(register: Any, db: peewee.Database) -> BodyHandler:
    """Record a prepaid mobile order once: a re-delivery is recognised by the order's uuid."""

    def handle(body: dict[str, Any]) -> Outcome:
        if Order.select().where(Order.uuid == body["order_id"]).exists():
            return True, "already recorded"
        ticket = mobile_ticket(body, register.tax_mode)
        if ticket.totals.total_cents != body["total_cents"]:
            return False, (f"prepaid total {body['total_cents']} does not match the lines "
                           f"({ticket.totals.total_cents} with {register.tax_mode} tax)")
        with db.atomic(lock_type="IMMEDIATE"):
            register.write_order(ticket, None, "mobile")
            if body.get("claim"):
                MobileOrderClaim.create(order_uuid=ticket.id, claim=body["claim"], received_utc=register.clock.now())
        return True, "recorded"

    return handle
