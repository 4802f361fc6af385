"""Unique single-use codes inside a bundle: a compact set of truncated hashes, O(1) to check. Pure.

A segment may carry ``"unique_codes": {"count": n, "bucket_bits": b, "data": "<base64url>"}``.
Each code is hashed (SHA-256 over a context, the campaign id and the normalized code; 64 bits kept).
The top ``b`` bits pick a bucket, the low 32 bits are stored. ``data`` is the zlib stream of
``2**b`` one-byte bucket counts followed by the ``n`` low words (uint32 little-endian, sorted
within their bucket). About 4.3 bytes a code: 100k codes take ~430 kB before base64; a check
hashes once and looks in one bucket (1-2 entries on average), whatever the number of codes.

A random guess matches with probability about ``n / 2**(b + 32)`` (~2e-10 per guess), so the set
answers "issued" for a typed guess essentially never; the codes themselves never appear in the bundle.
Limit (said plainly): someone who holds the bundle can search offline for a text that lands on a
stored entry, about ``2**(b + 32) / n`` SHA-256 tries (~6e9 at 100k codes: minutes on a GPU). The
size goal (100k codes in one MQTT message) leaves no room for many more bits; each such text is
still one use, and every redemption goes up with its code, so the hub can check it against the
issued list (the owner's CSV).
"""

from __future__ import annotations

import hashlib
import sys
import zlib
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable
from itertools import accumulate
from typing import Any

from truck_pos.domain.bundle import b64u_decode, b64u_encode

_CONTEXT = b"truck_pos.ucode.v1\x00"
_LOW_MASK = 0xFFFFFFFF
MAX_UNIQUE_CODES = 1_000_000
MAX_BUCKET_BITS = 21


class CodeSetError(ValueError):
    """A unique-code set that cannot be read; ``str()`` says why."""


def _words() -> array:
    words = array("I")
    if words.itemsize != 4:  # C unsigned int is 4 bytes on every platform we run on; be explicit anyway
        words = array("L" if array("L").itemsize == 4 else "H")
    return words


CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed without mix-ups


def make_codes(n: int, choice: Callable[[str], str], groups: int = 3) -> list[str]:
    """``n`` distinct random codes like ``K7QM-2XPA-9RTD`` (60 bits each); ``choice`` is e.g. ``secrets.choice``."""
    codes: set[str] = set()
    while len(codes) < n:
        codes.add("-".join("".join(choice(CODE_ALPHABET) for _ in range(4)) for _ in range(groups)))
    return sorted(codes)


def code_hash(campaign_id: str, normalized_code: str) -> int:
    """The 64-bit hash a code is stored and looked up by."""
    return hasher(campaign_id)(normalized_code)


def hasher(campaign_id: str) -> Callable[[str], int]:
    """``code_hash`` for one campaign, with its prefix bytes made once (the check's hot path)."""
    prefix, sha256, from_bytes = _CONTEXT + campaign_id.encode("utf-8") + b"\x00", hashlib.sha256, int.from_bytes

    def hash_code(normalized_code: str) -> int:
        return from_bytes(sha256(prefix + normalized_code.encode("utf-8")).digest()[:8], "big")

    return hash_code


def _bucket_bits(n: int) -> int:
    return max(0, min(MAX_BUCKET_BITS, (max(n, 1) - 1).bit_length()))


def encode_codes(campaign_id: str, normalized_codes: Iterable[str]) -> dict[str, Any]:
    """The owner's side: the ``unique_codes`` field for these (already normalized) codes."""
    hashes = sorted({code_hash(campaign_id, c) for c in normalized_codes})
    if len(hashes) > MAX_UNIQUE_CODES:
        raise CodeSetError(f"at most {MAX_UNIQUE_CODES} unique codes per segment")
    bits = _bucket_bits(len(hashes))
    while True:
        shift = 64 - bits
        pairs = sorted({(h >> shift, h & _LOW_MASK) for h in hashes})  # by bucket, then low word
        counts = Counter(bucket for bucket, _ in pairs)
        if max(counts.values(), default=0) <= 255 or bits >= MAX_BUCKET_BITS:
            break
        bits += 1  # a crowded bucket (astronomically rare): spread over more buckets
    if max(counts.values(), default=0) > 255:
        raise CodeSetError("too many codes share a bucket")
    table = bytes(counts.get(b, 0) for b in range(1 << bits))
    lows = _words()
    lows.extend(low for _, low in pairs)
    if sys.byteorder != "little":
        lows.byteswap()
    return {"count": len(pairs), "bucket_bits": bits, "data": b64u_encode(zlib.compress(table + lows.tobytes(), 9))}


class UniqueCodeSet:
    """The issued unique codes of one segment; ``code in s`` is one hash and a look in one bucket."""

    __slots__ = ("campaign_id", "count", "_shift", "_offsets", "_lows", "_hash")

    def __init__(self, campaign_id: str, field: Any, where: str = "unique_codes"):
        if not isinstance(field, dict) or set(field) != {"count", "bucket_bits", "data"}:
            raise CodeSetError(f"{where} must be an object with count, bucket_bits and data")
        count, bits, data = field["count"], field["bucket_bits"], field["data"]
        if type(count) is not int or not 0 <= count <= MAX_UNIQUE_CODES:
            raise CodeSetError(f"{where}.count must be 0..{MAX_UNIQUE_CODES}")
        if type(bits) is not int or not 0 <= bits <= MAX_BUCKET_BITS:
            raise CodeSetError(f"{where}.bucket_bits must be 0..{MAX_BUCKET_BITS}")
        size = (1 << bits) + 4 * count
        try:
            inflater = zlib.decompressobj()
            raw = inflater.decompress(b64u_decode(data), size + 1)  # never inflate more than the declared size
        except (ValueError, zlib.error):
            raise CodeSetError(f"{where}.data is not base64url zlib data") from None
        if len(raw) != size or not inflater.eof:
            raise CodeSetError(f"{where}.data does not hold {count} codes in {1 << bits} buckets")
        counts = raw[: 1 << bits]
        if sum(counts) != count:
            raise CodeSetError(f"{where}.data bucket counts do not add up to {count}")
        lows = _words()
        lows.frombytes(raw[1 << bits:])
        if sys.byteorder != "little":
            lows.byteswap()
        self.campaign_id = campaign_id
        self.count = count
        self._shift = 64 - bits
        self._offsets = _words()  # 4 bytes an entry (at most a million codes): half the cache misses of 8
        self._offsets.extend(accumulate(counts, initial=0))
        self._lows = lows
        self._hash = hasher(campaign_id)

    def __len__(self) -> int:
        return self.count

    def __contains__(self, normalized_code: object) -> bool:
        return isinstance(normalized_code, str) and self.has(self._hash(normalized_code))

    def has(self, h: int) -> bool:
        """Is the code with hash ``h`` (see :func:`code_hash`) in the set?"""
        bucket = h >> self._shift
        lo, hi = self._offsets[bucket], self._offsets[bucket + 1]
        low = h & _LOW_MASK
        i = bisect_left(self._lows, low, lo, hi)
        return i < hi and self._lows[i] == low
