"""A real local mosquitto (tests, the simulated day): free port, its own config, kill()/start() for faults.

Never touches the system broker on 1883. Usage::

    broker = MosquittoBroker(tmp_path, users={"hub": "pw", "truck-a": "pw"}, dynsec=True).start()
    ...; broker.kill(); broker.start(); ...; broker.stop()
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO = os.environ.get("TRUCK_POS_TEST_MOSQUITTO", "/usr/sbin/mosquitto")
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
REPO = Path(__file__).resolve().parent.parent  # the checkout (firmware_config/ holds the fleet ACL)
FLEET_ACL = REPO / "firmware_config" / "mosquitto" / "aclfile"
DYNSEC_PLUGIN = os.environ.get("TRUCK_POS_TEST_DYNSEC", "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so")


def free_port() -> int:
    """A TCP port nobody listens on right now (never 1883)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MosquittoBroker:
    """One mosquitto process with persistence in ``workdir``; survives kill()/start() on the same port."""

    def __init__(self, workdir: Path, *, users: dict[str, str] | None = None, acl_file: Path | None = None,
                 persistence: bool = True, max_queued: int = 100_000, autosave_s: int = 1, extra: str = "",
                 dynsec: bool = False, hubs: tuple[str, ...] = ("hub",)):
        """``dynsec``: the fleet ACL of sync/broker_acl.py (users named in ``hubs`` are hubs, the others trucks)
        instead of a password file and ``acl_file``."""
        self.dir = Path(workdir) / f"mosquitto-{id(self)}"
        self.dir.mkdir(parents=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.dir / "mosquitto.log"
        self.users = dict(users or {})
        lines = [f"listener {self.port} 127.0.0.1", "user root", f"persistence {'true' if persistence else 'false'}",
                 f"persistence_location {self.dir}/", f"autosave_interval {autosave_s}",
                 f"max_queued_messages {max_queued}", "max_inflight_messages 100", "set_tcp_nodelay true",
                 f"log_dest file {self.log_path}", "log_type error", "log_type warning", "log_type notice",
                 "log_type information"]
        if dynsec:
            from sync.broker_acl import fleet_document, write_document

            doc = fleet_document({u: p for u, p in self.users.items() if u not in hubs},
                                 {u: p for u, p in self.users.items() if u in hubs})
            write_document(self.dir / "dynamic-security.json", doc)
            lines += ["allow_anonymous false", f"plugin {DYNSEC_PLUGIN}",
                      f"plugin_opt_config_file {self.dir / 'dynamic-security.json'}"]
        elif self.users:
            pw = self.dir / "passwd"
            for i, (user, password) in enumerate(self.users.items()):
                cmd = [MOSQUITTO_PASSWD, "-b"] + (["-c"] if i == 0 else []) + [str(pw), user, password]
                subprocess.run(cmd, check=True, capture_output=True)
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines.append("allow_anonymous true")
        if acl_file is not None:
            lines.append(f"acl_file {acl_file}")
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n" + extra, "utf-8")

    def start(self, timeout_s: float = 10.0) -> "MosquittoBroker":
        """Start (or restart) the broker and wait until it accepts connections."""
        if self.running:
            return self
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"mosquitto did not listen on {self.port}: {self.log_tail()}")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the broker (SIGKILL: no final save; SIGTERM: saves persistence first)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        """Graceful stop (saves the persistence file)."""
        self.kill(signal.SIGTERM)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
