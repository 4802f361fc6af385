"""Customers at the register: find one by their QR, phone or email, attach them, price their ticket.

Attaching a customer applies their group's discount at once, makes per-customer code limits
checkable, and shows their consent and loyalty points. The QR on the customer page and on receipts
carries ``<hub_url>/c/<customer ref>``; any text that contains a customer ref is accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import peewee

from truck_pos.domain.order import Ticket
from truck_pos.errors import InvalidInput, NotFound
from truck_pos.services.loyalty import META_KEY as LOYALTY, LoyaltyService
from truck_pos.services.redemption import RedemptionService
from truck_pos.services.register import RegisterService
from truck_pos.services.registration import RegistrationService, normalize_email, normalize_phone
from truck_pos.store.campaign_models import Customer

REF = re.compile(r"c-[0-9a-f]{16}")
MAX_INPUT = 400


@dataclass(frozen=True)
class CustomerCard:
    """What staff see about the attached customer."""

    ref: str
    label: str  # masked email or phone
    groups: tuple[str, ...]
    consent: bool
    points: int | None  # None when loyalty is off


def mask(customer: Customer) -> str:
    """'ana@example.com' -> 'a…@example.com'; '+13125550100' -> '…0100'."""
    if customer.email:
        name, _, domain = customer.email.partition("@")
        return f"{name[:1]}…@{domain}"
    return f"…{customer.phone[-4:]}" if customer.phone else customer.ref


class CustomerService:
    """Lookup, attach and (re)price; consent changes go through registration (synced up)."""

    def __init__(self, db: peewee.Database, register: RegisterService, registration: RegistrationService,
                 redemption: RedemptionService, loyalty: LoyaltyService, *, hub_url: str, truck_id: str):
        self.db = db
        self.register = register
        self.registration = registration
        self.redemption = redemption
        self.loyalty = loyalty
        self.hub_url = hub_url.rstrip("/")
        self.truck_id = truck_id

    # --- addresses ----------------------------------------------------------------------------
    def signup_url(self) -> str:
        """The customer page for this truck, as an https URL a phone opens."""
        return f"{self.hub_url}/t/{self.truck_id}"

    def customer_url(self, customer_ref: str) -> str:
        """What a customer's own QR carries."""
        return f"{self.hub_url}/c/{customer_ref}"

    # --- lookup -------------------------------------------------------------------------------
    def find(self, text: str) -> CustomerCard:
        """A scanned QR (any text containing a customer ref), a phone number or an email address."""
        text = (text or "")[:MAX_INPUT].strip()
        if not text:
            raise InvalidInput("Scan the customer's QR or type a phone number or email")
        match = REF.search(text.lower())
        if match:
            customer = Customer.get_or_none(Customer.ref == match.group(0))
        elif "@" in text:
            customer = Customer.get_or_none(Customer.email == normalize_email(text))
        else:
            customer = Customer.get_or_none(Customer.phone == normalize_phone(text))
        if customer is None:
            raise NotFound("No customer found; they can sign up on the customer screen")
        return self.card(customer.ref)

    def card(self, customer_ref: str) -> CustomerCard:
        customer = self.registration.customer(customer_ref)
        points = self.loyalty.balance(customer.ref) if self.loyalty.rules().enabled else None
        return CustomerCard(customer.ref, mask(customer), tuple(self.registration.groups_of(customer.ref)),
                            self.registration.has_consent(customer.ref), points)

    def attach(self, ticket_id: str, text: str) -> tuple[Ticket, CustomerCard]:
        """Find the customer and put them on the ticket; their group discount applies at once."""
        card = self.find(text)
        self.register.set_customer(ticket_id, card.ref)
        return self.reprice(ticket_id)[0], card

    def withdraw_consent(self, customer_ref: str) -> CustomerCard:
        """No more offers for this customer (recorded and synced up as ``consent``)."""
        self.registration.withdraw_consent(customer_ref, wording_version="withdrawn at the register")
        return self.card(customer_ref)

    # --- pricing ------------------------------------------------------------------------------
    def reprice(self, ticket_id: str) -> tuple[Ticket, list]:
        """After items or the customer changed: codes checked again, the group discount and a chosen reward follow."""
        chosen = self.register.ticket(ticket_id).meta.get(LOYALTY)
        results = self.redemption.reapply_codes(ticket_id)
        self.register.remove_discounts(ticket_id, sources=("group", "loyalty"), meta_keys=(LOYALTY,))
        ticket = self.register.ticket(ticket_id)
        discount = self.registration.group_discount(ticket)
        if discount is not None:
            ticket = self.register.apply_discount(ticket_id, discount)
        return self.loyalty.reapply(ticket, chosen), [r for r in results if getattr(r, "reason", None)]

    def reward_available(self, ticket: Ticket) -> bool:
        return self.loyalty.reward_for(ticket) is not None

    def redeem_reward(self, ticket_id: str) -> Ticket:
        return self.loyalty.redeem(ticket_id)

    # --- text for the screen ------------------------------------------------------------------
    def line(self, ticket: Ticket) -> str:
        """One line under the ticket: who, their group, points."""
        card = self.card(ticket.customer_ref)  # type: ignore[arg-type]
        return self.attached_note(card)

    @staticmethod
    def attached_note(card: CustomerCard) -> str:
        parts = [card.label]
        if card.groups:
            parts.append(", ".join(card.groups))
        if card.points is not None:
            parts.append(f"{card.points} pts")
        parts.append("offers: yes" if card.consent else "offers: no")
        return " · ".join(parts)

