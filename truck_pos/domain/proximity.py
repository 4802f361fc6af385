"""Proximity filter (pure): smoothed RSSI per device -> zone (gone / near / at the window) -> arrivals.

Why a time-aware EMA and not a 1-D Kalman filter: for a constant-level model a Kalman filter's
gain converges to a fixed value, i.e. it *becomes* an EMA; its extra output (the variance) is not
used because we decide on coarse zones with hysteresis, not metres. What matters on real radios
is irregular timing (BlueZ de-duplication gives one report per several seconds) and deep
multipath fades. The EMA handles the first with ``alpha = 1 - exp(-dt / tau_s)`` (a report after a
long gap counts almost fully, ten reports in a burst count like one), and the second by clipping
each innovation to ``clip_db`` so a single -20 dB fade cannot push a customer out of range. It is
also two multiplications per advertisement, which keeps the pipeline far above 20,000 ads/s.

Distance uses the log-distance path-loss model ``rssi = P1m - 10 n log10(d)``; ``P1m`` (the RSSI at
1 m) comes from the phone's calibrated value in our service data, else from the advertised TX
power level minus 41 dB (free-space loss at 1 m, 2.4 GHz), else a default. Distances are only
used to pick zones; ±30 % error is normal.

Times are float seconds (any epoch, but the same for all calls); nothing here reads a clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

GONE, NEAR, WINDOW = 0, 1, 2
ZONE_NAMES = ("gone", "near", "window")
FREE_SPACE_LOSS_1M_DB = 41.0
APPROACH_MARGIN_DB = 0.0


@dataclass(frozen=True)
class FilterSettings:
    """Thresholds with defaults for a food truck's ~10-20 m range."""

    tau_s: float = 1.0  # EMA time constant
    clip_db: float = 12.0  # largest step one report may move the smoothed RSSI
    path_loss_exponent: float = 2.2  # 2 in free space; 2-3 outdoors near people and a truck
    measured_power_dbm: float = -59.0  # RSSI at 1 m when the phone does not say
    near_enter_m: float = 10.0
    near_exit_m: float = 15.0
    window_enter_m: float = 3.0
    window_exit_m: float = 5.0
    dwell_s: float = 10.0  # in range this long (continuously, counted from the approach) before an arrival
    min_in_range_s: float = 5.0  # ... of which at least this long inside the enter distance
    silence_s: float = 15.0  # no report for this long: the device is gone

    def __post_init__(self) -> None:
        if not (0 < self.window_enter_m <= self.window_exit_m <= self.near_exit_m and self.near_enter_m <= self.near_exit_m):
            raise ValueError("need 0 < window_enter_m <= window_exit_m <= near_exit_m and near_enter_m <= near_exit_m")
        if self.tau_s <= 0 or self.dwell_s < 0 or self.silence_s <= 0 or self.path_loss_exponent <= 0:
            raise ValueError("tau_s, silence_s and path_loss_exponent must be > 0, dwell_s >= 0")


@dataclass(frozen=True, slots=True)
class Arrival:
    """A device has been in range for the dwell time: raise (at most) one event for it."""

    key: str
    t_s: float
    first_seen_s: float
    distance_m: float
    rssi_dbm: float
    zone: int


class _Track:
    __slots__ = ("rssi", "last_t", "zone", "since", "entered", "approach", "arrived", "p1m")

    def __init__(self, rssi: float, t: float, p1m: float):
        self.rssi, self.last_t, self.p1m = rssi, t, p1m
        self.zone, self.since, self.entered, self.arrived = GONE, t, t, False
        self.approach: float | None = None  # while gone: since when it has been inside the exit distance


def distance_m(rssi_dbm: float, p1m_dbm: float, exponent: float) -> float:
    """Log-distance path-loss estimate in metres."""
    return 10.0 ** ((p1m_dbm - rssi_dbm) / (10.0 * exponent))


def reference_power(measured_power_dbm: float | None, tx_power_dbm: float | None, default_dbm: float) -> float:
    """RSSI at 1 m: the phone's calibrated value, else TX power level - 41 dB, else the default."""
    if measured_power_dbm is not None:
        return float(measured_power_dbm)
    if tx_power_dbm is not None:
        return float(tx_power_dbm) - FREE_SPACE_LOSS_1M_DB
    return default_dbm


class ProximityFilter:
    """Per-device smoothing, zones with hysteresis, dwell and silence; keyed by identity, never by address."""

    def __init__(self, settings: FilterSettings | None = None):
        self.settings = s = settings or FilterSettings()
        self._tracks: dict[str, _Track] = {}
        self._in_range: set[str] = set()
        # Zone thresholds as path loss in dB (P1m - rssi), so a report needs no logarithm.
        k = 10.0 * s.path_loss_exponent
        self._near_in, self._near_out = k * math.log10(s.near_enter_m), k * math.log10(s.near_exit_m)
        self._win_in, self._win_out = k * math.log10(s.window_enter_m), k * math.log10(s.window_exit_m)

    def observe(self, key: str, t_s: float, rssi_dbm: float, measured_power_dbm: float | None = None,
                tx_power_dbm: float | None = None) -> Arrival | None:
        """Feed one report; returns an arrival when this report completes the dwell."""
        s = self.settings
        tr = self._tracks.get(key)
        if tr is None or t_s - tr.last_t > s.silence_s:
            p1m = reference_power(measured_power_dbm, tx_power_dbm, s.measured_power_dbm)
            tr = self._tracks[key] = _Track(rssi_dbm, t_s, p1m)
            self._in_range.discard(key)
        else:
            dt = t_s - tr.last_t
            alpha = 1.0 - math.exp(-(dt if dt > 0.05 else 0.05) / s.tau_s)
            step = rssi_dbm - tr.rssi
            if step > s.clip_db:
                step = s.clip_db
            elif step < -s.clip_db:
                step = -s.clip_db
            tr.rssi += alpha * step
            tr.last_t = t_s
            if measured_power_dbm is not None:
                tr.p1m = float(measured_power_dbm)
        self._update_zone(key, tr, t_s, tr.p1m - rssi_dbm)
        return self._maybe_arrive(key, tr, t_s)

    def _update_zone(self, key: str, tr: _Track, t_s: float, raw_loss: float) -> None:
        loss = tr.p1m - tr.rssi
        zone = tr.zone
        if loss <= self._win_in or (zone == WINDOW and loss <= self._win_out):
            new = WINDOW
        elif (zone == GONE and loss <= self._near_in) or (zone != GONE and loss <= self._near_out):
            new = NEAR
        else:
            new = GONE
        if zone == GONE:
            # The visit starts with the first raw report inside the exit distance on the way in
            # (smoothed level not fallen back beyond it since), so smoothing lag does not delay the
            # dwell and first_seen by seconds; min_in_range_s keeps passers-by out.
            if loss > self._near_out:
                tr.approach = None
            if tr.approach is None and raw_loss <= self._near_out:
                tr.approach = t_s
        if new == zone:
            return
        if zone == GONE:
            tr.entered = t_s
            tr.since = t_s if tr.approach is None else tr.approach
            tr.approach = None
            self._in_range.add(key)
        elif new == GONE:
            tr.arrived = False
            self._in_range.discard(key)
        tr.zone = new

    def _maybe_arrive(self, key: str, tr: _Track, t_s: float) -> Arrival | None:
        s = self.settings
        if tr.zone == GONE or tr.arrived or t_s - tr.since < s.dwell_s or t_s - tr.entered < s.min_in_range_s:
            return None
        tr.arrived = True
        d = distance_m(tr.rssi, tr.p1m, self.settings.path_loss_exponent)
        return Arrival(key, t_s, tr.since, round(d, 2), round(tr.rssi, 1), tr.zone)

    def tick(self, t_s: float) -> list[Arrival]:
        """Advance time without a report: complete dwells, drop devices silent for ``silence_s``."""
        arrivals: list[Arrival] = []
        silence = self.settings.silence_s
        for key in list(self._in_range):
            tr = self._tracks[key]
            if t_s - tr.last_t > silence:
                tr.zone, tr.arrived = GONE, False
                self._in_range.discard(key)
                continue
            arrival = self._maybe_arrive(key, tr, t_s)
            if arrival:
                arrivals.append(arrival)
        if len(self._tracks) > 4 * len(self._in_range) + 1024:  # forget long-gone devices
            self._tracks = {k: v for k, v in self._tracks.items() if t_s - v.last_t <= silence}
        return arrivals

    def in_range(self) -> frozenset[str]:
        """Keys currently near or at the window."""
        return frozenset(self._in_range)

    def zone_of(self, key: str) -> int:
        """The current zone of a key (GONE if unknown)."""
        tr = self._tracks.get(key)
        return GONE if tr is None else tr.zone
