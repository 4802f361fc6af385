"""Secret and key files a truck is provisioned with: how they are written and read.

Formats (written by ``truck-pos-admin provision``, read by the truck's services):
- MQTT password file (``[mqtt] password_file``): the password on the first line, mode 0600.
- Claim-code key (``[security] claim_key_file``): exactly 32 random bytes, mode 0600.
- Campaign public key (``[security] campaign_public_key_file``): Ed25519 public key, PEM
  (SubjectPublicKeyInfo). The owner's private key never goes on a truck.
Readers refuse a secret file that group or others can read, like ssh does with its keys.
"""

from __future__ import annotations

import os
from pathlib import Path

from truck_pos.errors import ConfigError

CLAIM_KEY_BYTES = 32


def write_private_file(path: Path, data: bytes, *, replace: bool = False) -> None:
    """Create ``path`` with mode 0600 from the first byte on (no moment where others could read it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path.with_name(f".{path.name}.new") if replace else path
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    if replace and target.exists():
        target.unlink()
    fd = os.open(target, flags, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    if replace:
        os.replace(target, path)


def _read_private(path: str | os.PathLike[str], what: str) -> bytes:
    p = Path(path)
    try:
        mode = p.stat().st_mode & 0o777
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{what} {p} cannot be read ({exc.strerror})") from exc
    if mode & 0o077:
        raise ConfigError(f"{what} {p} is readable by others (mode {mode:04o}); run: chmod 600 {p}")
    return data


def read_mqtt_password(path: str | os.PathLike[str]) -> str:
    """The broker password from ``[mqtt] password_file`` (first line, whitespace stripped)."""
    lines = _read_private(path, "MQTT password file").decode("utf-8").splitlines()
    if not lines or not lines[0].strip():
        raise ConfigError(f"MQTT password file {path} is empty")
    return lines[0].strip()


def read_claim_key(path: str | os.PathLike[str]) -> bytes:
    """The per-truck claim-code key from ``[security] claim_key_file`` (32 bytes)."""
    key = _read_private(path, "claim key file")
    if len(key) != CLAIM_KEY_BYTES:
        raise ConfigError(f"claim key file {path} holds {len(key)} bytes, expected {CLAIM_KEY_BYTES}")
    return key
