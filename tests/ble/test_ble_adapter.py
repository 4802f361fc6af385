"""The scanner adapter: bleak's callback path, DuplicateData, BlueZ version, passive fallback, restarts."""

from __future__ import annotations

import time

from ble_trace_helpers import cached_street, rows_of

from truck_pos.devices.ble import BleScanner, bluez_args, bluez_version, mode_text
from truck_pos.devices.ble_fake import FakeRadio, TraceRow, to_bleak
from truck_pos.domain.proximity import ProximityFilter
from truck_pos.domain.tokens import SERVICE_UUID, TokenTable, parse_service_data
from truck_pos.store.proximity_models import ProximityEvent


def reference_first_seen(s) -> dict[str, float]:
    """device_id -> first_seen of its first arrival, from the pure pipeline with no faults."""
    tokens = TokenTable([(d["device_id"], bytes.fromhex(d["secret"])) for d in s.devices], slot_s=s.slot_s)
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
    for row in rows_of(s):
        current[0] = s.start_unix + row.t_s
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
    s = cached_street(11)
    rows = rows_of(s)
    # Go silent while the first arrival walks up, a few seconds before it reaches 3 m.
    first = min((p for p in s.people if p["kind"] == "arrival"), key=lambda p: p["reach_3m_t"])
    silent_from = next(i for i, r in enumerate(rows) if r.t_s >= first["reach_3m_t"] - 3)
    prox = ble_services.proximity
    radio = FakeRadio(rows, ble_services.clock, s.start_unix, silent_from=silent_from, fail_starts=2, tick=prox.tick)
    scanner = BleScanner(prox.on_advertisement, clock=ble_services.clock, backend_factory=radio.factory,
                         backoff_initial_s=0.01, backoff_max_s=0.05, watchdog_s=0.3, version_probe=lambda: (5, 66))
    prox.scanner = scanner
    scanner.start()
    try:
        assert wait_for(radio.finished.is_set), f"replay stuck at row {radio.cursor}/{len(rows)}: {scanner.status()}"
        status = scanner.status()
    finally:
        scanner.stop()
    prox.tick(s.start_unix + rows[-1].t_s + 30)

    # silent -> watchdog restart -> refused twice (backoff) -> scanning again, active with DuplicateData each time.
    assert radio.starts == ["active", "active", "active", "active"]
    assert (status.state, status.mode, status.restarts) == ("scanning", "active", 3)
    got = {e.customer_ref[2:]: e.first_seen_utc.timestamp() for e in ProximityEvent.select()}
    expected = reference_first_seen(s)
    assert got and first["device_id"] in expected
    assert set(got) == set(expected)
    # Same first-seen times as an uninterrupted run: the outage cost no filter state.
    assert all(abs(got[k] - expected[k]) < 1e-3 for k in expected)


def test_passive_scanning_falls_back_to_active_when_bluez_cannot(ble_services):
    s = cached_street(11)
    radio = FakeRadio(rows_of(s)[:500], ble_services.clock, s.start_unix, passive_supported=False)
    scanner = BleScanner(ble_services.proximity.on_advertisement, clock=ble_services.clock, backend_factory=radio.factory,
                         passive=True, version_probe=lambda: (5, 66))
    scanner.start()
    try:
        assert wait_for(radio.finished.is_set)
        status = scanner.status()
    finally:
        scanner.stop()
    assert radio.starts == ["passive", "active"]
    assert status.mode == "active" and "passive scanning unavailable" in status.message
    assert status.reports_seen == 500


def test_passive_mode_asks_bluez_for_our_service_data_only_and_active_mode_for_every_report():
    (pattern,) = bluez_args("hci1", "passive")["or_patterns"]
    assert pattern.ad_data_type == 0x21 and pattern.content_of_pattern.hex() == "1c0a8f6e4b2d8f9a6e4c2d1b3e5a0f7c"
    assert bluez_args("hci1", "active") == {"adapter": "hci1", "filters": {"DuplicateData": True}}


def test_bleak_turns_our_bluez_args_into_the_duplicate_data_discovery_filter():
    # bleak's own BlueZ scanner builds the SetDiscoveryFilter dict from our args (bleak defaults it to False).
    from bleak.backends.bluezdbus.scanner import BleakScannerBlueZDBus

    scanner = BleakScannerBlueZDBus(None, None, "active", bluez=bluez_args("hci0", "active"))
    assert scanner._filters["DuplicateData"].value is True


def test_old_bluez_is_read_at_start_and_passive_is_not_tried_below_5_56(ble_services):
    s = cached_street(11)
    radio = FakeRadio(rows_of(s)[:50], ble_services.clock, s.start_unix)
    scanner = BleScanner(ble_services.proximity.on_advertisement, clock=ble_services.clock, backend_factory=radio.factory,
                         passive=True, version_probe=lambda: (5, 47))
    scanner.start()
    try:
        assert wait_for(radio.finished.is_set)
    finally:
        scanner.stop()
    assert radio.starts == ["active"]
    assert scanner.mode_text() == "active scan, sparse reports (BlueZ 5.47 < 5.48 has no DuplicateData)"
    assert mode_text("passive", (5, 66)) == "passive scan, sparse reports (BlueZ 5.66)"


class _Done:
    def __init__(self, stdout: str = "", exc: Exception | None = None):
        self.stdout, self.exc = stdout, exc

    def __call__(self, argv, **kw):
        assert argv == ["bluetoothctl", "--version"]
        if self.exc:
            raise self.exc
        return self


def test_bluez_version_is_parsed_from_bluetoothctl():
    assert bluez_version(_Done("bluetoothctl: 5.66\n")) == (5, 66)
    assert bluez_version(_Done("", FileNotFoundError("bluetoothctl"))) is None
    assert bluez_version(_Done("garbage")) is None


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
