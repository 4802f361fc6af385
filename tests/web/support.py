"""Shared set-up for the web tests: hub database, broker, hub, the app (TestClient or real uvicorn)."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import uvicorn

from sync.hub.models import HUB_MODELS, open_hub_database
from sync.hub.payments import StripeCheckout
from sync.hub.web.app import WebConfig, create_app
from sync.hub.web.models import HubWebUser, create_web_tables
from sync.hub.web.security import hash_password
from tests.mqtt_broker import free_port
from tests.web.fake_stripe import API_KEY, WEBHOOK_SECRET, wait_listening

OWNER, OWNER_PW = "olivia", "correct horse battery"
MENU = {"categories": [
    {"name": "Tacos", "items": [{"sku": "taco-al-pastor", "name": "Al pastor taco", "price_cents": 450, "tax_rate_bp": 1025},
                                {"sku": "taco-veg", "name": "Veggie taco", "price_cents": 400, "tax_rate_bp": 1025,
                                 "sold_out": True}]},
    {"name": "Drinks", "items": [{"sku": "horchata", "name": "Horchata", "price_cents": 300, "tax_rate_bp": 1025}]}]}


def fresh_hub_db(url: str) -> Any:
    """Open the hub database with every table empty (dropped and made again)."""
    import sync.hub.web.models  # noqa: F401 - registers the web tables

    db = open_hub_database(url)
    db.drop_tables(HUB_MODELS, safe=True)
    db.create_tables(HUB_MODELS, safe=True)
    create_web_tables()
    return db


def add_user(name: str = OWNER, password: str = OWNER_PW, role: str = "owner") -> None:
    from datetime import datetime, timezone

    HubWebUser.create(username=name, password_hash=hash_password(password), role=role, created_utc=datetime.now(timezone.utc))


def web_config(tmp_path: Path, stripe_base: str = "http://127.0.0.1:9", **kw: Any) -> WebConfig:
    return WebConfig(data_dir=tmp_path / "web", payments=StripeCheckout(API_KEY, WEBHOOK_SECRET, stripe_base), **kw)


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field on the page"
    return m.group(1)


class LiveServer:
    """The app under real uvicorn in a thread (for the browser and the load benchmark)."""

    def __init__(self, app: Any):
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "LiveServer":
        self.thread.start()
        wait_listening(self.server)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


__all__ = ["create_app"]
