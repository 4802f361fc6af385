"""Loyalty at the register, offline: earn at the sale, spend up to the last synced balance plus this truck's own since.

Each entry is written with its ``loyalty`` outbox row inside the order's transaction (a completion
hook); the hub adds up every truck's entries, answers with the reconciled balance, and flags an
overdraw across trucks.
"""

from __future__ import annotations

from datetime import datetime

import peewee

from truck_pos.clock import Clock
from truck_pos.domain.loyalty import LoyaltyRules, Reward, best_reward, parse_rules, points_earned, spendable
from truck_pos.domain.order import Discount, Ticket, Totals
from truck_pos.errors import InvalidInput
from truck_pos.services.campaigns import CampaignService
from truck_pos.services.register import RegisterService
from truck_pos.store import outbox
from truck_pos.store.loyalty_models import LoyaltyBalance, LoyaltyEntry
from truck_pos.store.models import Order

META_KEY = "loyalty"


class LoyaltyService:
    """Points per dollar and reward tiers from the active campaign (``loyalty``), else from ``[customers]``."""

    def __init__(self, db: peewee.Database, clock: Clock, register: RegisterService, campaigns: CampaignService, *,
                 truck_id: str, fallback: LoyaltyRules = LoyaltyRules()):
        self.db = db
        self.clock = clock
        self.register = register
        self.campaigns = campaigns
        self.truck_id = truck_id
        self.fallback = fallback
        register.completion_hooks.append(self._on_order_complete)

    def rules(self) -> LoyaltyRules:
        campaign = self.campaigns.active_campaign()
        rules = parse_rules(campaign.document.get("loyalty")) if campaign is not None else LoyaltyRules()
        return rules if rules.enabled else self.fallback

    def balance(self, customer_ref: str) -> int:
        """Spendable now, offline: the last synced balance plus this truck's entries after it."""
        synced = LoyaltyBalance.get_or_none(LoyaltyBalance.customer_ref == customer_ref)
        since = LoyaltyEntry.customer_ref == customer_ref
        if synced is not None:
            since &= LoyaltyEntry.ts_utc > synced.as_of_utc
        local = LoyaltyEntry.select(peewee.fn.SUM(LoyaltyEntry.points)).where(since).scalar() or 0
        return spendable(synced.points if synced else 0, int(local))

    def set_synced_balance(self, customer_ref: str, points: int, as_of: datetime) -> None:
        """The hub's reconciled balance (a down message); entries after ``as_of`` still count on top."""
        with self.db.atomic():
            row = LoyaltyBalance.get_or_none(LoyaltyBalance.customer_ref == customer_ref)
            if row is None:
                LoyaltyBalance.create(customer_ref=customer_ref, points=points, as_of_utc=as_of)
            elif as_of >= row.as_of_utc:
                row.points, row.as_of_utc = points, as_of
                row.save()

    def on_balances(self, body: dict) -> tuple[bool, str]:
        """A ``loyalty_balances`` down message: the hub's reconciled balances as of ``as_of`` (the inbound handler)."""
        try:
            as_of = datetime.fromisoformat(body["as_of"])
        except (KeyError, TypeError, ValueError):
            return False, "loyalty_balances: as_of is not a time"
        if as_of.tzinfo is None:
            return False, "loyalty_balances: as_of has no UTC offset"
        for entry in body.get("balances", []):
            self.set_synced_balance(entry["customer_ref"], entry["points"], as_of)
        return True, f"loyalty balances as of {as_of.isoformat()}: {len(body.get('balances', []))} customers"

    def reward_for(self, ticket: Ticket) -> Reward | None:
        """The reward this ticket's customer could take now (None without a customer, points or rules)."""
        if not ticket.customer_ref or META_KEY in ticket.meta:
            return None
        return best_reward(self.rules(), self.balance(ticket.customer_ref), ticket.totals.total_cents)

    def redeem(self, ticket_id: str) -> Ticket:
        """Put the best affordable reward on the ticket; the points are spent when the order completes."""
        ticket = self.register.ticket(ticket_id)
        reward = self.reward_for(ticket)
        if reward is None:
            raise InvalidInput("No reward available for this customer and ticket")
        discount = Discount(f"Reward {reward.points} pts", reward.cents, segment="loyalty", source="loyalty")
        return self.register.apply_discount(ticket_id, discount, meta={META_KEY: {"points": reward.points,
                                                                                  "cents": reward.cents}})

    def reapply(self, ticket: Ticket, chosen: dict | None) -> Ticket:
        """After the items changed: keep the chosen reward if it still fits, else drop it."""
        if not chosen or not ticket.customer_ref:
            return ticket
        reward = Reward(chosen["points"], chosen["cents"])
        if reward.points > self.balance(ticket.customer_ref) or reward.cents > ticket.totals.total_cents:
            return ticket
        discount = Discount(f"Reward {reward.points} pts", reward.cents, segment="loyalty", source="loyalty")
        return self.register.apply_discount(ticket.id, discount, meta={META_KEY: chosen})

    # --- inside the order transaction ---------------------------------------------------------
    def _on_order_complete(self, order: Order, ticket: Ticket, totals: Totals, now: datetime) -> None:
        ref = ticket.customer_ref
        if not ref:
            return
        chosen = ticket.meta.get(META_KEY)
        if chosen:
            if chosen["points"] > self.balance(ref):  # another ticket spent them first
                raise InvalidInput("Not enough points for the reward any more — take the reward off")
            self._entry(order, ref, "redeem", -chosen["points"], now)
        earned = points_earned(self.rules(), totals.total_cents)
        if earned:
            self._entry(order, ref, "earn", earned, now)

    def _entry(self, order: Order, ref: str, kind: str, points: int, now: datetime) -> None:
        key = f"{order.uuid}:{kind}"
        LoyaltyEntry.create(key=key, customer_ref=ref, kind=kind, points=points, order_uuid=order.uuid, ts_utc=now)
        outbox.enqueue("loyalty", {"entry_id": key, "customer_ref": ref, "truck": self.truck_id, "order_id": order.uuid,
                                   "kind": kind, "points": points, "balance_after": self.balance(ref),
                                   "at": now.isoformat()}, now=now, key=f"loyalty:{key}")

