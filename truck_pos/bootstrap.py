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
from truck_pos.domain.loyalty import LoyaltyRules, parse_tiers
from truck_pos.services.campaigns import CampaignService, trusted_keys
from truck_pos.services.customers import CustomerService
from truck_pos.services.first_start import FirstStartService
from truck_pos.services.loyalty import LoyaltyService
from truck_pos.services.menu import MenuService, demo_menu
from truck_pos.services.pickup import PickupService
from truck_pos.services.printing import PrintingService
from truck_pos.services.proximity import ProximityService
from truck_pos.services.redemption import RedemptionService
from truck_pos.services.register import RegisterService
from truck_pos.services.registration import RegistrationService
from truck_pos.services.reports import ReportsService
from truck_pos.services.staff import StaffService
from truck_pos.services.sync_status import SyncStatusService
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
    printing: PrintingService | None = None
    pickup: PickupService | None = None
    scanner: Any = None  # devices.scanner.SerialScanner when [scanner] kind = serial (the window starts it)
    proximity: ProximityService | None = None
    campaigns: CampaignService | None = None
    redemption: RedemptionService | None = None
    registration: RegistrationService | None = None
    reports: ReportsService | None = None
    sync_status: SyncStatusService | None = None
    first_start: FirstStartService | None = None
    loyalty: LoyaltyService | None = None
    customers: CustomerService | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        """Stop background work and close the database."""
        if self.proximity is not None:
            self.proximity.stop()
        for extra in (self.scanner, self.printing, *self.extras.values()):
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
    register = RegisterService(db, clock, staff, menu, truck_id=t.id, timezone=t.timezone, tax_mode=t.tax_mode,
                               stop=t.stop, day_start_hour=t.business_day_start_hour)
    printing, pickup, scanner = _build_printing(settings, db, clock, register, overrides)
    proximity = build_proximity(settings, db, clock, ble_filter, overrides.pop("ble_backend", None))
    campaigns = CampaignService(db, clock, public_keys=trusted_keys(settings.security.campaign_public_key_file),
                                truck_id=t.id, timezone=t.timezone)
    proximity.current_window = campaigns.proximity_window
    campaigns.on_installed.append(lambda doc: proximity.load_devices(doc["devices"]) if doc.get("devices") else None)
    services = Services(settings=settings, db=db, clock=clock, menu=menu, staff=staff, register=register,
                        printing=printing, pickup=pickup, scanner=scanner, proximity=proximity, campaigns=campaigns,
                        redemption=RedemptionService(db, clock, register, campaigns, truck_id=t.id, timezone=t.timezone),
                        registration=RegistrationService(db, clock, campaigns, truck_id=t.id, stop=t.stop),
                        reports=ReportsService(db, clock, campaigns, timezone=t.timezone, day_start_hour=t.business_day_start_hour,
                                               stop=t.stop),
                        extras=dict(overrides))
    if settings.mqtt.enabled and "sync" not in services.extras:
        from sync.agent.cli import agent_for  # the MQTT agent: built here, started by whoever runs the register

        services.extras["sync"] = agent_for(services)
    c = settings.customers
    services.first_start = FirstStartService(staff)
    services.loyalty = LoyaltyService(db, clock, register, campaigns, truck_id=t.id, fallback=LoyaltyRules(
        c.loyalty_points_per_dollar, parse_tiers(c.loyalty_rewards)))
    services.customers = CustomerService(db, register, services.registration, services.redemption, services.loyalty,
                                         hub_url=c.hub_url, truck_id=t.id)
    services.sync_status = SyncStatusService(clock, t.timezone, services.extras.get("sync"), settings.mqtt.enabled)
    return services


def _build_printing(settings: Settings, db: peewee.Database, clock: Clock, register: RegisterService,
                    overrides: dict[str, Any]) -> tuple[PrintingService, PickupService, Any]:
    """Receipts, kitchen tickets and the pickup window; hooks both into the order transaction."""
    from truck_pos.devices.printer import build_printer
    from truck_pos.devices.scanner import build_scanner
    from truck_pos.services.claim_key import load_claim_key

    t, p = settings.truck, settings.printer
    key = load_claim_key(db, settings.security.claim_key_file, clock.now())
    printer = overrides.pop("printer", None) or build_printer(p)
    printing = PrintingService(db, clock, printer, truck_id=t.id, truck_name=t.name, timezone=t.timezone, claim_key=key,
                               columns=getattr(printer, "columns", 48), kitchen_tickets=p.kitchen_tickets,
                               autostart=overrides.pop("print_autostart", True))
    pickup = PickupService(db, clock, truck_id=t.id, timezone=t.timezone, claim_key=key)
    register.completion_hooks += [printing.on_order_completed, pickup.on_order_completed]
    scanner = overrides.pop("scanner", None) or build_scanner(settings.scanner)
    return printing, pickup, scanner


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
