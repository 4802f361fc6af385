"""Customer-page actions on hub profiles (``sync.hub.customers``): register with consent, groups, push, devices, erase."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sync import protocol
from sync.hub import customers
from sync.hub.customers import HubCustomer
from sync.hub.models import HubTruck, hub_database
from sync.hub.web.models import HubWebDevice

WORDING_VERSION = "web-2026-06"
# What the customer reads next to each box (the version above names this exact text).
WORDING = {
    "email": "Email me offers and the truck's schedule (about once a week).",
    "sms": "Text me when the truck is near my group's stop.",
    "push": "Send notifications to this phone (order ready, offers).",
    "location": "Let the truck notice this phone nearby (Bluetooth) to apply my offers.",
}


@dataclass(frozen=True)
class Registration:
    """What the register form gave, already checked."""

    email: str | None
    phone: str | None
    first_name: str
    consents: dict[str, bool]
    group: str


def register(reg: Registration, truck: str, now: datetime) -> HubCustomer:
    """Make or find the profile, append one consent row per channel (granted or not), join the group."""
    with hub_database.atomic():
        customer, _ = customers.upsert_profile({"email": reg.email, "phone": reg.phone}, reg.first_name,
                                               source=f"web:{truck}", now=now)
        for channel, granted in reg.consents.items():
            customers.record_consent(customer, channel, granted, source=f"web:{truck}", wording_version=WORDING_VERSION,
                                     at=now)
        if reg.group:
            customers.join_group(customer, reg.group, now)
    return customer


def set_consents(customer: HubCustomer, consents: dict[str, bool], now: datetime, source: str = "web:manage") -> None:
    """Append a row for every channel whose decision changed (the history is never rewritten)."""
    current = customers.current_consents(customer)
    with hub_database.atomic():
        for channel, granted in consents.items():
            if current.get(channel, False) != granted:
                customers.record_consent(customer, channel, granted, source=source, wording_version=WORDING_VERSION, at=now)


def register_device(customer: HubCustomer, now: datetime) -> HubWebDevice:
    """A new BLE device id and secret for this customer's phone (a device identity on the profile)."""
    device_id = f"web-{secrets.token_hex(6)}"
    with hub_database.atomic():
        customers.upsert_profile([("device", device_id)] + [(i.kind, i.value) for i in customer.identities][:1],
                                 source="web:ble", now=now)
        return HubWebDevice.create(device_id=device_id, customer_uuid=customer.uuid, secret_hex=secrets.token_hex(32),
                                   created_utc=now)


def deep_link(device: HubWebDevice) -> str:
    """What the companion app reads from the QR: its device id and secret (shown once to the owner of the phone)."""
    return f"truckpos://ble-register?device_id={device.device_id}&secret={device.secret_hex}&slot_s=300"


def devices_for_campaign(segment: str = "nearby_devices") -> list[dict[str, Any]]:
    """Registered phones whose owner consents to being noticed nearby, as a campaign ``devices`` list."""
    out = []
    for d in HubWebDevice.select().order_by(HubWebDevice.id):
        customer = customers.by_uuid(d.customer_uuid)
        if customer is not None and customer.erased_at is None and customers.has_consent(customer, "location"):
            out.append({"device_id": d.device_id, "customer_ref": customer.uuid, "segment": segment,
                        "secret": d.secret_hex})
    return out


def erase_everywhere(customer: HubCustomer, hub: Any, now: datetime) -> int:
    """Erase on the hub and send the ``erase`` down message to every known truck; returns the trucks told."""
    refs = [i.value for i in customer.identities if i.kind == "truck_ref"] + [customer.uuid]
    devices = [d.device_id for d in HubWebDevice.select().where(HubWebDevice.customer_uuid == customer.uuid)]
    customers.erase(customer, now)
    HubWebDevice.delete().where(HubWebDevice.customer_uuid == customer.uuid).execute()
    body = {"request_id": secrets.token_hex(16), "customer_refs": refs[:100], "device_ids": devices[:100],
            "at": now.isoformat()}
    trucks = [t.truck for t in HubTruck.select(HubTruck.truck) if protocol.TRUCK_ID_RE.match(t.truck)]
    if hub is not None and getattr(hub, "client", None) is not None:
        for truck in trucks:
            hub.publish_erase(truck, body)
    return len(trucks)
