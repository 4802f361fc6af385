"""The per-truck claim-code key: a provisioned file, or a random key generated once and kept in the database."""

from __future__ import annotations

import logging
import os
from datetime import date, datetime
from pathlib import Path

import peewee

from truck_pos.domain.claims import make_claim
from truck_pos.errors import ConfigError
from truck_pos.store.models import Order
from truck_pos.store.print_models import DeviceSecret
from truck_pos.store.receipt_rows import StoredOrder

log = logging.getLogger(__name__)

SECRET_NAME = "claim_key"
MIN_KEY_BYTES = 16


def read_key_file(path: str | Path) -> bytes:
    """A key file holds hex text (64 hex digits recommended) or raw bytes; at least 16 bytes."""
    try:
        raw = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(f"[security] claim_key_file {path}: {exc.strerror or exc}") from exc
    text = raw.strip()
    try:
        key = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        key = raw
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(f"[security] claim_key_file {path} holds fewer than {MIN_KEY_BYTES} bytes of key")
    return key


def load_claim_key(db: peewee.Database, key_file: str, now: datetime) -> bytes:
    """The provisioned key if configured, else the database's (created at first run). Never logged or printed."""
    if key_file:
        return read_key_file(key_file)
    with db.atomic():
        row = DeviceSecret.get_or_none(DeviceSecret.name == SECRET_NAME)
        if row is None:
            row = DeviceSecret.create(name=SECRET_NAME, value=os.urandom(32), created_utc=now)
            log.info("generated a new claim-code key (stored in the database)")
    return bytes(row.value)


def claim_for(order: Order | StoredOrder, key: bytes, truck_id: str) -> str:
    """The order's signed claim code (deterministic: a reprint carries the same code)."""
    return make_claim(key, truck_id, date.fromisoformat(order.business_day), order.number, order.uuid)
