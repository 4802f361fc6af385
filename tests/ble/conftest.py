"""BLE fixtures: services with a street's phones registered, and a runner replaying it through the real pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from ble_trace_helpers import SEED, Street, cached_street, rows_of

from truck_pos.bootstrap import Services, build
from truck_pos.clock import FakeClock
from truck_pos.devices.ble import BleScanner
from truck_pos.devices.ble_fake import replay_all
from truck_pos.store.proximity_models import ProximityEvent


@dataclass
class Run:
    services: Services
    street: Street
    events: dict[str, list[ProximityEvent]]  # device_id -> events (customer_ref is "c-" + device_id)
    first_event_t: dict[str, float]  # device_id -> trace time of its first event (seconds from the street's start)


@pytest.fixture
def ble_services(settings):
    """Wired services with the CI street's phones registered, clock at the street's start."""
    s = cached_street(SEED)
    clock = FakeClock(datetime.fromtimestamp(s.start_unix, timezone.utc))
    svc = build(settings, clock=clock, load_demo=False)
    svc.proximity.load_devices(s.devices)
    yield svc
    svc.close()


@pytest.fixture
def run_street(settings):
    """Replay a street through bleak's types and BleScanner.detection_callback into the service; events from SQLite."""
    built: list[Services] = []

    def run(s: Street) -> Run:
        clock = FakeClock(datetime.fromtimestamp(s.start_unix, timezone.utc))
        svc = build(settings, clock=clock, load_demo=False)
        built.append(svc)
        prox = svc.proximity
        prox.load_devices(s.devices)
        scanner = BleScanner(prox.on_advertisement, clock=clock)
        replay_all(rows_of(s), scanner.detection_callback, clock, s.start_unix, tick=prox.tick)
        events: dict[str, list[ProximityEvent]] = {}
        for ev in ProximityEvent.select():
            events.setdefault(ev.customer_ref[2:], []).append(ev)
        # The event row's first_seen is the visit's start; when it fired is the outbox row's time.
        from truck_pos.store.outbox import Outbox

        fired = {row.payload["customer_ref"][2:]: row.created_utc.timestamp() - s.start_unix
                 for row in Outbox.select().where(Outbox.kind == "proximity")}
        return Run(svc, s, events, fired)

    yield run
    for svc in built:
        svc.close()
