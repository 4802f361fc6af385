"""Check a typed or scanned code against the active campaign and put it on a ticket.

The check is offline and O(1): a dict lookup for segment codes, one Ed25519 verification for
personal codes, and in-memory usage counters. The redemption row and its ``redemption`` outbox
row are written by a register completion hook **inside** the order's transaction, where the
limits are checked once more against the database (two open tickets cannot both take the last use).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from datetime import datetime
from typing import Any

import peewee

from sync.protocol import bounded_id
from truck_pos.clock import Clock
from truck_pos.domain.campaign import Campaign, group_key, normalize
from truck_pos.domain.codes import NEEDS_CUSTOMER, CheckContext, CodeRefused, CodeResult, UsageCounts
from truck_pos.domain.order import Discount, Ticket, Totals
from truck_pos.errors import InvalidInput
from truck_pos.services.campaigns import CampaignService
from truck_pos.services.register import RegisterService
from truck_pos.store import outbox
from truck_pos.store.campaign_models import Customer, CustomerGroup, GroupMembership, Redemption
from truck_pos.store.models import Order

log = logging.getLogger(__name__)

META_KEY = "redemptions"


class RedemptionService:
    """Codes at the register: check, apply, and record with the order."""

    def __init__(self, db: peewee.Database, clock: Clock, register: RegisterService, campaigns: CampaignService,
                 *, truck_id: str, timezone: str):
        self.db = db
        self.clock = clock
        self.register = register
        self.campaigns = campaigns
        self.truck_id = truck_id
        self.timezone = timezone
        self._lock = threading.Lock()
        self.usage = self._load_usage()
        register.completion_hooks.append(self._on_order_complete)

    def _load_usage(self) -> UsageCounts:
        usage = UsageCounts()
        for r in Redemption.select(Redemption.campaign_id, Redemption.segment, Redemption.customer_ref, Redemption.redeemed_utc,
                                   Redemption.code, Redemption.kind):
            usage.add(r.campaign_id, r.segment, r.customer_ref, r.redeemed_utc, r.code, r.kind)
        return usage

    def check(self, code_text: str, ticket: Ticket) -> CodeResult:
        """Would this code apply to this ticket now? Changes nothing."""
        index = self.campaigns.code_index()
        if index is None:
            return CodeRefused("unknown code (no campaign is active)")
        if not ticket.lines:
            return CodeRefused("add the items first, then the code")
        if ticket.tenders:
            return CodeRefused("payment has started; clear the payment before adding a code")
        if normalize(code_text) in {r["code"] for r in ticket.meta.get(META_KEY, [])}:
            return CodeRefused("that code is already on this ticket")
        ctx = CheckContext(self.clock.now(), self.timezone, self.truck_id, ticket.lines, ticket.customer_ref,
                           codes_on_ticket=sum(1 for d in ticket.discounts if d.source == "code"))
        result = index.check(code_text, ctx, self.usage, self.campaigns.owner_key)
        if isinstance(result, CodeRefused) and result.reason.startswith(("already used", "limit reached")):
            # The counters move inside order transactions that may still roll back; before refusing
            # on a limit, recount from the store (rare path) so a rolled-back sale never blocks a code.
            fresh = self._load_usage()
            if fresh != self.usage:
                with self._lock:
                    self.usage = fresh
                result = index.check(code_text, ctx, self.usage, self.campaigns.owner_key)
        if not isinstance(result, CodeRefused):
            result = self._check_group(result, index.campaign, ticket.customer_ref)
        return result

    @staticmethod
    def _check_group(result: CodeResult, campaign: Campaign, ticket_customer: str | None) -> CodeResult:
        """A group segment's code is for members only: the ticket's customer must be in the group."""
        segment = campaign.segment(result.segment)  # type: ignore[union-attr]
        if segment is None or not segment.group:
            return result
        customer = result.customer_ref or ticket_customer  # type: ignore[union-attr]
        member = customer is not None and (
            GroupMembership.select().join(Customer).switch(GroupMembership).join(CustomerGroup)
            .where((Customer.ref == customer) & (CustomerGroup.key == group_key(segment.group))).exists())
        return result if member else CodeRefused(f"code for members of {segment.group} (attach the customer first)")

    def apply_code(self, ticket_id: str, code_text: str) -> CodeResult:
        """Check a code and, if it applies, add its discount to the ticket (refusals are values)."""
        ticket = self.register.ticket(ticket_id)
        result = self.check(code_text, ticket)
        if isinstance(result, CodeRefused):
            log.info("code refused on ticket %s: %s", ticket_id, result.reason)
            return result
        if result.customer_ref and not ticket.customer_ref:
            self.register.set_customer(ticket_id, result.customer_ref)
        entry = {"code": result.code, "kind": result.kind, "campaign_id": result.campaign_id, "segment": result.segment,
                 "channel": result.channel, "customer_ref": result.customer_ref}
        discount = Discount(result.label, result.amount_cents, code=result.code, segment=result.segment, source="code")
        self.register.apply_discount(ticket_id, discount, meta={META_KEY: [*ticket.meta.get(META_KEY, []), entry]})
        return result

    def reapply_codes(self, ticket_id: str) -> list[CodeResult]:
        """After the ticket changed, take its codes off and check each again (a percent code follows the items)."""
        ticket = self.register.ticket(ticket_id)
        codes = [entry["code"] for entry in ticket.meta.get(META_KEY, [])]
        if not codes:
            return []
        self.register.remove_discounts(ticket_id)
        return [self.apply_code(ticket_id, code) for code in codes]

    # --- recording (inside the order transaction) -------------------------------------------
    def _on_order_complete(self, order: Order, ticket: Ticket, totals: Totals, now: datetime) -> None:
        entries = ticket.meta.get(META_KEY, [])
        for entry in entries:
            amount = next((a for d, a in zip(ticket.discounts, totals.discounts_applied) if d.code == entry["code"]), 0)
            self._recheck_limits(entry, ticket.customer_ref)
            self.record_redemption(order.uuid, entry, amount, now, stop=order.stop, customer_ref=ticket.customer_ref)

    def record_redemption(self, order_uuid: str, entry: dict[str, Any], amount_cents: int, now: datetime, *,
                          stop: str = "", customer_ref: str | None = None) -> bool:
        """Write one redemption and its outbox row; a replay (same order and code) changes nothing."""
        key = f"{order_uuid}:{entry['code']}"
        if len(key) > 50:  # a personal code runs to ~170 characters; the sync envelope id is at most 64
            key = f"{order_uuid}:{hashlib.sha256(entry['code'].encode('utf-8')).hexdigest()[:12]}"
        customer = entry.get("customer_ref") or customer_ref
        with self.db.atomic():
            if Redemption.select().where(Redemption.key == key).exists():
                return False
            Redemption.create(
                key=key, order_uuid=order_uuid, campaign_id=entry["campaign_id"], segment=entry["segment"],
                channel=entry["channel"], kind=entry["kind"], code=entry["code"], customer_ref=customer,
                amount_cents=amount_cents, redeemed_utc=now, stop=stop,
            )
            outbox.enqueue("redemption", {
                "redemption_id": bounded_id(order_uuid, entry["code"]), "order_id": order_uuid, "truck": self.truck_id, "campaign_id": entry["campaign_id"],
                "segment": entry["segment"], "channel": entry["channel"], "kind": entry["kind"], "code": entry["code"],
                "customer_ref": customer, "amount_cents": amount_cents, "redeemed_at": now.isoformat(), "stop": stop,
                "uses_per_customer": self._per_customer(entry),  # the hub flags a use beyond it (double spend)
            }, now=now, key=bounded_id("redemption", order_uuid, entry["code"]))
        with self._lock:
            self.usage.add(entry["campaign_id"], entry["segment"], customer, now, entry["code"], entry["kind"])
        return True

    def _per_customer(self, entry: dict[str, Any]) -> int | None:
        campaign = self.campaigns.active_campaign()
        segment = campaign.segment(entry["segment"]) if campaign and campaign.id == entry["campaign_id"] else None
        return (segment.uses_per_customer if segment else None) or (1 if entry["kind"] == "personal" else None)

    def _recheck_limits(self, entry: dict[str, Any], ticket_customer: str | None) -> None:
        if entry["kind"] == "unique" and Redemption.select().where(  # single use, whichever campaign is live now
                (Redemption.campaign_id == entry["campaign_id"]) & (Redemption.code == entry["code"])).exists():
            raise InvalidInput(f"Code {entry['code'][:12]}: already used — remove the discount")
        campaign = self.campaigns.active_campaign()
        segment = campaign.segment(entry["segment"]) if campaign and campaign.id == entry["campaign_id"] else None
        if segment is None:
            return
        of_segment = (Redemption.campaign_id == entry["campaign_id"]) & (Redemption.segment == entry["segment"])
        if segment.total_uses is not None and Redemption.select().where(of_segment).count() >= segment.total_uses:
            raise InvalidInput(f"Code {entry['code'][:12]}: limit reached ({segment.total_uses} uses) — remove the discount")
        per_customer = segment.uses_per_customer or (1 if entry["kind"] == "personal" else None)
        customer = entry.get("customer_ref") or ticket_customer
        if per_customer is not None and not customer:
            raise InvalidInput(f"Code {entry['code'][:12]}: {NEEDS_CUSTOMER} — or remove the discount")
        if customer and per_customer is not None:
            used = Redemption.select().where(of_segment & (Redemption.customer_ref == customer)).count()
            if used >= per_customer:
                raise InvalidInput(f"Code {entry['code'][:12]}: already used by this customer — remove the discount")
