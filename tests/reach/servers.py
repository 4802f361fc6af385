"""Real local servers for the channel tests: an aiosmtpd SMTP server and one HTTP server that plays Twilio's REST
API, Web Push endpoints (decrypting with the subscription's keys), the Facebook Graph and X post endpoints and a
webhook. Each records exactly what arrived; faults (HTTP status, delay, SMTP reply) can be injected per path."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# --- SMTP --------------------------------------------------------------------------------------------
class _SmtpHandler:
    def __init__(self, sink: "SmtpSink"):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's name
        reply = self.sink.refuse.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.sink.lock:
            self.sink.raw.append(envelope.content)
        return "250 Message accepted for delivery"


class SmtpSink:
    """aiosmtpd on a free port; ``raw`` are the accepted messages' bytes, ``refuse`` maps an address to an SMTP reply."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []
        self.refuse: dict[str, str] = {}
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(_SmtpHandler(self), hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[email.message.EmailMessage]:
        """Every accepted email, parsed."""
        with self.lock:
            raw = list(self.raw)
        return [email.message_from_bytes(data, policy=email.policy.default) for data in raw]

    def __enter__(self) -> "SmtpSink":
        self.controller.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.controller.stop()


# --- HTTP --------------------------------------------------------------------------------------------
@dataclass
class Browser:
    """A push subscription made the way a browser makes one: a P-256 key pair and a 16-byte auth secret."""

    endpoint: str
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        return b64u(self.key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))

    @property
    def auth_b64(self) -> str:
        return b64u(self.auth)


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    plaintext: str = ""  # push: the decrypted payload
    received: float = 0.0  # time.perf_counter() when it was recorded (latency benchmarks)


class HttpSink:
    """One threaded HTTP server for Twilio, push, Facebook, X and webhook paths; records every request."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.browsers: dict[str, Browser] = {}
        self.faults: dict[str, list[int | float]] = {}  # path prefix -> statuses to answer first (a float: sleep s)
        self.lock = threading.Lock()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, answer = sink.answer(self.path, dict(self.headers), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True

    def browser(self, name: str) -> Browser:
        b = Browser(f"{self.base}/push/{name}")
        self.browsers[name] = b
        return b

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        for prefix, plan in self.faults.items():
            if path.startswith(prefix) and plan:
                step = plan.pop(0)
                if isinstance(step, float):
                    time.sleep(step)
                    break
                return step, {"message": "injected failure", "status": step}
        req = Request(path, headers, body)
        if path.startswith("/push/"):
            b = self.browsers[path.rsplit("/", 1)[1]]
            req.plaintext = http_ece.decrypt(body, private_key=b.key, auth_secret=b.auth, version="aes128gcm").decode("utf-8")
        req.received = time.perf_counter()
        with self.lock:
            self.requests.append(req)
            n = len(self.requests)
        if "/Messages.json" in path:
            return 201, {"sid": f"SM{n:032d}", "status": "queued", "account_sid": path.split("/")[3]}
        if path.startswith("/2/tweets"):
            return 201, {"data": {"id": str(n), "text": json.loads(body)["text"]}}
        if path.startswith("/push/"):
            return 201, {}
        return 200, {"id": f"post-{n}"}

    def on(self, prefix: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def __enter__(self) -> "HttpSink":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
