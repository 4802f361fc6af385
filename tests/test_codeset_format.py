"""The unique-code set's wire format and its limits, against the format in truck_pos/domain/codeset.py's docstring.

The model here re-derives what the docstring specifies: the 64-bit hash (SHA-256 over the context, the campaign id
and the code, first 8 bytes big-endian), the fewest buckets (a power of two) that hold every code with one-byte
counts, and the refusals that name the field. Crowded buckets never happen with real hashes, so those tests feed
chosen hashes through ``code_hash`` to reach the spreading rule.
"""

from __future__ import annotations

import base64
import hashlib
import random
import re
import zlib

import pytest

from truck_pos.domain import codeset
from truck_pos.domain.codeset import (
    CODE_ALPHABET, MAX_BUCKET_BITS, MAX_UNIQUE_CODES, CodeSetError, UniqueCodeSet, code_hash, encode_codes, make_codes,
)


def model_hash(campaign_id: str, code: str) -> int:
    digest = hashlib.sha256(b"truck_pos.ucode.v1\x00" + campaign_id.encode() + b"\x00" + code.encode()).digest()
    return int.from_bytes(digest[:8], "big")


def model_bits(n: int) -> int:
    """The fewest buckets, a power of two, at least as many as the codes (1-2 codes a bucket on average)."""
    bits = 0
    while (1 << bits) < n and bits < MAX_BUCKET_BITS:
        bits += 1
    return bits


def field(count, bits, raw: bytes) -> dict:
    return {"count": count, "bucket_bits": bits, "data": base64.urlsafe_b64encode(zlib.compress(raw)).decode().rstrip("=")}


def test_codes_are_three_groups_of_four_readable_characters():
    picks = iter("ABCDEFGHJKLMNPQRSTUVWXYZ23456789" * 10)
    codes = make_codes(2, lambda alphabet: next(picks))
    assert codes == ["ABCD-EFGH-JKLM", "NPQR-STUV-WXYZ"]
    shape = re.compile(r"[A-HJ-NP-Z2-9]{4}(-[A-HJ-NP-Z2-9]{4}){2}")
    assert all(shape.fullmatch(c) for c in make_codes(50, random.Random(1).choice))
    assert not set("0O1I") & set(CODE_ALPHABET)


def test_the_hash_is_sha256_of_context_campaign_and_code_cut_to_64_bits():
    for campaign, code in [("summer", "K7QM-2XPA-9RTD"), ("a", ""), ("ünï", "ÄB")]:
        assert code_hash(campaign, code) == model_hash(campaign, code)
    assert code_hash("ab", "c") != code_hash("a", "bc")  # the separator keeps campaign and code apart


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 9, 100, 1000])
def test_the_set_uses_the_fewest_buckets_that_give_one_or_two_codes_a_bucket(n):
    codes = [f"CODE-{i}" for i in range(n)]
    encoded = encode_codes("c", codes)
    assert (encoded["count"], encoded["bucket_bits"]) == (n, model_bits(n))
    assert all(c in UniqueCodeSet("c", encoded) for c in codes)


def test_more_codes_than_the_limit_are_refused(monkeypatch):
    monkeypatch.setattr(codeset, "MAX_UNIQUE_CODES", 3)
    assert encode_codes("c", ["A", "B", "C"])["count"] == 3
    with pytest.raises(CodeSetError, match="^at most 3 unique codes per segment$"):
        encode_codes("c", ["A", "B", "C", "D"])


def chosen_hashes(monkeypatch, hashes: dict[str, int]) -> None:
    monkeypatch.setattr(codeset, "code_hash", lambda campaign_id, code: hashes[code])


def test_255_codes_in_one_bucket_fit_its_one_byte_count(monkeypatch):
    hashes = {f"c{i}": i for i in range(255)}  # small numbers: every one in bucket 0, whatever the bits
    chosen_hashes(monkeypatch, hashes)
    encoded = encode_codes("c", hashes)
    assert (encoded["count"], encoded["bucket_bits"]) == (255, 8)
    assert all(UniqueCodeSet("c", encoded).has(h) for h in hashes.values())


def test_a_crowded_bucket_is_spread_over_twice_the_buckets_until_it_fits(monkeypatch):
    # 256 codes (8 bits to start) whose top 8 bits agree and whose 9th bit splits them 128 / 128
    hashes = {f"c{i}": ((i % 2) << 55) | i for i in range(256)}
    chosen_hashes(monkeypatch, hashes)
    encoded = encode_codes("c", hashes)
    assert encoded["bucket_bits"] == 9
    assert all(UniqueCodeSet("c", encoded).has(h) for h in hashes.values())


def test_spreading_stops_at_the_most_buckets_and_then_refuses(monkeypatch):
    hashes = {f"c{i}": i for i in range(256)}  # one bucket at any number of bits
    chosen_hashes(monkeypatch, hashes)
    with pytest.raises(CodeSetError, match="^too many codes share a bucket$"):
        encode_codes("c", hashes)
    # split only by the 22nd bit from the top: one more than the most buckets allowed
    hashes = {f"c{i}": ((i % 2) << (64 - MAX_BUCKET_BITS - 1)) | i for i in range(300)}
    chosen_hashes(monkeypatch, hashes)
    with pytest.raises(CodeSetError, match="^too many codes share a bucket$"):
        encode_codes("c", hashes)


def test_the_reader_keeps_the_campaign_and_counts():
    encoded = encode_codes("summer", ["A", "B"])
    codes = UniqueCodeSet("summer", encoded)
    assert (codes.campaign_id, codes.count, len(codes)) == ("summer", 2, 2)


@pytest.mark.parametrize("bad, message", [
    ({"count": "2", "bucket_bits": 1, "data": ""}, "unique_codes.count must be 0..1000000"),
    ({"count": -1, "bucket_bits": 1, "data": ""}, "unique_codes.count must be 0..1000000"),
    ({"count": MAX_UNIQUE_CODES + 1, "bucket_bits": 1, "data": ""}, "unique_codes.count must be 0..1000000"),
    ({"count": 1, "bucket_bits": MAX_BUCKET_BITS + 1, "data": ""}, "unique_codes.bucket_bits must be 0..21"),
    ({"count": 1, "bucket_bits": -1, "data": ""}, "unique_codes.bucket_bits must be 0..21"),
    ([1, 2], "unique_codes must be an object with count, bucket_bits and data"),
])
def test_a_bad_header_is_refused_with_the_field_named(bad, message):
    with pytest.raises(CodeSetError) as refused:
        UniqueCodeSet("c", bad)
    assert str(refused.value) == message


def test_the_largest_count_and_the_most_buckets_pass_the_header_check_and_then_meet_the_data_check():
    for count, bits in [(MAX_UNIQUE_CODES, 1), (1, MAX_BUCKET_BITS)]:
        with pytest.raises(CodeSetError) as refused:
            UniqueCodeSet("c", field(count, bits, b"\x00" * 4), where="seg.unique_codes")
        assert str(refused.value) == f"seg.unique_codes.data does not hold {count} codes in {1 << bits} buckets"


def test_bucket_counts_that_do_not_add_up_are_refused():
    with pytest.raises(CodeSetError) as refused:
        UniqueCodeSet("c", field(1, 1, b"\x01\x01" + b"\x00" * 4))
    assert str(refused.value) == "unique_codes.data bucket counts do not add up to 1"


def test_a_zip_bomb_is_refused_without_being_inflated():
    """A hostile bundle's ``data`` that inflates to 256 MiB is refused having inflated at most its declared size."""
    import tracemalloc

    bomb = zlib.compressobj(9)
    chunk = bytes(1 << 20)
    data = b"".join(bomb.compress(chunk) for _ in range(256)) + bomb.flush()  # 256 MiB of zeros in ~250 KB
    assert len(data) < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(CodeSetError, match="does not hold 1 codes in 1 buckets"):
            UniqueCodeSet("c1", {"count": 1, "bucket_bits": 0, "data": base64.urlsafe_b64encode(data).rstrip(b"=").decode()})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20  # the encoded bomb and its decoding (~1 MB), not the 256 MiB it would become
