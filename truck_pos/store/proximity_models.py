"""Proximity tables: registered devices (synced down) and the events raised when one comes near."""

from __future__ import annotations

import peewee

from truck_pos.store.base import BaseModel, UtcDateTimeField


class RegisteredDevice(BaseModel):
    """A customer's phone that advertises a rotating token derived from ``secret``."""

    device_id = peewee.CharField(unique=True)
    customer_ref = peewee.CharField(index=True)
    segment = peewee.CharField(default="nearby_devices")
    secret = peewee.BlobField()
    active = peewee.BooleanField(default=True)


class ProximityEvent(BaseModel):
    """One per customer per campaign window: this customer was at the truck."""

    key = peewee.CharField(unique=True)  # idempotency key: customer + campaign window
    customer_ref = peewee.CharField(index=True)
    campaign_id = peewee.CharField(null=True, index=True)
    segment = peewee.CharField(default="nearby_devices")
    source = peewee.CharField(default="truck_scan")  # truck_scan | phone_report
    first_seen_utc = UtcDateTimeField(index=True)
    distance_m = peewee.FloatField(null=True)
    rssi_dbm = peewee.FloatField(null=True)
