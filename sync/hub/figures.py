"""The hub's money figures for a truck's day, from the messages it ingested (same labels as the truck's reports)."""

from __future__ import annotations

from datetime import datetime

from sync.hub.models import HubMessage
from truck_pos.domain.reports import ChangeRow, DayMoney, MoneyRow, day_money

CHANGE_KINDS = {"order_voided": "voided", "order_refunded": "refunded"}


def truck_day_money(truck: str, start_utc: datetime, end_utc: datetime) -> DayMoney:
    """Orders the truck rang up in [start, end) and the voids/refunds of those orders (whenever they came)."""
    ok = (HubMessage.truck == truck) & (HubMessage.status == "ok")
    orders = [MoneyRow(b["order_id"], int(b.get("total_cents", 0)), int(b.get("discount_cents", 0)), int(b.get("tax_cents", 0)),
                       b.get("tax_mode") == "inclusive")
              for (b,) in HubMessage.select(HubMessage.body).where(ok, HubMessage.kind == "order", HubMessage.ts_utc >= start_utc,
                                                                   HubMessage.ts_utc < end_utc).tuples()]
    changes = [ChangeRow(b["order_id"], CHANGE_KINDS[kind], int(b["amount_cents"]), int(b["tax_cents"]))
               for kind, b in HubMessage.select(HubMessage.kind, HubMessage.body).where(
                   ok, HubMessage.kind.in_(list(CHANGE_KINDS)), HubMessage.ts_utc >= start_utc)
               .order_by(HubMessage.seq).tuples()]
    return day_money(orders, changes)
