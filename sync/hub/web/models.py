"""The web face's own hub tables (console users, web orders, menus the hub published, campaign publishes).

They bind to the same ``hub_database`` as the ingest tables, so SQLite and PostgreSQL work alike.
"""

from __future__ import annotations

import peewee

from sync.hub import customers  # noqa: F401 - registers the profile tables in HUB_MODELS
from sync.hub.models import HUB_MODELS, HubModel, hub_database
from truck_pos.store.base import JsonField, UtcDateTimeField


class HubWebUser(HubModel):
    """A console login: scrypt hash, role (owner | manager), failed tries and the lockout time."""

    username = peewee.CharField(max_length=64, unique=True)
    password_hash = peewee.CharField(max_length=255)
    role = peewee.CharField(max_length=10, default="owner")
    failed_logins = peewee.IntegerField(default=0)
    locked_utc = UtcDateTimeField(null=True)
    created_utc = UtcDateTimeField()


class HubWebMenu(HubModel):
    """The newest menu the hub published to a truck (what the customer page offers)."""

    truck = peewee.CharField(max_length=64, unique=True)
    document = JsonField()
    tax_mode = peewee.CharField(max_length=10, default="exclusive")
    updated_utc = UtcDateTimeField()


class HubWebOrder(HubModel):
    """An order placed on the customer page. ``token`` is the customer's unguessable handle.

    status: pending (waiting for payment) -> paid (sent to the truck); the truck's own events
    (delivered, queued with the claim, ready, handed over) are read from the ingested messages.
    """

    token = peewee.CharField(max_length=64, unique=True)
    order_id = peewee.CharField(max_length=36, unique=True)
    truck = peewee.CharField(max_length=64, index=True)
    body = JsonField()
    total_cents = peewee.IntegerField()
    slot = peewee.CharField(max_length=5)
    slot_day = peewee.CharField(max_length=10)
    status = peewee.CharField(max_length=10, default="pending")
    payment_ref = peewee.CharField(max_length=120, default="")
    created_utc = UtcDateTimeField()
    paid_utc = UtcDateTimeField(null=True)

    class Meta:
        indexes = ((("truck", "slot_day", "slot"), False),)


class HubWebCampaign(HubModel):
    """A campaign document edited in the console; ``published_utc`` once signed and sent."""

    campaign_id = peewee.CharField(max_length=64, unique=True)
    document = JsonField()
    updated_utc = UtcDateTimeField()
    published_utc = UtcDateTimeField(null=True)


class HubWebPublish(HubModel):
    """One signed bundle sent to one truck (its install result comes back as ``campaign_status``)."""

    campaign_id = peewee.CharField(max_length=64, index=True)
    truck = peewee.CharField(max_length=64)
    bundle_sha = peewee.CharField(max_length=64)
    published_utc = UtcDateTimeField()
    by_user = peewee.CharField(max_length=64)


WEB_MODELS = [HubWebUser, HubWebMenu, HubWebOrder, HubWebCampaign, HubWebPublish]




class HubWebDevice(HubModel):
    """A phone registered for BLE proximity on the customer page: its id and 32-byte secret (hex).

    The secret goes to the phone once (QR / deep link) and to trucks inside the signed campaign's
    ``devices`` list; it is erased with the customer.
    """

    device_id = peewee.CharField(max_length=64, unique=True)
    customer_uuid = peewee.CharField(max_length=36, index=True)
    secret_hex = peewee.CharField(max_length=64)
    created_utc = UtcDateTimeField()


WEB_MODELS.append(HubWebDevice)
HUB_MODELS.extend(m for m in WEB_MODELS if m not in HUB_MODELS)  # open_hub_database creates them too


def create_web_tables() -> None:
    """Create every hub table (ingest, customers, web) on the open hub database (safe to call again)."""
    hub_database.obj.create_tables(HUB_MODELS, safe=True)
