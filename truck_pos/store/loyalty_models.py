"""Loyalty tables on the truck: the balance last synced from the hub, and this truck's own entries since."""

from __future__ import annotations

import peewee

from truck_pos.store.base import BaseModel, UtcDateTimeField


class LoyaltyEntry(BaseModel):
    """Points earned (+) or spent (-) on this truck; ``key`` makes a replay harmless."""

    key = peewee.CharField(unique=True)
    customer_ref = peewee.CharField(index=True)
    kind = peewee.CharField(constraints=[peewee.Check("kind in ('earn','redeem')")])
    points = peewee.IntegerField()
    order_uuid = peewee.CharField()
    ts_utc = UtcDateTimeField(index=True)


class LoyaltyBalance(BaseModel):
    """The customer's balance as the hub last told this truck (all trucks, reconciled)."""

    customer_ref = peewee.CharField(unique=True)
    points = peewee.IntegerField(default=0)
    as_of_utc = UtcDateTimeField()
