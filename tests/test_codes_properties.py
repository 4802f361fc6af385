"""Property tests for the code rules: forgery, windows (time zone and DST), and usage limits."""

from __future__ import annotations

import base64
import random
import string
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import HealthCheck, example, given, settings, strategies as st

from campaign_support import build_services, demo_document, install
from truck_pos.domain.bundle import raw_public_key
from truck_pos.domain.campaign import normalize, parse_campaign
from truck_pos.domain.codes import (CheckContext, CodeAccepted, CodeIndex, PersonalCode, UsageCounts,
                                    b32encode_unpadded, issue_personal_code, read_personal_code)
from truck_pos.domain.order import TicketLine
from truck_pos.errors import InvalidInput
from truck_pos.store.campaign_models import Redemption

OWNER = Ed25519PrivateKey.generate()
LINES = (TicketLine("bowl-burrito", "Burrito Bowl", 1095, 1, 825),)
TZ = "America/Chicago"
ALPHABET = string.ascii_uppercase + "234567" + "01890-_ abc"


@settings(max_examples=400)
@given(st.binary(max_size=700))
@example(b"")
@example(b"\xff" * 125)
def test_personal_code_base32_is_rfc4648_as_the_standard_library_writes_it(blob):
    assert b32encode_unpadded(blob) == base64.b32encode(blob).decode("ascii").rstrip("=")


def mutate(code: str, rng: random.Random) -> str:
    """One random edit: replace, insert, delete, swap two, or flip a run of characters."""
    chars = list(code)
    op = rng.randrange(5)
    i = rng.randrange(len(chars))
    if op == 0:
        chars[i] = rng.choice(ALPHABET)
    elif op == 1:
        chars.insert(i, rng.choice(ALPHABET))
    elif op == 2:
        del chars[i]
    elif op == 3:
        j = rng.randrange(len(chars))
        chars[i], chars[j] = chars[j], chars[i]
    else:
        for k in range(i, min(len(chars), i + rng.randint(2, 8))):
            chars[k] = rng.choice(ALPHABET)
    return "".join(chars)


def count_accepted_mutations(original: str, public_raw: bytes, seed: int, n: int) -> int:
    """Try ``n`` altered versions of ``original``; how many verify? (runs in a worker process)"""
    key = Ed25519PublicKey.from_public_bytes(public_raw)
    rng = random.Random(seed)
    accepted = tried = 0
    while tried < n:
        mutated = mutate(original, rng)
        if normalize(mutated) == normalize(original):
            continue  # only case, spaces or dashes changed: the same code
        tried += 1
        accepted += read_personal_code(normalize(mutated), key) is not None
    return accepted


@pytest.mark.slow
def test_100k_random_mutations_of_a_personal_code_are_never_accepted():
    original = issue_personal_code(PersonalCode("summer-launch", "nearby_devices", "c-000123"), OWNER)
    public_raw = raw_public_key(OWNER.public_key())
    assert read_personal_code(normalize(original), OWNER.public_key()) is not None
    workers = 2  # one Ed25519 verification is ~0.3 ms here: split the 100k over both cores
    with ProcessPoolExecutor(workers) as pool:
        counts = list(pool.map(count_accepted_mutations, [original] * workers, [public_raw] * workers,
                               [20260601 + i for i in range(workers)], [100_000 // workers] * workers))
    assert sum(counts) == 0


@settings(max_examples=300, deadline=None)
@given(customer=st.text(min_size=1, max_size=40), segment=st.sampled_from(["nearby_devices", "facebook_likers"]),
       forged_with_other_key=st.booleans(), data=st.data())
def test_codes_for_other_customers_or_signed_by_others_never_pass_as_this_one(customer, segment, forged_with_other_key, data):
    key = OWNER.public_key()
    signer = Ed25519PrivateKey.generate() if forged_with_other_key else OWNER
    code = issue_personal_code(PersonalCode("summer-launch", segment, customer), signer)
    read = read_personal_code(normalize(code), key)
    if forged_with_other_key:
        assert read is None
    else:
        assert read == PersonalCode("summer-launch", segment, customer)
        # Splicing the signature of one customer's code onto another's payload never verifies.
        other = issue_personal_code(PersonalCode("summer-launch", segment, customer + "x"), OWNER)
        spliced = normalize(code)[:-103] + normalize(other)[-103:]
        assert read_personal_code(spliced, key) is None


def window_index(valid_from: str, valid_until: str) -> CodeIndex:
    doc = demo_document(valid_from="2026-01-01T00:00", valid_until="2026-12-31T23:59")
    doc["segments"][0].update(valid_from=valid_from, valid_until=valid_until)
    return CodeIndex(parse_campaign(doc, TZ))


WINDOWS = [  # (from, until) in local time; two cross a DST change in Chicago
    ("2026-06-01T11:00", "2026-06-01T12:00"),
    ("2026-03-08T01:30", "2026-03-08T03:30"),  # spring forward: 02:00-03:00 does not exist
    ("2026-11-01T00:30", "2026-11-01T01:30"),  # fall back: 01:00-02:00 happens twice (first one is used)
]


@settings(max_examples=400, deadline=None)
@given(window=st.sampled_from(WINDOWS), offset_s=st.integers(-7200, 7200 + 3 * 3600), micro=st.sampled_from([0, 1, 999_999]),
       at_edge=st.sampled_from([None, "from", "until"]), edge_delta_us=st.sampled_from([-1, 0, 1]))
def test_a_code_is_accepted_exactly_within_its_local_window(window, offset_s, micro, at_edge, edge_delta_us):
    index = window_index(*window)
    tz = ZoneInfo(TZ)
    start = datetime.fromisoformat(window[0]).replace(tzinfo=tz).astimezone(timezone.utc)
    end = datetime.fromisoformat(window[1]).replace(tzinfo=tz).astimezone(timezone.utc)
    if at_edge:
        now = (start if at_edge == "from" else end) + timedelta(microseconds=edge_delta_us)
    else:
        now = start - timedelta(hours=2) + timedelta(seconds=offset_s, microseconds=micro)
    ctx = CheckContext(now, TZ, "truck-test", LINES)
    result = index.check("FB-LIKE-10", ctx, UsageCounts())
    assert isinstance(result, CodeAccepted) == (start <= now <= end), (now, result)
    if now < start:
        assert result.reason.startswith("not valid until")
    elif now > end:
        assert result.reason.startswith("expired at")


def test_dst_windows_have_their_real_length():
    spring = window_index(*WINDOWS[1]).by_code["FBLIKE10"]
    autumn = window_index(*WINDOWS[2]).by_code["FBLIKE10"]
    assert spring.valid_until_utc - spring.valid_from_utc == timedelta(hours=1)  # 01:30 CST -> 03:30 CDT
    assert autumn.valid_until_utc - autumn.valid_from_utc == timedelta(hours=1)  # 00:30 CDT -> 01:30 CDT (first)


class LimitModel:
    """Reference model of the limit rules, written from the spec (not from the code): a use counts once its sale
    is paid; a segment with a per-customer limit needs a customer; the total and per-customer caps are inclusive."""

    def __init__(self, total: int, per_customer: int):
        self.total, self.per_customer = total, per_customer
        self.used = 0
        self.by: dict[str, int] = {}

    def allows(self, customer: str | None) -> bool:
        if customer is None:
            return False  # uses_per_customer is set: anonymous use is not possible
        return self.used < self.total and self.by.get(customer, 0) < self.per_customer

    def pay(self, customer: str) -> None:
        self.used += 1
        self.by[customer] = self.by.get(customer, 0) + 1


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(total=st.integers(1, 12), per_customer=st.integers(1, 3),
       orders=st.lists(st.sampled_from(["c-a", "c-b", "c-c", None]), min_size=1, max_size=25),
       interleave=st.booleans())
@example(total=1, per_customer=3, orders=["c-a", "c-b", "c-c"], interleave=True)  # the last use, taken twice at once
@example(total=5, per_customer=1, orders=["c-a", "c-a", "c-b"], interleave=True)
def test_per_customer_and_total_limits_hold_under_many_orders(tmp_path_factory, clock, total, per_customer, orders, interleave):
    doc = demo_document()
    doc["segments"][0].update(total_uses=total, uses_per_customer=per_customer)
    services = build_services(tmp_path_factory.mktemp("limits"), clock, OWNER)
    model = LimitModel(total, per_customer)
    batch = 3 if interleave else 1  # codes go on up to three open tickets before any is paid
    try:
        install(services, OWNER, doc)
        pending: list[tuple[str, str | None, bool]] = []
        for customer in orders:
            tid = services.register.open_ticket().id
            services.register.add_item(tid, "bowl-burrito")
            services.register.set_customer(tid, customer)
            result = services.redemption.apply_code(tid, "FB-LIKE-10")
            assert isinstance(result, CodeAccepted) == model.allows(customer), (customer, result)
            if customer is None and model.used < total:  # a sold-out code says so first
                assert result.reason == "this code needs the customer: scan their QR or look them up"
            pending.append((tid, customer, isinstance(result, CodeAccepted)))
            if len(pending) == batch:
                for t, c, has_code in pending:
                    if has_code and not model.allows(c):
                        # another open ticket took the last use first: the sale's own recheck refuses it
                        with pytest.raises(InvalidInput, match="FBLIKE10"):
                            services.register.pay_card(t)
                        services.register.clear_tenders(t)
                        services.register.remove_discounts(t)
                        has_code = False
                    services.register.pay_card(t)
                    if has_code:
                        model.pay(c)
                pending.clear()
        for t, _, _ in pending:
            services.register.cancel(t)
        assert Redemption.select().count() == model.used
        for c in ("c-a", "c-b", "c-c"):
            assert Redemption.select().where(Redemption.customer_ref == c).count() == model.by.get(c, 0)
        assert Redemption.select().where(Redemption.customer_ref.is_null()).count() == 0
    finally:
        services.close()


def stdlib_b32(body: str) -> bytes | None:
    """The reference: the standard library's base32, and only its canonical spelling."""
    import base64
    import binascii

    try:
        blob = base64.b32decode(body + "=" * (-len(body) % 8))
    except (binascii.Error, ValueError):
        return None
    return blob if body and base64.b32encode(blob).decode().rstrip("=") == body else None


@settings(max_examples=2000, deadline=None)
@given(body=st.one_of(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", max_size=60),
                      st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ2345670189az_-+ ٣", max_size=60),
                      st.binary(min_size=1, max_size=40).map(lambda b: __import__("base64").b32encode(b).decode().rstrip("="))))
def test_the_fast_base32_reader_agrees_with_the_standard_library(body):
    from truck_pos.domain.codes import _b32decode_canonical

    assert _b32decode_canonical(body) == stdlib_b32(body)
