"""Registration at the truck: customers with consent, groups, and consent withdrawal.

Each fact is written with its outbox row (``registration``, ``group_join``, ``consent``) in one
transaction. The same email or phone, typed with other case or formatting, is the same customer.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict
from datetime import datetime

import peewee

from truck_pos.clock import Clock
from truck_pos.domain.campaign import Benefit, group_key
from truck_pos.domain.codes import resolve_amount
from truck_pos.domain.contacts import normalize_email, normalize_phone  # noqa: F401 - re-exported
from truck_pos.domain.order import Discount, Ticket
from truck_pos.errors import InvalidInput, NotFound
from truck_pos.services.campaigns import CampaignService
from truck_pos.store import outbox
from truck_pos.store.campaign_models import Consent, Customer, CustomerGroup, GroupMembership

log = logging.getLogger(__name__)


class RegistrationService:
    """Register customers, record consent, manage groups."""

    def __init__(self, db: peewee.Database, clock: Clock, campaigns: CampaignService, *, truck_id: str, stop: str = ""):
        self.db = db
        self.clock = clock
        self.campaigns = campaigns
        self.truck_id = truck_id
        self.stop = stop

    def register(self, email: str | None = None, phone: str | None = None, consent: bool = True,
                 wording_version: str = "v1") -> tuple[str, str | None]:
        """Register (or find) a customer; returns (customer_ref, today's registrant code or None)."""
        email_n, phone_n = normalize_email(email), normalize_phone(phone)
        if not email_n and not phone_n:
            raise InvalidInput("Give an email address or a phone number")
        if not consent:
            raise InvalidInput("Registration needs the customer's consent to marketing messages")
        now = self.clock.now()
        with self.db.atomic():
            customer = self._find(email_n, phone_n)
            created = customer is None
            if customer is None:
                customer = Customer.create(ref="c-" + uuid.uuid4().hex[:16], email=email_n, phone=phone_n,
                                           created_utc=now, stop=self.stop)
            else:
                self._fill_missing(customer, email_n, phone_n)
            Consent.create(customer=customer, granted=True, wording_version=wording_version, ts_utc=now)
            outbox.enqueue("registration", {
                "customer_ref": customer.ref, "truck": self.truck_id, "email": customer.email, "phone": customer.phone,
                "segment": customer.segment, "new": created, "stop": self.stop, "registered_at": now.isoformat(),
                "consent": {"granted": True, "wording_version": wording_version, "at": now.isoformat()},
            }, now=now)
        return customer.ref, self.registrant_code()

    def _find(self, email: str | None, phone: str | None) -> Customer | None:
        by_email = Customer.get_or_none(Customer.email == email) if email else None
        return by_email or (Customer.get_or_none(Customer.phone == phone) if phone else None)

    @staticmethod
    def _fill_missing(customer: Customer, email: str | None, phone: str | None) -> None:
        changed = False
        if email and not customer.email and not Customer.select().where(Customer.email == email).exists():
            customer.email, changed = email, True
        if phone and not customer.phone and not Customer.select().where(Customer.phone == phone).exists():
            customer.phone, changed = phone, True
        if changed:
            customer.save()

    def registrant_code(self) -> str | None:
        """Today's code for segment pos_registrants in the active campaign, if there is one."""
        campaign = self.campaigns.active_campaign()
        segment = campaign.segment("pos_registrants") if campaign else None
        return segment.code if segment and segment.code else None

    def withdraw_consent(self, customer_ref: str, wording_version: str = "withdrawal") -> None:
        """Record that the customer no longer wants marketing messages (synced up)."""
        customer = self.customer(customer_ref)
        now = self.clock.now()
        with self.db.atomic():
            Consent.create(customer=customer, granted=False, wording_version=wording_version, ts_utc=now)
            outbox.enqueue("consent", {"customer_ref": customer.ref, "truck": self.truck_id, "granted": False,
                                       "wording_version": wording_version, "at": now.isoformat()}, now=now)

    def record_hub_consent(self, customer_ref: str, granted: bool, channel: str, wording_version: str,
                           at: datetime) -> bool:
        """A consent change made at the hub (unsubscribe link, SMS STOP): kept here, not sent back up.

        The truck keeps one marketing consent, so a withdrawal on any channel reads as withdrawn here
        (the hub keeps the per-channel truth). False when the truck does not know the customer.
        """
        customer = Customer.get_or_none(Customer.ref == customer_ref)
        if customer is None:
            return False
        Consent.create(customer=customer, granted=granted, wording_version=f"hub:{channel}:{wording_version}"[:120],
                       ts_utc=at)
        return True

    def has_consent(self, customer_ref: str) -> bool:
        """The latest consent record decides."""
        last = Consent.select().join(Customer).where(Customer.ref == customer_ref).order_by(Consent.id.desc()).first()
        return bool(last and last.granted)

    def customer(self, customer_ref: str) -> Customer:
        customer = Customer.get_or_none(Customer.ref == customer_ref)
        if customer is None:
            raise NotFound(f"No customer {customer_ref}")
        return customer

    # --- groups --------------------------------------------------------------------------------
    def join_group(self, customer_ref: str, group_name: str) -> bool:
        """Add the customer to a group (created on first use); False if already a member."""
        name = " ".join(group_name.split())
        if not name or len(name) > 120:
            raise InvalidInput("Give the group a name (up to 120 characters)")
        customer = self.customer(customer_ref)
        now = self.clock.now()
        with self.db.atomic():
            group = CustomerGroup.get_or_none(CustomerGroup.key == group_key(name))
            if group is None:
                benefit = self._campaign_benefit(name)
                group = CustomerGroup.create(name=name, key=group_key(name), created_utc=now,
                                             benefit=asdict(benefit) if benefit else None)
            if GroupMembership.select().where((GroupMembership.customer == customer) & (GroupMembership.group == group)).exists():
                return False
            GroupMembership.create(customer=customer, group=group, joined_utc=now, stop=self.stop)
            outbox.enqueue("group_join", {"customer_ref": customer.ref, "group": group.name, "truck": self.truck_id,
                                          "stop": self.stop, "joined_at": now.isoformat()}, now=now)
        return True

    def _campaign_benefit(self, name: str) -> Benefit | None:
        """The active campaign's benefit for this group, if it names one."""
        campaign = self.campaigns.active_campaign()
        for group_name, benefit in campaign.groups if campaign else ():
            if group_key(group_name) == group_key(name) and benefit is not None:
                return benefit
        return None

    def groups_of(self, customer_ref: str) -> list[str]:
        return [m.group.name for m in GroupMembership.select().join(Customer).where(Customer.ref == customer_ref)]

    def group_discount(self, ticket: Ticket) -> Discount | None:
        """The best group discount for the ticket's customer, or None."""
        if not ticket.customer_ref:
            return None
        best: Discount | None = None
        query = (GroupMembership.select(GroupMembership, CustomerGroup).join(CustomerGroup)
                 .switch(GroupMembership).join(Customer).where(Customer.ref == ticket.customer_ref))
        for m in query:
            # The active campaign decides; the benefit stored when the group was made is the fallback.
            benefit = self._campaign_benefit(m.group.name) or (Benefit(**m.group.benefit) if m.group.benefit else None)
            if benefit is None:
                continue
            amount = resolve_amount(benefit, ticket.lines)
            if isinstance(amount, int) and (best is None or amount > best.amount_cents):
                best = Discount(f"{m.group.name}: {benefit.describe()}", amount, segment=f"group:{m.group.name}", source="group")
        return best
