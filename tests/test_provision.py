"""Provisioning a truck: bundle files with private modes, broker login and ACL, no secret in any output."""

from __future__ import annotations

import base64
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from truck_pos.cli import main as admin
from truck_pos.cli.provision import acl_lines, mosquitto_hash
from truck_pos.config import load_settings
from truck_pos.keyfiles import read_claim_key, read_mqtt_password


@pytest.fixture
def owner_keys(tmp_path: Path) -> dict[str, Path]:
    """The owner's campaign signing key pair, as the owner keeps it."""
    key = Ed25519PrivateKey.generate()
    folder = tmp_path / "owner"
    folder.mkdir()
    private = folder / "campaign_private.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public = folder / "campaign_public.pem"
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return {"private": private, "public": public}


def provision(tmp_path: Path, key: Path, *extra: str) -> int:
    return admin(["provision", "--out", str(tmp_path / "out"), "--campaign-public-key", str(key),
                  "--broker-host", "mqtt.example.test", *extra])


def secrets_of(bundle: Path) -> list[str]:
    """Every spelling of the bundle's secrets that could leak into text."""
    password = read_mqtt_password(bundle / "mqtt-password")
    claim = read_claim_key(bundle / "claim.key")
    return [password, claim.hex(), base64.b64encode(claim).decode(), base64.urlsafe_b64encode(claim).decode()]


def test_provision_writes_a_private_bundle_and_broker_entries(tmp_path, owner_keys, capfd, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    assert provision(tmp_path, owner_keys["public"], "--truck-id", "truck-07", "--name", "Taco Uno") == 0
    bundle = tmp_path / "out" / "truck-07"
    mode = {p.name: p.stat().st_mode & 0o777 for p in [bundle, *bundle.iterdir()]}
    assert mode == {"truck-07": 0o700, "truck.ini": 0o640, "mqtt-password": 0o600, "claim.key": 0o600,
                    "campaign_public.pem": 0o644}
    assert len(read_claim_key(bundle / "claim.key")) == 32
    assert len(read_mqtt_password(bundle / "mqtt-password")) >= 32
    assert (bundle / "campaign_public.pem").read_bytes() == owner_keys["public"].read_bytes()
    assert b"PRIVATE" not in b"".join(p.read_bytes() for p in bundle.iterdir())

    settings = load_settings(bundle / "truck.ini", env={})
    assert (settings.truck.id, settings.truck.name, settings.mqtt.username) == ("truck-07", "Taco Uno", "truck-07")
    assert settings.mqtt.enabled and settings.mqtt.host == "mqtt.example.test"
    assert settings.mqtt.password_file == "/etc/truck_pos/mqtt-password"
    assert settings.security.claim_key_file == "/etc/truck_pos/claim.key"
    assert settings.security.campaign_public_key_file == "/etc/truck_pos/campaign_public.pem"

    passwd = tmp_path / "out" / "broker" / "passwd"
    assert passwd.stat().st_mode & 0o777 == 0o600
    assert [line.split(":")[0] for line in passwd.read_text().splitlines()] == ["truck-07"]
    assert passwd.read_text().startswith("truck-07:$7$101$")
    acl = (tmp_path / "out" / "broker" / "acl").read_text().splitlines()
    assert acl_lines("truck-07") == acl[1:] == ["user truck-07", "topic write tp/v1/trucks/truck-07/up/#",
                                                "topic write tp/v1/trucks/truck-07/status",
                                                "topic read tp/v1/trucks/truck-07/down/#"]

    out, err = capfd.readouterr()
    said = out + err + "\n".join(r.getMessage() for r in caplog.records)
    assert "truck truck-07 provisioned" in out
    for secret in secrets_of(bundle):
        assert secret not in said


def test_a_generated_truck_id_is_used_everywhere(tmp_path, owner_keys, capsys) -> None:
    assert provision(tmp_path, owner_keys["public"]) == 0
    (bundle,) = [p for p in (tmp_path / "out").iterdir() if p.name != "broker"]
    truck_id = load_settings(bundle / "truck.ini", env={}).truck.id
    assert truck_id == bundle.name and truck_id.startswith("truck-")
    assert f"user {truck_id}" in (tmp_path / "out" / "broker" / "acl").read_text()


def test_the_owners_private_key_is_refused_and_nothing_is_written(tmp_path, owner_keys, capsys) -> None:
    assert provision(tmp_path, owner_keys["private"], "--truck-id", "truck-07") == 1
    assert "PRIVATE key" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("bad_id", ["Truck 7", "tp/v1/#", "t", "truck+"])
def test_a_truck_id_that_cannot_name_topics_is_refused(tmp_path, owner_keys, capsys, bad_id) -> None:
    assert provision(tmp_path, owner_keys["public"], "--truck-id", bad_id) == 1
    assert "truck id" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_provisioning_twice_is_refused_and_force_issues_new_credentials(tmp_path, owner_keys, capsys) -> None:
    assert provision(tmp_path, owner_keys["public"], "--truck-id", "truck-07") == 0
    bundle = tmp_path / "out" / "truck-07"
    old = secrets_of(bundle)
    assert provision(tmp_path, owner_keys["public"], "--truck-id", "truck-07") == 1
    assert "--force" in capsys.readouterr().err
    assert secrets_of(bundle) == old
    assert provision(tmp_path, owner_keys["public"], "--truck-id", "truck-07", "--force") == 0
    new = secrets_of(bundle)
    assert new[0] != old[0] and new[1] != old[1]
    assert (tmp_path / "out" / "broker" / "passwd").read_text().count("truck-07:") == 1
    assert (tmp_path / "out" / "broker" / "acl").read_text().count("user truck-07") == 1


def test_python_hash_is_the_one_mosquitto_passwd_writes(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    passwd.touch(mode=0o600)
    subprocess.run(["mosquitto_passwd", "-b", str(passwd), "someone", "not-a-real-secret"], check=True)
    line = passwd.read_text().strip()
    salt = base64.b64decode(line.split("$")[3])
    assert f"someone:{mosquitto_hash('not-a-real-secret', salt)}" == line


def test_the_scripts_provision_wrapper_runs_the_same_command(tmp_path, owner_keys) -> None:
    script = Path(__file__).resolve().parent.parent / "scripts" / "provision"
    done = subprocess.run([sys.executable, str(script), "--out", str(tmp_path / "out"), "--truck-id", "truck-09",
                           "--campaign-public-key", str(owner_keys["public"])], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    bundle = tmp_path / "out" / "truck-09"
    for secret in secrets_of(bundle):
        assert secret not in done.stdout + done.stderr


def test_key_files_readable_by_others_or_malformed_are_refused(tmp_path: Path) -> None:
    from truck_pos.errors import ConfigError
    from truck_pos.keyfiles import write_private_file

    claim, password = tmp_path / "claim.key", tmp_path / "mqtt-password"
    write_private_file(claim, b"\x01" * 32)
    write_private_file(password, b"  not-a-real-secret \n")
    assert read_claim_key(claim) == b"\x01" * 32 and read_mqtt_password(password) == "not-a-real-secret"
    claim.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        read_claim_key(claim)
    write_private_file(claim, b"\x01" * 16, replace=True)
    assert claim.stat().st_mode & 0o777 == 0o600
    with pytest.raises(ConfigError, match="16 bytes, expected 32"):
        read_claim_key(claim)
    write_private_file(password, b"\n", replace=True)
    with pytest.raises(ConfigError, match="empty"):
        read_mqtt_password(password)
    with pytest.raises(ConfigError, match="cannot be read"):
        read_mqtt_password(tmp_path / "missing")
