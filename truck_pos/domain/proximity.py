"""Proximity detector v2 (pure): sane reports -> robust path loss per phone -> zones -> one arrival per visit.

Each report is sanity-checked first: HCI's +127 ("RSSI not available"), any positive value and
anything outside -110..0 dBm is dropped, as is a report older than the phone's last one. The
phone's calibration (RSSI at 1 m) is used only inside -75..-40 dBm; else the advertised TX power
level - 41 dB if that lands inside the same range; else the default; and then only ``calibration_weight``
of the way from the default, since phones misstate it (+-6 dB) by more than their radios differ.

Each kept report becomes a path loss ``L = P1m - rssi`` (dB above the loss at 1 m). The estimate is
the median of the reports of the last ``median_s`` seconds: one deep fade or one lucky peak moves
a median not at all, and unlike an EMA it does not lag by a time constant. Zones use that median
with hysteresis; the exits (15 m near, 12 m window) sit far beyond where customers wait and talk
(3-8 m), so a waiting customer never flaps out and back in.

An arrival needs, at the moment of a report (never on a silent tick):
- the median, projected ``lead_s`` ahead along the approach trend (least-squares slope of L over
  ``trend_s``; only an approach counts), inside ``window_enter_m``; and
- ``support_n`` reports inside the window zone during the last ``support_s`` seconds, or only
  ``support_n_approach`` when the phone has come ``approach_db`` closer over ``trend_s``.
So a customer walking up fires as they reach the window, a phone heard once and then silent never
fires, and someone standing 15-25 m away needs the median of several reports to read 3-5x
too close. A phone reported under ``sparse_rate_hz`` (BlueZ de-duplication: each report is a change
of level) is judged on the median of its last ``sparse_n`` reports and ``sparse_support_n`` of them
inside ``sparse_enter_m``, without the approach lead, and never on its first ``sparse_n`` reports
unless one of its visit read from outside. Most reports (a far phone, one already served and waiting)
cannot change a zone or fire: per-phone counts of the last second's reports say so without a sort.
Distances use the log-distance model ``L = 10 n log10(d)``; they pick zones, not metres.

Times are float seconds (any epoch, but the same for all calls); nothing here reads a clock.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass

GONE, NEAR, WINDOW = 0, 1, 2
ZONE_NAMES = ("gone", "near", "window")
FREE_SPACE_LOSS_1M_DB = 41.0
RSSI_MIN_DBM, RSSI_MAX_DBM = -110.0, 0.0  # anything else is not a measurement (+127: HCI "not available")
CALIBRATION_MIN_DBM, CALIBRATION_MAX_DBM = -75.0, -40.0  # a phone's RSSI at 1 m; outside: a bug or a forgery
_HISTORY = 48  # reports kept per phone (bounds memory whatever the rate)
_TRIM = 2 * _HISTORY  # a phone's lists are cut back to _HISTORY when they reach this
_INF = math.inf


@dataclass(frozen=True)
class FilterSettings:
    """Detector thresholds; the defaults suit a truck's serving window (see the module docstring)."""

    path_loss_exponent: float = 2.2  # 2 in free space; 2-3 outdoors near people and a truck
    measured_power_dbm: float = -59.0  # RSSI at 1 m when the phone gives no usable value
    near_enter_m: float = 10.0
    near_exit_m: float = 15.0
    window_enter_m: float = 4.8  # estimated; a phone in a pocket reads ~1.5x farther than it is
    window_exit_m: float = 12.0
    median_s: float = 1.0  # robust estimate over this many seconds of reports
    support_s: float = 3.0
    support_n: int = 3
    support_n_approach: int = 3  # 2 fires sooner but let a passer-by at 12.7 m through (benchmarks/README.md)
    trend_s: float = 6.0
    approach_db: float = 6.0
    lead_s: float = 2.0  # fire this far ahead of the window along an approach ...
    lead_db: float = 4.0  # ... but never more than this many dB ahead ...
    approach_rate_db_s: float = 2.0  # ... and only when closing at least this fast (walking up, not by)
    silence_s: float = 15.0  # no report for this long: the phone is gone
    calibration_weight: float = 0.3  # trust in a phone's advertised calibration (0 = ignore it, 1 = as is)
    sparse_rate_hz: float = 2.0  # fewer reports a second than this over trend_s: BlueZ de-duplicated reports
    sparse_n: int = 2  # sparse: estimate from the last this many reports (each one is a real change of level)
    sparse_support_n: int = 1
    sparse_enter_m: float = 5.75

    def __post_init__(self) -> None:
        if not (0 < self.window_enter_m <= self.window_exit_m and 0 < self.near_enter_m <= self.near_exit_m
                and self.window_enter_m <= self.near_enter_m):
            raise ValueError("need 0 < window_enter_m <= window_exit_m, window_enter_m <= near_enter_m and "
                             "near_enter_m <= near_exit_m")
        if self.median_s > self.trend_s:
            raise ValueError("need median_s <= trend_s")
        if min(self.median_s, self.support_s, self.trend_s, self.silence_s, self.path_loss_exponent) <= 0 or min(self.lead_s, self.lead_db) < 0:
            raise ValueError("median_s, support_s, trend_s, silence_s and path_loss_exponent must be > 0, lead_s and lead_db >= 0")
        if (not 0 <= self.calibration_weight <= 1 or self.sparse_rate_hz < 0
                or min(self.sparse_n, self.sparse_support_n) < 1):
            raise ValueError("need 0 <= calibration_weight <= 1, sparse_rate_hz >= 0, "
                             "sparse_n and sparse_support_n >= 1")
        if not self.window_enter_m <= self.sparse_enter_m <= self.window_exit_m:
            raise ValueError("need window_enter_m <= sparse_enter_m <= window_exit_m")
        if not 1 <= self.support_n_approach <= self.support_n:
            raise ValueError("need 1 <= support_n_approach <= support_n")
        if not CALIBRATION_MIN_DBM <= self.measured_power_dbm <= CALIBRATION_MAX_DBM:
            raise ValueError(f"measured_power_dbm must be within {CALIBRATION_MIN_DBM:g}..{CALIBRATION_MAX_DBM:g}")


@dataclass(frozen=True, slots=True)
class Arrival:
    """A phone has reached the window: raise (at most) one event for it."""

    key: str
    t_s: float
    first_seen_s: float
    distance_m: float
    rssi_dbm: float
    zone: int


class _Track:
    __slots__ = ("ts", "vs", "last_t", "zone", "first_t", "arrived", "p1m", "measured", "tx", "outside", "close_t",
                 "beyond_t")

    def __init__(self, t: float):
        # Report times and path losses (dB), oldest first; the last _HISTORY of them are the history (trimmed
        # in batches, so most reports are two appends).
        self.ts: list[float] = []
        self.vs: list[float] = []
        self.last_t, self.first_t = t, t
        self.p1m = 0.0
        self.zone, self.arrived = GONE, False
        self.measured: float | None = None  # the calibration values p1m was computed from
        self.tx: float | None = None
        self.outside = False  # a report of this visit read outside the (sparse) window zone
        # The time of the last report that could put a phone near or fire it / that was beyond the window exit:
        # when it is older than the estimate's reports, the median cannot be either, so a far phone or one
        # waiting at the window needs no sort (most reports).
        self.close_t = self.beyond_t = -math.inf


def distance_m(rssi_dbm: float, p1m_dbm: float, exponent: float) -> float:
    """Log-distance path-loss estimate in metres."""
    return 10.0 ** ((p1m_dbm - rssi_dbm) / (10.0 * exponent))


def _plausible(value: float | None, lo: float, hi: float) -> bool:
    return value is not None and isinstance(value, (int, float)) and math.isfinite(value) and lo <= value <= hi


def sane_rssi(rssi_dbm: float | None) -> bool:
    """True for a real measurement: a finite value within -110..0 dBm (drops +127 and positives)."""
    return _plausible(rssi_dbm, RSSI_MIN_DBM, RSSI_MAX_DBM)


def reference_power(measured_power_dbm: float | None, tx_power_dbm: float | None, default_dbm: float) -> float:
    """RSSI at 1 m: the phone's calibration, else TX power level - 41 dB, each only within -75..-40 dBm."""
    if _plausible(measured_power_dbm, CALIBRATION_MIN_DBM, CALIBRATION_MAX_DBM):
        return float(measured_power_dbm)  # type: ignore[arg-type]
    if isinstance(tx_power_dbm, (int, float)) and _plausible(tx_power_dbm - FREE_SPACE_LOSS_1M_DB, CALIBRATION_MIN_DBM,
                                                              CALIBRATION_MAX_DBM):
        return float(tx_power_dbm) - FREE_SPACE_LOSS_1M_DB
    return default_dbm


def _median(values: list[float]) -> float:
    values.sort()
    n = len(values)
    return values[n // 2] if n % 2 else 0.5 * (values[n // 2 - 1] + values[n // 2])


def _slope(ts: list[float], ls: list[float], min_span_s: float) -> float:
    """Least-squares dL/dt in dB/s; 0 with fewer than 3 points or spanning less than ``min_span_s``."""
    n = len(ts)
    if n < 3 or ts[-1] - ts[0] < min_span_s:
        return 0.0
    mt = sum(ts) / n
    ml = sum(ls) / n
    var = sum([(t - mt) ** 2 for t in ts])
    return 0.0 if var <= 1e-9 else sum([(t - mt) * (v - ml) for t, v in zip(ts, ls)]) / var


class ProximityFilter:
    """Per-phone robust estimate, zones with hysteresis, arrivals; keyed by identity, never by address.

    Not locked: feed it (``observe``, ``tick``) from one thread. ``in_range()`` (a snapshot replaced on
    change) and ``dropped`` may be read from any other thread meanwhile.
    """

    def __init__(self, settings: FilterSettings | None = None):
        self.settings = s = settings or FilterSettings()
        self._tracks: dict[str, _Track] = {}
        # Replaced, never changed in place: another thread may read it (the register's "N nearby") while reports
        # are fed, and changes are rare (a phone coming into range or leaving it).
        self._in_range: frozenset[str] = frozenset()
        self.dropped = 0  # reports that failed the sanity checks
        k = 10.0 * s.path_loss_exponent  # thresholds as path loss in dB, so a report needs no logarithm
        self._near_in, self._near_out = k * math.log10(s.near_enter_m), k * math.log10(s.near_exit_m)
        self._win_in, self._win_out = k * math.log10(s.window_enter_m), k * math.log10(s.window_exit_m)
        self._sparse_in = k * math.log10(s.sparse_enter_m)
        self._silence, self._trend_s, self._median_s = s.silence_s, s.trend_s, s.median_s
        self._sparse_n, self._sparse_rate, self._sparse_cap = s.sparse_n, s.sparse_rate_hz, s.sparse_rate_hz * s.trend_s
        # So many reports over trend_s cannot be sparse (more than a phone's lists hold when only an exact count can tell).
        self._dense_n = max(1, math.ceil(self._sparse_cap)) if self._sparse_cap <= _HISTORY else _TRIM + 1
        self._close = max(self._near_in, self._win_in + s.lead_db, self._sparse_in)  # nearer may change a zone or fire
        # No phone in range can have been silent for silence_s before this (a lower bound kept with a margin far
        # above rounding), so most ticks need not look at each phone.
        self._check_at = _INF

    def observe(self, key: str, t_s: float, rssi_dbm: float, measured_power_dbm: float | None = None,
                tx_power_dbm: float | None = None) -> Arrival | None:
        """Feed one report; returns an arrival when this report completes one."""
        tr = self._tracks.get(key)
        try:  # comparisons are False for NaN; None or a string raises: all are dropped
            ok = RSSI_MIN_DBM <= rssi_dbm <= RSSI_MAX_DBM and (-_INF < t_s < _INF if tr is None else tr.last_t <= t_s < _INF)
        except TypeError:
            ok = False
        if not ok:
            self.dropped += 1
            return None
        if tr is None or t_s - tr.last_t > self._silence:
            tr = self._tracks[key] = _Track(t_s)
            if key in self._in_range:
                self._in_range = self._in_range - {key}
            self._calibrate(tr, measured_power_dbm, tx_power_dbm)
        elif measured_power_dbm != tr.measured or tx_power_dbm != tr.tx:  # same on every report: checked once
            self._calibrate(tr, measured_power_dbm, tx_power_dbm)
        tr.last_t = t_s
        value = tr.p1m - rssi_dbm
        ts, vs = tr.ts, tr.vs
        ts.append(t_s)
        vs.append(value)
        if value <= self._close:  # (close >= sparse_in, and the settings keep the window exit >= sparse_in)
            tr.close_t = t_s
            if value > self._sparse_in:
                tr.outside = True
                if value > self._win_out:
                    tr.beyond_t = t_s
        else:
            tr.outside = True
            if value > self._win_out:
                tr.beyond_t = t_s
        m = len(ts)
        if m >= _TRIM:
            del ts[:-_HISTORY], vs[:-_HISTORY]
            m = _HISTORY
        # Skip the estimate when the zone cannot change and no arrival can fire (most reports): a phone out of
        # range with no report near enough among the estimate's reports, or one served at the window with none
        # beyond its exit. The estimate is the median of the last median_s seconds, or of the last sparse_n
        # reports when they are sparse: no such report in either (judged by times, conservatively), no estimate.
        # A skipped estimate is never stored: estimate_db works it out again when asked.
        zone = tr.zone
        if zone == GONE:
            q = tr.close_t
            if q < t_s - self._median_s and (m < self._sparse_n or q < ts[-self._sparse_n]):
                return None
        elif zone == WINDOW and tr.arrived:
            q = tr.beyond_t
            if q < t_s - self._median_s and (m < self._sparse_n or q < ts[-self._sparse_n]):
                return None
        # Few reports a second over the trend: BlueZ de-duplication, where each report is a change of level.
        # count = reports of the last trend_s seconds (of the history); most phones have too many to need it.
        oldest = t_s - self._trend_s
        dense_n = self._dense_n
        if m >= dense_n and ts[-dense_n] >= oldest:
            sparse = False
        else:
            count = min(m - bisect_left(ts, oldest), _HISTORY)
            sparse = self._sparse_n <= count < self._sparse_cap and count < self._sparse_rate * (t_s - tr.first_t + 1e-9)
        if sparse:
            window = sorted(vs[-self._sparse_n:])
        else:
            window = sorted(vs[max(bisect_left(ts, t_s - self._median_s), m - _HISTORY):])
        c = len(window)
        loss = window[c // 2] if c % 2 else 0.5 * (window[c // 2 - 1] + window[c // 2])
        if zone != GONE or loss <= self._near_in:  # else still out of range: nothing to change
            self._update_zone(key, tr, loss)
        s = self.settings
        if tr.arrived or loss - (0.0 if sparse else s.lead_db) > (self._sparse_in if sparse else self._win_in):
            return None  # cannot fire whatever the trend: skip the rest (most reports of most phones)
        start = max(bisect_left(ts, oldest), m - _HISTORY)
        r_ts, r_vs = ts[start:], vs[start:]  # the last trend_s seconds
        if sparse:  # one report stands for the level until the next: no slope to read, fewer reports to ask
            win, ahead, needed = self._sparse_in, 0.0, s.sparse_support_n
            if count == s.sparse_n and not tr.outside:
                return None  # as many reports as the estimate needs, none ever from outside: no approach seen
        else:  # only an approach over a real stretch of time brings the estimate forward, by at most lead_db
            win = self._win_in
            ahead = 0.0
            if loss > win or not s.approach_rate_db_s >= 0:  # else already inside: a lead (>= 0) changes nothing
                slope = _slope(r_ts, r_vs, s.trend_s / 2)
                ahead = min(-slope * s.lead_s, s.lead_db) if slope <= -s.approach_rate_db_s else 0.0
            earlier = [v for t, v in zip(r_ts, r_vs) if t_s - t > s.support_s]
            approaching = bool(earlier) and _median(earlier) - loss >= s.approach_db
            needed = s.support_n_approach if approaching else s.support_n
        if loss - ahead > win:
            return None
        if sum(1 for t, v in zip(r_ts, r_vs) if t_s - t <= s.support_s and v <= win) < needed:
            return None
        tr.arrived = True
        d = 10.0 ** (loss / (10.0 * s.path_loss_exponent))
        return Arrival(key, t_s, tr.first_t, round(d, 2), round(tr.p1m - loss, 1), tr.zone)

    def _calibrate(self, tr: _Track, measured_power_dbm: float | None, tx_power_dbm: float | None) -> None:
        s = self.settings
        tr.measured, tr.tx = measured_power_dbm, tx_power_dbm
        ref = reference_power(measured_power_dbm, tx_power_dbm, s.measured_power_dbm)
        # Shrink toward the default: phones misstate their calibration by more than phones differ.
        tr.p1m = s.measured_power_dbm + s.calibration_weight * (ref - s.measured_power_dbm)

    def _estimate(self, tr: _Track) -> float:
        """The median path loss as of the phone's last report (what that report's estimate was, or would have been)."""
        ts, vs, t_s = tr.ts, tr.vs, tr.last_t
        m = len(ts)
        count = min(m - bisect_left(ts, t_s - self._trend_s), _HISTORY)
        if self._sparse_n <= count < self._sparse_cap and count < self._sparse_rate * (t_s - tr.first_t + 1e-9):
            window = sorted(vs[-self._sparse_n:])
        else:
            window = sorted(vs[max(bisect_left(ts, t_s - self._median_s), m - _HISTORY):])
        c = len(window)
        return window[c // 2] if c % 2 else 0.5 * (window[c // 2 - 1] + window[c // 2])

    def _update_zone(self, key: str, tr: _Track, loss: float) -> None:
        zone = tr.zone
        if loss <= self._win_in or (zone == WINDOW and loss <= self._win_out):
            new = WINDOW
        elif loss <= self._near_in or (zone != GONE and loss <= self._near_out):
            new = NEAR
        else:
            new = GONE
        if new == GONE:
            tr.arrived = False  # gone beyond the near exit: a later approach is a new visit
            if key in self._in_range:
                self._in_range = self._in_range - {key}
        elif key not in self._in_range:
            self._in_range = self._in_range | {key}
            self._check_at = min(self._check_at, self._expiry_bound(tr.last_t))
        tr.zone = new

    def _expiry_bound(self, last_t: float) -> float:
        """A time before which a phone last heard at ``last_t`` cannot be silent for silence_s, whatever the rounding."""
        if last_t == _INF:  # no phone in range
            return _INF
        return last_t + self._silence - 1e-9 * (abs(last_t) + self._silence)

    def tick(self, t_s: float) -> list[Arrival]:
        """Advance time without a report: phones silent for ``silence_s`` are gone. Never raises an arrival."""
        silence = self._silence
        if not t_s < self._check_at:
            earliest = _INF
            gone = set()
            for key in self._in_range:
                tr = self._tracks[key]
                if t_s - tr.last_t > silence:
                    tr.zone, tr.arrived = GONE, False
                    gone.add(key)
                elif tr.last_t < earliest:
                    earliest = tr.last_t
            if gone:
                self._in_range = self._in_range - gone
            self._check_at = self._expiry_bound(earliest)
        if len(self._tracks) > 4 * len(self._in_range) + 1024:  # forget long-gone phones
            self._tracks = {k: v for k, v in self._tracks.items() if t_s - v.last_t <= silence}
        return []

    def in_range(self) -> frozenset[str]:
        """Keys currently near or at the window: a snapshot, safe to read from another thread while reports are fed."""
        return self._in_range

    def zone_of(self, key: str) -> int:
        """The current zone of a key (GONE if unknown)."""
        tr = self._tracks.get(key)
        return GONE if tr is None else tr.zone

    def estimate_db(self, key: str) -> float | None:
        """The current robust path-loss estimate of a key (dB over 1 m), for charts and the status screen."""
        tr = self._tracks.get(key)
        return None if tr is None or not tr.ts else self._estimate(tr)
