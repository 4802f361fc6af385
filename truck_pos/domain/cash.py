"""Quick cash buttons: what a customer is likely to hand over for an amount due. Pure."""

from __future__ import annotations

STEPS = (100, 500, 1000, 2000)  # the next whole $1, $5, $10 and $20 above what is due


def quick_cash_amounts(due_cents: int) -> list[int]:
    """Exact, then the next $1 / $5 / $10 / $20 strictly above ``due_cents`` (no repeats, ascending).

    $12.72 -> [1272, 1300, 1500, 2000]; $0 -> [] (nothing to take).
    """
    if due_cents <= 0:
        return []
    amounts = [due_cents]
    for step in STEPS:
        above = (due_cents // step + 1) * step
        if above not in amounts:
            amounts.append(above)
    return amounts
