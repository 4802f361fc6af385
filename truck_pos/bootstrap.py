"""The composition root: build the services from settings, with real adapters or the fakes a test passes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import peewee

from truck_pos.clock import Clock, SystemClock
from truck_pos.config import Settings
from truck_pos.services.menu import MenuService, demo_menu
from truck_pos.services.register import RegisterService
from truck_pos.services.staff import StaffService
from truck_pos.store.db import open_database


@dataclass
class Services:
    """Everything the UI, the CLI and the tests use. Features add their services as attributes."""

    settings: Settings
    db: peewee.Database
    clock: Clock
    menu: MenuService
    staff: StaffService
    register: RegisterService
    extras: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        """Stop background work and close the database."""
        for extra in self.extras.values():
            stop = getattr(extra, "stop", None)
            if callable(stop):
                stop()
        if not self.db.is_closed():
            self.db.close()


def build(settings: Settings, *, clock: Clock | None = None, load_demo: bool = True, **overrides: Any) -> Services:
    """Open the database and wire the services. ``overrides`` replace adapters (tests pass fakes)."""
    clock = clock or SystemClock()
    db = overrides.pop("db", None) or open_database(settings.database_path)
    menu = MenuService(db)
    if load_demo and menu.is_empty():
        menu.load(demo_menu())
    staff = StaffService(db, clock)
    t = settings.truck
    register = RegisterService(db, clock, staff, truck_id=t.id, timezone=t.timezone, tax_mode=t.tax_mode,
                               stop=t.stop, day_start_hour=t.business_day_start_hour)
    services = Services(settings=settings, db=db, clock=clock, menu=menu, staff=staff, register=register, extras=dict(overrides))
    if settings.mqtt.enabled and "sync" not in services.extras:
        from sync.agent_cli import agent_for  # the MQTT agent: built here, started by whoever runs the register

        services.extras["sync"] = agent_for(services)
    return services
