"""A stored order as the printer needs it, read with SQL built once from the peewee models.

Peewee builds SQL afresh for every query, which cost more than the rest of rendering a receipt put
together (benchmarks/README.md, printing). The models stay the source of truth for table and column
names and for value conversion (``field.python_value``); only the SQL strings are cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee

from truck_pos.domain.calendar import local
from truck_pos.domain.order import TenderEntry
from truck_pos.domain.receipt import DiscountLine, ItemLine, ReceiptData
from truck_pos.store.models import Order, OrderDiscount, OrderLine, Tender


@dataclass(frozen=True)
class StoredOrder:
    """An order and its lines, discounts and tenders, as plain values (duck-types ``Order`` for claims)."""

    id: int
    uuid: str
    business_day: str
    number: int
    status: str
    channel: str
    created_utc: datetime
    paid_utc: datetime | None
    subtotal_cents: int
    tax_cents: int
    total_cents: int
    tax_mode: str
    stop: str
    note: str
    lines: tuple[dict[str, Any], ...] = ()
    discounts: tuple[dict[str, Any], ...] = ()
    tenders: tuple[dict[str, Any], ...] = ()


class _Select:
    """``SELECT cols FROM table WHERE key = ? [ORDER BY ...]`` for one model, converting values like peewee."""

    def __init__(self, model: type[peewee.Model], fields: list[str], key: str, order_by: str = "id"):
        self.fields = [model._meta.fields[name] for name in fields]
        columns = ", ".join(f'"{f.column_name}"' for f in self.fields)
        where = model._meta.fields[key].column_name
        self._template = (f'SELECT {columns} FROM "{model._meta.table_name}" WHERE "{where}" = {{param}} '
                          f'ORDER BY "{model._meta.fields[order_by].column_name}"')
        self._sql: dict[str, str] = {}

    def rows(self, db: peewee.Database, value: Any) -> list[dict[str, Any]]:
        sql = self._sql.get(db.param) or self._sql.setdefault(db.param, self._template.format(param=db.param))
        return [{f.name: f.python_value(v) for f, v in zip(self.fields, row)} for row in db.execute_sql(sql, (value,))]


_ORDER = _Select(Order, ["id", "uuid", "business_day", "number", "status", "channel", "created_utc", "paid_utc",
                         "subtotal_cents", "tax_cents", "total_cents", "tax_mode", "stop", "note"], "uuid")
_LINES = _Select(OrderLine, ["name", "quantity", "gross_cents", "modifiers"], "order", "position")
_DISCOUNTS = _Select(OrderDiscount, ["label", "amount_cents", "code", "segment"], "order")
_TENDERS = _Select(Tender, ["kind", "amount_cents", "tendered_cents", "change_cents"], "order")


def stored_order(db: peewee.Database, order_uuid: str) -> StoredOrder | None:
    """The order with this uuid and its parts, or None."""
    found = _ORDER.rows(db, order_uuid)
    if not found:
        return None
    order = found[0]
    return StoredOrder(**order, lines=tuple(_LINES.rows(db, order["id"])),
                       discounts=tuple(_DISCOUNTS.rows(db, order["id"])), tenders=tuple(_TENDERS.rows(db, order["id"])))


def receipt_data(order: StoredOrder, *, truck_name: str, timezone: str, claim: str = "", registration_url: str = "",
                 currency_symbol: str = "$") -> ReceiptData:
    """What the receipt and kitchen ticket show for a stored order, in the truck's local time."""
    items = tuple(ItemLine(ln["name"], ln["quantity"], ln["gross_cents"], tuple(m["name"] for m in ln["modifiers"] or ()))
                  for ln in order.lines)
    discounts = tuple(DiscountLine(d["label"], d["amount_cents"], d["code"], d["segment"]) for d in order.discounts)
    tenders = tuple(TenderEntry(t["kind"], t["amount_cents"], t["tendered_cents"], t["change_cents"])
                    for t in order.tenders if t["amount_cents"] > 0)
    return ReceiptData(
        truck_name=truck_name, stop=order.stop, local_time=local(order.paid_utc or order.created_utc, timezone),
        business_day=order.business_day, number=order.number, channel=order.channel, items=items,
        subtotal_cents=order.subtotal_cents, tax_cents=order.tax_cents, total_cents=order.total_cents,
        tax_mode=order.tax_mode, discounts=discounts, tenders=tenders, claim=claim,
        registration_url=registration_url, note=order.note, currency_symbol=currency_symbol,
    )
