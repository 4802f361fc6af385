"""Reverse mode: the truck's iBeacon frame built and registered with a BlueZ double on a real private D-Bus."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from bluez_double import BlueZDouble, start_private_bus

from truck_pos.clock import FakeClock
from truck_pos.devices.ble_advertiser import AdvertiseError, BeaconAdvertiser
from truck_pos.domain.tokens import FLEET_BEACON_UUID, truck_token

SECRET = bytes(range(32))
T0 = 1780333200.0  # 2026-06-01T17:00:00Z, slot 5934444


@pytest.fixture
def bus_address():
    proc, address = start_private_bus()
    yield address
    proc.terminate()
    proc.wait(10)


def decode_ibeacon(mfr: dict[int, bytes]) -> tuple[str, int, int, int]:
    """An independent decoder of the Apple iBeacon layout: 02 15, UUID(16), major, minor, tx power (int8)."""
    (company, data), = mfr.items()
    assert company == 0x004C and data[:2] == b"\x02\x15" and len(data) == 23
    u = data[2:18].hex()
    return (f"{u[:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:]}", int.from_bytes(data[18:20], "big"),
            int.from_bytes(data[20:22], "big"), int.from_bytes(data[22:23], "big", signed=True))


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_the_beacon_is_registered_with_the_truck_token_and_rotates_each_slot(bus_address):
    async def scenario():
        bluez = await BlueZDouble().start(bus_address)
        clock = FakeClock(datetime.fromtimestamp(T0 + 10, timezone.utc))
        adv = BeaconAdvertiser(SECRET, clock=clock, bus_address=bus_address, measured_power_dbm=-59)
        try:
            assert await adv.advertise() is True
            (path, got), = bluez.registered.items()
            first = decode_ibeacon(got["manufacturer_data"])
            props = got["properties"]
            assert await adv.advertise(T0 + 200) is False  # same slot: nothing to do
            assert await adv.advertise(T0 + 300) is True  # next slot: unregister, register the new token
            second = decode_ibeacon(bluez.registered[path]["manufacturer_data"])
            await adv.close()
            log = list(bluez.log)
            return first, second, props, log, dict(bluez.registered)
        finally:
            bluez.close()

    first, second, props, log, left = run(scenario())
    assert props["Type"] == "broadcast"
    # Test vector (docs/ble-advertising.md): truck token of slot 5934444 for secret 00..1f is 0xdd4a8f12.
    assert first == (FLEET_BEACON_UUID, 0xDD4A, 0x8F12, -59)
    token = truck_token(SECRET, 5934445)
    assert second == (FLEET_BEACON_UUID, token >> 16, token & 0xFFFF, -59) and second != first
    assert [m for m, _ in log] == ["RegisterAdvertisement", "UnregisterAdvertisement", "RegisterAdvertisement",
                                   "UnregisterAdvertisement"]
    assert left == {}


def test_bluez_refuses_a_second_registration_of_the_same_path_and_the_advertiser_says_so(bus_address):
    async def scenario():
        bluez = await BlueZDouble().start(bus_address)
        clock = FakeClock(datetime.fromtimestamp(T0, timezone.utc))
        a = BeaconAdvertiser(SECRET, clock=clock, bus_address=bus_address)
        b = BeaconAdvertiser(SECRET, clock=clock, bus_address=bus_address)  # same object path, another connection
        try:
            await a.advertise()
            with pytest.raises(AdvertiseError, match="org.bluez.Error.AlreadyExists"):
                await b.advertise()
            assert b.slot is None and len(bluez.registered) == 1
            await a.close()
            await b.close()
        finally:
            bluez.close()

    run(scenario())


def test_the_background_advertiser_reports_unavailable_without_bluez(bus_address):
    clock = FakeClock(datetime.fromtimestamp(T0, timezone.utc))
    adv = BeaconAdvertiser(SECRET, clock=clock, bus_address=bus_address)  # nobody owns org.bluez on this bus
    adv.start(retry_s=0.05)
    try:
        import time

        deadline = time.monotonic() + 20
        while adv.state != "unavailable" and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        adv.stop()
    assert adv.state in ("unavailable", "stopped") and "beacon not advertised" in adv.message


def test_bootstrap_wires_the_beacon_from_config_and_refuses_a_missing_secret(settings_env, tmp_path):
    from truck_pos.bootstrap import build
    from truck_pos.config import load_settings
    from truck_pos.errors import ConfigError

    env = {**settings_env, "TRUCK_POS_BLE_ENABLED": "true", "TRUCK_POS_BLE_BEACON": "true",
           "TRUCK_POS_BLE_BEACON_SECRET_FILE": str(tmp_path / "beacon.key")}
    with pytest.raises(ConfigError, match="beacon_secret_file"):
        build(load_settings(env=env), load_demo=False)
    (tmp_path / "beacon.key").write_text(SECRET.hex())
    svc = build(load_settings(env=env), load_demo=False)
    try:
        assert isinstance(svc.proximity.advertiser, BeaconAdvertiser)
        assert "beacon off" in svc.proximity.status_text()
    finally:
        svc.close()
