"""The register's scanner sees a device list another OS process installed (SQLite data_version), without a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from truck_pos.devices.ble import Advertisement
from truck_pos.domain.tokens import derive_token, encode_service_data, slot_of
from truck_pos.store.proximity_models import ProximityEvent

OLD = {"device_id": "old-1", "customer_ref": "cust-old", "secret": "33" * 32}
NEW = {"device_id": "new-1", "customer_ref": "cust-new", "secret": "44" * 32}


def at_window(prox, clock, device, seconds=6):
    secret = bytes.fromhex(device["secret"])
    for _ in range(seconds * 4):
        now = clock.advance(0.25).timestamp()
        prox.on_advertisement(Advertisement(now, "AA:00:00:00:00:01", -62, encode_service_data(derive_token(secret, slot_of(now, 300)), -59), None))


def admin_in_another_process(settings_env, args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, **settings_env}
    return subprocess.run([sys.executable, "-m", "truck_pos.admin", *args], env=env, capture_output=True, text=True, timeout=120)


def test_a_device_list_installed_by_another_process_is_used_by_the_running_scanner(services, settings_env, clock, tmp_path):
    prox = services.proximity
    prox.load_devices([OLD])
    at_window(prox, clock, OLD)  # the register is running: its table is built and in use
    assert [e.customer_ref for e in ProximityEvent.select()] == ["cust-old"]

    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps({"campaign": "x", "devices": [NEW]}))
    done = admin_in_another_process(settings_env, ["devices", "load", str(bundle)])
    assert done.returncode == 0, done.stderr
    time.sleep(prox.DEVICES_RECHECK_S + 0.1)  # the register checks data_version at most once a second

    at_window(prox, clock, NEW)
    at_window(prox, clock, OLD)  # replaced by the other process: no longer recognised
    assert sorted(e.customer_ref for e in ProximityEvent.select()) == ["cust-new", "cust-old"]
    assert prox.registered_count() == 1


def test_writes_to_other_tables_do_not_rebuild_the_token_table(services, settings_env, clock):
    prox = services.proximity
    prox.load_devices([OLD])
    at_window(prox, clock, OLD, seconds=1)  # the scanner's thread takes up the table the load built
    table = prox._table
    done = admin_in_another_process(settings_env, ["devices", "status"])
    assert done.returncode == 0, done.stderr
    ProximityEvent.create(key="other-process-like", customer_ref="x", first_seen_utc=clock.now())  # data changes
    prox._version = -1  # as if another connection had committed
    prox._version_checked = prox._fast_end = -1e18  # and a second had passed since the last look
    at_window(prox, clock, OLD, seconds=1)
    assert prox._version != -1  # the list was re-read ...
    assert prox._table is table  # ... and was the same: no HMAC rebuild
