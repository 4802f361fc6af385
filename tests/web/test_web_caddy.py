"""The documented Caddy config in front of the web face: pages pass through, and a forged X-Forwarded-For
does not get a client past the per-address login limit (Caddy replaces it with the real address)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx

from sync.hub.web.app import create_app
from tests.mqtt_broker import REPO, free_port
from tests.web.support import LiveServer, csrf_of, web_config

CADDY = shutil.which("caddy") or "/usr/bin/caddy"


def caddyfile_for_test(tmp_path: Path, listen: int, upstream: int) -> Path:
    """The repo's Caddyfile with the site on plain HTTP at ``listen`` (no certificates in a test) and our upstream."""
    text = (REPO / "firmware_config" / "caddy" / "Caddyfile").read_text("utf-8")
    assert "hub.example.com {" in text and "reverse_proxy 127.0.0.1:8080" in text
    text = text.replace("hub.example.com {", f"http://127.0.0.1:{listen} {{").replace("127.0.0.1:8080", f"127.0.0.1:{upstream}")
    path = tmp_path / "Caddyfile"
    path.write_text("{\n\tadmin off\n\tstorage file_system " + str(tmp_path / "caddy-data") + "\n}\n" + text, "utf-8")
    return path


def test_caddy_passes_pages_and_a_forged_forwarded_address_does_not_dodge_the_login_limit(tmp_path, web_db):
    server = LiveServer(create_app(web_config(tmp_path, trust_proxy=True, login_limit=(3, 300)), None)).start()
    port = free_port()
    caddy = subprocess.Popen([CADDY, "run", "--config", str(caddyfile_for_test(tmp_path, port, server.port)),
                              "--adapter", "caddyfile"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env={"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)})
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert caddy.poll() is None and time.monotonic() < deadline, caddy.stderr.read().decode()[-2000:]
                time.sleep(0.1)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
            page = c.get("/console/login")
            assert page.status_code == 200 and "Owner console" in page.text
            assert page.headers["strict-transport-security"].startswith("max-age=")
            token = csrf_of(page.text)
            codes = [c.post("/console/login", data={"username": "x", "password": "y", "csrf": token},
                            headers={"x-forwarded-for": f"203.0.113.{i}"}).status_code for i in range(5)]
        assert codes == [401, 401, 401, 429, 429]
    finally:
        caddy.terminate()
        caddy.wait(10)
        server.stop()
