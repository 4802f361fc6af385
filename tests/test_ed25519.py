"""The truck's Ed25519 checks (libsodium) agree with cryptography's, and a key file is read strictly.

cryptography is the reference model here: it signs, serializes keys (PEM, raw) and says what verifies.
"""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from truck_pos.domain.bundle import key_id, open_bundle, sign_bundle
from truck_pos.domain.ed25519 import VerifyKey, raw_bytes, verifies
from truck_pos.errors import ConfigError
from truck_pos.services.campaigns import load_public_key

KEYS = [Ed25519PrivateKey.from_private_bytes(bytes([n]) * 32) for n in (1, 2, 3)]


def pem(public) -> bytes:
    return public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def ours(private: Ed25519PrivateKey) -> VerifyKey:
    return VerifyKey(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


@settings(max_examples=300, deadline=None)
@given(signer=st.sampled_from(KEYS), checker=st.sampled_from(KEYS), data=st.binary(max_size=300),
       flip=st.one_of(st.none(), st.integers(0, 64 * 8 - 1)), cut=st.sampled_from([None, 63, 65, 0]))
def test_a_signature_verifies_with_libsodium_exactly_when_it_does_with_cryptography(signer, checker, data, flip, cut):
    signature = signer.sign(data)
    if flip is not None:  # one bit of the signature changed
        signature = bytearray(signature)
        signature[flip // 8] ^= 1 << (flip % 8)
        signature = bytes(signature)
    if cut == 65:
        signature += b"\x00"
    elif cut is not None:
        signature = signature[:cut]
    expected = verifies(checker.public_key(), signature, data)  # cryptography's own check
    assert ours(checker).verifies(signature, data) is expected
    assert verifies(ours(checker), signature, data) is expected
    if flip is None and cut is None:
        assert expected is (signer is checker)


def test_a_pem_key_reads_as_the_same_raw_key_and_the_same_key_id():
    public = KEYS[0].public_key()
    key = VerifyKey.from_pem(pem(public))
    assert key.raw == public.public_bytes(Encoding.Raw, PublicFormat.Raw) == raw_bytes(public) == raw_bytes(key)
    assert key_id(key) == key_id(public)
    assert key == ours(KEYS[0]) and key != ours(KEYS[1])
    assert len({hash(ours(k)) for k in KEYS}) == len(KEYS)  # usable as a dict key, spread by its bytes


def test_a_pem_body_may_be_wrapped_over_several_lines():
    """RFC 7468: the base64 text may be broken into lines of any length (here 20 characters)."""
    good = pem(KEYS[0].public_key())
    body = b"".join(good.splitlines()[1:-1])
    wrapped = b"\n".join(body[i:i + 20] for i in range(0, len(body), 20))
    key = VerifyKey.from_pem(b"-----BEGIN PUBLIC KEY-----\n" + wrapped + b"\n-----END PUBLIC KEY-----\n")
    assert key == ours(KEYS[0])


@pytest.mark.parametrize("other", [
    pytest.param(lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key(), id="rsa"),
    pytest.param(lambda: ec.generate_private_key(ec.SECP256R1()).public_key(), id="p-256"),
    pytest.param(lambda: X25519PrivateKey.generate().public_key(), id="x25519")])
def test_a_pem_key_of_another_kind_is_refused(other):
    with pytest.raises(ValueError):
        VerifyKey.from_pem(pem(other()))


def test_a_damaged_pem_is_refused_with_what_is_wrong():
    good = pem(KEYS[0].public_key())
    der = base64.b64decode(b"".join(good.splitlines()[1:-1]))
    wrap = lambda body: b"-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(body) + b"\n-----END PUBLIC KEY-----\n"
    assert VerifyKey.from_pem(wrap(der)).raw == der[12:]
    not_pem = [good.replace(b"PUBLIC", b"PRIVATE"), good[:-30], good.replace(b"-----END", b"-----FIN"),
               good.replace(b"-----BEGIN", b"-----START"), b"\xff" + good, b"",
               good.replace(b"MC", b"M*C", 1),  # a character outside base64 (not skipped: the key would read)
               good.replace(b"MC", b"M", 1)]  # base64 that does not decode
    not_ed25519 = [wrap(der[:-1]), wrap(der + b"\x00"), wrap(b"\x31" + der[1:])]
    for bad, reason in [(b, "not a PEM public key") for b in not_pem] + [(b, "not an Ed25519 public key") for b in not_ed25519]:
        with pytest.raises(ValueError) as refused:
            VerifyKey.from_pem(bad)
        assert str(refused.value) == reason, bad
    for raw in (b"\x01" * 31, b"\x01" * 33, bytearray(32), "x" * 32, None):
        with pytest.raises(ValueError) as refused:
            VerifyKey(raw)  # type: ignore[arg-type]
        assert str(refused.value) == "an Ed25519 public key is 32 bytes"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(lambda t: ("-----BEGIN PUBLIC KEY-----\n" + t).encode()))
def test_any_bytes_as_a_key_file_are_a_key_or_a_value_error(blob):
    try:
        key = VerifyKey.from_pem(blob)
    except ValueError:
        return
    assert len(key.raw) == 32


def test_the_owner_key_file_is_read_as_pem_or_raw_base64url_and_bundles_open_with_it(tmp_path):
    owner, stranger = KEYS[0], KEYS[1]
    (tmp_path / "owner.pem").write_bytes(pem(owner.public_key()))
    raw = owner.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    (tmp_path / "owner.b64").write_text(base64.urlsafe_b64encode(raw).rstrip(b"=").decode() + "\n")
    document = {"id": "c1", "segments": []}
    for name in ("owner.pem", "owner.b64"):
        key = load_public_key(tmp_path / name)
        assert isinstance(key, VerifyKey) and key.raw == raw
        assert open_bundle(sign_bundle(document, owner), [key]).document == document
        with pytest.raises(ValueError, match="unknown key"):
            open_bundle(sign_bundle(document, stranger), [key])
    (tmp_path / "rsa.pem").write_bytes(pem(rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()))
    with pytest.raises(ConfigError, match="not an Ed25519 public key"):
        load_public_key(tmp_path / "rsa.pem")
