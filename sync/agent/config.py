"""The sync agent's settings, the status it reports, and how it words a refused login."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sync.transport import BrokerLogin
from truck_pos.errors import ConfigError


@dataclass(frozen=True)
class AgentConfig:
    """Who the truck is, where its broker is, and how hard to push."""

    truck_id: str
    login: BrokerLogin = BrokerLogin()
    max_inflight: int = 20
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0
    ack_timeout_s: float = 30.0  # hub ack stuck this long with rows out: re-send the gaps it lists
    resend_batch: int = 20_000  # at most this many rows re-sent per stuck ack (what is missing, not more)
    client_id: str = ""  # default: truck-pos-<truck id>

    @property
    def effective_client_id(self) -> str:
        return self.client_id or f"truck-pos-{self.truck_id}"

    @classmethod
    def from_settings(cls, settings: Any) -> "AgentConfig":
        """Build from the frozen Settings (reads ``[mqtt] password_file``; the password is never logged)."""
        m = settings.mqtt
        password = ""
        if m.password_file:
            try:
                password = Path(m.password_file).expanduser().read_text("utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"[mqtt] password_file {m.password_file}: {exc.strerror}") from exc
        login = BrokerLogin(m.host, m.port, m.username or settings.truck.id, password, m.tls, m.ca_file,
                            m.keepalive_s, m.session_expiry_s)
        return cls(settings.truck.id, login, m.max_inflight, m.reconnect_min_s, m.reconnect_max_s, m.ack_timeout_s)


@dataclass(frozen=True)
class SyncStatus:
    """What the status bar shows. ``queued``: not yet at the broker; ``unacked``: at the broker, not yet ingested."""

    connected: bool
    queued: int
    unacked: int
    acked_through_seq: int
    last_ack_utc: datetime | None
    last_error: str
    rejected: int = 0  # up messages the hub did not store as sent (down/rejected)
    last_rejection: str = ""  # the hub's reason for the latest of them


def explain_connect_failure(reason: Any, login: BrokerLogin) -> str:
    """A sentence for the staff/owner about a refused CONNECT."""
    text = str(reason)
    where = f"{login.host}:{login.port}"
    if "user name or password" in text.lower() or "not authorized" in text.lower():
        return (f"Broker {where} refused the login for {login.username or '(no user)'!r}: {text}. "
                "Check [mqtt] username and password_file.")
    return f"Broker {where} refused the connection: {text}"
