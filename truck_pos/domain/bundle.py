"""Signed campaign bundles: the wire/file format and its Ed25519 check. Pure (no I/O).

Bundle format (``truck_pos.campaign.v1``), the exact bytes of a file or of the retained MQTT
``campaign`` message::

    {"format":"truck_pos.campaign.v1","key_id":"<16 hex>","payload":"<base64url>","signature":"<base64url>"}

- ``payload`` is the base64url (no padding) of the campaign JSON document (UTF-8);
- ``signature`` is the base64url of the 64-byte Ed25519 signature of those payload bytes,
  made with the owner's private key; ``key_id`` is the first 16 hex digits of the SHA-256 of
  the raw 32-byte public key (it only names the key; the signature is what is checked);
- the wrapper must be canonical JSON (sorted keys, no spaces, one optional trailing LF or CRLF)
  and both base64 strings canonical, so any changed byte is refused, never silently ignored.

A bundle with many unique codes may use format ``truck_pos.campaign.v1z``: the same wrapper, the
payload being the zlib stream of that JSON (signed as sent; inflated to at most
``MAX_DOCUMENT_BYTES``). It undoes the base64 of the codes inside the document, so 100k codes
fit in one MQTT message.

The campaign document inside is described in :mod:`truck_pos.domain.campaign`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import zlib
from dataclasses import dataclass
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from truck_pos.domain.ed25519 import VerifyKey, raw_bytes, verifies

if TYPE_CHECKING:  # the owner's side signs with cryptography, imported there; the truck verifies with VerifyKey
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

BUNDLE_FORMAT = "truck_pos.campaign.v1"
BUNDLE_FORMAT_Z = "truck_pos.campaign.v1z"
MAX_DOCUMENT_BYTES = 8 << 20
COMPRESS_OVER = 32 << 10  # sign_bundle compresses documents larger than this
_WRAPPER_KEYS = {"format", "key_id", "payload", "signature"}


class BundleRefused(ValueError):
    """A bundle the truck will not install; ``str()`` is the reason for the owner or staff."""


# --- base64url, strict ---------------------------------------------------------------------
def b64u_encode(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    """Strict inverse of :func:`b64u_encode`: refuses any non-canonical spelling."""
    if not isinstance(text, str):
        raise ValueError("not a string")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc
    if b64u_encode(data) != text:
        raise ValueError("not canonical base64url")
    return data


def key_id(public_key: VerifyKey | Ed25519PublicKey) -> str:
    """A short name for a public key: 16 hex digits of the SHA-256 of its raw bytes."""
    return hashlib.sha256(raw_public_key(public_key)).hexdigest()[:16]


def raw_public_key(public_key: VerifyKey | Ed25519PublicKey) -> bytes:
    return raw_bytes(public_key)


# --- bundles -------------------------------------------------------------------------------
def _canonical(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def sign_bundle(document: dict[str, Any], private_key: Ed25519PrivateKey, compress: bool | None = None) -> bytes:
    """The owner's side: the bundle bytes for a campaign document (compressed when large, or as asked)."""
    payload = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if compress is None:
        compress = len(payload) > COMPRESS_OVER
    if compress:
        payload = zlib.compress(payload, 9)
    wrapper = {"format": BUNDLE_FORMAT_Z if compress else BUNDLE_FORMAT, "key_id": key_id(private_key.public_key()),
               "payload": b64u_encode(payload), "signature": b64u_encode(private_key.sign(payload))}
    return _canonical(wrapper) + b"\n"


@dataclass(frozen=True)
class OpenedBundle:
    """A bundle whose signature verified: the document, the key that signed it, a digest of the signed bytes."""

    document: dict[str, Any]
    key_id: str
    digest: str  # SHA-256 hex of the signed payload: "same version, same content" compares this


def verify_bundle(raw: bytes, public_keys: Sequence[VerifyKey | Ed25519PublicKey]) -> dict[str, Any]:
    """The verified campaign document inside a bundle; raises :class:`BundleRefused` with a reason."""
    return open_bundle(raw, public_keys).document


def open_bundle(raw: bytes, public_keys: Sequence[VerifyKey | Ed25519PublicKey]) -> OpenedBundle:
    """Verify a bundle; the document with its signer. Raises :class:`BundleRefused` with a reason."""
    if not public_keys:
        raise BundleRefused("no campaign public key is configured on this truck ([security] campaign_public_key_file)")
    if not isinstance(raw, (bytes, bytearray)) or not raw.strip():
        raise BundleRefused("empty bundle")
    body = bytes(raw)
    for ending in (b"\r\n", b"\n"):  # one line ending (a Windows copy too), nothing else
        if body.endswith(ending):
            body = body[: -len(ending)]
            break
    try:
        wrapper = json.loads(body.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise BundleRefused("malformed bundle: not a JSON campaign bundle") from None
    if not isinstance(wrapper, dict) or "signature" not in wrapper:
        raise BundleRefused("unsigned bundle: no signature")
    if set(wrapper) != _WRAPPER_KEYS or wrapper.get("format") not in (BUNDLE_FORMAT, BUNDLE_FORMAT_Z):
        raise BundleRefused(f"malformed bundle: expected format {BUNDLE_FORMAT} with keys {sorted(_WRAPPER_KEYS)}")
    if not all(isinstance(wrapper[k], str) for k in _WRAPPER_KEYS) or _canonical(wrapper) != body:
        raise BundleRefused("malformed bundle: the wrapper was altered (not in canonical form)")
    try:
        payload = b64u_decode(wrapper["payload"])
        signature = b64u_decode(wrapper["signature"])
    except ValueError as exc:
        raise BundleRefused(f"malformed bundle: {exc}") from None
    signer = next((k for k in public_keys if verifies(k, signature, payload)), None)
    if signer is not None and key_id(signer) != wrapper["key_id"]:
        raise BundleRefused("malformed bundle: key_id does not name the key that signed it")
    if signer is None:
        known = ", ".join(key_id(k) for k in public_keys)
        if wrapper["key_id"] not in {key_id(k) for k in public_keys}:
            raise BundleRefused(f"signed with an unknown key {wrapper['key_id']} (this truck trusts {known})")
        raise BundleRefused("wrong signature: the bundle was altered or not signed by the owner")
    digest = hashlib.sha256(payload).hexdigest()
    if wrapper["format"] == BUNDLE_FORMAT_Z:
        payload = _inflate(payload)
    try:
        document = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BundleRefused("malformed campaign: the signed payload is not JSON") from None
    if not isinstance(document, dict):
        raise BundleRefused("malformed campaign: the signed payload is not a JSON object")
    return OpenedBundle(document, wrapper["key_id"], digest)


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_DOCUMENT_BYTES + 1)
    except zlib.error:
        raise BundleRefused("malformed campaign: the compressed payload is damaged") from None
    if len(out) > MAX_DOCUMENT_BYTES or not inflater.eof or inflater.unused_data:
        raise BundleRefused(f"malformed campaign: the payload is damaged or inflates past {MAX_DOCUMENT_BYTES >> 20} MiB")
    return out
