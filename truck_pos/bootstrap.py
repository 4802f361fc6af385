"""The composition root: build the services from settings, with real adapters or the fakes a test passes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import peewee

from truck_pos.clock import Clock, SystemClock
from truck_pos.config import Settings
from truck_pos.domain.proximity import FilterSettings
from truck_pos.errors import ConfigError
from truck_pos.services.menu import MenuService, demo_menu
from truck_pos.services.proximity import ProximityService
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
    proximity: ProximityService | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        """Stop background work and close the database."""
        if self.proximity is not None:
            self.proximity.stop()
        for extra in self.extras.values():
            stop = getattr(extra, "stop", None)
            if callable(stop):
                stop()
        if not self.db.is_closed():
            self.db.close()


def build(settings: Settings, *, clock: Clock | None = None, load_demo: bool = True, **overrides: Any) -> Services:
    """Open the database and wire the services. ``overrides`` replace adapters (tests pass fakes)."""
    clock = clock or SystemClock()
    ble_filter = proximity_filter_settings(settings)  # refuse bad [ble] thresholds before opening anything
    db = overrides.pop("db", None) or open_database(settings.database_path)
    menu = MenuService(db)
    if load_demo and menu.is_empty():
        menu.load(demo_menu())
    staff = StaffService(db, clock)
    t = settings.truck
    register = RegisterService(db, clock, staff, truck_id=t.id, timezone=t.timezone, tax_mode=t.tax_mode,
                               stop=t.stop, day_start_hour=t.business_day_start_hour)
    proximity = build_proximity(settings, db, clock, ble_filter, overrides.pop("ble_backend", None))
    return Services(settings=settings, db=db, clock=clock, menu=menu, staff=staff, register=register,
                    proximity=proximity, extras=dict(overrides))


def proximity_filter_settings(settings: Settings) -> FilterSettings:
    """The proximity filter's thresholds from ``[ble]``; ConfigError if they cannot work."""
    try:
        return FilterSettings(**{f.name: getattr(settings.ble, f.name) for f in dataclasses.fields(FilterSettings)})
    except ValueError as exc:
        raise ConfigError(f"[ble] {exc}") from exc


def build_proximity(settings: Settings, db: peewee.Database, clock: Clock, fs: FilterSettings, backend: Any = None) -> ProximityService:
    """The proximity service; with ``[ble] enabled`` (or a fake ``backend``) a scanner is attached, not started."""
    b, t = settings.ble, settings.truck
    service = ProximityService(db, clock, truck_id=t.id, timezone_name=t.timezone, day_start_hour=t.business_day_start_hour,
                               filter_settings=fs, slot_s=b.slot_s, skew_slots=b.skew_slots)
    if b.enabled or backend is not None:
        from truck_pos.devices.ble import BleScanner

        service.scanner = BleScanner(service.on_advertisement, clock=clock, adapter=b.adapter, passive=b.passive,
                                     backend_factory=backend, tick=service.tick, tick_s=b.tick_s,
                                     backoff_max_s=b.restart_backoff_max_s, watchdog_s=b.watchdog_s)
    return service
