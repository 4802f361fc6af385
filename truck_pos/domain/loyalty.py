"""Loyalty points that work offline: how many are earned, what can be spent, which reward fits. Pure.

A truck may spend, offline, the customer's last balance synced from the hub plus what this truck
recorded since (earned minus spent). Another truck's spending since that sync is unknown here, so
the hub reconciles and flags an overdraw across trucks, like a double spend.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_POINTS_PER_DOLLAR = 100
MAX_REWARDS = 10


@dataclass(frozen=True)
class Reward:
    """Spend ``points`` for ``cents`` off."""

    points: int
    cents: int


@dataclass(frozen=True)
class LoyaltyRules:
    """Points per whole dollar paid, and the reward tiers (fewest points first)."""

    points_per_dollar: int = 0
    rewards: tuple[Reward, ...] = ()

    @property
    def enabled(self) -> bool:
        return self.points_per_dollar > 0 or bool(self.rewards)


def parse_rules(doc: Mapping[str, Any] | None) -> LoyaltyRules:
    """Rules from ``{"points_per_dollar": 1, "rewards": [{"points": 100, "cents": 500}]}``; bad parts are dropped."""
    if not isinstance(doc, Mapping):
        return LoyaltyRules()
    ppd = doc.get("points_per_dollar", 0)
    ppd = ppd if type(ppd) is int and 0 <= ppd <= MAX_POINTS_PER_DOLLAR else 0
    rewards = []
    raw = doc.get("rewards", [])
    for item in raw[:MAX_REWARDS] if isinstance(raw, list) else []:
        if isinstance(item, Mapping):
            points, cents = item.get("points"), item.get("cents")
            if type(points) is int and type(cents) is int and 0 < points <= 10**6 and 0 < cents <= 10**6:
                rewards.append(Reward(points, cents))
    return LoyaltyRules(ppd, tuple(sorted(set(rewards), key=lambda r: (r.points, r.cents))))


def parse_tiers(text: str) -> tuple[Reward, ...]:
    """'100:500, 250:1500' (points:cents) -> rewards; a bad pair is dropped."""
    rewards = []
    for pair in text.split(","):
        points, _, cents = pair.strip().partition(":")
        if points.strip().isdigit() and cents.strip().isdigit() and int(points) > 0 and int(cents) > 0:
            rewards.append(Reward(int(points), int(cents)))
    return tuple(sorted(set(rewards), key=lambda r: (r.points, r.cents)))


def points_earned(rules: LoyaltyRules, paid_cents: int) -> int:
    """Points for what the customer paid: per whole dollar, nothing for a refund or a free ticket."""
    return max(0, paid_cents) // 100 * rules.points_per_dollar


def spendable(synced_balance: int, local_changes: int) -> int:
    """What may be spent offline: the last synced balance plus this truck's own changes since (never < 0)."""
    return max(0, synced_balance + local_changes)


def best_reward(rules: LoyaltyRules, balance: int, due_cents: int) -> Reward | None:
    """The biggest reward the balance pays for that does not exceed what is due."""
    fitting = [r for r in rules.rewards if r.points <= balance and r.cents <= due_cents]
    return max(fitting, key=lambda r: (r.cents, -r.points)) if fitting else None


@dataclass(frozen=True)
class Overdraw:
    """Points spent that were not there once every truck's entries are added up (like a double spend)."""

    customer_ref: str
    entry_id: str
    truck: str
    points: int
    balance_after: int  # below zero


def reconcile(entries: Iterable[Mapping[str, Any]]) -> tuple[dict[str, int], list[Overdraw]]:
    """Balances from every truck's ``loyalty`` entries, in time order; a spend that takes one below zero is flagged.

    The balance stays as computed (it may go negative): the owner decides what to do about an overdraw.
    """
    balances: dict[str, int] = {}
    flagged: list[Overdraw] = []
    seen: set[str] = set()
    for e in sorted(entries, key=lambda e: (str(e.get("at", "")), str(e.get("entry_id", "")))):
        key = str(e.get("entry_id", ""))
        ref, points = e.get("customer_ref"), e.get("points")
        if key in seen or not isinstance(ref, str) or type(points) is not int:
            continue  # a replay, or not an entry
        seen.add(key)
        balances[ref] = balances.get(ref, 0) + points
        if points < 0 and balances[ref] < 0:
            flagged.append(Overdraw(ref, key, str(e.get("truck", "")), points, balances[ref]))
    return balances, flagged
