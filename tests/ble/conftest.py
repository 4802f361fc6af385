"""BLE fixtures: services with the test devices registered, and a runner replaying a trace through the real pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from ble_trace_helpers import devices, trace, truth

from truck_pos.bootstrap import Services, build
from truck_pos.clock import FakeClock
from truck_pos.devices.ble import BleScanner
from truck_pos.devices.ble_fake import replay_all
from truck_pos.store.proximity_models import ProximityEvent


@dataclass
class Run:
    services: Services
    clock: FakeClock
    events: dict[str, list[ProximityEvent]]  # device_id -> events (customer_ref is "c-" + device_id)
    arrivals: dict[str, float]  # device_id -> trace time of its first event (seconds from trace start)


@pytest.fixture
def ble_services(settings):
    """Wired services with the committed test devices registered, clock at the traces' start."""
    start = truth("stoppers")["start_unix"]
    clock = FakeClock(datetime.fromtimestamp(start, timezone.utc))
    svc = build(settings, clock=clock, load_demo=False)
    svc.proximity.load_devices(devices())
    yield svc
    svc.close()


@pytest.fixture
def run_trace(ble_services):
    """Replay a committed trace through BleScanner.detection_callback into the proximity service."""

    def run(name: str) -> Run:
        svc = ble_services
        t = truth(name)
        prox = svc.proximity
        arrivals: dict[str, float] = {}
        written = [0]

        def tick(now_s: float) -> None:
            prox.tick(now_s)
            note(now_s)

        def note(now_s: float) -> None:
            if prox.events_written != written[0]:
                written[0] = prox.events_written
                for ev in ProximityEvent.select():
                    arrivals.setdefault(ev.customer_ref[2:], now_s - t["start_unix"])

        scanner = BleScanner(lambda adv: (prox.on_advertisement(adv), note(adv.t_s)), clock=svc.clock)
        replay_all(trace(name), scanner.detection_callback, svc.clock, t["start_unix"], tick=tick)
        events: dict[str, list[ProximityEvent]] = {}
        for ev in ProximityEvent.select():
            events.setdefault(ev.customer_ref[2:], []).append(ev)
        return Run(svc, svc.clock, events, arrivals)

    return run
