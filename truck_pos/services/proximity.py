"""Proximity use case: resolve advertised tokens to registered customers, filter, raise one event per window.

Reports and ticks arrive on one thread, the scanner's (:meth:`ProximityService.on_advertisement`,
:meth:`tick`: bleak's callback and the ticker share its event loop): the filter, the token table
and the per-slot cache of resolved tokens belong to that thread, with no lock per report. Other
threads only swap in whole values: a new device list (:meth:`load_devices`, from the sync agent's
thread or a CLI) builds its token table aside and hands it over; the scanner's thread takes it up
on its next report. The nearby count reads the filter's in-range snapshot (replaced, never changed
in place) and the customers dict (replaced whole). The registered-device list is re-read when
SQLite's ``data_version`` says another process (the sync agent installing a campaign's devices)
committed, checked at most once a second, so the register's scanner sees a new list without a
restart. Whether the truck's clock is known good is asked every ``CLOCK_RECHECK_S``
(``clock_synced``, e.g. :func:`truck_pos.devices.timesync.clock_synchronized`): while it is not,
the token table accepts a wide skew and learns the clock's offset from the phones. Unknown tokens
are dropped on the spot: nothing about a phone we cannot resolve is stored.
An arrival becomes one ``ProximityEvent`` and its ``proximity`` outbox row, in one transaction,
at most once per customer per campaign window (the business day when no campaign runs). While the
radio runs, the scanner's thread only queues the arrival (and the time it fired): a writer thread of
the service's own looks up the campaign window and the customer and commits the events in order, so
the scanner's thread never waits for an fsync or a query. The writer groups commits: after taking an
arrival it waits up to ``WRITE_GROUP_DELAY_S`` for more (a database's group-commit delay) and commits
what it took as one transaction, one fsync, each event still with its outbox row in that same
transaction. An event is a radio observation, not money: a power cut loses what is queued or inside
that delay (at most ``WRITE_GROUP_DELAY_S`` after the first of them, plus a commit in progress) as it
loses the detector's state anyway; a phone still at the window is detected again after the restart
(nothing was committed for it, so its event is written then). :meth:`ProximityService.stop` writes
what is queued before it returns.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo

import peewee

from truck_pos.clock import Clock
from truck_pos.domain.calendar import business_day
from truck_pos.domain.proximity import ZONE_NAMES, Arrival, FilterSettings, ProximityFilter
from truck_pos.domain.tokens import TokenTable, parse_service_data
from truck_pos.errors import InvalidInput
from truck_pos.store import outbox
from truck_pos.store.prepared import PreparedInsert
from truck_pos.store.proximity_models import ProximityEvent, RegisteredDevice

if TYPE_CHECKING:
    from truck_pos.devices.ble import Advertisement

log = logging.getLogger(__name__)
_monotonic = time.monotonic
WRITE_GROUP_MAX = 64  # arrivals committed together by the writer thread at most
WRITE_GROUP_DELAY_S = 0.005  # after taking an arrival, the writer waits this long for more to commit with it

# (campaign_id, window_start_utc, window_end_utc) for an instant, or None outside any campaign.
Window = tuple[str, datetime, datetime]


class _Event(NamedTuple):
    """An arrival to record: the ProximityEvent row's fields, its outbox body and the time it fired."""

    key: str
    customer: str
    segment: str | None
    campaign_id: str
    first_seen: datetime
    distance_m: float
    rssi_dbm: float
    body: dict[str, Any]
    now: datetime
WindowSource = Callable[[datetime], Window | None]

_MISS = object()
_EVENT_NS = uuid.UUID("5b8e3c1a-7f2d-4e0b-9c6a-1d2e3f405162")
MIN_SECRET_BYTES = 16
# Built once: peewee's per-query SQL building cost more than the event's SQLite work.
_EVENT_INSERT = PreparedInsert(ProximityEvent, ["key", "customer_ref", "campaign_id", "segment", "source", "first_seen_utc",
                                                "distance_m", "rssi_dbm"])
_EVENT_EXISTS = f'SELECT 1 FROM "{ProximityEvent._meta.table_name}" WHERE "{ProximityEvent.key.column_name}" = '


def parse_devices(devices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Validate a registered-devices list; raises InvalidInput naming the first bad entry."""
    rows, seen = [], set()
    for n, d in enumerate(devices, 1):
        try:
            device_id, customer = str(d["device_id"]).strip(), str(d["customer_ref"]).strip()
            secret = bytes.fromhex(str(d["secret"]))
        except KeyError as exc:
            raise InvalidInput(f"device {n}: missing {exc.args[0]!r} (needs device_id, customer_ref, secret)") from exc
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"device {n}: the secret must be hex ({exc})") from exc
        if not device_id or not customer or len(secret) < MIN_SECRET_BYTES:
            raise InvalidInput(f"device {n} ({device_id or '?'}): empty id/customer or secret shorter than {MIN_SECRET_BYTES} bytes")
        if device_id in seen:
            raise InvalidInput(f"device {n}: device_id {device_id} appears twice")
        seen.add(device_id)
        rows.append({"device_id": device_id, "customer_ref": customer, "segment": str(d.get("segment") or "nearby_devices"),
                     "secret": secret, "active": bool(d.get("active", True))})
    return rows


class ProximityService:
    """Turns advertisements into proximity events and a "customers nearby" count."""

    DEVICES_RECHECK_S = 1.0  # how stale the device list may be about another process's change
    CLOCK_RECHECK_S = 60.0

    def __init__(self, db: peewee.Database, clock: Clock, *, truck_id: str, timezone_name: str, day_start_hour: int = 4,
                 filter_settings: FilterSettings | None = None, slot_s: int = 300, skew_slots: int = 1,
                 wide_skew_slots: int = 14, current_window: WindowSource | None = None,
                 clock_synced: Callable[[], bool | None] | None = None):
        self.db, self.clock, self.truck_id = db, clock, truck_id
        self._tz, self._day_start = timezone_name, day_start_hour
        self._slot_s, self._skew, self._wide_skew = slot_s, skew_slots, wide_skew_slots
        self.current_window = current_window  # wired to the campaign service when there is one
        self.scanner: Any = None  # a BleScanner, for status and start/stop
        self.advertiser: Any = None  # a BeaconAdvertiser (reverse mode for iPhones), started with the scanner
        self._clock_synced = clock_synced
        self._clock_state: bool | None = True if clock_synced is None else None  # no probe: trust the clock
        self._clock_checked = -1e18
        self._devices_lock = threading.Lock()  # device-list loads and the hand-over of their token table
        self._events_lock = threading.Lock()  # _written and the writes (the writer thread's, or in place)
        self._filter = ProximityFilter(filter_settings)
        self._written: set[str] = set()
        # Arrivals for the writer thread, when it runs: (arrival, the time it fired); None asks it to stop.
        self._events: queue.Queue[tuple[Arrival, datetime] | None] = queue.Queue()
        self._writer: threading.Thread | None = None
        self._next_table: TokenTable | None = None  # built by a device-list load, for the scanner's thread
        self.events_written = 0
        self._devices_key: object = None
        self._resolved: dict[bytes, tuple[str, int | None] | None] = {}  # service data -> (device, calibration)
        self._resolved_offset = 0
        self._slot_start = -math.inf
        self._slot_end = -math.inf
        # Reports timed in [_fast_start, _fast_end) need no look beyond the per-slot cache: the same slot, the
        # device list re-checked less than DEVICES_RECHECK_S of report time ago, no table waiting to be taken up.
        self._fast_start = self._fast_end = -math.inf
        self._version: int | None = None
        self._version_checked = -1e18
        self._load_table()
        self._take_table()
        self._check_clock()

    # -- registered devices -------------------------------------------------------------------
    def _load_table(self) -> None:
        """Read the active devices; a changed list gets a new token table, handed to the scanner's thread."""
        with self._devices_lock:
            self._version = self._data_version()
            rows = list(RegisteredDevice.select(RegisteredDevice.device_id, RegisteredDevice.customer_ref,
                                                RegisteredDevice.segment, RegisteredDevice.secret)
                        .where(RegisteredDevice.active == True)  # noqa: E712
                        .order_by(RegisteredDevice.device_id).tuples())
            key = tuple((d, c, g, bytes(s)) for d, c, g, s in rows)
            if key == self._devices_key:
                return  # another table changed: keep the token table (rebuilding costs HMACs)
            self._customers = {d: (c, g) for d, c, g, _ in key}  # one assignment: readers see the old or the new
            self._next_table = TokenTable([(d, s) for d, _, _, s in key], slot_s=self._slot_s, skew_slots=self._skew,
                                          wide_skew_slots=self._wide_skew, clock_trusted=self._clock_state is True)
            self._devices_key = key
            self._fast_end = -math.inf  # after _next_table: the scanner's next report takes the table up

    def _take_table(self) -> None:
        """On the scanner's thread: use the token table a device-list load built (if any) from now on."""
        with self._devices_lock:
            table, self._next_table = self._next_table, None
        if table is None:
            return
        old = getattr(self, "_table", None)
        if old is not None:
            table.carry_learning(old)  # what the old table learned about the clock, on the thread that taught it
        table.set_clock_trusted(self._clock_state is True)
        self._table = table
        self._slot_end = -math.inf  # answers of the old table: resolve afresh

    def _data_version(self) -> int:
        return self.db.execute_sql("PRAGMA data_version").fetchone()[0]

    def _refresh_devices(self) -> None:
        """Re-read the device list if another connection committed since the last look (at most once a second)."""
        now = time.monotonic()
        if now - self._version_checked < self.DEVICES_RECHECK_S:
            return
        self._version_checked = now
        try:
            if self._data_version() != self._version:
                self._load_table()
        except peewee.PeeweeException:
            log.exception("could not re-read the registered devices; keeping the current list")

    def _check_clock(self) -> None:
        now = time.monotonic()
        if self._clock_synced is None or now - self._clock_checked < self.CLOCK_RECHECK_S:
            return
        first, self._clock_checked = self._clock_checked < -1e17, now
        try:
            state = self._clock_synced()
        except Exception:  # a probe must never stop the radio
            log.exception("clock probe failed")
            state = None
        if state is not True and (first or self._clock_state is True):  # say it once, when it starts
            log.warning("the truck's clock is not known to be synchronised: accepting tokens %d slots either side",
                        self._wide_skew)
        self._clock_state = state
        self._table.set_clock_trusted(state is True)
        self._slot_end = self._fast_end = -math.inf  # the accepted skew changed: resolve afresh

    def load_devices(self, devices: list[dict[str, Any]]) -> int:
        """Replace the registered devices (e.g. from a campaign bundle's ``devices`` list); returns the count."""
        rows = parse_devices(devices)
        with self.db.atomic():
            RegisteredDevice.delete().execute()
            for batch in peewee.chunked(rows, 200):
                RegisteredDevice.insert_many(batch).execute()
        self._load_table()
        log.info("registered devices loaded: %d", len(rows))
        return len(rows)

    def registered_count(self) -> int:
        """How many active devices the truck can recognise."""
        return len(self._customers)

    # -- the scanner's callbacks (scanner thread) ---------------------------------------------
    def on_advertisement(self, adv: "Advertisement") -> None:
        """Resolve, filter and, on an arrival, record the event. Unknown tokens leave no trace. Scanner's thread only."""
        t, _address, rssi, service_data, tx_power = adv  # one unpacking: cheaper than four field lookups
        if not self._fast_start <= t < self._fast_end:  # once a second of report time, a new slot, or a new table
            self._leave_fast_path(t)
        # A phone repeats the same service data all slot long: parse and resolve it once per slot.
        hit = self._resolved.get(service_data, _MISS)
        if hit is _MISS:
            hit = self._resolve(service_data, t)
        if hit is None:
            return
        arrival = self._filter.observe(hit[0], t, rssi, hit[1], tx_power)
        if arrival is not None:
            self._record(arrival)

    def _leave_fast_path(self, t: float) -> None:
        """Re-check the device list when due, take up a new token table, start a new slot's cache; then say how
        long (in report time) the next reports may skip all this. A clock set back leaves the range too."""
        if _monotonic() - self._version_checked >= self.DEVICES_RECHECK_S:
            self._refresh_devices()
        if self._next_table is not None:
            self._take_table()
        if not self._slot_start <= t < self._slot_end:  # a new slot, or a new table (which sets _slot_end to -inf)
            self._reset_resolved(t)
        self._fast_start, self._fast_end = self._slot_start, min(self._slot_end, t + self.DEVICES_RECHECK_S)
        if self._next_table is not None:  # a load handed one over since the look above: the next report takes it
            self._fast_end = -math.inf

    def _reset_resolved(self, t: float) -> None:
        self._resolved = {}
        self._slot_start = (t // self._slot_s) * self._slot_s if math.isfinite(t) else -math.inf
        self._slot_end = self._slot_start + self._slot_s

    def _resolve(self, service_data: bytes, t: float) -> tuple[str, int | None] | None:
        data = parse_service_data(service_data)
        device_id = None if data is None else self._table.resolve(data.token, t)
        hit = None if device_id is None else (device_id, data.measured_power_dbm)  # type: ignore[union-attr]
        if self._table.offset_slots != self._resolved_offset:  # the table moved its centre: forget old answers
            self._resolved_offset = self._table.offset_slots
            self._reset_resolved(t)
        if len(self._resolved) < 50_000:  # bounded whatever a crowd of strangers advertises
            self._resolved[bytes(service_data)] = hit
        return hit

    def tick(self, now_s: float | None = None) -> None:
        """Advance the filter without a report (expires silent phones); re-checks devices and the clock."""
        now = _monotonic()  # both re-checks are due rarely: look before calling
        if now - self._version_checked >= self.DEVICES_RECHECK_S:
            self._refresh_devices()
        if self._clock_synced is not None and now - self._clock_checked >= self.CLOCK_RECHECK_S:
            self._check_clock()
        t = self.clock.now().timestamp() if now_s is None else now_s
        for arrival in self._filter.tick(t):
            self._record(arrival)

    # -- events -------------------------------------------------------------------------------
    def window_for(self, when: datetime) -> Window:
        """The campaign window at ``when``, else the business day (id ``day:YYYY-MM-DD``)."""
        window = self.current_window(when) if self.current_window else None
        if window is not None:
            return window
        day = business_day(when, self._tz, self._day_start)
        start = datetime(day.year, day.month, day.day, self._day_start, tzinfo=ZoneInfo(self._tz)).astimezone(timezone.utc)
        return f"day:{day.isoformat()}", start, start + timedelta(days=1)

    def _record(self, arrival: Arrival) -> None:
        """Queue the arrival for the writer thread while it runs, else write its event here and now."""
        now = self.clock.now()  # the outbox row's time: when the arrival fired, not when it is written
        writer = self._writer
        if writer is not None and writer.is_alive():
            self._events.put((arrival, now))
            return
        with self._events_lock:
            event = self._event_of(arrival, now)
            if event is not None and self._write(event):
                self._written.add(event.key)

    def _event_of(self, arrival: Arrival, now: datetime) -> _Event | None:
        """The event an arrival records (its customer, campaign window, outbox body), or None: unknown customer,
        or already written for this window. Under _events_lock."""
        customer, segment = self._customers.get(arrival.key, (None, None))
        if customer is None:  # unregistered between resolve and arrival
            return None
        at = datetime.fromtimestamp(arrival.t_s, timezone.utc)
        campaign_id, start, end = self.window_for(at)
        key = f"proximity:{customer}:{campaign_id}:{start.isoformat()}"
        if key in self._written:
            return None
        first_seen = datetime.fromtimestamp(arrival.first_seen_s, timezone.utc)
        body = {"event_key": key, "truck": self.truck_id, "customer_ref": customer, "segment": segment,
                "campaign_id": None if campaign_id.startswith("day:") else campaign_id,
                "window_start": start.isoformat(), "window_end": end.isoformat(), "source": "truck_scan",
                "first_seen": first_seen.isoformat(), "distance_m": arrival.distance_m, "rssi_dbm": arrival.rssi_dbm,
                "zone": ZONE_NAMES[arrival.zone]}
        return _Event(key, customer, segment, campaign_id, first_seen, arrival.distance_m, arrival.rssi_dbm, body, now)

    def _write(self, event: _Event) -> bool:
        """One event and its outbox row in one transaction (unless already there); False if it could not be written."""
        return self._write_group([event])[0]

    def _write_group(self, events: list[_Event]) -> list[bool]:
        """Events in one transaction, each with its outbox row (one commit, one fsync, for all of them); if that
        fails, each on its own, so one event that cannot be written never holds back the others."""
        try:
            with self.db.atomic():
                written = [self._insert(event) for event in events]
        except peewee.PeeweeException:
            if len(events) > 1:
                log.warning("could not record %d proximity events together; trying each on its own", len(events))
                return [self._write_group([event])[0] for event in events]
            log.exception("could not record proximity event %s; will retry on the next arrival", events[0].key)
            return [False]
        for event, new in zip(events, written):
            if new:
                self.events_written += 1
                log.info("proximity event: %s (%s) %.1f m", event.customer, event.campaign_id, event.distance_m)
        return [True] * len(events)

    def _insert(self, e: _Event) -> bool:
        """Inside a transaction: the event and its outbox row, unless the event is there already (False)."""
        if self.db.execute_sql(_EVENT_EXISTS + self.db.param, [e.key]).fetchone() is not None:
            return False
        _EVENT_INSERT.one(self.db, (e.key, e.customer, e.body["campaign_id"], e.segment, "truck_scan", e.first_seen,
                                    e.distance_m, e.rssi_dbm))
        outbox.append("proximity", e.body, now=e.now, key=str(uuid.uuid5(_EVENT_NS, e.key)))
        return True

    # -- the event writer (a thread of its own while the radio runs) -------------------------
    def start_event_writer(self) -> None:
        """Write events on a thread of their own, so the radio's thread never waits for the disk (a commit
        is an fsync: milliseconds, tens of them on an SD card). :meth:`start_scanning` starts it; idempotent."""
        if getattr(self.db, "database", None) == ":memory:":
            return  # another thread's connection would be another (empty) database: write in place
        with self._events_lock:
            if self._writer is not None and self._writer.is_alive():
                return
            self._writer = threading.Thread(target=self._write_events, name="proximity-events", daemon=True)
            self._writer.start()

    def _write_events(self) -> None:
        try:
            stop = False
            while not stop:
                group = [self._events.get()]
                # Group commit: what arrives within WRITE_GROUP_DELAY_S of the first (or queued up during the last
                # commit) goes in the same transaction, one fsync for all of them.
                deadline = _monotonic() + WRITE_GROUP_DELAY_S
                while group[-1] is not None and len(group) < WRITE_GROUP_MAX:
                    wait = deadline - _monotonic()
                    try:
                        group.append(self._events.get(timeout=wait) if wait > 0 else self._events.get_nowait())
                    except queue.Empty:
                        break
                stop = group[-1] is None
                self._write_arrivals([item for item in group if item is not None])
                for _ in group:
                    self._events.task_done()
        finally:
            self.db.close()  # this thread's connection

    def _write_arrivals(self, arrivals: list[tuple[Arrival, datetime]]) -> None:
        """The events of these arrivals in one transaction; a failed one is forgotten, so the customer's next
        arrival retries it. Never raises (the writer must outlive a bad group)."""
        events: list[_Event] = []
        with self._events_lock:
            try:
                for arrival, now in arrivals:
                    event = self._event_of(arrival, now)
                    if event is not None:
                        self._written.add(event.key)  # a second arrival of the same window in the group is skipped
                        events.append(event)
                done = self._write_group(events) if events else []
            except Exception:
                log.exception("proximity event writer failed on %d arrival(s)", len(arrivals))
                done = [False] * len(events)
            for event, ok in zip(events, done):
                if not ok:
                    self._written.discard(event.key)  # the next arrival of that customer retries

    def flush_events(self) -> None:
        """Wait until every event handed to the writer is written (or has failed)."""
        self._events.join()

    def stop_event_writer(self) -> None:
        """Write what is queued, then end the writer thread (events are written in place again)."""
        with self._events_lock:  # from here on, events are written in place
            writer, self._writer = self._writer, None
        if writer is not None and writer.is_alive():
            self._events.put(None)
            writer.join()
        while True:  # an arrival queued just as the writer stopped: write it here
            try:
                item = self._events.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                self._write_arrivals([item])
            self._events.task_done()

    def event_for(self, customer_ref: str, campaign_id: str | None) -> ProximityEvent | None:
        """The latest proximity event of a customer in a campaign (for linking a redemption)."""
        return (ProximityEvent.select().where(ProximityEvent.customer_ref == customer_ref, ProximityEvent.campaign_id == campaign_id)
                .order_by(ProximityEvent.first_seen_utc.desc()).first())

    # -- what the register shows --------------------------------------------------------------
    def nearby_count(self) -> int:
        """Distinct registered customers near or at the window right now."""
        customers = self._customers  # both are whole values, replaced (never changed) by the threads that own them
        return len({customers[k][0] for k in self._filter.in_range() if k in customers})

    def nearby_text(self) -> str:
        """E.g. "3 registered customers nearby"."""
        n = self.nearby_count()
        return f"{n} registered customer{'s' if n != 1 else ''} nearby"

    def clock_text(self) -> str:
        """"" when the clock is known good, else e.g. "clock not synced (phones say +60 min)"."""
        if self._clock_state is True:
            return ""
        offset = self._table.clock_offset_s()
        if offset is None or offset == 0:
            return "clock not synced"
        return f"clock not synced (phones say {'+' if offset > 0 else '-'}{abs(offset) / 60:.0f} min)"

    def scan_mode_text(self) -> str:
        """The radio's mode for the status bar, e.g. "active scan, every report (BlueZ 5.66)"; "" without a radio."""
        return self.scanner.mode_text() if self.scanner is not None else ""

    def status_text(self) -> str:
        """One line for the status bar: nearby count, scan mode, and the clock when it is not known good."""
        beacon = self.advertiser.status_text() if self.advertiser is not None else ""
        return " · ".join(p for p in (self.nearby_text(), self.scan_mode_text(), beacon, self.clock_text()) if p)

    def status(self) -> dict[str, Any]:
        """Radio state and counts for the status screen."""
        radio = self.scanner.status() if self.scanner is not None else None
        return {"radio": radio.state if radio else "off", "mode": radio.mode if radio else "", "message": radio.message if radio else "",
                "restarts": radio.restarts if radio else 0, "nearby": self.nearby_count(), "registered": self.registered_count(),
                "events_written": self.events_written, "scan_mode": self.scan_mode_text(), "clock": self.clock_text(),
                "dropped_reports": self._filter.dropped}

    def start_scanning(self) -> None:
        """Start the event writer and the radio (and the beacon), if attached (the UI calls this once it is up)."""
        if self.scanner is not None:
            self.start_event_writer()
        for part in (self.scanner, self.advertiser):
            if part is not None:
                part.start()

    def stop(self) -> None:
        """Stop the radio and the beacon, then write the events still queued."""
        for part in (self.scanner, self.advertiser):
            if part is not None:
                part.stop()
        self.stop_event_writer()
