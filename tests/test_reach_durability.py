"""The send scheduler under crashes and sharing, on PostgreSQL with real ``truck-pos-hub run`` processes and a real
SMTP server: kill -9 mid-send loses nothing and re-sends only in-doubt rows (with the same Message-ID); two hub
processes share the sends without a duplicate. REACH_SENDS sets the size: 2,000 here (the suite's time budget),
10,000 in benchmarks/bench_reach_scale.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from sync.hub import customers as cu
from sync.hub.messaging.models import SENT, HubSend
from tests.reach.db import PG_ONLY, PG_URL, fresh_database
from tests.reach.seed import schedule_bulk, seed_people, write_settings
from tests.reach.servers import SmtpSink, free_port
from tests.reach.world import utc
from truck_pos.domain.campaign import normalize
from truck_pos.domain.codes import PersonalCode, read_personal_code

ROOT = Path(__file__).resolve().parent.parent
N = int(os.environ.get("REACH_SENDS", "2000"))  # benchmarks/bench_reach_scale.py runs 10,000
pytestmark = [PG_ONLY, pytest.mark.slow]


def hub_process(settings: Path, client_id: str, log: Path) -> subprocess.Popen:
    """``truck-pos-hub run --reach-config``; no broker answers (sending does not need one)."""
    cmd = [sys.executable, "-m", "sync.hub.cli", "--db", PG_URL, "--port", str(free_port()), "--client-id", client_id,
           "run", "--reach-config", str(settings)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def wait_for(condition, limit_s: float, what: str, procs=()) -> None:
    end = time.monotonic() + limit_s
    while not condition():
        for p in procs:
            assert p.poll() is None, f"hub process exited with {p.returncode} while waiting for {what}"
        assert time.monotonic() < end, f"gave up waiting for {what}"
        time.sleep(0.05)


def all_sent() -> bool:
    return HubSend.select().where(HubSend.state == SENT).count() == N


@pytest.fixture
def setup(tmp_path):
    db = fresh_database(PG_URL)
    owner = Ed25519PrivateKey.generate()
    key_file = tmp_path / "owner.key"
    key_file.write_bytes(owner.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    key_file.chmod(0o600)
    now = utc(2026, 6, 1, 12)
    seed_people(N, now)
    schedule_bulk(now)
    with SmtpSink() as smtp:
        yield smtp, write_settings(tmp_path / "reach.json", smtp.port, key_file), owner
    db.close()


def deliveries(smtp: SmtpSink) -> dict[str, set[tuple[str, str]]]:
    """Per recipient, the distinct (Message-ID, body) pairs that arrived."""
    got: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for msg in smtp.messages:
        got[msg["To"]].add((msg["Message-ID"], msg.get_body(("plain",)).get_content()))
    return got


def check_every_person_got_one_message(smtp: SmtpSink, owner: Ed25519PrivateKey) -> None:
    got = deliveries(smtp)
    assert set(got) == {f"person{i}@example.com" for i in range(N)}
    assert all(len(copies) == 1 for copies in got.values()), "a person got two different messages"
    by_email = {i.value: i.customer.uuid for i in cu.HubIdentity.select(cu.HubIdentity, cu.HubCustomer).join(cu.HubCustomer)}
    for address in sorted(got)[:: max(1, N // 300)]:  # the code in the text names that person (a sample: verifying costs)
        _, body = next(iter(got[address]))
        code = body.split("your code is ")[1].split(".")[0]
        assert read_personal_code(normalize(code), owner.public_key()) == PersonalCode("bulk", "pos_registrants",
                                                                                       f"hub-{by_email[address]}")


def test_kill_9_during_the_sends_then_restart_every_message_is_sent_once(setup, tmp_path):
    smtp, settings, owner = setup
    first = hub_process(settings, "hub-a", tmp_path / "hub-a.log")
    try:
        wait_for(lambda: len(smtp.raw) >= N // 3, 120, "a third of the sends", [first])
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    at_kill = len(smtp.raw)
    assert at_kill < N, "the hub finished before it was killed; raise REACH_SENDS"
    second = hub_process(settings, "hub-b", tmp_path / "hub-b.log")
    try:
        wait_for(all_sent, 120 + N / 20, "every send marked sent", [second])
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    check_every_person_got_one_message(smtp, owner)
    in_doubt = sum(s.in_doubt for s in HubSend.select(HubSend.in_doubt))
    resent = len(smtp.raw) - N
    # Only rows a dead worker held ("sending" when killed) go out again, with their Message-ID unchanged.
    assert 0 <= resent <= in_doubt <= 2 * 50, (resent, in_doubt)
    print(f"\nkill -9 after {at_kill} of {N}: {resent} re-sent in doubt (same Message-ID), {in_doubt} rows in doubt")


def test_two_hub_processes_share_the_sends_without_a_duplicate(setup, tmp_path):
    smtp, settings, owner = setup
    procs = [hub_process(settings, f"hub-{n}", tmp_path / f"hub-{n}.log") for n in ("a", "b")]
    try:
        wait_for(all_sent, 120 + N / 20, "every send marked sent", procs)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(30)
    assert len(smtp.raw) == N  # no crash: not a single extra delivery
    check_every_person_got_one_message(smtp, owner)
    by_process = {s.sent_by.split(":")[1] for s in HubSend.select(HubSend.sent_by)}
    assert len(by_process) == 2, "both hub processes should have sent a share"
