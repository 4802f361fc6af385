"""One frozen Settings object, read from an INI file plus TRUCK_POS_* environment overrides.

This is the only module that reads the environment or the config file (see DESIGN.md,
"Configuration and composition"). Every section is a frozen dataclass; a key in the file or an
environment variable ``TRUCK_POS_<SECTION>_<KEY>`` (e.g. ``TRUCK_POS_TRUCK_ID``,
``TRUCK_POS_STORE_PATH``) sets the field of the same name. ``TRUCK_POS_CONFIG`` names the file.
"""

from __future__ import annotations

import configparser
import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from truck_pos.errors import ConfigError

ENV_PREFIX = "TRUCK_POS_"


def default_data_dir() -> Path:
    """The per-user data directory (``~/.local/share/truck_pos`` on Linux)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("truck_pos", appauthor=False))


@dataclass(frozen=True)
class TruckSettings:
    """Who and where this truck is, and how it prices."""

    id: str = "truck-demo"
    name: str = "Demo Truck"
    timezone: str = "America/Chicago"
    tax_mode: str = "exclusive"  # exclusive: tax added on top; inclusive: prices include tax
    currency: str = "USD"
    stop: str = "Main St & 5th"  # the current stop (location) name, used by group reports
    business_day_start_hour: int = 4  # orders before 04:00 local count to the previous day


@dataclass(frozen=True)
class StoreSettings:
    """Where the embedded SQLite database lives."""

    path: str = ""  # empty: <user data dir>/truck.db


@dataclass(frozen=True)
class PrinterSettings:
    """Receipt printer: kind = none | dummy | file | usb | serial | network (none until set up)."""

    kind: str = "none"
    profile: str = "TM-T20II"
    paper_mm: int = 80
    native_qr: str = "auto"  # auto: from the profile; true: GS ( k; false: QR as an image
    cut: str = "auto"  # auto: from the profile; true: cut after each job; false: feed only (tear by hand)
    cjk: bool = True  # print CJK in GB18030 Kanji mode (two cells each); false: replace with ?
    plug_flag: str = "/run/truckpos-printer-plugged"  # udev touches it on plug-in: waiting jobs print at once
    usb_vendor: str = "0x04b8"
    usb_product: str = "0x0e15"
    serial_port: str = "/dev/truckpos-printer"
    serial_baudrate: int = 19200
    host: str = ""
    port: int = 9100
    file_path: str = ""
    columns: int = 0  # 0: from the profile, capped by paper (58 mm: 32, 80 mm: 48)
    kitchen_tickets: bool = True  # also print a kitchen ticket per counter order (mobile orders always get one)


@dataclass(frozen=True)
class ScannerSettings:
    """Pickup-window QR scanner: kind = none | serial."""

    kind: str = "none"
    port: str = "/dev/truckpos-scanner"
    baudrate: int = 9600
    terminator: str = "\\r\\n"
    repeat_window_s: float = 3.0


@dataclass(frozen=True)
class BleSettings:
    """BLE proximity scanning (see README "BLE proximity" and truck_pos.domain.proximity)."""

    enabled: bool = False
    adapter: str = "hci0"
    passive: bool = False  # passive scan: BlueZ de-duplicates its reports (sparse); active uses DuplicateData
    slot_s: int = 300  # token rotation slot; must match the phone app
    skew_slots: int = 1  # accept tokens this many slots either side (phone clock skew)
    wide_skew_slots: int = 14  # ... this many while the truck's clock is not known good (no RTC, no NTP yet)
    clock_check: bool = True  # ask timedatectl/chrony whether the clock is synchronised
    beacon: bool = False  # reverse mode: advertise the truck's iBeacon frame (docs/ble-advertising.md)
    beacon_secret_file: str = ""  # the truck's beacon secret (hex or raw, >= 16 bytes, 0600); the hub has a copy
    beacon_measured_power_dbm: int = -59  # RSSI at 1 m from the truck's antenna, in the frame for the phone
    path_loss_exponent: float = 2.2
    measured_power_dbm: float = -59.0  # RSSI at 1 m for phones that do not advertise a usable one
    near_enter_m: float = 10.0
    near_exit_m: float = 15.0
    window_enter_m: float = 4.8  # estimated distance that counts as "at the window" (see domain.proximity)
    window_exit_m: float = 12.0
    median_s: float = 1.0
    support_s: float = 3.0
    support_n: int = 3
    support_n_approach: int = 3
    trend_s: float = 6.0
    approach_db: float = 6.0
    lead_s: float = 2.0
    lead_db: float = 4.0
    approach_rate_db_s: float = 2.0
    silence_s: float = 15.0  # no report this long: gone
    calibration_weight: float = 0.3  # trust in a phone's advertised RSSI at 1 m (0 ignore .. 1 as is)
    sparse_rate_hz: float = 2.0  # fewer reports/s than this: BlueZ de-duplicated (sparse) reports
    sparse_n: int = 2
    sparse_support_n: int = 1
    sparse_enter_m: float = 5.75
    tick_s: float = 0.5
    watchdog_s: float = 120.0  # no report at all this long: restart the scanner
    restart_backoff_max_s: float = 60.0


@dataclass(frozen=True)
class MqttSettings:
    """Store-and-forward sync to the owner's broker."""

    enabled: bool = False
    host: str = "localhost"
    port: int = 1883
    username: str = ""
    password_file: str = ""
    tls: bool = False
    ca_file: str = ""
    keepalive_s: int = 30
    session_expiry_s: int = 7 * 24 * 3600
    max_inflight: int = 20
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0
    ack_timeout_s: float = 30.0  # no hub ack this long: re-send what the broker may have lost


@dataclass(frozen=True)
class SecuritySettings:
    """Key material (paths only; the files are provisioned, never committed)."""

    campaign_public_key_file: str = ""
    claim_key_file: str = ""
    auto_lock_s: int = 120


@dataclass(frozen=True)
class CustomerSettings:
    """Customers at the register: the hub's customer page and loyalty when no campaign sets it."""

    hub_url: str = "https://hub.example.com"  # sign-up QR: <hub_url>/t/<truck id>; customer QR: <hub_url>/c/<ref>
    loyalty_points_per_dollar: int = 0  # 0: no points unless the active campaign sets "loyalty"
    loyalty_rewards: str = ""  # points:cents tiers, e.g. "100:500, 250:1500"


@dataclass(frozen=True)
class Settings:
    """Everything configurable, in one frozen object."""

    truck: TruckSettings = field(default_factory=TruckSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    printer: PrinterSettings = field(default_factory=PrinterSettings)
    scanner: ScannerSettings = field(default_factory=ScannerSettings)
    ble: BleSettings = field(default_factory=BleSettings)
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    customers: CustomerSettings = field(default_factory=CustomerSettings)
    config_file: str = ""

    @property
    def database_path(self) -> Path:
        """The SQLite file, defaulting to the user's data directory."""
        return Path(self.store.path).expanduser() if self.store.path else default_data_dir() / "truck.db"


def _convert(raw: str, kind: Any, where: str) -> Any:
    try:
        if kind is bool:
            low = raw.strip().lower()
            if low in {"1", "true", "yes", "on"}:
                return True
            if low in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
        if kind is int:
            return int(raw, 0)
        if kind is float:
            return float(raw)
        return raw
    except ValueError as exc:
        raise ConfigError(f"{where}: {raw!r} is not a valid {kind.__name__}") from exc


def _section(cls: type, file_values: Mapping[str, str], env: Mapping[str, str], name: str) -> Any:
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    known = {f.name for f in dataclasses.fields(cls)}
    for key in file_values:
        if key not in known:
            raise ConfigError(f"[{name}] has no key {key!r} (known: {', '.join(sorted(known))})")
    for f in dataclasses.fields(cls):
        env_key = f"{ENV_PREFIX}{name}_{f.name}".upper()
        if env_key in env:
            values[f.name] = _convert(env[env_key], hints[f.name], env_key)
        elif f.name in file_values:
            values[f.name] = _convert(file_values[f.name], hints[f.name], f"[{name}] {f.name}")
    return cls(**values)


def load_settings(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read the config file (if any) and apply environment overrides."""
    env = os.environ if env is None else env
    path = path or env.get(f"{ENV_PREFIX}CONFIG") or ""
    parser = configparser.ConfigParser(interpolation=None)
    if path:
        if not Path(path).is_file():
            raise ConfigError(f"config file {path} not found")
        parser.read(path, encoding="utf-8")
    hints = get_type_hints(Settings)
    sections: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        if f.name == "config_file":
            continue
        file_values = dict(parser[f.name]) if parser.has_section(f.name) else {}
        sections[f.name] = _section(hints[f.name], file_values, env, f.name)
    unknown = set(parser.sections()) - set(sections)
    if unknown:
        raise ConfigError(f"unknown config section(s): {', '.join(sorted(unknown))}")
    settings = Settings(**sections, config_file=str(path))
    validate(settings)
    return settings


# Every number in the settings, with the range that can work ("[section] key" is named in the error).
RANGES: dict[tuple[str, str], tuple[float, float]] = {
    ("truck", "business_day_start_hour"): (0, 23),
    ("printer", "paper_mm"): (58, 80), ("printer", "serial_baudrate"): (300, 4_000_000), ("printer", "port"): (1, 65535),
    ("printer", "columns"): (0, 64),
    ("scanner", "baudrate"): (300, 4_000_000), ("scanner", "repeat_window_s"): (0, 3600),
    ("ble", "slot_s"): (1, 86_400), ("ble", "skew_slots"): (0, 10), ("ble", "wide_skew_slots"): (0, 288),
    ("ble", "beacon_measured_power_dbm"): (-120, 0), ("ble", "path_loss_exponent"): (1, 6),
    ("ble", "measured_power_dbm"): (-120, 0), ("ble", "near_enter_m"): (0.1, 200), ("ble", "near_exit_m"): (0.1, 300),
    ("ble", "window_enter_m"): (0.1, 100), ("ble", "window_exit_m"): (0.1, 150), ("ble", "median_s"): (0.05, 60),
    ("ble", "support_s"): (0.1, 600), ("ble", "support_n"): (1, 1000), ("ble", "support_n_approach"): (1, 1000),
    ("ble", "trend_s"): (0.1, 600), ("ble", "approach_db"): (0, 100), ("ble", "lead_s"): (0, 60), ("ble", "lead_db"): (0, 100),
    ("ble", "approach_rate_db_s"): (0, 100), ("ble", "silence_s"): (0.1, 3600), ("ble", "calibration_weight"): (0, 1),
    ("ble", "sparse_rate_hz"): (0, 100), ("ble", "sparse_n"): (1, 100), ("ble", "sparse_support_n"): (1, 100),
    ("ble", "sparse_enter_m"): (0.1, 100), ("ble", "tick_s"): (0.01, 60), ("ble", "watchdog_s"): (1, 86_400),
    ("ble", "restart_backoff_max_s"): (0.1, 86_400),
    ("mqtt", "port"): (1, 65535), ("mqtt", "keepalive_s"): (5, 65535), ("mqtt", "session_expiry_s"): (0, 2**32 - 1),
    ("mqtt", "max_inflight"): (1, 65535), ("mqtt", "reconnect_min_s"): (0.01, 3600), ("mqtt", "reconnect_max_s"): (0.01, 86_400),
    ("mqtt", "ack_timeout_s"): (0.1, 86_400),
    ("security", "auto_lock_s"): (0, 86_400),
}
# Text settings that must name something (printable, bounded); the truck id's own rules live with the printing code.
TEXTS: dict[tuple[str, str], int] = {("truck", "name"): 100, ("truck", "stop"): 200, ("printer", "profile"): 64,
                                     ("mqtt", "username"): 64, ("ble", "adapter"): 32}


def _check_numbers(settings: Settings) -> None:
    for f in dataclasses.fields(Settings):
        section = getattr(settings, f.name)
        if not dataclasses.is_dataclass(section):
            continue
        for key in dataclasses.fields(section):
            value = getattr(section, key.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            where = f"[{f.name}] {key.name}"
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{where} = {value!r} is not a finite number")
            bounds = RANGES.get((f.name, key.name))
            if bounds is not None and not bounds[0] <= value <= bounds[1]:
                raise ConfigError(f"{where} = {value!r} is out of range ({bounds[0]:g} to {bounds[1]:g})")
    for (name, key), longest in TEXTS.items():
        value = getattr(getattr(settings, name), key)
        if len(value) > longest or not value.isprintable():
            raise ConfigError(f"[{name}] {key} must be printable text of at most {longest} characters")


def validate(settings: Settings) -> None:
    """Refuse settings that cannot work, with a message naming the key."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    _check_numbers(settings)
    try:
        ZoneInfo(settings.truck.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"[truck] timezone {settings.truck.timezone!r} is not a known time zone") from exc
    _check_truck_id(settings.truck.id)
    if settings.truck.tax_mode not in {"inclusive", "exclusive"}:
        raise ConfigError("[truck] tax_mode must be 'inclusive' or 'exclusive'")
    if not (len(settings.truck.currency) == 3 and settings.truck.currency.isascii() and settings.truck.currency.isupper()):
        raise ConfigError("[truck] currency must be a three-letter ISO code such as USD")
    if settings.printer.kind not in {"none", "dummy", "file", "usb", "serial", "network"}:
        raise ConfigError("[printer] kind must be one of none, dummy, file, usb, serial, network")
    for key in ("native_qr", "cut"):
        if str(getattr(settings.printer, key)).strip().lower() not in {"auto", "true", "false", "yes", "no", "1", "0"}:
            raise ConfigError(f"[printer] {key} must be auto, true or false")
    if settings.printer.paper_mm not in {58, 80}:
        raise ConfigError("[printer] paper_mm must be 58 or 80")
    for key in ("usb_vendor", "usb_product"):
        try:
            ok = 0 <= int(getattr(settings.printer, key), 16) <= 0xFFFF
        except ValueError:
            ok = False
        if not ok:
            raise ConfigError(f"[printer] {key} must be a USB id like 0x04b8")
    if settings.scanner.kind not in {"none", "serial"}:
        raise ConfigError("[scanner] kind must be none or serial")
    m = settings.mqtt
    if m.reconnect_min_s > m.reconnect_max_s:
        raise ConfigError(f"[mqtt] reconnect_min_s ({m.reconnect_min_s:g}) must not be more than reconnect_max_s "
                          f"({m.reconnect_max_s:g})")
    if m.enabled and not m.host.strip():
        raise ConfigError("[mqtt] host is empty but [mqtt] enabled is on")


def _check_truck_id(truck_id: str) -> None:
    """The truck id goes into every MQTT topic and every pickup claim: bound it by the sync contract's rule."""
    from sync.protocol import TRUCK_ID_RE

    if not TRUCK_ID_RE.match(truck_id):
        shown = truck_id if len(truck_id) <= 40 else truck_id[:40] + "..."
        raise ConfigError(f"[truck] id {shown!r} ({len(truck_id)} characters): use 1-64 of A-Z a-z 0-9 _ . -, "
                          "starting with a letter or digit (it is part of MQTT topics and pickup codes)")
