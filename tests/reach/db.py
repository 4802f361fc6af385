"""Fresh hub databases for the reach tests: SQLite always, PostgreSQL (your own database) via TRUCK_POS_TEST_PG."""

from __future__ import annotations

import os

import pytest

from sync.hub.models import HUB_MODELS, open_hub_database

PG_URL = os.environ.get("TRUCK_POS_TEST_PG", "")
PG_ONLY = pytest.mark.skipif(not PG_URL, reason="set TRUCK_POS_TEST_PG to a PostgreSQL URL (scripts/test does)")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=PG_ONLY)]


def fresh_database(url: str):
    """Open ``url`` with every hub table dropped and made again."""
    db = open_hub_database(url)
    db.drop_tables(HUB_MODELS, safe=True, **({} if url.startswith("sqlite") else {"cascade": True}))
    db.close()
    return open_hub_database(url)


@pytest.fixture(params=BACKENDS)
def hub_url(request, tmp_path):
    """A fresh hub database on each backend."""
    url = f"sqlite:///{tmp_path / 'hub.db'}" if request.param == "sqlite" else PG_URL
    db = fresh_database(url)
    yield url
    db.close()
