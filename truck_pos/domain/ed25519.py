"""Ed25519 signature checks on the truck, by libsodium (PyNaCl), loaded with the first key.

The truck only verifies (the owner's campaign bundles, personal codes); signing happens on the owner's
side and at the hub, with ``cryptography``. libsodium costs the register ~3.6 MB resident where
cryptography's Rust extension costs ~10 MB, and its check is no slower. A key from ``cryptography``
(the owner's tools, the hub, tests) is checked by ``cryptography`` itself: both kinds are accepted
wherever a public key is.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

# DER SubjectPublicKeyInfo of an Ed25519 key (RFC 8410): SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING (32 bytes) }
SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
KEY_BYTES = 32
SIGNATURE_BYTES = 64
PEM_HEAD, PEM_TAIL = "-----BEGIN PUBLIC KEY-----", "-----END PUBLIC KEY-----"


class VerifyKey:
    """An Ed25519 public key that checks signatures (libsodium's ``crypto_sign_verify_detached``)."""

    __slots__ = ("raw", "_key")

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes) or len(raw) != KEY_BYTES:
            raise ValueError(f"an Ed25519 public key is {KEY_BYTES} bytes")
        from nacl.signing import VerifyKey as SodiumKey

        self.raw = raw
        self._key = SodiumKey(raw)

    @classmethod
    def from_pem(cls, pem: bytes) -> VerifyKey:
        """The key of a ``PUBLIC KEY`` PEM block holding an Ed25519 SubjectPublicKeyInfo; ValueError otherwise."""
        try:
            text = pem.decode("ascii").strip()
        except UnicodeDecodeError:
            raise ValueError("not a PEM public key") from None
        if not (text.startswith(PEM_HEAD) and text.endswith(PEM_TAIL)):
            raise ValueError("not a PEM public key")
        body = "".join(text[len(PEM_HEAD):-len(PEM_TAIL)].split())
        try:
            der = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("not a PEM public key") from None
        if len(der) != len(SPKI_PREFIX) + KEY_BYTES or not der.startswith(SPKI_PREFIX):
            raise ValueError("not an Ed25519 public key")
        return cls(der[len(SPKI_PREFIX):])

    def verifies(self, signature: bytes, data: bytes) -> bool:
        """True when ``signature`` is this key's signature of ``data``."""
        from nacl.exceptions import BadSignatureError

        if len(signature) != SIGNATURE_BYTES:
            return False
        try:
            self._key.verify(data, signature)
        except BadSignatureError:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VerifyKey) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        return f"VerifyKey({self.raw.hex()})"


def verifies(key: Any, signature: bytes, data: bytes) -> bool:
    """Check a signature with a :class:`VerifyKey` or a ``cryptography`` Ed25519 public key."""
    if isinstance(key, VerifyKey):
        return key.verifies(signature, data)
    from cryptography.exceptions import InvalidSignature

    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def raw_bytes(key: Any) -> bytes:
    """The 32 raw bytes of a :class:`VerifyKey` or a ``cryptography`` Ed25519 public key."""
    if isinstance(key, VerifyKey):
        return key.raw
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return bytes(key.public_bytes(Encoding.Raw, PublicFormat.Raw))
