"""Core tables: menu, orders with their lines and tenders, staff and the audit log."""

from __future__ import annotations

import peewee

from truck_pos.store.base import BaseModel, JsonField, UtcDateTimeField

ORDER_STATUSES = ("open", "paid", "voided", "refunded", "handed_over")
CHANNELS = ("counter", "mobile")
TENDER_KINDS = ("cash", "card", "prepaid")
ROLES = ("staff", "manager")
LANGUAGES = ("en", "es")  # staff-facing languages shipped (truck_pos/locale)


class MenuCategory(BaseModel):
    """A tab on the register (Mains, Sides, Drinks...)."""

    name = peewee.CharField(unique=True)
    position = peewee.IntegerField(default=0)


class MenuItem(BaseModel):
    """Something the truck sells. Prices are integer cents; tax rate in basis points (825 = 8.25 %)."""

    sku = peewee.CharField(unique=True)
    category = peewee.ForeignKeyField(MenuCategory, backref="items", on_delete="RESTRICT")
    name = peewee.CharField()
    price_cents = peewee.IntegerField(constraints=[peewee.Check("price_cents >= 0")])
    tax_rate_bp = peewee.IntegerField(default=0, constraints=[peewee.Check("tax_rate_bp >= 0")])
    sold_out = peewee.BooleanField(default=False)
    position = peewee.IntegerField(default=0)
    active = peewee.BooleanField(default=True)


class Modifier(BaseModel):
    """An option for an item ("extra cheese" +75 ¢, "no onions" 0 ¢)."""

    item = peewee.ForeignKeyField(MenuItem, backref="modifiers", on_delete="CASCADE")
    name = peewee.CharField()
    price_cents = peewee.IntegerField(default=0)

    class Meta:
        indexes = ((("item", "name"), True),)


class Staff(BaseModel):
    """A person who may use the register. The PIN is stored as a salted scrypt hash."""

    name = peewee.CharField(unique=True)
    role = peewee.CharField(constraints=[peewee.Check("role in ('staff','manager')")])
    pin_salt = peewee.BlobField()
    pin_hash = peewee.BlobField()
    active = peewee.BooleanField(default=True)
    created_utc = UtcDateTimeField()
    language = peewee.CharField(default="en")  # en | es: the register speaks it while this person is logged in


class Order(BaseModel):
    """A paid (or voided / handed-over) order. ``uuid`` is its idempotency key everywhere."""

    uuid = peewee.CharField(unique=True)
    business_day = peewee.CharField(index=True)  # YYYY-MM-DD in the truck's time zone
    number = peewee.IntegerField()  # per business day, starting at 1
    status = peewee.CharField(default="paid", index=True)
    channel = peewee.CharField(default="counter")
    created_utc = UtcDateTimeField(index=True)
    paid_utc = UtcDateTimeField(null=True)
    subtotal_cents = peewee.IntegerField()
    discount_cents = peewee.IntegerField(default=0)
    tax_cents = peewee.IntegerField()
    total_cents = peewee.IntegerField()
    tax_mode = peewee.CharField()
    staff = peewee.ForeignKeyField(Staff, null=True, backref="orders", on_delete="SET NULL")
    customer_ref = peewee.CharField(null=True, index=True)
    stop = peewee.CharField(default="")
    note = peewee.TextField(default="")

    class Meta:
        table_name = "order"
        indexes = ((("business_day", "number"), True),)


class OrderLine(BaseModel):
    """One line of an order, with the name and prices as they were when sold."""

    order = peewee.ForeignKeyField(Order, backref="lines", on_delete="CASCADE")
    position = peewee.IntegerField()
    sku = peewee.CharField()
    name = peewee.CharField()
    quantity = peewee.IntegerField(constraints=[peewee.Check("quantity > 0")])
    unit_price_cents = peewee.IntegerField()
    modifiers = JsonField(default=list)  # [{"name": ..., "price_cents": ...}]
    tax_rate_bp = peewee.IntegerField()
    gross_cents = peewee.IntegerField()  # (unit + modifiers) * quantity, before discount
    discount_cents = peewee.IntegerField(default=0)
    tax_cents = peewee.IntegerField()


class OrderDiscount(BaseModel):
    """A discount applied to an order (a campaign code, a group discount, a manager override)."""

    order = peewee.ForeignKeyField(Order, backref="discounts", on_delete="CASCADE")
    label = peewee.CharField()
    code = peewee.CharField(null=True)
    segment = peewee.CharField(null=True)
    amount_cents = peewee.IntegerField()


class Tender(BaseModel):
    """Money taken for an order. Only cash can give change."""

    order = peewee.ForeignKeyField(Order, backref="tenders", on_delete="CASCADE")
    kind = peewee.CharField(constraints=[peewee.Check("kind in ('cash','card','prepaid')")])
    amount_cents = peewee.IntegerField()  # applied to the order
    tendered_cents = peewee.IntegerField()  # handed over (cash may exceed amount)
    change_cents = peewee.IntegerField(default=0)
    reference = peewee.CharField(default="")


class AuditLog(BaseModel):
    """Who did what that needed authority (voids, refunds, overrides, logins that failed)."""

    ts_utc = UtcDateTimeField(index=True)
    action = peewee.CharField()
    staff = peewee.ForeignKeyField(Staff, null=True, on_delete="SET NULL")
    manager = peewee.ForeignKeyField(Staff, null=True, on_delete="SET NULL", backref="approvals")
    target = peewee.CharField(default="")
    details = JsonField(default=dict)
