"""Loyalty: points per dollar, what may be spent offline, and the hub's reconciliation across trucks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sync import protocol
from sync.hub import Hub, HubConfig
from sync.hub.loyalty import loyalty_report
from test_sync_hub import hub_url  # noqa: F401 (fresh hub database, SQLite and PostgreSQL)
from truck_pos.clock import FakeClock
from truck_pos.domain.loyalty import LoyaltyRules, Reward, best_reward, parse_rules, parse_tiers, points_earned, spendable

NOW = datetime(2026, 6, 1, 17, 0, tzinfo=timezone.utc)


def test_points_are_per_whole_dollar_paid():
    rules = LoyaltyRules(2, ())
    assert [points_earned(rules, c) for c in (0, 99, 100, 1018, -500)] == [0, 0, 2, 20, 0]


def test_offline_spending_is_capped_by_synced_plus_own_entries():
    assert spendable(30, -20 + 10) == 20
    assert spendable(5, -20) == 0  # never below zero on the truck
    rules = LoyaltyRules(1, (Reward(20, 200), Reward(50, 600)))
    assert best_reward(rules, 49, 1000) == Reward(20, 200)
    assert best_reward(rules, 60, 1000) == Reward(50, 600)
    assert best_reward(rules, 60, 500) == Reward(20, 200)  # a reward never exceeds what is due
    assert best_reward(rules, 19, 1000) is None


def test_bad_rules_are_dropped_not_fatal():
    assert parse_rules({"points_per_dollar": "1", "rewards": [{"points": -1, "cents": 5}, "x", {"points": 10, "cents": 100}]}) \
        == LoyaltyRules(0, (Reward(10, 100),))
    assert parse_rules(None) == LoyaltyRules() and not parse_rules([1, 2]).enabled
    assert parse_tiers("100:500, 250:1500, x:1, 0:5,") == (Reward(100, 500), Reward(250, 1500))


def _entry(truck: str, seq: int, ref: str, points: int, minutes: int) -> bytes:
    kind = "earn" if points > 0 else "redeem"
    body = {"entry_id": f"o-{truck}-{seq}:{kind}", "customer_ref": ref, "truck": truck, "order_id": f"o-{truck}-{seq}",
            "kind": kind, "points": points, "balance_after": 0, "at": (NOW + timedelta(minutes=minutes)).isoformat()}
    assert protocol.body_problem("loyalty", body) == ""
    return protocol.encode(protocol.envelope(truck=truck, seq=seq, kind="loyalty", key=body["entry_id"],
                                             ts=NOW + timedelta(minutes=minutes), body=body))


def test_the_hub_adds_up_every_trucks_entries_and_flags_an_overdraw(hub_url, capsys):  # noqa: F811
    """Ana had 30 points; two trucks, both offline, each let her spend 20: the second spend is flagged."""
    hub = Hub(HubConfig(), clock=FakeClock(NOW))
    ref = "c-0123456789abcdef"
    messages = [("truck-a", _entry("truck-a", 1, ref, 30, 0)), ("truck-a", _entry("truck-a", 2, ref, -20, 10)),
                ("truck-b", _entry("truck-b", 1, ref, -20, 20)), ("truck-b", _entry("truck-b", 2, ref, 4, 21))]
    for truck, payload in messages + messages[:1]:  # a redelivery counts once
        hub.ingest(protocol.up_topic(truck, "loyalty"), payload)
    balances, overdraws = loyalty_report()
    assert balances == {ref: 30 - 20 - 20 + 4}
    assert [(o.truck, o.points, o.balance_after) for o in overdraws] == [("truck-b", -20, -10)]
    from sync.hub.cli import main
    from sync.hub.loyalty import balances_bodies

    [body] = balances_bodies(NOW)  # what `truck-pos-hub publish-loyalty TRUCK` sends down
    assert body == {"as_of": NOW.isoformat(), "balances": [{"customer_ref": ref, "points": -6}]}
    assert protocol.body_problem("loyalty_balances", body) == ""
    assert main(["--db", hub_url, "loyalty"]) == 2
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].split() == [ref, "-6", "points"]
    assert f"OVERDRAW {ref} at truck-b: spent 20 points, balance -10 (o-truck-b-1:redeem)" in printed


def test_the_trucks_offline_balance_starts_from_the_hubs_last_word(services, clock):
    """The hub's loyalty_balances message, through the truck's real inbound path (the agent's Inbox):
    spendable = the hub's balance + this truck's entries after it; a newer word from the hub replaces both."""
    from truck_pos.bootstrap import agent_for
    from truck_pos.domain.loyalty import LoyaltyRules, Reward

    services.loyalty.fallback = LoyaltyRules(1, (Reward(20, 200),))
    ref, _ = services.registration.register(email="ana@example.com")
    inbox = agent_for(services).inbox

    def down(key: str, body: dict) -> tuple[bool, str]:
        env = protocol.envelope(truck=services.settings.truck.id, seq=0, kind="loyalty_balances", key=key,
                                ts=clock.now(), body=body)
        return inbox.handle(protocol.down_topic(services.settings.truck.id, "loyalty_balances"), protocol.encode(env))

    assert down("b-1", {"as_of": (clock.now() - timedelta(hours=1)).isoformat(),
                        "balances": [{"customer_ref": ref, "points": 40}]})[0]
    assert services.loyalty.balance(ref) == 40
    tid = services.register.open_ticket().id
    services.register.add_item(tid, "quesadilla")  # 8.50 + tax = 9.20 -> 9 points
    services.customers.attach(tid, ref)
    services.register.pay_card(tid)
    assert services.loyalty.balance(ref) == 40 + 9
    clock.advance(seconds=60)
    assert down("b-2", {"as_of": clock.now().isoformat(), "balances": [{"customer_ref": ref, "points": 45}]})[0]
    assert services.loyalty.balance(ref) == 45  # the hub counted this sale already (and another truck's spend)
    applied, reason = down("b-3", {"balances": [{"customer_ref": ref, "points": "lots"}], "as_of": "yesterday"})
    assert not applied and reason  # refused by the contract, kept as a dead letter
    assert services.loyalty.balance(ref) == 45
