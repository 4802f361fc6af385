"""Proximity service across threads: reports are fed on the scanner's thread with no lock per report, while other
threads replace the device list and read the nearby count. A new list must be used from the scanner's next report,
whatever the moment it lands, and nothing may raise on either side."""

from __future__ import annotations

import threading

from truck_pos.devices.ble import Advertisement
from truck_pos.domain.tokens import derive_token, encode_service_data, slot_of

SLOT_S = 300
A = {"device_id": "dev-a", "customer_ref": "cust-a", "secret": "aa" * 32}
B = {"device_id": "dev-b", "customer_ref": "cust-b", "secret": "bb" * 32}


def report(device, t: float, rssi: int = -60) -> Advertisement:
    token = derive_token(bytes.fromhex(device["secret"]), slot_of(t, SLOT_S))
    return Advertisement(t, "AA:BB:CC:00:00:01", rssi, encode_service_data(token, -59), None)


def on_another_thread(fn, *args) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            errors.append(exc)

    th = threading.Thread(target=run)
    th.start()
    th.join(30)
    assert not th.is_alive() and not errors, errors


def test_a_device_list_loaded_on_another_thread_is_used_from_the_scanners_next_report(services, clock):
    prox = services.proximity
    prox.load_devices([A])
    t = clock.now().timestamp()
    prox.on_advertisement(report(A, t))
    prox.on_advertisement(report(B, t + 0.1))  # not registered yet: dropped (and remembered for the slot)
    assert prox.nearby_count() == 1
    on_another_thread(prox.load_devices, [A, B])  # e.g. the sync agent installing a campaign's devices
    prox.on_advertisement(report(B, t + 0.2))  # same slot, well inside a second of report time
    assert prox.nearby_count() == 2
    on_another_thread(prox.load_devices, [B])
    prox.on_advertisement(report(A, t + 0.3))  # A's phone is still near, but no longer a registered customer
    assert prox.nearby_count() == 1 and prox.registered_count() == 1


def test_a_load_that_lands_while_the_scanner_starts_a_new_slot_is_still_taken_up_on_the_next_report(services, clock):
    """The scanner's thread looks for a handed-over table, then sets how long reports may skip the look; a load
    landing between the two must not be skipped for that long."""
    prox = services.proximity
    prox.load_devices([A])
    t = (clock.now().timestamp() // SLOT_S + 1) * SLOT_S - 0.5  # half a second before a slot boundary
    prox.on_advertisement(report(A, t))
    reset, landed = prox._reset_resolved, []

    def reset_then_a_load_lands(at: float) -> None:
        reset(at)
        if not landed:  # once, at the new slot: the moment between the look and the new range
            landed.append(at)
            on_another_thread(prox.load_devices, [A, B])

    prox._reset_resolved = reset_then_a_load_lands
    prox.on_advertisement(report(A, t + 0.6))  # the first report of the new slot
    assert landed
    prox.on_advertisement(report(B, t + 0.7))  # 0.1 s later: B is already known
    assert prox.nearby_count() == 2


def test_device_lists_replaced_over_and_over_while_reports_are_fed_and_the_count_is_read(services, clock):
    prox = services.proximity
    prox.load_devices([A])
    start = clock.now().timestamp()
    stop, errors, counts = threading.Event(), [], []

    def guarded(fn):
        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - handed back to the test
                errors.append(exc)
                stop.set()
        return run

    def feed() -> None:  # the scanner's thread: both phones near the window, 20 reports a second
        n = 0
        while not stop.is_set() and n < 40_000:
            t = start + n * 0.05
            prox.on_advertisement(report(A if n % 2 else B, t, rssi=-60 - n % 7))
            if n % 10 == 0:
                prox.tick(t)
            n += 1

    def load() -> None:  # another thread: the list alternates, as campaigns come and go
        for i in range(40):
            prox.load_devices([A, B] if i % 2 else [B])

    def read() -> None:  # the UI: the count and the status line
        while not stop.is_set():
            counts.append(prox.nearby_count())
            prox.status_text()

    threads = [threading.Thread(target=guarded(f)) for f in (feed, load, read)]
    for th in threads:
        th.start()
    threads[1].join(120)
    stop.set()
    for th in threads:
        th.join(120)
    assert not errors, errors
    assert counts and set(counts) <= {0, 1, 2}
    prox.load_devices([A])  # the last list wins: after it, B is no longer counted and A is
    t = start + 40_000 * 0.05 + 20  # B silent long enough to be gone; A seen again
    prox.tick(t)
    prox.on_advertisement(report(A, t))
    prox.on_advertisement(report(B, t + 0.1))
    assert prox.nearby_count() == 1 and prox.registered_count() == 1
