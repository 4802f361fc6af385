"""Loyalty at the hub: every truck's ``loyalty`` entries added up, and spends that overdrew across trucks.

Trucks spend points offline up to the balance they last heard plus their own entries since, so two
trucks offline at once can both spend the same points. Here the entries of all trucks meet: the
balance per customer is their sum, and a spend that took it below zero is flagged like a double spend.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from truck_pos.domain.loyalty import Overdraw, reconcile

from sync import protocol
from sync.hub.models import HubMessage


def loyalty_entries() -> list[dict]:
    """The accepted ``loyalty`` bodies, each with the truck that sent it."""
    query = HubMessage.select(HubMessage.truck, HubMessage.body).where(
        (HubMessage.kind == "loyalty") & (HubMessage.status == "ok"))
    return [{**row.body, "truck": row.truck} for row in query if isinstance(row.body, dict)]


def loyalty_report() -> tuple[dict[str, int], list[Overdraw]]:
    """(balance per customer, overdraws) over everything ingested so far."""
    return reconcile(loyalty_entries())


def balances_bodies(now: datetime) -> list[dict[str, Any]]:
    """``loyalty_balances`` down bodies (as of ``now``), split so none is over the protocol's limit."""
    balances, _ = loyalty_report()
    rows = [{"customer_ref": ref, "points": points} for ref, points in sorted(balances.items())]
    size = protocol.MAX_LOYALTY_BALANCES
    return [{"as_of": now.isoformat(), "balances": rows[i:i + size]} for i in range(0, len(rows), size)] or [
        {"as_of": now.isoformat(), "balances": []}]


def print_report() -> int:
    """``truck-pos-hub loyalty``: balances, then every overdraw; exit status 2 when there is one."""
    balances, overdraws = loyalty_report()
    for ref, points in sorted(balances.items()):
        print(f"{ref:<24} {points:>8} points")
    for o in overdraws:
        print(f"OVERDRAW {o.customer_ref} at {o.truck}: spent {-o.points} points, balance {o.balance_after} ({o.entry_id})")
    return 2 if overdraws else 0
