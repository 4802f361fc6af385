"""Token resolution with a truck clock that is not known good, and the payload formats' bounds (truck_pos.domain.tokens).

DESIGN.md: "A Pi has no real-time clock: token resolution must survive a wrong clock, and say so." The rules are
TokenTable's docstring: a trusted clock covers ``skew_slots`` (1) either side; an untrusted one covers
``wide_skew_slots`` (14) either side and learns the phones' offset once ``learn_n`` (4) resolutions from
``learn_devices`` (3) phones agree on it, one vote per phone per offset change, the agreeing offset holding a
strict majority of the recent votes (the last ``4 * learn_n``). The scenarios' expectations are worked out by hand
from those rules; phones' tokens are derived here with HMAC-SHA256 exactly as the module docstring specifies.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

import pytest

from truck_pos.domain.tokens import (
    SERVICE_UUID, TokenTable, encode_service_data, ibeacon_payload, parse_ibeacon, parse_service_data,
)

SLOT_S = 300
NOW = 1_780_000_000.0  # 2026-05-28: a truck clock that may be wrong
OWN = int(NOW // SLOT_S)


def secret(i: int) -> bytes:
    return hashlib.sha256(f"phone-{i}".encode()).digest()


def token(i: int, slot: int) -> bytes:
    """The phone's token per the module docstring: HMAC-SHA256(secret, DOMAIN || slot 8-byte big-endian)[:8]."""
    return hmac.new(secret(i), b"truck_pos/ble/v1" + slot.to_bytes(8, "big", signed=True), hashlib.sha256).digest()[:8]


def table(phones: int = 20, **kwargs) -> TokenTable:
    return TokenTable([(f"p{i}", secret(i)) for i in range(phones)], **kwargs)


def vote(t: TokenTable, phone: int, offset: int) -> str | None:
    """Phone ``phone`` is seen with a clock ``offset`` slots ahead of the truck's."""
    return t.resolve(token(phone, OWN + offset), NOW)


def test_a_trusted_clock_covers_one_slot_either_side_by_default():
    t = table()
    assert [vote(t, 0, off) for off in (-2, -1, 0, 1, 2)] == [None, "p0", "p0", "p0", None]
    assert t.clock_offset_s() is None


def test_an_untrusted_clock_covers_fourteen_slots_either_side():
    t = table(clock_trusted=False)
    assert [vote(t, 0, off) for off in (-15, -14, 14, 15)] == [None, "p0", "p0", None]


def test_telling_the_table_the_clock_is_good_narrows_it_again():
    t = table(clock_trusted=False)
    assert vote(t, 0, 5) == "p0"
    t.set_clock_trusted(True)
    assert (t.clock_trusted, vote(t, 1, 5), vote(t, 1, 1)) == (True, None, "p1")
    t.set_clock_trusted(0)
    assert t.clock_trusted is False and vote(t, 2, 5) == "p2"


def test_four_phones_agreeing_teach_the_offset_and_the_window_follows_it():
    t = table(clock_trusted=False)
    for phone in range(3):
        vote(t, phone, 5)
    assert t.clock_offset_s() is None  # three votes: not yet
    vote(t, 3, 5)
    assert t.clock_offset_s() == 5 * SLOT_S  # phones are 25 minutes ahead of the truck
    # the window is now centred 5 slots ahead: +19 is inside, -10 is not
    assert (vote(t, 4, 19), vote(t, 4, -10), vote(t, 4, 20)) == ("p4", None, None)


def test_a_phone_that_keeps_being_seen_at_the_same_offset_votes_once():
    t = table(clock_trusted=False)
    for _ in range(5):
        vote(t, 0, 5)
    vote(t, 1, 5)
    vote(t, 2, 5)
    assert t.clock_offset_s() is None  # 3 votes from 3 phones; p0's repeats do not count


def test_three_phones_are_needed_however_many_votes_two_phones_cast():
    t = table(clock_trusted=False)
    for phone, off in [(0, 5), (1, 5), (0, 6), (0, 5), (1, 6), (1, 5)]:  # four votes for +5 from two phones
        vote(t, phone, off)
    assert t.clock_offset_s() is None
    vote(t, 2, 5)
    assert t.clock_offset_s() == 5 * SLOT_S


def test_four_votes_from_exactly_three_phones_are_enough():
    t = table(clock_trusted=False)
    for phone, off in [(0, 5), (0, 6), (0, 5), (1, 5), (2, 5)]:
        vote(t, phone, off)
    assert t.clock_offset_s() == 5 * SLOT_S


def test_the_offset_most_phones_agree_on_wins_not_the_largest_or_the_first():
    t = table(clock_trusted=False)
    vote(t, 9, 7)
    for phone in range(4):
        vote(t, phone, 3)
    assert t.clock_offset_s() == 3 * SLOT_S


def test_agreement_needs_a_strict_majority_of_the_recent_votes():
    t = table(clock_trusted=False)
    for phone, off in [(10, 8), (11, 9), (12, 10), (13, 11)]:  # four scattered votes
        vote(t, phone, off)
    for phone in range(4):
        vote(t, phone, 3)  # four agreeing votes: half of eight, not more
    assert t.clock_offset_s() is None
    vote(t, 4, 3)
    assert t.clock_offset_s() == 3 * SLOT_S  # five of nine


def test_only_the_last_sixteen_votes_count_so_a_corrected_clock_is_relearned():
    t = table(phones=40, clock_trusted=False)
    for phone in range(16):
        vote(t, phone, 0)
    assert t.clock_offset_s() == 0.0  # learned: the truck's clock agrees with the phones
    for phone in range(16, 24):
        vote(t, phone, 3)
    assert t.clock_offset_s() == 0.0  # 8 of the last 16 votes: no majority yet
    vote(t, 24, 3)
    assert t.clock_offset_s() == 3 * SLOT_S  # 9 of the last 16


def test_a_replacement_table_keeps_what_the_old_one_learned():
    old = table(clock_trusted=False)
    for phone in range(4):
        vote(old, phone, -6)
    new = table(phones=30, clock_trusted=False)
    new.carry_learning(old)
    assert new.clock_offset_s() == -6 * SLOT_S
    assert vote(new, 25, -20) == "p25"  # centred 6 slots behind: -20 is within 14 of it
    vote(new, 4, -6)  # p0..p3 already voted -6 in the old table: their next -6 sighting does not count again
    vote(new, 0, -6)
    assert new.clock_offset_s() == -6 * SLOT_S


@pytest.mark.parametrize("kwargs", [
    {"slot_s": 0}, {"slot_s": -1}, {"skew_slots": -1}, {"skew_slots": 5, "wide_skew_slots": 3},
])
def test_impossible_windows_are_refused(kwargs):
    with pytest.raises(ValueError, match=r"^slot_s must be > 0 and 0 <= skew_slots <= wide_skew_slots$"):
        table(**kwargs)


def test_the_smallest_windows_are_allowed():
    t = table(slot_s=1, skew_slots=3, wide_skew_slots=3)
    assert (t.slot_s, t.skew_slots, t.wide_skew_slots) == (1, 3, 3)


def test_service_data_with_and_without_the_measured_power():
    tok = bytes(range(1, 9))
    assert encode_service_data(tok) == b"\x01" + tok
    assert encode_service_data(tok, -59) == b"\x01" + tok + bytes([256 - 59])
    short = parse_service_data(b"\x01" + tok)
    assert (short.token, short.measured_power_dbm) == (tok, None)
    full = parse_service_data(b"\x01" + tok + b"\xc5")
    assert (full.token, full.measured_power_dbm) == (tok, -59)
    with pytest.raises(ValueError, match="^token must be 8 bytes$"):
        encode_service_data(tok[:7])
    assert SERVICE_UUID == str(uuid.UUID(SERVICE_UUID))


@pytest.mark.parametrize("major, minor, power", [(0, 0, -128), (0xFFFF, 0xFFFF, 127), (1, 2, -59)])
def test_ibeacon_fields_at_their_limits_round_trip(major, minor, power):
    payload = ibeacon_payload(major, minor, power, beacon_uuid="d3a1c0de-5e1f-4b7a-9c2e-8f6b1a2c3d4e")
    assert payload == (b"\x02\x15" + bytes.fromhex("d3a1c0de5e1f4b7a9c2e8f6b1a2c3d4e") + major.to_bytes(2, "big")
                       + minor.to_bytes(2, "big") + (power % 256).to_bytes(1, "big"))
    beacon = parse_ibeacon(payload)
    assert (beacon.beacon_uuid, beacon.major, beacon.minor, beacon.measured_power_dbm) == (
        "d3a1c0de-5e1f-4b7a-9c2e-8f6b1a2c3d4e", major, minor, power)
    assert beacon.token == (major << 16) | minor


@pytest.mark.parametrize("major, minor, power", [
    (-1, 0, -59), (0x10000, 0, -59), (0, -1, -59), (0, 0x10000, -59), (0, 0, -129), (0, 0, 128),
])
def test_ibeacon_fields_out_of_range_are_refused(major, minor, power):
    with pytest.raises(ValueError, match="^major/minor are 16-bit, measured power a signed byte$"):
        ibeacon_payload(major, minor, power)
