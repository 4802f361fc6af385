"""Inbound (cloud -> truck): the Inbox that validates down messages, and the handlers it calls.

Each handler returns ``(accepted, reason)``.

The agent takes them as constructor arguments so the register process wires the real services
(menu, register, campaigns) and tests can pass their own. A handler may raise; the agent turns
that into a dead letter, never a crash.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import uuid

import peewee

from sync import protocol
from truck_pos.clock import Clock
from truck_pos.domain.order import ModifierChoice, TenderEntry, Ticket, TicketLine
from truck_pos.errors import InvalidInput
from truck_pos.store import outbox
from truck_pos.store.base import database
from truck_pos.store.campaign_models import Customer
from truck_pos.store.models import Order
from truck_pos.store.proximity_models import RegisteredDevice
from truck_pos.store.sync_models import MobileOrderClaim, SyncDeadLetter, SyncInbound, SyncInboundHash, SyncRejected

log = logging.getLogger(__name__)

Outcome = tuple[bool, str]
BodyHandler = Callable[[dict[str, Any]], Outcome]
BundleHandler = Callable[[bytes], Outcome]
MAX_KEPT_BYTES = 64 * 1024  # of a dead letter's payload


class Inbox:
    """Validates and applies down messages for one truck; every refusal becomes a dead letter.

    ``handlers`` maps campaign/menu/mobile_order to a handler (or None: left for later);
    ``on_ack`` receives a valid ack body; ``rejected`` notices are recorded in ``sync_rejected``.
    Applied ids are remembered with their body's hash, so a re-delivery is a no-op and the same
    id with another body is a conflict (dead letter with both hashes), never silently dropped.
    """

    def __init__(self, truck_id: str, clock: Clock, handlers: dict[str, Any], on_ack: Callable[[dict[str, Any]], Outcome]):
        self.truck_id = truck_id
        self.clock = clock
        self.handlers = {"erase": erase_handler, **handlers}  # erasing needs no service: built in, not optional
        self.on_ack = on_ack

    def handle(self, topic: str, payload: bytes) -> Outcome:
        """Returns (applied, reason). Never raises."""
        try:
            return self._handle(topic, payload)
        except Exception as exc:  # noqa: BLE001 - a bad message must never stop the agent
            log.exception("inbound message on %s failed", topic)
            return self._dead_letter(topic, payload, "", f"could not be applied: {type(exc).__name__}: {exc}")

    def _handle(self, topic: str, payload: bytes) -> Outcome:
        parsed = protocol.parse_topic(topic)
        if parsed is None or parsed.direction != "down" or parsed.truck != self.truck_id:
            return self._dead_letter(topic, payload, "", f"not a down topic of truck {self.truck_id}")
        checked = protocol.check(payload, direction="down", truck=self.truck_id, kind=parsed.kind)
        if not checked.ok:
            return self._dead_letter(topic, payload, parsed.kind, checked.reason)
        env = checked.envelope
        assert env is not None
        if env["kind"] == "ack":
            return self.on_ack(env["body"])
        if env["kind"] == "rejected":
            return record_rejection(env["body"], self.clock.now())
        digest = protocol.body_hash(env["body"])
        if SyncInbound.select().where(SyncInbound.key == env["id"]).exists():
            applied = SyncInboundHash.get_or_none(SyncInboundHash.key == env["id"])
            if applied is not None and applied.body_hash != digest:
                return self._dead_letter(topic, payload, env["kind"],
                                         f"conflict: id {env['id']!r} was applied with another body "
                                         f"(applied {applied.body_hash[:12]}, this one {digest[:12]})")
            return True, "already applied"
        handler = self.handlers.get(env["kind"])
        if handler is None:
            log.warning("no handler for %s on this truck; left for later", env["kind"])
            return False, f"no handler for {env['kind']}"
        accepted, reason = self._call(handler, env)
        if env["kind"] == "campaign":
            self._report_install(env, accepted, reason)
        if not accepted:
            return self._dead_letter(topic, payload, env["kind"], reason)
        SyncInbound.insert(key=env["id"], kind=env["kind"], received_utc=self.clock.now()).on_conflict_ignore().execute()
        SyncInboundHash.insert(key=env["id"], body_hash=digest).on_conflict_ignore().execute()
        log.info("applied %s %s: %s", env["kind"], env["id"], reason)
        return True, reason

    @staticmethod
    def _call(handler: Any, env: dict[str, Any]) -> Outcome:
        if env["kind"] != "campaign":
            return handler(env["body"])
        try:
            raw = base64.b64decode(env["body"]["bundle_b64"], validate=True)
        except (binascii.Error, ValueError):
            return False, "campaign bundle_b64 is not base64"
        return handler(raw)

    def _report_install(self, env: dict[str, Any], accepted: bool, reason: str) -> None:
        """Tell the hub whether the campaign installed (the owner console shows it per truck)."""
        body = {"campaign_id": env["body"]["campaign_id"], "accepted": accepted, "reason": reason[:500],
                "at": self.clock.now().isoformat()}
        key = str(uuid.uuid5(uuid.NAMESPACE_URL, f"campaign_status:{env['id']}"))
        try:
            with database.atomic():
                if not outbox.Outbox.select().where(outbox.Outbox.key == key).exists():
                    outbox.enqueue("campaign_status", body, now=self.clock.now(), key=key)
        except peewee.PeeweeException:
            log.exception("could not queue the campaign install report")

    def _dead_letter(self, topic: str, payload: Any, kind: str, reason: str) -> Outcome:
        raw = payload if isinstance(payload, (bytes, bytearray)) else str(payload).encode("utf-8", "replace")
        log.warning("dead letter on %s: %s", topic[:200], reason)
        try:
            SyncDeadLetter.create(received_utc=self.clock.now(), topic=topic[:1000], kind=str(kind)[:40], reason=reason,
                                  payload=bytes(raw[:MAX_KEPT_BYTES]).decode("utf-8", "replace"), payload_bytes=len(raw))
        except peewee.PeeweeException:
            log.exception("could not store the dead letter")
        return False, reason


def record_rejection(body: dict[str, Any], now: Any) -> Outcome:
    """Keep the hub's rejection of one outbox seq (once per seq; the first reason wins)."""
    SyncRejected.insert(seq=body["seq"], key=body.get("key", ""), outcome=body["outcome"], reason=body["reason"],
                        received_utc=now).on_conflict_ignore().execute()
    log.warning("the hub did not store outbox seq %s (%s): %s", body["seq"], body["outcome"], body["reason"])
    return True, f"seq {body['seq']} {body['outcome']} by the hub"


def menu_handler(menu: Any) -> BodyHandler:
    """Apply a ``menu`` body with ``MenuService.load`` (items not listed are deactivated)."""

    def handle(body: dict[str, Any]) -> Outcome:
        try:
            count = menu.load(body)
        except InvalidInput as exc:
            return False, str(exc)
        return True, f"menu loaded: {count} items"

    return handle


def consent_handler(registration: Any) -> BodyHandler:
    """Apply a ``consent`` change made at the hub (an unsubscribe) with ``RegistrationService.record_hub_consent``."""

    def handle(body: dict[str, Any]) -> Outcome:
        at = protocol.parse_ts(body["at"])
        known = registration.record_hub_consent(body["customer_ref"], bool(body["granted"]), body.get("channel", "all"),
                                                body["wording_version"], at)
        return True, "consent recorded" if known else "consent for a customer this truck does not know: ignored"

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
        register.committed(ticket.id)  # after-commit work (the register process's print worker wakes) sees the row
        return True, "recorded"

    return handle


def erase_handler(body: dict[str, Any]) -> Outcome:
    """A customer erased at the hub: blank their contact details and stop recognising their phones."""
    refs = [r for r in body["customer_refs"] if isinstance(r, str)][:100]
    devices = [d for d in body["device_ids"] if isinstance(d, str)][:100]
    with database.atomic():
        people = Customer.update(email=None, phone=None).where(Customer.ref.in_(refs or [""])).execute()
        phones = RegisteredDevice.update(active=False).where(RegisteredDevice.device_id.in_(devices or [""])).execute()
    return True, f"erased {people} customers and {phones} phones"
