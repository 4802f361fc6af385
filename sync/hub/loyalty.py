"""Loyalty at the hub: every truck's ``loyalty`` entries added up, and spends that overdrew across trucks.

Trucks spend points offline up to the balance they last heard plus their own entries since, so two
trucks offline at once can both spend the same points. Here the entries of all trucks meet: the
balance per customer is their sum, and a spend that took it below zero is flagged like a double spend.
"""

from __future__ import annotations

from truck_pos.domain.loyalty import Overdraw, reconcile

from sync.hub.models import HubMessage


def loyalty_entries() -> list[dict]:
    """The accepted ``loyalty`` bodies, each with the truck that sent it."""
    query = HubMessage.select(HubMessage.truck, HubMessage.body).where(
        (HubMessage.kind == "loyalty") & (HubMessage.status == "ok"))
    return [{**row.body, "truck": row.truck} for row in query if isinstance(row.body, dict)]


def loyalty_report() -> tuple[dict[str, int], list[Overdraw]]:
    """(balance per customer, overdraws) over everything ingested so far."""
    return reconcile(loyalty_entries())
