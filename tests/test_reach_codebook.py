"""Personal codes minted ahead (``Scheduler.plan``, the night before) and used by the sends as they are.

A code is what the truck verifies: Ed25519 over (campaign, segment, ref). The expected codes here are checked the
way a truck does (``read_personal_code`` with the owner's public key), not read back from the code book."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.hub import customers as cu
from sync.hub.messaging import manners
from sync.hub.messaging.channels import Outgoing
from sync.hub.messaging.config import ReachConfig
from sync.hub.messaging.models import SENT, HubCode, HubSend
from sync.hub.messaging.scheduler import Scheduler
from tests.reach.db import hub_url  # noqa: F401 (fixture)
from tests.reach.seed import schedule_bulk, seed_people
from truck_pos.clock import FakeClock
from truck_pos.domain.campaign import normalize
from truck_pos.domain.codes import PersonalCode, read_personal_code

NOW = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
SEGMENT = "pos_registrants"


class Taking:
    """An email channel that takes every message and keeps it."""

    name = "email"

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    def send(self, m: Outgoing) -> str:
        self.sent.append(m)
        return f"<{len(self.sent)}@test>"

    def close(self) -> None:
        pass


def scheduler(key: Ed25519PrivateKey, now: datetime = NOW) -> Scheduler:
    return Scheduler(ReachConfig(secret=b"s" * 32, code_key=key, lease_s=60, batch=10, channels={}), clock=FakeClock(now))


def send_all(s: Scheduler) -> Taking:
    channel = Taking()
    while s.run_once({"email": channel}, "w1"):
        pass
    return channel


def codes_named(key: Ed25519PrivateKey) -> dict[str, PersonalCode | None]:
    """Per recipient, what the code stored with the sent row says, verified with the key's public half."""
    return {r.recipient: read_personal_code(normalize(r.code), key.public_key())
            for r in HubSend.select().where(HubSend.state == SENT)}


def hub_ref(i: int) -> str:
    return f"hub-{cu.find('email', f'person{i}@example.com').uuid}"


def test_codes_minted_ahead_are_sent_as_they_are_and_verify(hub_url, monkeypatch):
    seed_people(6, NOW)
    schedule_bulk(NOW, send_at="2026-06-01T15:00:00Z")  # this afternoon
    key = Ed25519PrivateKey.generate()
    s = scheduler(key, NOW)  # hours before
    assert s.plan() == 6
    assert s.plan() == 0 and scheduler(key, NOW).plan() == 0  # once; a restarted hub finds them stored

    def no_signing(*args, **kwargs):
        raise AssertionError("a personal code was signed in the send path")

    monkeypatch.setattr(manners, "issue_personal_code", no_signing)
    channel = send_all(scheduler(key, datetime(2026, 6, 1, 15, tzinfo=timezone.utc)))
    assert len(channel.sent) == 6
    named = codes_named(key)
    assert named == {f"person{i}@example.com": PersonalCode("bulk", SEGMENT, hub_ref(i)) for i in range(6)}
    for m in channel.sent:
        row = HubSend.get(HubSend.key == m.key)
        assert row.code in m.text and row.code_key == manners.code_key(row.code)


def test_a_person_whose_ref_changed_after_planning_gets_a_code_naming_the_new_ref(hub_url):
    seed_people(3, NOW)
    schedule_bulk(NOW)
    key = Ed25519PrivateKey.generate()
    assert scheduler(key).plan() == 3
    person = cu.find("email", "person0@example.com")
    cu.HubIdentity.create(customer=person, kind="truck_ref", value="T-7")  # registered at a truck since
    send_all(scheduler(key))
    named = codes_named(key)
    assert named["person0@example.com"] == PersonalCode("bulk", SEGMENT, "T-7")
    assert named["person1@example.com"] == PersonalCode("bulk", SEGMENT, hub_ref(1))


def test_a_new_signing_key_after_planning_signs_the_codes_again(hub_url):
    seed_people(3, NOW)
    schedule_bulk(NOW)
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    assert scheduler(old).plan() == 3
    send_all(scheduler(new))
    assert codes_named(new) == {f"person{i}@example.com": PersonalCode("bulk", SEGMENT, hub_ref(i)) for i in range(3)}


def test_only_personal_codes_of_messages_due_soon_are_minted(hub_url):
    seed_people(2, NOW)
    key = Ed25519PrivateKey.generate()
    schedule_bulk(NOW, send_at="2026-06-03T12:00:00Z")  # 48 h away
    assert scheduler(key).plan() == 0
    assert scheduler(key).plan(ahead_s=49 * 3600) == 2
    HubCode.delete().execute()
    schedule_bulk(NOW, send_at="2026-06-01T13:00:00Z", code="segment")
    assert scheduler(key).plan() == 0


def test_erasing_a_person_removes_their_codes_minted_ahead(hub_url):
    seed_people(2, NOW)
    schedule_bulk(NOW)
    assert scheduler(Ed25519PrivateKey.generate()).plan() == 2
    person = cu.find("email", "person0@example.com")
    cu.erase(person, NOW)
    assert [c.customer_id for c in HubCode.select()] == [cu.find("email", "person1@example.com").id]


@pytest.mark.parametrize("minted", [False, True])
def test_planned_or_not_the_sent_code_is_the_same(hub_url, minted):
    """Deterministic signatures: planning changes when a code is signed, never what it is."""
    seed_people(2, NOW)
    schedule_bulk(NOW)
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    if minted:
        assert scheduler(key).plan() == 2
    send_all(scheduler(key))
    assert {r.recipient: r.code for r in HubSend.select()} == {
        f"person{i}@example.com": manners.issue_personal_code(PersonalCode("bulk", SEGMENT, hub_ref(i)), key) for i in range(2)}


def test_the_running_scheduler_mints_ahead_when_nothing_is_due(hub_url):
    seed_people(3, NOW)
    schedule_bulk(NOW, send_at="2026-06-01T15:00:00Z")  # due in three hours: nothing to send yet
    s = Scheduler(ReachConfig(secret=b"s" * 32, code_key=Ed25519PrivateKey.generate(), lease_s=60, poll_s=0.02,
                              channels={}), clock=FakeClock(NOW)).start()
    try:
        end = time.monotonic() + 20
        while HubCode.select().count() < 3 and time.monotonic() < end:
            time.sleep(0.02)
    finally:
        s.stop()
    assert HubCode.select().count() == 3 and HubSend.select().count() == 0  # minted, nothing sent early


def test_minting_ahead_gives_way_to_a_waiting_send(hub_url):
    seed_people(3, NOW)
    schedule_bulk(NOW)
    s = scheduler(Ed25519PrivateKey.generate())
    s.wake.set()  # a proximity event arrived: the worker must go and send
    assert s.plan() == 0
    s.wake.clear()
    assert s.plan() == 3  # the next quiet moment
