"""The composition root: one builder per process, each wiring only what that process owns.

``build_register`` (``truck-pos``: printer, scanner, radio, print worker), ``build_sync``
(``truck-pos-sync``: the agent, no device), ``build_admin`` (``truck-pos-admin``: one command, no
background worker). The hub has its own (``sync.hub.cli``). Tests pass fakes as ``overrides``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import peewee

from truck_pos.clock import Clock, SystemClock
from truck_pos.config import Settings
from truck_pos.domain.proximity import FilterSettings
from truck_pos.domain.loyalty import LoyaltyRules, parse_tiers
from truck_pos.errors import ConfigError
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

if TYPE_CHECKING:  # the agent (and paho-mqtt) is imported only by a process that builds one
    from sync.agent import SyncAgent
    from sync.agent.inbound import BundleHandler


@dataclass
class Services:
    """Everything the UI, the CLI and the tests use. Features add their services as attributes."""

    settings: Settings
    db: peewee.Database
    clock: Clock
    menu: MenuService
    staff: StaffService
    register: RegisterService
    campaigns: CampaignService | None = None
    redemption: RedemptionService | None = None
    printing: PrintingService | None = None
    pickup: PickupService | None = None
    scanner: Any = None  # devices.scanner.SerialScanner when [scanner] kind = serial (the window starts it)
    proximity: ProximityService | None = None
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


def _core(settings: Settings, clock: Clock | None, load_demo: bool, overrides: dict[str, Any]) -> Services:
    """What every process on the truck shares: the database, menu, staff, register, campaigns (no device)."""
    clock = clock or SystemClock()
    db = overrides.pop("db", None) or open_database(settings.database_path)
    menu = MenuService(db)
    if load_demo and menu.is_empty():
        menu.load(demo_menu())
    staff = StaffService(db, clock)
    t = settings.truck
    register = RegisterService(db, clock, staff, menu, truck_id=t.id, timezone=t.timezone, tax_mode=t.tax_mode,
                               stop=t.stop, day_start_hour=t.business_day_start_hour)
    campaigns = CampaignService(db, clock, public_keys=trusted_keys(settings.security.campaign_public_key_file),
                                truck_id=t.id, timezone=t.timezone, day_start_hour=t.business_day_start_hour)
    c = settings.customers
    loyalty = LoyaltyService(db, clock, register, campaigns, truck_id=t.id,
                             fallback=LoyaltyRules(c.loyalty_points_per_dollar, parse_tiers(c.loyalty_rewards)))
    return Services(settings=settings, db=db, clock=clock, menu=menu, staff=staff, register=register, campaigns=campaigns,
                    redemption=RedemptionService(db, clock, register, campaigns, truck_id=t.id, timezone=t.timezone),
                    loyalty=loyalty)


def _with_proximity(services: Services, fs: FilterSettings, backend: Any) -> None:
    """Proximity events and the registered-device table a campaign brings; a radio only with ``[ble]`` or a backend."""
    s = services
    s.proximity = proximity = build_proximity(s.settings, s.db, s.clock, fs, backend)
    campaigns = s.campaigns
    assert campaigns is not None
    proximity.current_window = campaigns.proximity_window
    campaigns.on_installed.append(lambda doc: proximity.load_devices(doc["devices"]) if doc.get("devices") else None)


def build_register(settings: Settings, *, clock: Clock | None = None, load_demo: bool = True,
                   agent: bool = True, **overrides: Any) -> Services:
    """``truck-pos``: the one process that owns the printer (and its worker), the scanner and the radio.

    ``overrides`` replace adapters (tests pass fakes). The sync agent is built (not started) when
    ``[mqtt] enabled`` and ``agent`` is true, for ``truck-pos --sync``; the appliance runs it as
    ``truck-pos-sync`` instead, and its register passes ``agent=False`` (no paho-mqtt in that process).
    """
    ble_filter = proximity_filter_settings(settings)  # refuse bad [ble] thresholds before opening anything
    s = _core(settings, clock, load_demo, overrides)
    t = settings.truck
    s.printing, s.pickup, s.scanner = _build_printing(settings, s.db, s.clock, s.register, overrides)
    s.register.after_commit_hooks.append(s.printing.on_order_committed)
    campaigns = s.campaigns
    s.printing.registration_url = lambda order: campaigns.customer_offer()[1]  # the campaign's sign-up link on receipts
    _with_proximity(s, ble_filter, overrides.pop("ble_backend", None))
    s.registration = RegistrationService(s.db, s.clock, s.campaigns, truck_id=t.id, stop=t.stop)
    s.reports = ReportsService(s.db, s.clock, s.campaigns, timezone=t.timezone, day_start_hour=t.business_day_start_hour,
                               stop=t.stop)
    s.first_start = FirstStartService(s.staff)
    s.customers = CustomerService(s.db, s.register, s.registration, s.redemption, s.loyalty,
                                  hub_url=settings.customers.hub_url, truck_id=t.id)
    s.extras = dict(overrides)
    if settings.mqtt.enabled and agent and "sync" not in s.extras:
        s.extras["sync"] = agent_for(s)
    s.sync_status = SyncStatusService(s.clock, t.timezone, s.extras.get("sync"), settings.mqtt.enabled)
    return s


build = build_register  # the name most callers (and tests) know


def build_sync(settings: Settings, *, clock: Clock | None = None, **overrides: Any) -> Services:
    """``truck-pos-sync``: the agent and the tables its messages change; no device and no print worker.

    A mobile order's print jobs and pickup entry are written here, in the order's transaction;
    the register process's worker prints them.
    """
    ble_filter = proximity_filter_settings(settings)
    s = _core(settings, clock, False, overrides)
    t = settings.truck
    from truck_pos.services.claim_key import load_claim_key
    from truck_pos.services.printing import queue_print_jobs

    s.pickup = PickupService(s.db, s.clock, truck_id=t.id, timezone=t.timezone,
                             claim_key=load_claim_key(s.db, settings.security.claim_key_file, s.clock.now()))
    kitchen = settings.printer.kitchen_tickets
    s.register.completion_hooks += [lambda order, ticket, totals, now: queue_print_jobs(s.db, order, now, kitchen_tickets=kitchen),
                                    s.pickup.on_order_completed]
    _with_proximity(s, ble_filter, None)
    s.extras = dict(overrides)
    s.extras.setdefault("sync", agent_for(s))
    s.sync_status = SyncStatusService(s.clock, t.timezone, s.extras["sync"], True)
    return s


def build_admin(settings: Settings, *, clock: Clock | None = None, load_demo: bool = True, **overrides: Any) -> Services:
    """``truck-pos-admin``: the register's services for one command; the print queue runs only when a command asks."""
    overrides.setdefault("print_autostart", False)
    return build_register(settings, clock=clock, load_demo=load_demo, **overrides)


# --- the sync agent, wired to this truck's services ------------------------------------------
def campaign_handler(campaigns: Any) -> BundleHandler:
    """Adapt ``CampaignService.install_bundle(raw, source=...) -> BundleResult`` to a bundle handler."""

    def handle(raw: bytes) -> tuple[bool, str]:
        result = campaigns.install_bundle(raw, source="mqtt")
        return bool(result.accepted), str(result.reason or "")

    return handle


def agent_for(services: Services) -> SyncAgent:
    """The agent wired to the truck's services (menu, register, and campaigns when present)."""
    from sync.agent import AgentConfig, SyncAgent
    from sync.agent.inbound import consent_handler, menu_handler, mobile_order_handler

    campaigns = services.campaigns or services.extras.get("campaigns")
    agent = SyncAgent(services.db, services.clock, AgentConfig.from_settings(services.settings),
                      on_campaign=campaign_handler(campaigns) if campaigns is not None else None,
                      on_menu=menu_handler(services.menu),
                      on_mobile_order=mobile_order_handler(services.register, services.db))
    if services.loyalty is not None:  # the hub's reconciled balances (offline spending starts there)
        agent.inbox.handlers["loyalty_balances"] = services.loyalty.on_balances
    registration = services.registration or RegistrationService(  # the sync process builds none of its own
        services.db, services.clock, services.campaigns, truck_id=services.settings.truck.id)
    agent.inbox.handlers["consent"] = consent_handler(registration)  # unsubscribes at the hub
    return agent


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
                               kitchen_tickets=p.kitchen_tickets,
                               autostart=overrides.pop("print_autostart", True), plug_flag=p.plug_flag)
    pickup = PickupService(db, clock, truck_id=t.id, timezone=t.timezone, claim_key=key)
    register.completion_hooks += [printing.on_order_completed, pickup.on_order_completed]
    register.status_hooks += [printing.on_status_changed, pickup.on_status_changed]
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
    probe = None
    if b.enabled and b.clock_check:
        from truck_pos.devices.timesync import clock_synchronized as probe
    service = ProximityService(db, clock, truck_id=t.id, timezone_name=t.timezone, day_start_hour=t.business_day_start_hour,
                               filter_settings=fs, slot_s=b.slot_s, skew_slots=b.skew_slots, wide_skew_slots=b.wide_skew_slots,
                               clock_synced=probe)
    if b.enabled or backend is not None:
        from truck_pos.devices.ble import BleScanner

        service.scanner = BleScanner(service.on_advertisement, clock=clock, adapter=b.adapter, passive=b.passive,
                                     backend_factory=backend, tick=service.tick, tick_s=b.tick_s,
                                     backoff_max_s=b.restart_backoff_max_s, watchdog_s=b.watchdog_s)
    if b.enabled and b.beacon:
        from truck_pos.devices.ble_advertiser import BeaconAdvertiser, load_truck_secret

        try:
            secret = load_truck_secret(b.beacon_secret_file)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"[ble] beacon_secret_file: {exc}") from exc
        service.advertiser = BeaconAdvertiser(secret, clock=clock, adapter=b.adapter, slot_s=b.slot_s,
                                              measured_power_dbm=b.beacon_measured_power_dbm)
    return service
