"""The agent over TLS (like the fleet's 8883 listener), with a CA made by the test."""

from __future__ import annotations

import ipaddress
import time
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sync.transport import BrokerLogin
from tests.mqtt_broker import FLEET_ACL, MosquittoBroker, free_port
from tests.mqtt_fixtures import FAKE_PASSWORDS, make_agent  # noqa: F401
from truck_pos.errors import ConfigError

pytestmark = pytest.mark.mqtt


def make_ca_and_server(directory) -> tuple[str, str, str]:
    """A throwaway CA and a server certificate for 127.0.0.1 (PEM paths: ca, cert, key)."""
    now = datetime.now(timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "truck_pos test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=1))
          .not_valid_after(now + timedelta(days=1)).add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(ca_key, hashes.SHA256()))
    paths = [directory / "ca.pem", directory / "server.pem", directory / "server.key"]
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return tuple(str(p) for p in paths)  # type: ignore[return-value]


def test_agent_connects_over_tls_and_a_missing_ca_file_is_reported_by_its_config_key(tmp_path, services, make_agent):
    ca, cert, key = make_ca_and_server(tmp_path)
    tls_port = free_port()
    broker = MosquittoBroker(tmp_path, users=FAKE_PASSWORDS, acl_file=FLEET_ACL,
                             extra=f"listener {tls_port} 127.0.0.1\ncertfile {cert}\nkeyfile {key}\ntls_version tlsv1.2\n").start()
    try:
        login = BrokerLogin("127.0.0.1", tls_port, "truck-test", FAKE_PASSWORDS["truck-test"], tls=True, ca_file=ca, keepalive_s=5)
        agent = make_agent(broker, login=login).start()
        deadline = time.monotonic() + 10
        while not agent.status().connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert agent.status().connected, agent.status().last_error
        agent.stop()
        missing = BrokerLogin("127.0.0.1", tls_port, "truck-test", "x", tls=True, ca_file=str(tmp_path / "no-such-ca.pem"))
        with pytest.raises(ConfigError, match=r"\[mqtt\] ca_file .*no-such-ca.pem"):
            make_agent(broker, login=missing).start()
    finally:
        broker.kill()
