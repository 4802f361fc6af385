"""Outcomes are committed a few at a time (one commit for up to MARK_EVERY sends, fewer when the first waited
MARK_WITHIN_S): what a crash can leave claimed-but-sent is bounded by that, and every row ends stored exactly once.

The channel here looks at the database each time it is handed a message: the rows it took before and that are
still ``sending`` are what a kill -9 at that moment would leave to be re-sent (in doubt, same key)."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.hub.messaging import scheduler as sched
from sync.hub.messaging.channels import Outgoing
from sync.hub.messaging.config import ReachConfig
from sync.hub.messaging.models import SENDING, SENT, HubSend
from sync.hub.messaging.scheduler import Scheduler
from tests.reach.db import hub_url  # noqa: F401 (fixture)
from tests.reach.seed import schedule_bulk, seed_people

NOW = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)


class LookingChannel:
    """An email channel that takes every message and, each time, counts its earlier ones not yet stored as sent."""

    name = "email"

    def __init__(self, pause_s: float = 0.0):
        self.keys: list[str] = []
        self.unmarked: list[int] = []
        self.pause_s = pause_s

    def send(self, m: Outgoing) -> str:
        taken = HubSend.select().where(HubSend.key.in_(self.keys), HubSend.state == SENDING).count() if self.keys else 0
        self.unmarked.append(taken)
        self.keys.append(m.key)
        time.sleep(self.pause_s)
        return f"<{len(self.keys)}@test>"

    def close(self) -> None:
        pass


def run(n: int, channel: LookingChannel, batch: int) -> Scheduler:
    seed_people(n, NOW)
    schedule_bulk(NOW)
    config = ReachConfig(secret=b"s" * 32, code_key=Ed25519PrivateKey.generate(), lease_s=60, batch=batch, channels={})
    scheduler = Scheduler(config)
    while scheduler.run_once({"email": channel}, "w1"):
        pass
    return scheduler


def test_at_most_mark_every_sent_rows_wait_for_their_commit_and_all_are_stored_once(hub_url):
    assert 1 <= sched.MARK_EVERY <= 16  # the documented bound is small
    channel = LookingChannel()
    scheduler = run(40, channel, batch=25)
    assert max(channel.unmarked) <= sched.MARK_EVERY
    assert len(channel.keys) == len(set(channel.keys)) == 40  # each person handed to the channel once
    rows = list(HubSend.select())
    assert [r.state for r in rows] == [SENT] * 40 and {r.key for r in rows} == set(channel.keys)
    assert {r.provider_id for r in rows} == {f"<{i}@test>" for i in range(1, 41)}
    assert scheduler.sent == 40  # counted once stored


def test_a_slow_channel_gets_each_outcome_committed_before_the_next_message(hub_url):
    channel = LookingChannel(pause_s=sched.MARK_WITHIN_S * 1.2)  # each send outlasts the wait for company
    run(5, channel, batch=10)
    assert channel.unmarked == [0, 1, 0, 1, 0]  # an outcome waits at most for the next one
    assert HubSend.select().where(HubSend.state == SENT).count() == 5
