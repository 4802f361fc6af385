"""Rotating tokens: published test vectors, and what must never resolve (property tests)."""

from __future__ import annotations

import hashlib

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from truck_pos.domain.tokens import (TOKEN_LEN, TokenTable, derive_token, encode_service_data, parse_service_data,
                                     slot_of)

VECTOR_SECRET = bytes(range(32))
VECTOR_UNIX = 1780333200  # 2026-06-01T17:00:00Z
SLOT_S = 300
SECRETS = {f"dev-{i}": hashlib.sha256(f"test secret {i}".encode()).digest() for i in range(20)}


def table(skew: int = 1) -> TokenTable:
    return TokenTable(SECRETS.items(), slot_s=SLOT_S, skew_slots=skew)


def test_published_test_vectors_hold():
    # The same numbers as docs/ble-advertising.md: a phone app must reproduce them.
    assert slot_of(VECTOR_UNIX, SLOT_S) == 5934444
    assert derive_token(VECTOR_SECRET, 5934443).hex() == "38dfccacc1fc997c"
    assert derive_token(VECTOR_SECRET, 5934444).hex() == "6bd05ff902a04aa6"
    assert derive_token(VECTOR_SECRET, 5934445).hex() == "6330ea75e858b25c"
    assert encode_service_data(derive_token(VECTOR_SECRET, 5934444), -59).hex() == "016bd05ff902a04aa6c5"


def test_the_table_resolves_the_published_vectors_and_any_secret_length():
    # The table derives tokens from kept HMAC key states (RFC 2104); the expected tokens are the stdlib's HMAC.
    import hmac

    t = TokenTable([("vector", VECTOR_SECRET)], slot_s=SLOT_S)
    for slot, token in [(5934443, "38dfccacc1fc997c"), (5934444, "6bd05ff902a04aa6"), (5934445, "6330ea75e858b25c")]:
        assert t.resolve(bytes.fromhex(token), VECTOR_UNIX) == "vector"
    for n in (16, 63, 64, 65, 200):  # a key longer than SHA-256's 64-byte block is hashed first
        secret = hashlib.sha256(str(n).encode()).digest() * (n // 32 + 1)
        secret = secret[:n]
        t = TokenTable([("d", secret)], slot_s=SLOT_S, skew_slots=0)
        slot = slot_of(VECTOR_UNIX, SLOT_S)
        expected = hmac.new(secret, b"truck_pos/ble/v1" + slot.to_bytes(8, "big", signed=True), hashlib.sha256).digest()[:8]
        assert t.resolve(expected, VECTOR_UNIX) == "d", n


def test_service_data_round_trips_and_rejects_other_payloads():
    token = derive_token(VECTOR_SECRET, 1)
    assert parse_service_data(encode_service_data(token, -61)).measured_power_dbm == -61
    assert parse_service_data(encode_service_data(token)).token == token
    for bad in (b"", b"\x02" + token, b"\x01" + token[:7], b"\x01" + token + b"\x00\x00", None):
        assert parse_service_data(bad) is None


@given(st.sampled_from(sorted(SECRETS)), st.integers(-1, 1), st.integers(0, 10**9))
def test_tokens_within_the_skew_resolve_to_their_device(device, offset, unix):
    now_slot = slot_of(unix, SLOT_S)
    assert table().resolve(derive_token(SECRETS[device], now_slot + offset), unix) == device


@given(st.sampled_from(sorted(SECRETS)), st.integers(2, 10**6), st.sampled_from([-1, 1]), st.integers(0, 10**9))
def test_tokens_from_slots_beyond_the_skew_never_resolve(device, distance, sign, unix):
    stale = derive_token(SECRETS[device], slot_of(unix, SLOT_S) + sign * distance)
    assert table().resolve(stale, unix) is None


@given(st.binary(min_size=16, max_size=64), st.integers(-2, 2), st.integers(0, 10**9))
def test_tokens_of_unregistered_devices_never_resolve(secret, offset, unix):
    assume(secret not in SECRETS.values())
    assert table().resolve(derive_token(secret, slot_of(unix, SLOT_S) + offset), unix) is None


@settings(max_examples=300)
@given(st.binary(min_size=TOKEN_LEN, max_size=TOKEN_LEN), st.integers(0, 10**9))
def test_forged_tokens_never_resolve(token, unix):
    now_slot = slot_of(unix, SLOT_S)
    genuine = {derive_token(s, now_slot + k) for s in SECRETS.values() for k in (-1, 0, 1)}
    assume(token not in genuine)
    assert table().resolve(token, unix) is None


def test_zero_skew_accepts_only_the_current_slot():
    unix = VECTOR_UNIX
    t = table(skew=0)
    assert t.resolve(derive_token(SECRETS["dev-3"], slot_of(unix, SLOT_S)), unix) == "dev-3"
    assert t.resolve(derive_token(SECRETS["dev-3"], slot_of(unix, SLOT_S) + 1), unix) is None


def test_token_sequence_script_prints_the_published_vectors():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "ble_token_sequence.py"
    out = subprocess.run([sys.executable, str(script), "--secret", VECTOR_SECRET.hex(), "--start", "2026-06-01T16:55:00Z",
                          "--count", "3", "--measured-power", "-59"], capture_output=True, text=True, check=True).stdout
    assert "slot 5934444  token 6bd05ff902a04aa6  service data 016bd05ff902a04aa6c5" in out


def test_reverse_mode_test_vectors_hold():
    # docs/ble-advertising.md, "Test vectors (reverse mode)".
    from truck_pos.domain.tokens import parse_ibeacon, truck_beacon, truck_token

    phone = bytes(range(32, 64))
    rows = [(5934443, "fb8bd679", "e858315c18d9eac8"), (5934444, "dd4a8f12", "0d80c83546ed1628"),
            (5934445, "4ee5dfa0", "a96fdf49a89712a2")]
    for slot, truck, customer in rows:
        assert f"{truck_token(VECTOR_SECRET, slot):08x}" == truck
        assert truck_beacon(VECTOR_SECRET, slot, -59).hex() == "0215d3a1c0de5e1f4b7a9c2e8f6b1a2c3d4e" + truck + "c5"
        assert derive_token(phone, slot).hex() == customer
    beacon = parse_ibeacon(truck_beacon(VECTOR_SECRET, 5934444, -59))
    assert (beacon.major, beacon.minor, beacon.token, beacon.measured_power_dbm) == (56650, 36626, 0xDD4A8F12, -59)
    assert parse_ibeacon(b"\x02\x15" + bytes(20)) is None and parse_ibeacon(None) is None
