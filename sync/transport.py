"""The paho-mqtt 2.x client set up the way both the truck agent and the hub need it (MQTT v5)."""

from __future__ import annotations

from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from truck_pos.errors import ConfigError


@dataclass(frozen=True)
class BrokerLogin:
    """Where the broker is and who we are to it. ``password`` is never logged."""

    host: str = "localhost"
    port: int = 1883
    username: str = ""
    password: str = ""
    tls: bool = False
    ca_file: str = ""
    keepalive_s: int = 30
    session_expiry_s: int = 7 * 24 * 3600

    def __repr__(self) -> str:  # keep the password out of logs and tracebacks
        return f"BrokerLogin({self.host}:{self.port}, user={self.username!r}, tls={self.tls})"


def new_client(client_id: str, login: BrokerLogin) -> mqtt.Client:
    """An MQTT v5 client with credentials and TLS applied (not yet connected)."""
    client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5)
    if login.username:
        client.username_pw_set(login.username, login.password or None)
    if login.tls:
        try:
            client.tls_set(ca_certs=login.ca_file or None)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise ConfigError(f"[mqtt] ca_file {login.ca_file or '(system CAs)'}: cannot be used for TLS ({exc})") from exc
    return client


def connect_persistent(client: mqtt.Client, login: BrokerLogin, *, receive_maximum: int | None = None) -> None:
    """Connect in the background with a persistent session (clean_start False + session expiry).

    ``receive_maximum``: how many QoS 1 messages the broker may have out to us un-acknowledged
    (the hub sets it so its bounded ingest queue can never overflow).
    """
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = login.session_expiry_s
    if receive_maximum:
        props.ReceiveMaximum = receive_maximum
    client.connect_async(login.host, login.port, keepalive=login.keepalive_s, clean_start=False, properties=props)
