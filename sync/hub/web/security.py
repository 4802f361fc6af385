"""Passwords (scrypt), secret files and the owner key (0600), CSRF tokens and a small in-process rate limiter."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import defaultdict, deque
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (Encoding, NoEncryption, PrivateFormat, PublicFormat,
                                                          load_pem_private_key)

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MAX_PASSWORD_CHARS = 1024  # scrypt cost is per byte; a 10 MB "password" must not tie up a worker


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64), a fresh 16-byte salt each time."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P),
                     base64.b64encode(salt).decode(), base64.b64encode(digest).decode()])


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a :func:`hash_password` string; False on any oddity."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt" or len(password) > MAX_PASSWORD_CHARS:
            return False
        got = hashlib.scrypt(password.encode("utf-8", "replace"), salt=base64.b64decode(salt), n=int(n), r=int(r),
                             p=int(p), dklen=32)
        return hmac.compare_digest(got, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False


def secret_file(path: Path, nbytes: int = 32) -> bytes:
    """Read a secret, or create it (random, mode 0600) when missing; refuses one others can read."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_hex(nbytes).encode("ascii"))
    if path.stat().st_mode & 0o077:
        raise PermissionError(f"{path} is readable by others; chmod 600 it")
    return path.read_bytes().strip()


def load_owner_key(path: Path) -> Ed25519PrivateKey:
    """The owner's signing key (PEM); refuses a file others can read."""
    if path.stat().st_mode & 0o077:
        raise PermissionError(f"{path} is readable by others; chmod 600 it")
    key = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def create_owner_key(path: Path) -> bytes:
    """Make a new owner key in a 0600 file; returns the public key PEM for the trucks' trust list."""
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def new_csrf_token() -> str:
    """A random token kept in the session and echoed by every form."""
    return secrets.token_urlsafe(24)


def csrf_ok(session_token: object, form_token: object) -> bool:
    """Both present, both text, equal (constant time)."""
    return (isinstance(session_token, str) and isinstance(form_token, str) and bool(session_token)
            and hmac.compare_digest(session_token.encode(), form_token.encode()))


class RateLimiter:
    """At most ``limit`` hits per ``window_s`` per key (sliding window, in memory, thread-safe).

    One hub process serves the web face, so memory is enough; behind several processes put the
    limit in the reverse proxy as well (see firmware_config/caddy/Caddyfile).
    """

    def __init__(self, limit: int, window_s: float, clock=time.monotonic):
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Record a hit for ``key``; False when it is over the limit."""
        now = self.clock()
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            if len(self._hits) > 100_000:  # keys from a spoofed-address flood: forget the idle ones
                for k in [k for k, v in self._hits.items() if not v][:50_000]:
                    del self._hits[k]
            return True
