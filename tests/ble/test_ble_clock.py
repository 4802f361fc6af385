"""A truck whose clock is an hour off (a Pi has no real-time clock): phones still resolve, and it says so."""

from __future__ import annotations

from datetime import datetime, timezone

from ble_trace_helpers import cached_street, rows_of

from truck_pos.clock import FakeClock
from truck_pos.devices.ble import BleScanner
from truck_pos.devices.ble_fake import replay_all
from truck_pos.devices.timesync import clock_synchronized
from truck_pos.services.proximity import ProximityService
from truck_pos.store.outbox import Outbox
from truck_pos.store.proximity_models import ProximityEvent

HOUR = 3600.0


def replay(db, synced, truck_offset_s: float) -> ProximityService:
    """The street through the full path, with the truck's clock ``truck_offset_s`` off the phones' time."""
    s = cached_street(11)
    start = s.start_unix + truck_offset_s
    clock = FakeClock(datetime.fromtimestamp(start, timezone.utc))
    prox = ProximityService(db, clock, truck_id="t1", timezone_name="UTC", clock_synced=synced)
    prox.load_devices(s.devices)
    scanner = BleScanner(prox.on_advertisement, clock=clock)
    replay_all(rows_of(s), scanner.detection_callback, clock, start, tick=prox.tick)
    return prox


def test_truck_clock_an_hour_behind_still_resolves_phones_and_says_the_clock_is_off(services):
    right = replay(services.db, lambda: True, 0.0)
    expected = ProximityEvent.select().count()
    assert expected > 5 and right.clock_text() == ""
    ProximityEvent.delete().execute()
    Outbox.delete().execute()

    wrong = replay(services.db, lambda: False, -HOUR)  # timedatectl: NTPSynchronized=no
    got = ProximityEvent.select().count()
    assert got >= expected - 2  # a few phones may arrive before enough others taught the table the offset
    assert wrong.clock_text() == "clock not synced (phones say +60 min)"
    assert "clock not synced (phones say +60 min)" in wrong.status_text()
    assert wrong.status()["clock"] == wrong.clock_text()


def test_a_clock_wrongly_believed_good_resolves_nobody(services):
    # The contrast: with the narrow skew an hour-off clock sees no phone at all (issue #17's finding).
    replay(services.db, lambda: True, -HOUR)
    assert ProximityEvent.select().count() == 0


def test_an_unknown_clock_state_counts_as_not_synced(services):
    prox = replay(services.db, lambda: None, 0.0)  # neither timedatectl nor chronyc answered
    assert prox.clock_text() == "clock not synced"  # offset learned as 0: nothing more to say
    assert ProximityEvent.select().count() > 5


class _Run:
    def __init__(self, answers: dict[str, tuple[int, str] | Exception]):
        self.answers, self.calls = answers, []

    def __call__(self, argv, **kw):
        self.calls.append(argv[0])
        a = self.answers[argv[0]]
        if isinstance(a, Exception):
            raise a
        self.returncode, self.stdout = a
        return self


def test_clock_probe_reads_timedatectl_then_chrony():
    assert clock_synchronized(_Run({"timedatectl": (0, "yes\n")})) is True
    assert clock_synchronized(_Run({"timedatectl": (0, "no\n")})) is False
    chrony_ok = "A9FEA97B,169.254.169.123,4,1700000000.1,-0.000001,0.0,0.0,1.0,0.0,0.1,0.001,0.001,64.0,Normal\n"
    run = _Run({"timedatectl": FileNotFoundError("no systemd"), "chronyc": (0, chrony_ok)})
    assert clock_synchronized(run) is True and run.calls == ["timedatectl", "chronyc"]
    unsynced = chrony_ok.replace("Normal", "Not synchronised")
    assert clock_synchronized(_Run({"timedatectl": (1, ""), "chronyc": (0, unsynced)})) is False
    assert clock_synchronized(_Run({"timedatectl": (1, ""), "chronyc": FileNotFoundError("chronyc")})) is None
