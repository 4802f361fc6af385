"""The signed bundle format, byte for byte, against an independent model (truck_pos/domain/bundle.py docstring, README).

The model builds wrappers by hand: the wrapper text written out as the docstring spells it, base64url and
SHA-256 from the standard library, signatures made and checked with ``cryptography`` directly. Nothing here
takes an expected value from ``truck_pos.domain.bundle``. The refusal texts are the reasons staff and the owner
read (``BundleRefused``: "``str()`` is the reason for the owner or staff"), pinned as that user-facing text.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from truck_pos.domain import bundle
from truck_pos.domain.bundle import BundleRefused, b64u_decode, b64u_encode, key_id, open_bundle, sign_bundle, verify_bundle

OWNER = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))  # fixed test key, not a secret
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
MIB = 1 << 20


# --- the independent model -------------------------------------------------------------------------
def m_b64u(data: bytes) -> str:
    """base64url without padding: standard base64, '+/' -> '-_', the '=' padding cut off by count."""
    text = base64.b64encode(data).decode()
    pad = text.count("=")
    return text[: len(text) - pad].replace("+", "-").replace("/", "_")


def m_key_id(priv: Ed25519PrivateKey) -> str:
    raw = priv.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def m_wrapper(payload: bytes, priv: Ed25519PrivateKey = OWNER, fmt: str = "truck_pos.campaign.v1",
              kid: str | None = None, signature: bytes | None = None, end: str = "\n") -> bytes:
    """The wrapper exactly as the docstring spells it: sorted keys, no spaces, one trailing LF."""
    sig = priv.sign(payload) if signature is None else signature
    text = ('{"format":"%s","key_id":"%s","payload":"%s","signature":"%s"}'
            % (fmt, m_key_id(priv) if kid is None else kid, m_b64u(payload), m_b64u(sig)))
    return (text + end).encode("ascii")


def m_payload(doc: dict) -> bytes:
    """The document as the owner's tool signs it: compact, sorted keys, UTF-8 (one spelling per document)."""
    parts = []
    for k in sorted(doc):
        v = doc[k]
        vt = json.dumps(v, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        parts.append(f'"{k}":{vt}')
    return ("{" + ",".join(parts) + "}").encode("utf-8")


def pub(*keys: Ed25519PrivateKey):
    return [k.public_key() for k in keys]


def refusal(raw, keys=None) -> str:
    with pytest.raises(BundleRefused) as info:
        open_bundle(raw, pub(OWNER) if keys is None else keys)
    return str(info.value)


# --- base64url and key ids -------------------------------------------------------------------------
@pytest.mark.parametrize("data, text", [
    (b"", ""), (b"f", "Zg"), (b"fo", "Zm8"), (b"foo", "Zm9v"), (b"foob", "Zm9vYg"), (b"fooba", "Zm9vYmE"),
    (b"foobar", "Zm9vYmFy"),  # RFC 4648 section 10, padding removed
    (b"\xfb\xff", "-_8"), (b"\x00\x00\x17", "AAAX"), (b"\x00\x00\x3d", "AAA9"), (b"\x00\x00", "AAA"),
])
def test_base64url_matches_rfc4648_without_padding(data, text):
    assert b64u_encode(data) == text
    assert b64u_decode(text) == data


def test_base64url_round_trips_every_length_and_refuses_other_spellings():
    for n in range(0, 40):
        data = bytes((i * 37 + n) % 256 for i in range(n))
        assert b64u_encode(data) == m_b64u(data)
        assert b64u_decode(m_b64u(data)) == data
    for bad in ("Zg==", "Zg=", "Zh", "Zm9", "Z", "Zm9v!", "+/8", "Zm 9v"):
        with pytest.raises(ValueError):
            b64u_decode(bad)


def test_base64url_refusal_reasons():
    with pytest.raises(ValueError) as info:
        b64u_decode(b"Zg")  # type: ignore[arg-type]
    assert str(info.value) == "not a string"
    with pytest.raises(ValueError) as info:
        b64u_decode("Z")
    assert str(info.value) == "not base64url"
    with pytest.raises(ValueError) as info:
        b64u_decode("Zh")
    assert str(info.value) == "not canonical base64url"


def test_key_id_is_16_hex_digits_of_sha256_of_the_raw_key():
    assert key_id(OWNER.public_key()) == m_key_id(OWNER)
    assert len(key_id(OTHER.public_key())) == 16


# --- signing -----------------------------------------------------------------------------------
def test_a_small_document_is_signed_as_the_documented_wrapper_byte_for_byte():
    doc = {"name": "Café día", "id": "summer", "segments": [{"b": 1, "a": [1, 2]}], "version": 7}
    payload = m_payload(doc)
    assert "é".encode() in payload  # UTF-8, not \u escapes
    assert sign_bundle(doc, OWNER) == m_wrapper(payload)
    assert sign_bundle(doc, OWNER, compress=False) == m_wrapper(payload)
    reordered = dict(reversed(list(doc.items())))
    assert sign_bundle(reordered, OWNER) == sign_bundle(doc, OWNER)  # one spelling: same content, same digest


def test_documents_larger_than_32_kib_are_signed_compressed():
    assert bundle.COMPRESS_OVER == 32 * 1024
    for size, compressed in ((32 * 1024, False), (32 * 1024 + 1, True)):
        doc = {"x": "a" * (size - len('{"x":""}'))}
        assert len(m_payload(doc)) == size
        wrapper = json.loads(sign_bundle(doc, OWNER))
        sent = base64.urlsafe_b64decode(wrapper["payload"] + "=" * (-len(wrapper["payload"]) % 4))
        assert wrapper["format"] == ("truck_pos.campaign.v1z" if compressed else "truck_pos.campaign.v1")
        assert (zlib.decompress(sent) if compressed else sent) == m_payload(doc)
        OWNER.public_key().verify(base64.urlsafe_b64decode(wrapper["signature"] + "=="), sent)  # signed as sent


def test_compress_true_signs_the_zlib_stream_and_it_opens():
    doc = {"id": "c", "note": "é"}
    raw = sign_bundle(doc, OWNER, compress=True)
    wrapper = json.loads(raw)
    sent = base64.urlsafe_b64decode(wrapper["payload"] + "=" * (-len(wrapper["payload"]) % 4))
    assert zlib.decompress(sent) == m_payload(doc)
    assert raw == m_wrapper(sent, fmt="truck_pos.campaign.v1z")
    opened = open_bundle(raw, pub(OWNER))
    assert opened.document == doc and opened.key_id == m_key_id(OWNER)
    assert opened.digest == hashlib.sha256(sent).hexdigest()  # the digest of the signed (compressed) bytes


# --- opening hand-made bundles -----------------------------------------------------------------
def test_a_hand_made_bundle_opens_with_its_signer_and_digest():
    payload = '{"id":"x","name":"Ñandú"}'.encode()
    for end in ("\n", "\r\n", ""):
        opened = open_bundle(m_wrapper(payload, end=end), pub(OTHER, OWNER))
        assert opened.document == {"id": "x", "name": "Ñandú"}
        assert opened.key_id == m_key_id(OWNER)
        assert opened.digest == hashlib.sha256(payload).hexdigest()
    assert verify_bundle(bytearray(m_wrapper(payload)), pub(OWNER)) == {"id": "x", "name": "Ñandú"}


@pytest.mark.parametrize("end", ["\n\n", "\r\n\n", "\n\r\n", " \n", "\r", "\r\r\n"])
def test_only_one_line_ending_is_allowed(end):
    assert refusal(m_wrapper(b"{}", end=end)) == "malformed bundle: the wrapper was altered (not in canonical form)"


def test_a_compressed_payload_may_inflate_to_exactly_8_mib_and_not_one_byte_more():
    assert bundle.MAX_DOCUMENT_BYTES == 8 * MIB
    for size in (8 * MIB, 8 * MIB + 1, 8 * MIB + 2):
        doc_bytes = b'{"x":"' + b"a" * (size - 8) + b'"}'
        raw = m_wrapper(zlib.compress(doc_bytes), fmt="truck_pos.campaign.v1z")
        if size == 8 * MIB:
            assert len(open_bundle(raw, pub(OWNER)).document["x"]) == size - 8
        else:
            assert refusal(raw) == "malformed campaign: the payload is damaged or inflates past 8 MiB"


def test_a_signed_zip_bomb_is_refused_without_being_inflated():
    """A signed payload that would inflate to 256 MiB is refused having inflated at most 8 MiB and a byte."""
    import tracemalloc

    bomb = zlib.compressobj(9)
    stream = b"".join(bomb.compress(bytes(MIB)) for _ in range(256)) + bomb.flush()
    raw = m_wrapper(stream, fmt="truck_pos.campaign.v1z")
    tracemalloc.start()
    try:
        assert refusal(raw) == "malformed campaign: the payload is damaged or inflates past 8 MiB"
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * MIB  # the bundle, its decoding and the 8 MiB cap, not the 256 MiB it would become


@pytest.mark.parametrize("stream", [
    zlib.compress(b'{"a":1}')[:-3],  # cut short: no end of stream
    zlib.compress(b'{"a":1}') + b"extra",  # bytes after the end of the stream
    zlib.compress(b'{"a":1}') + zlib.compress(b'{"b":2}'),
])
def test_a_truncated_or_padded_zlib_stream_is_refused(stream):
    assert refusal(m_wrapper(stream, fmt="truck_pos.campaign.v1z")) == \
        "malformed campaign: the payload is damaged or inflates past 8 MiB"


def test_a_stream_that_is_not_zlib_is_refused_as_damaged():
    assert refusal(m_wrapper(b"not zlib at all", fmt="truck_pos.campaign.v1z")) == \
        "malformed campaign: the compressed payload is damaged"
    assert refusal(m_wrapper(b"{}", fmt="truck_pos.campaign.v1z")) == \
        "malformed campaign: the compressed payload is damaged"


@pytest.mark.parametrize("payload, reason", [
    (b"not json", "malformed campaign: the signed payload is not JSON"),
    (b"\xff\xfe{}", "malformed campaign: the signed payload is not JSON"),
    (b"[" * 100000 + b"]" * 100000, "malformed campaign: the signed payload is not JSON"),
    (b"[1, 2]", "malformed campaign: the signed payload is not a JSON object"),
    (b'"text"', "malformed campaign: the signed payload is not a JSON object"),
])
def test_a_signed_payload_that_is_not_a_json_object_is_refused(payload, reason):
    assert refusal(m_wrapper(payload)) == reason


def test_refusal_reasons_of_the_wrapper():
    good = m_wrapper(b"{}")
    altered = "malformed bundle: the wrapper was altered (not in canonical form)"
    expected_keys = "['format', 'key_id', 'payload', 'signature']"
    cases = [
        (b"", "empty bundle"),
        (b" \r\n\t", "empty bundle"),
        ("a str, not bytes", "empty bundle"),
        (b"\xff" + good, "malformed bundle: not a JSON campaign bundle"),
        (b"{", "malformed bundle: not a JSON campaign bundle"),
        (b"[]", "unsigned bundle: no signature"),
        (b'["signature"]', "unsigned bundle: no signature"),
        (b'{"format":"truck_pos.campaign.v1","payload":"e30"}', "unsigned bundle: no signature"),
        (good.replace(b'"format"', b'"extra":"1","format"'),
         f"malformed bundle: expected format truck_pos.campaign.v1 with keys {expected_keys}"),
        (good.replace(b"campaign.v1", b"campaign.v2"),
         f"malformed bundle: expected format truck_pos.campaign.v1 with keys {expected_keys}"),
        (good.replace(b'"key_id"', b'"keyid"'),
         f"malformed bundle: expected format truck_pos.campaign.v1 with keys {expected_keys}"),
        (good.replace(b'{"format"', b'{ "format"'), altered),
        (b'{"format":"truck_pos.campaign.v1","key_id":1,"payload":"e30","signature":"AA"}\n', altered),
        (b'{"key_id":"a","format":"truck_pos.campaign.v1","payload":"e30","signature":"AA"}\n', altered),
        (b'{"format":"truck_pos.campaign.v1","key_id":"a","payload":"e30=","signature":"AA"}\n',
         "malformed bundle: not canonical base64url"),
        (b'{"format":"truck_pos.campaign.v1","key_id":"a","payload":"e30","signature":"A"}\n',
         "malformed bundle: not base64url"),
    ]
    for raw, reason in cases:
        assert refusal(raw) == reason, raw


def test_refusal_reasons_of_keys_and_signatures():
    payload = b'{"id":"x"}'
    assert refusal(m_wrapper(payload), []) == \
        "no campaign public key is configured on this truck ([security] campaign_public_key_file)"
    stranger = Ed25519PrivateKey.from_private_bytes(bytes(range(64, 96)))
    assert refusal(m_wrapper(payload, stranger), pub(OWNER, OTHER)) == \
        f"signed with an unknown key {m_key_id(stranger)} (this truck trusts {m_key_id(OWNER)}, {m_key_id(OTHER)})"
    # named as the owner's key but signed by another: the signature decides
    assert refusal(m_wrapper(payload, stranger, kid=m_key_id(OWNER)), pub(OWNER)) == \
        "wrong signature: the bundle was altered or not signed by the owner"
    # signed by the owner but named as another trusted key
    assert refusal(m_wrapper(payload, OWNER, kid=m_key_id(OTHER)), pub(OTHER, OWNER)) == \
        "malformed bundle: key_id does not name the key that signed it"
    # the signature of other bytes
    assert refusal(m_wrapper(payload, signature=OWNER.sign(b"{}"))) == \
        "wrong signature: the bundle was altered or not signed by the owner"


def test_an_escaped_non_ascii_key_id_is_refused_not_a_crash():
    # the wrapper is ASCII; json escapes are canonical spelling of the same text, so \u00e9 stays a refusal
    raw = m_wrapper(b"{}", kid="\\u00e9" + "0" * 15)
    assert refusal(raw) == "malformed bundle: key_id does not name the key that signed it"


def test_the_model_signature_check_agrees():
    raw = sign_bundle({"id": "x"}, OWNER)
    wrapper = json.loads(raw)
    sig = base64.urlsafe_b64decode(wrapper["signature"] + "==")
    with pytest.raises(InvalidSignature):
        OTHER.public_key().verify(sig, base64.urlsafe_b64decode(wrapper["payload"] + "=" * (-len(wrapper["payload"]) % 4)))
