"""Reach settings (a JSON file given to ``truck-pos-hub --reach-config``): channels, keys, links, pacing.

Example (secrets live in their own 0600 files, never in this file)::

    {"base_url": "https://hub.example.com", "secret_file": "reach.secret", "code_key_file": "campaign_owner.key",
     "timezone": "America/Chicago", "workers": 2,
     "email": {"host": "smtp.example.com", "port": 587, "sender": "Truck <hello@example.com>", "starttls": true,
               "username": "hello@example.com", "password_file": "smtp.pw"},
     "sms": {"account_sid": "AC...", "auth_token_file": "twilio.token", "from": "+13125550000"},
     "push": {"vapid_private_key_file": "vapid.pem", "subject": "mailto:owner@example.com"},
     "facebook": {"page_id": "123", "token_file": "fb.token"}, "x": {"token_file": "x.token"},
     "webhook": {"url": "https://crm.example.com/hook", "secret_file": "webhook.secret"}}
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from sync.hub.messaging.channels import (Channel, ManualChannel, SmtpChannel, SocialChannel, TwilioChannel,
                                         WebhookChannel, WebPushChannel)

CHANNEL_FIELDS = {
    "email": ("host", "port", "sender", "username", "password_file", "starttls", "timeout"),
    "sms": ("account_sid", "auth_token_file", "from", "base_url", "timeout"),
    "push": ("vapid_private_key_file", "subject", "timeout"),
    "facebook": ("base_url", "page_id", "token_file", "timeout"),
    "x": ("base_url", "token_file", "timeout"),
    "webhook": ("url", "secret_file", "timeout"),
}
TOP_FIELDS = ("base_url", "secret_file", "code_key_file", "timezone", "workers", "lease_s", "poll_s", "max_attempts",
              "backoff_s", "batch") + tuple(CHANNEL_FIELDS)


class ReachConfigError(ValueError):
    """The reach settings file is wrong; ``str()`` says where."""


def _read_secret(path: str, where: str) -> str:
    try:
        return Path(path).read_text("utf-8").strip()
    except OSError as exc:
        raise ReachConfigError(f"{where}: cannot read {path}: {exc.strerror}") from None


def load_or_make_secret(path: Path) -> bytes:
    """The hub's secret for unsubscribe links: read it, or make a new one in a 0600 file."""
    try:
        return bytes.fromhex(path.read_text("ascii").strip())
    except FileNotFoundError:
        value = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(value + "\n")
        return bytes.fromhex(value)
    except ValueError:
        raise ReachConfigError(f"{path} does not hold a hex secret") from None


@dataclass
class ReachConfig:
    """Everything the scheduler needs besides the database."""

    base_url: str = "http://localhost:8080"
    secret: bytes = b""
    code_key: Ed25519PrivateKey | None = None
    timezone: str = "UTC"
    workers: int = 1
    lease_s: float = 30.0
    poll_s: float = 0.5
    max_attempts: int = 6
    backoff_s: float = 30.0
    batch: int = 50
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)

    def make_channels(self) -> dict[str, Channel]:
        """A fresh set of adapters (one per worker thread: they keep connections open)."""
        made: dict[str, Channel] = {}
        for name, c in self.channels.items():
            timeout = float(c.get("timeout", 10))
            if name == "email":
                made[name] = SmtpChannel(c["host"], int(c.get("port", 25)), c["sender"], username=c.get("username", ""),
                                         password=c.get("password", ""), starttls=bool(c.get("starttls")), timeout=timeout)
            elif name == "sms":
                made[name] = TwilioChannel(c["account_sid"], c["auth_token"], c["from"], base_url=c.get("base_url", ""),
                                           timeout=timeout)
            elif name == "push":
                made[name] = WebPushChannel(c["vapid_private_key"], c["subject"], timeout=timeout)
            elif name in ("facebook", "x"):
                url = c.get("base_url") or _SOCIAL_URL[name]
                made[name] = (SocialChannel(name, url, c["token"], page_id=c.get("page_id", ""), timeout=timeout)
                              if c.get("token") else ManualChannel(name))
            elif name == "webhook":
                made[name] = WebhookChannel(c["url"], c["secret"], timeout=timeout)
        for name in ("facebook", "x"):
            made.setdefault(name, ManualChannel(name))
        return made


_SOCIAL_URL = {"facebook": "https://graph.facebook.com", "x": "https://api.twitter.com"}


def load_reach_config(path: str | Path) -> ReachConfig:
    """Read the JSON settings file (relative secret paths are next to it); unknown fields are an error."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise ReachConfigError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ReachConfigError(f"{path} is not JSON: {exc}") from None
    return config_from_dict(raw, path.parent)


def config_from_dict(raw: Any, base: Path) -> ReachConfig:
    """Build a ReachConfig from the parsed settings document."""
    if not isinstance(raw, dict):
        raise ReachConfigError("reach settings must be a JSON object")
    unknown = sorted(set(raw) - set(TOP_FIELDS))
    if unknown:
        raise ReachConfigError(f"reach settings: unknown field {unknown[0]!r}")
    rel = lambda p: str(p if Path(p).is_absolute() else base / p)  # noqa: E731
    cfg = ReachConfig(base_url=str(raw.get("base_url", ReachConfig.base_url)).rstrip("/"),
                      timezone=str(raw.get("timezone", "UTC")))
    for name in ("workers", "max_attempts", "batch"):
        if name in raw:
            setattr(cfg, name, int(raw[name]))
    for name in ("lease_s", "poll_s", "backoff_s"):
        if name in raw:
            setattr(cfg, name, float(raw[name]))
    cfg.secret = load_or_make_secret(Path(rel(raw.get("secret_file", "reach.secret"))))
    if raw.get("code_key_file"):
        cfg.code_key = load_code_key(rel(raw["code_key_file"]))
    for name, allowed in CHANNEL_FIELDS.items():
        if name not in raw:
            continue
        c = raw[name]
        if not isinstance(c, dict) or set(c) - set(allowed):
            raise ReachConfigError(f"reach settings: {name} must be an object with fields from {', '.join(allowed)}")
        c = dict(c)
        for key, secret_name in (("password_file", "password"), ("auth_token_file", "auth_token"), ("token_file", "token")):
            if key in c:
                c[secret_name] = _read_secret(rel(c.pop(key)), name)
        if "secret_file" in c:
            c["secret"] = _read_secret(rel(c.pop("secret_file")), name).encode("utf-8")
        if "vapid_private_key_file" in c:
            c["vapid_private_key"] = Path(rel(c.pop("vapid_private_key_file"))).read_bytes()
        cfg.channels[name] = c
    return cfg


def load_code_key(path: str) -> Ed25519PrivateKey:
    """The Ed25519 key personal codes are signed with (the owner's, or one named by the campaign's code_public_key)."""
    try:
        key = load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ReachConfigError(f"{path} is not a readable unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ReachConfigError(f"{path} is not an Ed25519 key")
    return key
