"""Fixtures for the web tests: a hub database, a real broker and hub, the fake payment provider."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sync.hub import Hub
from tests.mqtt_broker import FLEET_ACL, MosquittoBroker
from tests.mqtt_fixtures import FAKE_PASSWORDS, hub_config
from tests.web.fake_stripe import FakeStripe
from tests.web.support import fresh_hub_db


PG_URL = os.environ.get("TRUCK_POS_TEST_PG", "")


@pytest.fixture
def web_db(tmp_path: Path):
    db = fresh_hub_db(f"sqlite:///{tmp_path / 'hub.db'}")
    yield db
    db.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not PG_URL, reason="set TRUCK_POS_TEST_PG to a PostgreSQL URL (scripts/test does)"))])
def both_dbs(request, tmp_path: Path):
    """The hub database on SQLite, and on PostgreSQL when one is configured (tables dropped and made again)."""
    db = fresh_hub_db(f"sqlite:///{tmp_path / 'hub.db'}" if request.param == "sqlite" else PG_URL)
    yield db
    db.close()


@pytest.fixture
def web_broker(tmp_path: Path):
    broker = MosquittoBroker(tmp_path, users=FAKE_PASSWORDS, acl_file=FLEET_ACL).start()
    yield broker
    broker.kill()


@pytest.fixture
def web_hub(web_broker, web_db):
    hub = Hub(hub_config(web_broker)).start()
    assert hub.connected.wait(10), hub.last_error
    yield hub
    hub.stop()


@pytest.fixture
def stripe():
    fake = FakeStripe().start()
    yield fake
    fake.stop()
