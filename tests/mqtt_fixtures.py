"""Pytest fixtures around tests/mqtt_broker.py; import them into a test module (or list this
module in ``pytest_plugins``) to reuse the broker, hub and agent set-up in other tests."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.agent import AgentConfig, SyncAgent
from sync.hub import Hub, HubConfig
from sync.hub.models import open_hub_database
from sync.transport import BrokerLogin
from tests.mqtt_broker import MosquittoBroker
from truck_pos.bootstrap import build
from truck_pos.config import load_settings

FAKE_PASSWORDS = {"hub": "hub-test-pw", "truck-a": "truck-a-test-pw", "truck-b": "truck-b-test-pw",
                  "truck-test": "truck-test-pw"}


def fast_agent_config(broker: MosquittoBroker, truck: str = "truck-test", **kw) -> AgentConfig:
    """An agent config with test-friendly pacing (short keepalive, quick reconnects)."""
    password = broker.users.get(truck, "")
    login = kw.pop("login", None) or BrokerLogin("127.0.0.1", broker.port, truck if broker.users else "", password,
                                                 keepalive_s=5)
    defaults = dict(max_inflight=50, reconnect_min_s=0.1, reconnect_max_s=0.5, ack_timeout_s=1.0)
    return AgentConfig(truck, login, **{**defaults, **kw})


def hub_config(broker: MosquittoBroker, client_id: str = "truck-pos-hub-test", shared: bool = True) -> HubConfig:
    """Hub settings with quick acks and reconnects."""
    login = BrokerLogin("127.0.0.1", broker.port, "hub" if broker.users else "", FAKE_PASSWORDS["hub"], keepalive_s=5)
    return HubConfig(login=login, client_id=client_id, shared=shared, ack_interval_s=0.1, reconnect_min_s=0.1,
                     reconnect_max_s=0.5)


@pytest.fixture
def fast_services(settings_env, clock):
    """Services on a tmpfs database: for tests that write thousands of rows, where fsync cost is not
    what is being tested (the durability pragmas stay the same)."""
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as d:
        svc = build(load_settings(env={**settings_env, "TRUCK_POS_STORE_PATH": f"{d}/truck.db"}), clock=clock)
        yield svc
        svc.close()


@pytest.fixture
def fleet_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A real mosquitto with the fleet ACL (sync/broker_acl.py, dynamic security) and test passwords (persistence on)."""
    broker = MosquittoBroker(tmp_path, users=FAKE_PASSWORDS, dynsec=True).start()
    yield broker
    broker.kill()


@pytest.fixture
def hub_db(tmp_path: Path):
    db = open_hub_database(f"sqlite:///{tmp_path / 'hub.db'}")
    yield db
    db.close()


@pytest.fixture
def hub(fleet_broker: MosquittoBroker, hub_db) -> Iterator[Hub]:
    h = Hub(hub_config(fleet_broker)).start()
    assert h.connected.wait(10), h.last_error
    yield h
    h.stop()


@pytest.fixture
def make_agent(request) -> Iterator:
    """Factory: make_agent(broker, svc=None, **config) -> a SyncAgent on ``svc`` (default: the
    ``services`` fixture's truck database). Every agent made is stopped after the test."""
    made: list[SyncAgent] = []

    def make(broker: MosquittoBroker, svc=None, *, handlers: dict | None = None, **kw) -> SyncAgent:
        svc = svc or request.getfixturevalue("services")
        config = fast_agent_config(broker, svc.settings.truck.id, **kw)
        agent = SyncAgent(svc.db, svc.clock, config, poll_s=0.05, **(handlers or {}))
        made.append(agent)
        return agent

    yield make
    for agent in made:
        agent.stop()
