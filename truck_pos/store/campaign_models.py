"""Campaign tables: installed bundles, redemptions, customers, consent, groups and memberships."""

from __future__ import annotations

import peewee

from truck_pos.store.base import BaseModel, JsonField, UtcDateTimeField


class CampaignBundle(BaseModel):
    """A verified bundle as received (re-verified when loaded). ``active`` = held: live, upcoming or last ended."""

    campaign_id = peewee.CharField(index=True)
    raw = peewee.BlobField()  # the exact signed bytes
    issued_utc = UtcDateTimeField()
    installed_utc = UtcDateTimeField()
    source = peewee.CharField(default="file")  # file | mqtt
    active = peewee.BooleanField(default=False, index=True)


class Redemption(BaseModel):
    """A code used on a paid order. ``key`` (order + code) makes a replay a no-op."""

    key = peewee.CharField(unique=True)
    order_uuid = peewee.CharField(index=True)
    campaign_id = peewee.CharField(index=True)
    segment = peewee.CharField()
    channel = peewee.CharField()
    kind = peewee.CharField()  # segment | personal
    code = peewee.CharField(index=True)
    customer_ref = peewee.CharField(null=True, index=True)
    amount_cents = peewee.IntegerField()
    redeemed_utc = UtcDateTimeField(index=True)
    stop = peewee.CharField(default="")


class Customer(BaseModel):
    """A registered customer; email/phone are stored normalized so duplicates meet."""

    ref = peewee.CharField(unique=True)
    email = peewee.CharField(null=True, unique=True)
    phone = peewee.CharField(null=True, unique=True)
    segment = peewee.CharField(default="pos_registrants")
    created_utc = UtcDateTimeField()
    stop = peewee.CharField(default="")


class Consent(BaseModel):
    """Every consent given or withdrawn, with the wording the customer saw."""

    customer = peewee.ForeignKeyField(Customer, backref="consents", on_delete="CASCADE")
    granted = peewee.BooleanField()
    wording_version = peewee.CharField()
    ts_utc = UtcDateTimeField()


class CustomerGroup(BaseModel):
    """A user-defined group ("Acme Corporation, Accounting"); may carry a discount."""

    name = peewee.CharField()
    key = peewee.CharField(unique=True)  # normalized name
    benefit = JsonField(null=True)
    created_utc = UtcDateTimeField()


class GroupMembership(BaseModel):
    """A customer in a group, and where they joined."""

    customer = peewee.ForeignKeyField(Customer, backref="groups", on_delete="CASCADE")
    group = peewee.ForeignKeyField(CustomerGroup, backref="members", on_delete="CASCADE")
    joined_utc = UtcDateTimeField()
    stop = peewee.CharField(default="")

    class Meta:
        indexes = ((("customer", "group"), True),)


class CampaignKeyVersion(BaseModel):
    """The high-water mark of bundle versions per owner key (across campaign ids): replays stay out."""

    key_id = peewee.CharField(unique=True)
    version = peewee.BigIntegerField()
    digest = peewee.CharField()  # SHA-256 of the signed payload at that version
    campaign_id = peewee.CharField()
    updated_utc = UtcDateTimeField()
