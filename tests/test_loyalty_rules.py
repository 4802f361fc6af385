"""Loyalty rules in the domain (pure): parsing with its bounds, the reward choice, and the hub's reconciliation.

Expected values come from the module's documented rules, worked by hand: points per whole dollar (0-100), up to
10 reward tiers of 1..10**6 points for 1..10**6 cents, the biggest reward that fits (fewest points on a tie), and
balances added up in time order with a spend that takes a balance below zero flagged. The reconciliation is
checked against a running-sum model over every arrival order (the hub receives trucks' entries in any order).
"""

from __future__ import annotations

import itertools

import pytest

from truck_pos.domain.loyalty import LoyaltyRules, Overdraw, Reward, best_reward, parse_rules, parse_tiers, reconcile


def test_points_per_dollar_from_zero_to_a_hundred_are_taken_and_anything_else_is_zero():
    assert parse_rules({"points_per_dollar": 3}) == LoyaltyRules(3, ())
    assert parse_rules({"points_per_dollar": 100}).points_per_dollar == 100
    assert parse_rules({"points_per_dollar": 0}).points_per_dollar == 0
    for bad in (101, -1, 2.0, True, "5", None):
        assert parse_rules({"points_per_dollar": bad}).points_per_dollar == 0
    assert parse_rules({}) == LoyaltyRules(0, ()) and not parse_rules({}).enabled
    assert parse_rules({"rewards": [{"points": 5, "cents": 50}]}).points_per_dollar == 0


@pytest.mark.parametrize("points, cents, kept", [
    (1, 1, True), (10**6, 10**6, True), (100, 500, True),
    (0, 500, False), (100, 0, False), (10**6 + 1, 500, False), (100, 10**6 + 1, False), (-5, 500, False),
    (100.0, 500, False), (100, "500", False),
])
def test_a_reward_tier_is_kept_only_inside_its_bounds(points, cents, kept):
    rules = parse_rules({"points_per_dollar": 1, "rewards": [{"points": points, "cents": cents}]})
    assert rules.rewards == ((Reward(points, cents),) if kept else ())


def test_rewards_come_out_fewest_points_first_without_repeats():
    given = [{"points": p, "cents": c} for p, c in [(500, 3000), (100, 500), (250, 1500), (100, 400), (100, 500),
                                                     (900, 9000), (20, 100)]]
    expected = (Reward(20, 100), Reward(100, 400), Reward(100, 500), Reward(250, 1500), Reward(500, 3000),
                Reward(900, 9000))
    assert parse_rules({"rewards": given}).rewards == expected
    assert parse_rules({"rewards": list(reversed(given))}).rewards == expected


def test_only_the_first_ten_tiers_are_read_and_a_rewards_field_that_is_not_a_list_is_ignored():
    many = [{"points": p, "cents": p} for p in range(1, 13)]
    assert parse_rules({"rewards": many}).rewards == tuple(Reward(p, p) for p in range(1, 11))
    for bad in ({"points": 1, "cents": 1}, "100:500", 7):
        assert parse_rules({"points_per_dollar": 2, "rewards": bad}) == LoyaltyRules(2, ())


def test_tiers_typed_by_the_owner():
    assert parse_tiers("1:1, 250:1500,100:500") == (Reward(1, 1), Reward(100, 500), Reward(250, 1500))
    assert parse_tiers("100:0, 0:100, 5:-1, 1:2:3, , 100") == ()


def test_the_balance_may_pay_exactly_the_points_and_the_reward_may_be_exactly_what_is_due():
    rules = LoyaltyRules(1, (Reward(50, 600),))
    assert best_reward(rules, 50, 600) == Reward(50, 600)
    assert best_reward(rules, 49, 600) is None and best_reward(rules, 50, 599) is None


def test_between_two_rewards_worth_the_same_the_cheaper_in_points_is_chosen():
    rules = LoyaltyRules(1, (Reward(100, 500), Reward(150, 500), Reward(120, 400)))
    assert best_reward(rules, 200, 1000) == Reward(100, 500)


def entry(entry_id: str, ref: str, points: int, at: str, truck: str = "truck-a") -> dict:
    return {"entry_id": entry_id, "customer_ref": ref, "points": points, "at": at, "truck": truck}


def running_sum_model(entries: list[dict]) -> tuple[dict[str, int], list[tuple[str, int]]]:
    """Independent model: walk the entries by (time, id), once per id; a spend below zero is (id, balance after)."""
    balance: dict[str, int] = {}
    flagged, seen = [], set()
    for e in sorted(entries, key=lambda e: (e["at"], e["entry_id"])):
        if e["entry_id"] in seen:
            continue
        seen.add(e["entry_id"])
        balance[e["customer_ref"]] = balance.get(e["customer_ref"], 0) + e["points"]
        if e["points"] < 0 and balance[e["customer_ref"]] < 0:
            flagged.append((e["entry_id"], balance[e["customer_ref"]]))
    return balance, flagged


DAY = [
    entry("a1", "ana", 30, "2026-06-01T17:00:00+00:00"),
    entry("b1", "ana", -20, "2026-06-01T17:20:00+00:00", "truck-b"),
    entry("a2", "ana", -20, "2026-06-01T17:10:00+00:00"),
    entry("c2", "bo", 10, "2026-06-01T17:05:00+00:00"),
    entry("c1", "bo", -10, "2026-06-01T17:05:00+00:00"),  # same instant: the entry id orders them
]


def test_the_result_does_not_depend_on_the_order_entries_arrive_in():
    expected = running_sum_model(DAY)
    assert expected == ({"ana": -10, "bo": 0}, [("c1", -10), ("b1", -10)])  # in time order
    for arrival in itertools.permutations(DAY):
        balances, flagged = reconcile(arrival)
        assert (balances, [(o.entry_id, o.balance_after) for o in flagged]) == expected


def test_an_overdraw_names_the_customer_entry_truck_and_points():
    _, flagged = reconcile(DAY)
    assert flagged[1] == Overdraw("ana", "b1", "truck-b", -20, -10)


def test_a_replay_counts_once_and_entries_that_are_not_entries_are_skipped_without_stopping():
    entries = [entry("a1", "ana", 30, "2026-06-01T17:00:00+00:00"), entry("a1", "ana", 30, "2026-06-01T17:00:00+00:00"),
               {"entry_id": "x1", "customer_ref": None, "points": 5, "at": "2026-06-01T17:01:00+00:00"},
               {"entry_id": "x2", "customer_ref": "ana", "points": "5", "at": "2026-06-01T17:02:00+00:00"},
               {"entry_id": "x3", "customer_ref": "ana", "points": 1.5, "at": "2026-06-01T17:03:00+00:00"},
               entry("a2", "ana", 4, "2026-06-01T17:30:00+00:00")]
    assert reconcile(entries) == ({"ana": 34}, [])


def test_spending_down_to_exactly_zero_is_no_overdraw_and_a_zero_entry_is_no_spend():
    exact = [entry("a1", "ana", 20, "2026-06-01T17:00:00+00:00"), entry("a2", "ana", -20, "2026-06-01T17:01:00+00:00")]
    assert reconcile(exact) == ({"ana": 0}, [])
    below = [entry("a1", "ana", -5, "2026-06-01T17:00:00+00:00"), entry("a2", "ana", 0, "2026-06-01T17:01:00+00:00")]
    balances, flagged = reconcile(below)
    assert balances == {"ana": -5} and [o.entry_id for o in flagged] == ["a1"]
