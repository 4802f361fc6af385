"""The web face's commands, run as a user would: user add (password on stdin), owner-key (0600), run --web."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time

import httpx
import pytest

from sync.hub.models import open_hub_database
from sync.hub.web.models import HubWebUser
from sync.hub.web.security import verify_password
from tests.mqtt_broker import free_port
from tests.mqtt_fixtures import FAKE_PASSWORDS

HUB = [sys.executable, "-m", "sync.hub.cli"]


def hub_cli(tmp_path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([*HUB, "--db", f"sqlite:///{tmp_path / 'hub.db'}", *args], input=stdin, capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)


def test_user_add_reads_the_password_from_stdin_and_stores_only_a_scrypt_hash(tmp_path):
    done = hub_cli(tmp_path, "user", "add", "olivia", "--role", "manager", stdin="a long enough secret\n")
    assert done.returncode == 0, done.stderr
    assert hub_cli(tmp_path, "user", "add", "short", stdin="tiny\n").returncode == 1
    db = open_hub_database(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        user = HubWebUser.get(HubWebUser.username == "olivia")
        assert user.role == "manager" and user.password_hash.startswith("scrypt$")
        assert "a long enough secret" not in user.password_hash
        assert verify_password("a long enough secret", user.password_hash)
        assert not HubWebUser.select().where(HubWebUser.username == "short").exists()
        HubWebUser.update(failed_logins=20, locked_utc=user.created_utc).execute()
    finally:
        db.close()
    assert hub_cli(tmp_path, "user", "unlock", "olivia").returncode == 0
    assert "LOCKED" not in hub_cli(tmp_path, "user", "list").stdout


def test_owner_key_is_written_0600_and_never_replaced(tmp_path):
    done = hub_cli(tmp_path, "owner-key", "--data-dir", str(tmp_path / "web"))
    assert done.returncode == 0 and "BEGIN PUBLIC KEY" in done.stdout
    key = tmp_path / "web" / "owner_key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    before = key.read_bytes()
    assert hub_cli(tmp_path, "owner-key", "--data-dir", str(tmp_path / "web")).returncode == 1
    assert key.read_bytes() == before


@pytest.mark.mqtt
@pytest.mark.parametrize("command", [["run", "--web"], ["web"]], ids=["run --web", "web"])
def test_the_web_face_serves_the_pages_and_stops_on_sigterm(tmp_path, web_broker, command):
    pw = tmp_path / "hub.pw"
    pw.write_text(FAKE_PASSWORDS["hub"])
    port = free_port()
    proc = subprocess.Popen([*HUB, "--db", f"sqlite:///{tmp_path / 'hub.db'}", "--port", str(web_broker.port),
                             "--host", "127.0.0.1", "--password-file", str(pw), *command, "--listen",
                             f"127.0.0.1:{port}", "--data-dir", str(tmp_path / "web")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/console", follow_redirects=False)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else "slow"
                time.sleep(0.2)
        assert r.status_code == 303 and r.headers["location"].startswith("/console/login")
        assert httpx.get(f"http://127.0.0.1:{port}/console/login").status_code == 200
        assert stat.S_IMODE((tmp_path / "web" / "session.key").stat().st_mode) == 0o600
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
