"""Proximity service: registered devices, campaign windows, the nearby count, one transaction per event."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from ble_trace_helpers import cached_street, rows_of

from truck_pos.cli import main as admin
from truck_pos.devices.ble import Advertisement
from truck_pos.domain.tokens import derive_token, encode_service_data, slot_of
from truck_pos.errors import InvalidInput
from truck_pos.services.proximity import _EVENT_NS
from truck_pos.store import outbox
from truck_pos.store.outbox import Outbox
from truck_pos.store.proximity_models import ProximityEvent, RegisteredDevice

DEVICE = {"device_id": "dev-1", "customer_ref": "cust-1", "segment": "regulars", "secret": "11" * 32}


def visit(prox, clock, device=DEVICE, seconds=20, rssi=-62):
    """A phone standing at the window for ``seconds``, advertising 3 times a second."""
    secret = bytes.fromhex(device["secret"])
    for _ in range(seconds * 3):
        now = clock.advance(1 / 3).timestamp()
        token = derive_token(secret, slot_of(now, 300))
        prox.on_advertisement(Advertisement(now, "11:22:33:44:55:66", rssi, encode_service_data(token, -59), None))
        prox.tick(now)


def test_bad_device_lists_are_refused_with_the_entry_named_and_nothing_replaced(services):
    prox = services.proximity
    prox.load_devices([DEVICE])
    for bad, words in [([{"device_id": "x", "customer_ref": "c"}], "missing 'secret'"),
                       ([{**DEVICE, "secret": "zz"}], "must be hex"),
                       ([{**DEVICE, "secret": "ab"}], "shorter than 16 bytes"),
                       ([DEVICE, DEVICE], "appears twice")]:
        with pytest.raises(InvalidInput, match=words):
            prox.load_devices(bad)
    assert [d.device_id for d in RegisteredDevice.select()] == ["dev-1"]


def test_loading_devices_replaces_the_previous_list(services):
    prox = services.proximity
    many = cached_street(11).devices
    assert prox.load_devices(many) == len(many)
    assert prox.load_devices([DEVICE]) == 1
    assert prox.registered_count() == 1 and RegisteredDevice.select().count() == 1


def test_a_customer_at_the_window_is_counted_nearby_and_recorded_once_per_day(services, clock):
    prox = services.proximity
    prox.load_devices([DEVICE])
    assert prox.nearby_text() == "0 registered customers nearby"
    visit(prox, clock)
    assert prox.nearby_text() == "1 registered customer nearby"
    clock.advance(600)
    prox.tick()
    visit(prox, clock)  # back later the same business day
    (event,) = ProximityEvent.select()
    assert (event.customer_ref, event.segment, event.campaign_id, event.source) == ("cust-1", "regulars", None, "truck_scan")
    (row,) = Outbox.select().where(Outbox.kind == "proximity")
    assert row.key == str(uuid.uuid5(_EVENT_NS, event.key))
    assert row.payload["window_start"] == "2026-06-01T09:00:00+00:00"  # 04:00 in Chicago
    assert row.payload["first_seen"] == event.first_seen_utc.isoformat() and row.payload["zone"] == "window"


def test_each_campaign_window_gets_its_own_event(services, clock):
    prox = services.proximity
    prox.load_devices([DEVICE])
    hour = clock.now().replace(minute=0, second=0, microsecond=0)
    prox.current_window = lambda when: ("lunch-rush", hour, hour + timedelta(hours=1)) if when < hour + timedelta(hours=1) else None
    visit(prox, clock)
    clock.set(hour + timedelta(hours=1, minutes=5))
    prox.tick()
    visit(prox, clock)
    events = list(ProximityEvent.select().order_by(ProximityEvent.first_seen_utc))
    assert [e.campaign_id for e in events] == ["lunch-rush", None]
    assert prox.event_for("cust-1", "lunch-rush").key == events[0].key


def test_an_unknown_phone_leaves_no_row_anywhere(services, clock):
    prox = services.proximity
    prox.load_devices([DEVICE])
    visit(prox, clock, device={**DEVICE, "secret": "22" * 32})
    assert ProximityEvent.select().count() == 0 and Outbox.select().count() == 0
    assert prox.nearby_count() == 0


def block_the_events_outbox_row(services, clock) -> str:
    """A conflicting outbox row under the key cust-1's event of the day will take: its write fails. Returns
    that event's key."""
    key = "proximity:cust-1:day:2026-06-01:2026-06-01T09:00:00+00:00"
    with services.db.atomic():
        outbox.enqueue("audit", {"note": "conflict"}, now=clock.now(), key=str(uuid.uuid5(_EVENT_NS, key)))
    return key


def test_when_the_outbox_write_fails_the_event_is_not_written_either(services, clock):
    prox = services.proximity
    prox.load_devices([DEVICE])
    block_the_events_outbox_row(services, clock)
    visit(prox, clock)
    assert ProximityEvent.select().count() == 0
    assert Outbox.select().where(Outbox.kind == "proximity").count() == 0


def test_while_the_radio_runs_events_are_committed_on_the_writer_thread_and_stop_writes_the_queue(services, clock):
    import threading

    prox = services.proximity
    prox.load_devices([DEVICE])
    threads, go = [], threading.Event()
    write = prox._write_group

    def held_write(events):  # the disk is slow: the writer gets to the event only after the visit
        threads.append(threading.current_thread().name)
        assert go.wait(30)
        return write(events)

    prox._write_group = held_write
    prox.start_event_writer()
    visit(prox, clock)  # 20 s at the window; the arrival fires on its third report
    go.set()
    prox.stop_event_writer()  # what is queued is written before it returns
    assert threads == ["proximity-events"]  # not the caller's (the scanner's) thread
    (event,) = ProximityEvent.select()
    (row,) = Outbox.select().where(Outbox.kind == "proximity")
    assert event.customer_ref == "cust-1" and row.payload["event_key"] == event.key
    # The outbox row's time is when the arrival fired (its report's clock), not when the writer got to it.
    assert 0 < (row.created_utc - event.first_seen_utc).total_seconds() <= 1.0


def test_a_write_that_fails_on_the_writer_thread_is_retried_on_the_next_arrival(services, clock):
    prox = services.proximity
    prox.load_devices([DEVICE])
    key = block_the_events_outbox_row(services, clock)
    prox.start_event_writer()
    visit(prox, clock)
    prox.flush_events()
    assert ProximityEvent.select().count() == 0
    Outbox.delete().where(Outbox.kind == "audit").execute()
    clock.advance(600)
    prox.tick()  # silent long enough: the next report starts a new visit
    visit(prox, clock)
    prox.stop_event_writer()
    assert [e.key for e in ProximityEvent.select()] == [key]


def test_events_queued_during_a_commit_are_written_together_and_a_bad_one_holds_back_none(services, clock):
    """The writer commits what queued up as one group; when one event of the group cannot be written (a
    conflicting outbox row), the others are still written, each on its own, and only that one is retried."""
    import threading

    prox = services.proximity
    devices = [dict(DEVICE, device_id=f"dev-{i}", customer_ref=f"cust-{i}", secret=f"{i:02d}" * 32) for i in range(1, 4)]
    prox.load_devices(devices)
    bad = "proximity:cust-2:day:2026-06-01:2026-06-01T09:00:00+00:00"
    with services.db.atomic():
        outbox.enqueue("audit", {"note": "conflict"}, now=clock.now(), key=str(uuid.uuid5(_EVENT_NS, bad)))
    groups, go = [], threading.Event()
    write = prox._write_group

    def held(events):
        groups.append([e[0] for e in events])
        if len(groups) == 1:
            assert go.wait(30)  # the first commit is slow: the other two arrivals queue behind it
        return write(events)

    prox._write_group = held
    prox.start_event_writer()
    for device in devices:
        visit(prox, clock, device)
    go.set()
    prox.stop_event_writer()
    assert sorted(e.customer_ref for e in ProximityEvent.select()) == ["cust-1", "cust-3"]
    together = next(g for g in groups if bad in g)
    assert len(together) >= 2  # what queued behind the slow commit went in one group ...
    after = groups.index(together) + 1
    assert groups[after:after + len(together)] == [[k] for k in together]  # ... which failed: then each alone
    assert bad not in prox._written and ProximityEvent.select().count() == 2


def test_arrivals_within_the_group_commit_delay_share_one_commit(services, clock, monkeypatch):
    """A burst (a crowd reaching the window together) costs one commit: the writer waits WRITE_GROUP_DELAY_S
    after the first arrival for more. Each event still has its outbox row, in that same transaction."""
    import time

    import truck_pos.services.proximity as proximity

    monkeypatch.setattr(proximity, "WRITE_GROUP_DELAY_S", 5.0)  # far longer than three visits take here
    prox = services.proximity
    devices = [dict(DEVICE, device_id=f"dev-{i}", customer_ref=f"cust-{i}", secret=f"{i:02d}" * 32) for i in range(1, 4)]
    prox.load_devices(devices)
    groups = []
    write = prox._write_group
    prox._write_group = lambda events: groups.append([e.customer for e in events]) or write(events)
    prox.start_event_writer()
    for device in devices:
        visit(prox, clock, device)
        waited = time.monotonic()
        while prox._events.qsize() and time.monotonic() - waited < 20:  # the writer has taken it and waits for more
            time.sleep(0.001)
    prox.stop_event_writer()  # ends the wait: what was taken is written
    assert groups == [["cust-1", "cust-2", "cust-3"]]
    rows = {r.payload["customer_ref"] for r in Outbox.select().where(Outbox.kind == "proximity")}
    assert rows == {e.customer_ref for e in ProximityEvent.select()} == {"cust-1", "cust-2", "cust-3"}


def test_a_group_with_an_event_already_recorded_writes_the_others_and_no_second_row(services, clock, monkeypatch):
    """After a restart the in-memory "written" set is empty: an arrival whose event is already in the database
    is recorded (nothing to do), and the group around it still goes in as one transaction."""
    import time

    import truck_pos.services.proximity as proximity

    monkeypatch.setattr(proximity, "WRITE_GROUP_DELAY_S", 5.0)
    prox = services.proximity
    devices = [dict(DEVICE, device_id=f"dev-{i}", customer_ref=f"cust-{i}", secret=f"{i:02d}" * 32) for i in range(1, 4)]
    prox.load_devices(devices)
    before = "proximity:cust-2:day:2026-06-01:2026-06-01T09:00:00+00:00"
    with services.db.atomic():  # written before the restart, with its outbox row
        ProximityEvent.create(key=before, customer_ref="cust-2", first_seen_utc=clock.now())
        outbox.enqueue("proximity", {"event_key": before}, now=clock.now(), key=str(uuid.uuid5(_EVENT_NS, before)))
    results = []
    write = prox._write_group
    prox._write_group = lambda events: results.append(write(events)) or results[-1]
    prox.start_event_writer()
    for device in devices:
        visit(prox, clock, device)
        waited = time.monotonic()
        while prox._events.qsize() and time.monotonic() - waited < 20:
            time.sleep(0.001)
    prox.stop_event_writer()
    assert results == [[True, True, True]]  # one group, every arrival recorded
    assert sorted(e.customer_ref for e in ProximityEvent.select()) == ["cust-1", "cust-2", "cust-3"]
    rows = [r.payload["event_key"] for r in Outbox.select().where(Outbox.kind == "proximity")]
    assert sorted(rows) == sorted(e.key for e in ProximityEvent.select())  # one row per event, none twice
    assert prox.events_written == 2 and before in prox._written


def test_a_lone_arrival_is_committed_once_the_delay_is_over_without_waiting_for_more(services, clock, monkeypatch):
    import time

    import truck_pos.services.proximity as proximity

    monkeypatch.setattr(proximity, "WRITE_GROUP_DELAY_S", 0.05)
    prox = services.proximity
    prox.load_devices([DEVICE])
    prox.start_event_writer()
    try:
        visit(prox, clock)
        waited = time.monotonic()
        while ProximityEvent.select().count() == 0 and time.monotonic() - waited < 20:
            time.sleep(0.01)
        assert ProximityEvent.select().count() == 1  # committed with no stop, no flush and no other arrival
    finally:
        prox.stop_event_writer()


def test_admin_cli_loads_a_bundle_devices_list(settings_env, tmp_path, monkeypatch, capsys):
    for k, v in settings_env.items():
        monkeypatch.setenv(k, v)
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps({"campaign": "x", "devices": [DEVICE]}))
    assert admin(["devices", "load", str(bundle)]) == 0
    assert "registered devices loaded: 1" in capsys.readouterr().out
    bundle.write_text("{not json")
    assert admin(["devices", "load", str(bundle)]) == 1
    assert "cannot read devices file" in capsys.readouterr().err


def test_bootstrap_attaches_a_scanner_fed_by_the_fake_radio(settings, clock):
    from truck_pos.bootstrap import build
    from truck_pos.devices.ble_fake import FakeRadio

    s = cached_street(11)
    clock.set(datetime.fromtimestamp(s.start_unix, timezone.utc))
    radio = FakeRadio(rows_of(s), clock, s.start_unix)
    svc = build(settings, clock=clock, load_demo=False, ble_backend=radio.factory)
    try:
        prox = svc.proximity
        prox.scanner._probe = lambda: (5, 66)  # the BlueZ version bluetoothctl would print
        radio.tick = prox.tick
        prox.load_devices(s.devices)
        prox.start_scanning()
        assert radio.finished.wait(60)
        prox.flush_events()  # events are committed on the writer thread while the radio runs
        status = prox.status()
    finally:
        svc.close()
    assert (status["radio"], status["mode"], status["registered"]) == ("scanning", "active", len(s.devices))
    assert radio.starts == ["active"]  # [ble] passive = false: active with DuplicateData
    assert status["scan_mode"] == "active scan, every report (BlueZ 5.66)"
    assert status["events_written"] == ProximityEvent.select().count() > 0


def test_impossible_ble_thresholds_are_refused_at_startup(settings_env):
    from truck_pos.bootstrap import build
    from truck_pos.config import load_settings
    from truck_pos.errors import ConfigError

    bad = load_settings(env={**settings_env, "TRUCK_POS_BLE_NEAR_EXIT_M": "5", "TRUCK_POS_BLE_NEAR_ENTER_M": "10"})
    with pytest.raises(ConfigError, match=r"\[ble\].*near_enter_m <= near_exit_m"):
        build(bad)
