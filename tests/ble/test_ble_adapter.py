"""The scanner adapter: bleak's callback path, passive fallback, and restart after the adapter vanishes."""

from __future__ import annotations

import time

from ble_trace_helpers import devices, trace, truth

from truck_pos.devices.ble import BleScanner, bluez_args
from truck_pos.devices.ble_fake import FakeRadio, TraceRow, to_bleak
from truck_pos.domain.proximity import ProximityFilter
from truck_pos.domain.tokens import SERVICE_UUID, TokenTable, parse_service_data
from truck_pos.store.proximity_models import ProximityEvent


def reference_first_seen(name: str) -> dict[str, float]:
    """device_id -> first_seen of its first arrival, from the pure pipeline with no faults."""
    t = truth(name)
    tokens = TokenTable([(d["device_id"], bytes.fromhex(d["secret"])) for d in devices()], slot_s=t["slot_s"])
    f = ProximityFilter()
    out: dict[str, float] = {}

    def on(device, data):
        sd = parse_service_data(data.service_data.get(SERVICE_UUID))
        dev = sd and tokens.resolve(sd.token, current[0])
        if dev:
            a = f.observe(dev, current[0], data.rssi, sd.measured_power_dbm)
            if a:
                out.setdefault(a.key, a.first_seen_s)

    current = [0.0]
    for row in trace(name):
        current[0] = t["start_unix"] + row.t_s
        for a in f.tick(current[0]):
            out.setdefault(a.key, a.first_seen_s)
        on(*to_bleak(row))
    for a in f.tick(current[0] + 30):
        out.setdefault(a.key, a.first_seen_s)
    return out


def wait_for(predicate, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_scanner_restarts_after_the_adapter_vanishes_and_keeps_the_filter_state(ble_services):
    t = truth("stoppers")
    rows = trace("stoppers")
    # Go silent while the first stopper is standing at the window, before its dwell completes.
    first = min((p for p in t["people"] if p["kind"] == "stopper"), key=lambda p: p["enter_range_t"])
    silent_from = next(i for i, r in enumerate(rows) if r.t_s >= first["enter_range_t"] + 4)
    prox = ble_services.proximity
    radio = FakeRadio(rows, ble_services.clock, t["start_unix"], silent_from=silent_from, fail_starts=2, tick=prox.tick)
    scanner = BleScanner(prox.on_advertisement, clock=ble_services.clock, backend_factory=radio.factory,
                         backoff_initial_s=0.01, backoff_max_s=0.05, watchdog_s=0.3)
    prox.scanner = scanner
    scanner.start()
    try:
        assert wait_for(radio.finished.is_set), f"replay stuck at row {radio.cursor}/{len(rows)}: {scanner.status()}"
        status = scanner.status()
    finally:
        scanner.stop()
    prox.tick(t["start_unix"] + rows[-1].t_s + 30)

    # silent -> watchdog restart -> passive and active both refused -> backoff -> passive again.
    assert radio.starts == ["passive", "passive", "active", "passive"]
    assert (status.state, status.mode, status.restarts) == ("scanning", "passive", 2)
    got = {e.customer_ref[2:]: e.first_seen_utc.timestamp() for e in ProximityEvent.select()}
    expected = reference_first_seen("stoppers")
    assert first["device_id"] in got
    assert set(got) == set(expected)
    # Same first-seen times as an uninterrupted run: the outage cost no filter state.
    assert all(abs(got[k] - expected[k]) < 1e-3 for k in expected)


def test_passive_scanning_falls_back_to_active_when_bluez_cannot(ble_services):
    t = truth("rotation")
    radio = FakeRadio(trace("rotation")[:500], ble_services.clock, t["start_unix"], passive_supported=False)
    scanner = BleScanner(ble_services.proximity.on_advertisement, clock=ble_services.clock, backend_factory=radio.factory)
    scanner.start()
    try:
        assert wait_for(radio.finished.is_set)
        status = scanner.status()
    finally:
        scanner.stop()
    assert radio.starts == ["passive", "active"]
    assert status.mode == "active" and "passive scanning unavailable" in status.message
    assert status.reports_seen == 500


def test_passive_mode_asks_bluez_for_our_service_data_only():
    (pattern,) = bluez_args("hci1", "passive")["or_patterns"]
    assert pattern.ad_data_type == 0x21 and pattern.content_of_pattern.hex() == "1c0a8f6e4b2d8f9a6e4c2d1b3e5a0f7c"
    assert bluez_args("hci1", "active") == {"adapter": "hci1"}


def test_detection_callback_ignores_foreign_adverts_and_survives_a_failing_sink(clock):
    seen = []

    def sink(adv):
        seen.append(adv)
        raise RuntimeError("boom")

    scanner = BleScanner(sink, clock=clock)
    scanner.detection_callback(*to_bleak(TraceRow(0.0, "AA:BB:CC:DD:EE:FF", -70, "", b"", 4)))
    scanner.detection_callback(*to_bleak(TraceRow(0.0, "AA:BB:CC:DD:EE:FF", -70, SERVICE_UUID, b"\x01" + bytes(8), None)))
    assert len(seen) == 1 and seen[0].t_s == clock.now().timestamp() and seen[0].rssi_dbm == -70
    assert scanner.status().reports_seen == 2


def test_the_real_bleak_backend_without_a_usable_adapter_reports_unavailable_and_stops_cleanly():
    # No BlueZ here (and no hci99 on a Pi): start() fails inside bleak; the scanner keeps retrying.
    scanner = BleScanner(lambda adv: None, adapter="hci99", backoff_initial_s=0.02, backoff_max_s=0.05)
    scanner.start()
    try:
        assert wait_for(lambda: scanner.status().restarts >= 2, 20)
        status = scanner.status()
    finally:
        scanner.stop()
    assert status.state in ("unavailable", "starting") and "Bluetooth" in status.message and "retrying" in status.message
    assert scanner.status().state == "stopped"
