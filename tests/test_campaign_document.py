"""The campaign document (truck_pos/domain/campaign.py docstring, README "Writing a campaign"): every field's
bounds and defaults, against values worked by hand.

UTC offsets are worked by hand: America/Chicago is UTC-5 in June (CDT) and UTC-6 in January (CST); the Unix
time of 2026-05-31T20:00:00Z is counted from the day number. The refusal texts are the reasons the owner reads
(``invalid campaign: <where> ...``), pinned as that user-facing text.
"""

from __future__ import annotations

import base64
import copy
from datetime import date, datetime, time, timezone

import pytest

from truck_pos.domain.bundle import BundleRefused
from truck_pos.domain.campaign import Benefit, Goal, group_key, local_to_utc, normalize, parse_benefit, parse_campaign

TZ = "America/Chicago"
BASE = {"id": "c1", "issued_at": "2026-05-31T20:00:00Z", "valid_from": "2026-06-01T10:00",
        "valid_until": "2026-06-07T22:00",
        "segments": [{"name": "s", "channel": "sms", "benefit": {"kind": "percent_off", "percent": 10}}]}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def doc(**changes):
    d = copy.deepcopy(BASE)
    d.update(changes)
    return d


def seg(**changes):
    s = copy.deepcopy(BASE["segments"][0])
    s.update(changes)
    return doc(segments=[s])


def refused(document, hour: int = 4) -> str:
    with pytest.raises(BundleRefused) as info:
        parse_campaign(document, TZ, hour)
    return str(info.value)


# --- times -------------------------------------------------------------------------------------
def test_local_times_dates_and_offsets_are_read_in_the_truck_zone():
    assert local_to_utc("2026-06-01T10:00", TZ) == utc(2026, 6, 1, 15)  # CDT, UTC-5
    assert local_to_utc("2026-01-15T10:00", TZ) == utc(2026, 1, 15, 16)  # CST, UTC-6
    assert local_to_utc("2026-06-01T10:00Z", TZ) == utc(2026, 6, 1, 10)
    assert local_to_utc("2026-06-01T10:00+02:00", TZ) == utc(2026, 6, 1, 8)
    # a date alone is a business day: from the start hour to the same hour the next day
    assert local_to_utc("2026-06-02", TZ) == utc(2026, 6, 2, 9)
    assert local_to_utc("2026-06-02", TZ, end=True) == utc(2026, 6, 3, 9)
    assert local_to_utc("2026-06-02", TZ, day_start_hour=6) == utc(2026, 6, 2, 11)
    assert local_to_utc("2026-06-02", TZ, day_start_hour=6, end=True) == utc(2026, 6, 3, 11)


def test_bad_times_are_refused_naming_the_field():
    cases = [("2026-13-01", "invalid campaign: w = '2026-13-01' is not an ISO date"),
             ("at noon", "invalid campaign: w = 'at noon' is not an ISO date-time"),
             ("2026-06-01T25:00", "invalid campaign: w = '2026-06-01T25:00' is not an ISO date-time")]
    for text, reason in cases:
        with pytest.raises(BundleRefused) as info:
            local_to_utc(text, TZ, "w")
        assert str(info.value) == reason
    with pytest.raises(BundleRefused) as info:
        local_to_utc("nonsense", TZ)
    assert str(info.value) == "invalid campaign: time = 'nonsense' is not an ISO date-time"


def test_campaign_window_with_business_day_dates_and_the_start_hour():
    c = parse_campaign(doc(valid_from="2026-06-02", valid_until="2026-06-02"), TZ, 6)
    assert (c.valid_from_utc, c.valid_until_utc) == (utc(2026, 6, 2, 11), utc(2026, 6, 3, 11))
    s = parse_campaign(doc(valid_from="2026-06-01", valid_until="2026-06-07", segments=[
        {"name": "s", "channel": "sms", "benefit": {"kind": "percent_off", "percent": 10},
         "valid_from": "2026-06-03", "valid_until": "2026-06-03"}]), TZ, 6).segments[0]
    assert (s.valid_from_utc, s.valid_until_utc) == (utc(2026, 6, 3, 11), utc(2026, 6, 4, 11))


# --- the whole document ------------------------------------------------------------------------
def test_a_full_document_is_parsed_field_by_field():
    key = bytes(range(32))
    d = doc(format=1, name="Summer", version=7, trucks=["truck-1", "truck-2"], stacking=True,
            code_public_key=base64.urlsafe_b64encode(key).decode().rstrip("="),
            goal={"label": "first hour", "start": "11:00", "end": "12:00", "customers": 40, "sales_cents": 60000},
            groups=[{"name": "Acme", "benefit": {"kind": "amount_off", "amount_cents": 100}}, {"name": "Bees"}],
            devices=[], offer_text="hi", registration_url="https://x", loyalty={},
            segments=[{"name": "fb", "channel": "facebook", "code": "fb-like-10",
                       "benefit": {"kind": "free_item", "sku": "drink-soda", "min_spend_cents": 800},
                       "valid_from": "2026-06-01T11:00", "valid_until": "2026-06-01T12:00", "total_uses": 300,
                       "uses_per_customer": 2, "audience": 0, "trucks": ["truck-2"], "group": "Acme"}])
    c = parse_campaign(d, TZ)
    assert (c.id, c.name, c.version, c.stacking) == ("c1", "Summer", 7, True)
    assert c.issued_at_utc == utc(2026, 5, 31, 20)
    assert (c.valid_from_utc, c.valid_until_utc) == (utc(2026, 6, 1, 15), utc(2026, 6, 8, 3))
    assert c.trucks == ("truck-1", "truck-2") and c.for_truck("truck-2") and not c.for_truck("truck-3")
    assert c.code_public_key == key
    assert c.goal == Goal(label="first hour", start=time(11), end=time(12), customers=40, sales_cents=60000)
    assert c.groups == (("Acme", Benefit(kind="amount_off", amount_cents=100)), ("Bees", None))
    assert c.document is d
    s = c.segment("fb")
    assert s is c.segments[0] and c.segment("other") is None
    assert (s.name, s.channel, s.code, s.total_uses, s.uses_per_customer, s.audience, s.trucks, s.group) == \
        ("fb", "facebook", "fb-like-10", 300, 2, 0, ("truck-2",), "Acme")
    assert s.benefit == Benefit(kind="free_item", sku="drink-soda", min_spend_cents=800)
    assert (s.valid_from_utc, s.valid_until_utc) == (utc(2026, 6, 1, 16), utc(2026, 6, 1, 17))
    assert s.unique_codes is None


def test_defaults_of_a_minimal_document():
    c = parse_campaign(doc(), TZ)
    unix = (date(2026, 5, 31) - date(1970, 1, 1)).days * 86400 + 20 * 3600
    assert (c.name, c.version, c.stacking, c.trucks, c.goal, c.groups, c.code_public_key) == \
        ("c1", unix, False, ("*",), None, (), None)
    assert c.for_truck("any-truck")
    s = c.segments[0]
    assert (s.code, s.total_uses, s.uses_per_customer, s.audience, s.trucks, s.group) == ("", None, None, None, ("*",), None)
    assert (s.valid_from_utc, s.valid_until_utc) == (c.valid_from_utc, c.valid_until_utc)
    # null is the same as absent
    c2 = parse_campaign(doc(name=None, version=None, stacking=None, trucks=None, goal=None, groups=None,
                            code_public_key=None), TZ)
    assert (c2.name, c2.version, c2.stacking, c2.trucks, c2.goal, c2.code_public_key) == ("c1", unix, False, ("*",), None, None)


def test_a_segment_narrows_the_campaign_window_never_widens_it():
    s = parse_campaign(seg(valid_from="2026-05-01T00:00", valid_until="2026-07-01T00:00"), TZ).segments[0]
    assert (s.valid_from_utc, s.valid_until_utc) == (utc(2026, 6, 1, 15), utc(2026, 6, 8, 3))
    s = parse_campaign(seg(valid_from="2026-06-02T10:00", valid_until="2026-06-03T10:00"), TZ).segments[0]
    assert (s.valid_from_utc, s.valid_until_utc) == (utc(2026, 6, 2, 15), utc(2026, 6, 3, 15))
    s = parse_campaign(seg(valid_from="2026-06-02T10:00", valid_until="2026-06-02T10:00"), TZ).segments[0]
    assert s.valid_from_utc == s.valid_until_utc == utc(2026, 6, 2, 15)  # both edges included: one instant
    assert refused(seg(valid_from="2026-06-02T10:00", valid_until="2026-06-02T09:59")) == \
        "invalid campaign: segments[0] window is empty or outside the campaign's"
    assert refused(seg(valid_from="2026-07-01T10:00")) == \
        "invalid campaign: segments[0] window is empty or outside the campaign's"
    assert refused(seg(valid_until="2026-05-01T10:00")) == \
        "invalid campaign: segments[0] window is empty or outside the campaign's"


def test_campaign_window_edges():
    c = parse_campaign(doc(valid_from="2026-06-01T10:00", valid_until="2026-06-01T10:00"), TZ)
    assert c.valid_from_utc == c.valid_until_utc
    assert refused(doc(valid_until="2026-06-01T09:59")) == "invalid campaign: valid_until is before valid_from"


# --- bounds --------------------------------------------------------------------------------------
def ok(document) -> None:
    parse_campaign(document, TZ)


def bad(document, field: str, value) -> None:
    assert refused(document) == f"invalid campaign: {field} = {value!r} is not allowed"


def test_top_level_bounds():
    ok(doc(id="x" * 64)), ok(doc(id="x")), ok(doc(version=1)), ok(doc(version=2**53)), ok(doc(name="n" * 200))
    assert parse_campaign(doc(name="N"), TZ).name == "N"
    bad(doc(id="x" * 65), "campaign.id", "x" * 65)
    bad(doc(id=""), "campaign.id", "")
    bad(doc(id=" x"), "campaign.id", " x")
    bad(doc(id="x\ty"), "campaign.id", "x\ty")
    bad(doc(id=7), "campaign.id", 7)
    bad(doc(version=0), "campaign.version", 0)
    bad(doc(version=2**53 + 1), "campaign.version", 2**53 + 1)
    bad(doc(version=True), "campaign.version", True)
    bad(doc(version=1.0), "campaign.version", 1.0)
    bad(doc(name=""), "campaign.name", "")
    bad(doc(name="n" * 201), "campaign.name", "n" * 201)
    bad(doc(stacking=1), "campaign.stacking", 1)
    bad(doc(segments=[]), "campaign.segments", [])
    bad(doc(trucks=[]), "campaign.trucks", [])
    bad(doc(trucks=[""]), "campaign.trucks", [""])
    bad(doc(trucks=["t" * 65]), "campaign.trucks", ["t" * 65])
    bad(doc(trucks=[1]), "campaign.trucks", [1])
    ok(doc(trucks=["t" * 64])), ok(doc(trucks=["t"] * 500))
    assert refused(doc(trucks=["t"] * 501)).startswith("invalid campaign: campaign.trucks = ['t', ")
    bad(doc(format="1"), "campaign.format", "1")
    assert refused(doc(format=2)) == "invalid campaign: unsupported campaign format (this truck reads format 1)"
    ok(doc(format=1))
    assert refused(doc(issued_at="2026-05-31 20:00 UTC")) == \
        "invalid campaign: campaign.issued_at = '2026-05-31 20:00 UTC' is not an ISO date-time"
    assert refused(doc(valid_from="2026-06-1")) == \
        "invalid campaign: campaign.valid_from = '2026-06-1' is not an ISO date-time"
    assert refused(doc(valid_until="2026-06-99")) == \
        "invalid campaign: campaign.valid_until = '2026-06-99' is not an ISO date"


def test_missing_required_fields_and_unknown_fields():
    for field in ("id", "valid_from", "valid_until", "issued_at", "segments"):
        d = doc()
        del d[field]
        assert refused(d) == f"invalid campaign: campaign.{field} is missing"
    assert refused(doc(hub_only=1, also="x" * 50)) == \
        f"invalid campaign: campaign has unknown field(s) {'x' * 0}also, hub_only"
    assert refused(doc(**{"z" * 50: 1})) == f"invalid campaign: campaign has unknown field(s) {'z' * 40}"
    assert refused(["not", "a", "dict"]) == "invalid campaign: campaign must be an object"
    assert refused(doc(segments=["x"])) == "invalid campaign: segments[0] must be an object"
    assert refused(seg(extra=1)) == "invalid campaign: segments[0] has unknown field(s) extra"
    assert refused(seg(benefit={"kind": "percent_off", "percent": 5, "x": 1})) == \
        "invalid campaign: segments[0].benefit has unknown field(s) x"
    assert refused(doc(groups=[{"name": "g", "x": 1}])) == "invalid campaign: groups[0] has unknown field(s) x"
    assert refused(doc(goal={"start": "11:00", "end": "12:00", "customers": 1, "x": 1})) == \
        "invalid campaign: goal has unknown field(s) x"
    for field in ("name", "channel", "benefit"):
        d = seg()
        del d["segments"][0][field]
        assert refused(d) == f"invalid campaign: segments[0].{field} is missing"


def test_segments_count_names_and_codes():
    many = [{"name": f"s{i}", "channel": "sms", "benefit": {"kind": "percent_off", "percent": 1}} for i in range(501)]
    assert len(parse_campaign(doc(segments=many[:500]), TZ).segments) == 500
    assert refused(doc(segments=many)).startswith("invalid campaign: campaign.segments = [{")
    two = [{"name": "a", "channel": "sms", "benefit": {"kind": "percent_off", "percent": 1}, "code": "fb-like"},
           {"name": "b", "channel": "sms", "benefit": {"kind": "percent_off", "percent": 1}, "code": "FB LIKE"}]
    assert refused(doc(segments=two)) == "invalid campaign: two segments have the same code"
    two[1]["code"] = "OTHER"
    assert len(parse_campaign(doc(segments=two), TZ).segments) == 2
    two[1]["name"] = "a"
    assert refused(doc(segments=two)) == "invalid campaign: two segments have the same name"
    nocode = [{"name": n, "channel": "sms", "benefit": {"kind": "percent_off", "percent": 1}} for n in ("a", "b")]
    assert len(parse_campaign(doc(segments=nocode), TZ).segments) == 2  # segments without a code never clash


def test_segment_field_bounds():
    ok(seg(name="n" * 64)), ok(seg(code="a-b-c")), ok(seg(code="C" * 32)), ok(seg(total_uses=1))
    ok(seg(total_uses=10**9)), ok(seg(uses_per_customer=1)), ok(seg(uses_per_customer=10**6)), ok(seg(audience=0))
    ok(seg(audience=10**9)), ok(seg(group="g" * 200)), ok(seg(group="g")), ok(seg(trucks=["a"]))
    for channel in ("facebook", "twitter", "sms", "email", "proximity", "in_person"):
        assert parse_campaign(seg(channel=channel), TZ).segments[0].channel == channel
    w = "segments[0]"
    bad(seg(name="n" * 65), f"{w}.name", "n" * 65)
    bad(seg(name=""), f"{w}.name", "")
    bad(seg(name="a "), f"{w}.name", "a ")
    bad(seg(channel="pigeon"), f"{w}.channel", "pigeon")
    bad(seg(code="a-b"), f"{w}.code", "a-b")  # 2 characters once dashes go
    bad(seg(code="C" * 33), f"{w}.code", "C" * 33)
    bad(seg(total_uses=0), f"{w}.total_uses", 0)
    bad(seg(total_uses=10**9 + 1), f"{w}.total_uses", 10**9 + 1)
    bad(seg(uses_per_customer=0), f"{w}.uses_per_customer", 0)
    bad(seg(uses_per_customer=10**6 + 1), f"{w}.uses_per_customer", 10**6 + 1)
    bad(seg(audience=-1), f"{w}.audience", -1)
    bad(seg(audience=10**9 + 1), f"{w}.audience", 10**9 + 1)
    bad(seg(group=""), f"{w}.group", "")
    bad(seg(group="g" * 201), f"{w}.group", "g" * 201)
    bad(seg(trucks=[]), f"{w}.trucks", [])
    bad(seg(benefit=[]), f"{w}.benefit", [])
    assert refused(seg(unique_codes=[])) == "invalid campaign: segments[0].unique_codes = [] is not allowed"
    assert refused(seg(unique_codes={})) == \
        "invalid campaign: segments[0].unique_codes must be an object with count, bucket_bits and data"
    assert refused(seg(valid_from="soon")) == \
        "invalid campaign: segments[0].valid_from = 'soon' is not an ISO date-time"
    assert refused(seg(valid_until="2026-06-99")) == \
        "invalid campaign: segments[0].valid_until = '2026-06-99' is not an ISO date"


def test_benefits():
    w = "b"
    assert parse_benefit({"kind": "percent_off", "percent": 1, "amount_cents": 5, "sku": "x"}, w) == \
        Benefit(kind="percent_off", percent=1)  # only the kind's own field counts
    assert parse_benefit({"kind": "percent_off", "percent": 100}, w).percent == 100
    assert parse_benefit({"kind": "amount_off", "amount_cents": 10**7, "percent": 5}, w) == \
        Benefit(kind="amount_off", amount_cents=10**7)
    assert parse_benefit({"kind": "amount_off", "amount_cents": 1}, w).amount_cents == 1
    assert parse_benefit({"kind": "free_item", "sku": "s" * 64, "percent": 5}, w) == Benefit(kind="free_item", sku="s" * 64)
    assert parse_benefit({"kind": "free_item", "sku": "s"}, w).sku == "s"
    assert parse_benefit({"kind": "percent_off", "percent": 5, "min_spend_cents": 10**7}, w).min_spend_cents == 10**7
    assert parse_benefit({"kind": "percent_off", "percent": 5, "min_spend_cents": 0}, w).min_spend_cents == 0
    for data, field, value in [
        ({"kind": "percent_off", "percent": 0}, "percent", 0), ({"kind": "percent_off", "percent": 101}, "percent", 101),
        ({"kind": "amount_off", "amount_cents": 0}, "amount_cents", 0),
        ({"kind": "amount_off", "amount_cents": 10**7 + 1}, "amount_cents", 10**7 + 1),
        ({"kind": "free_item", "sku": ""}, "sku", ""), ({"kind": "free_item", "sku": "s" * 65}, "sku", "s" * 65),
        ({"kind": "percent_off", "percent": 5, "min_spend_cents": -1}, "min_spend_cents", -1),
        ({"kind": "percent_off", "percent": 5, "min_spend_cents": 10**7 + 1}, "min_spend_cents", 10**7 + 1),
        ({"kind": "bogo"}, "kind", "bogo"),
    ]:
        with pytest.raises(BundleRefused) as info:
            parse_benefit(data, w)
        assert str(info.value) == f"invalid campaign: b.{field} = {value!r} is not allowed"
    with pytest.raises(BundleRefused) as info:
        parse_benefit({"kind": "amount_off"}, w)
    assert str(info.value) == "invalid campaign: b.amount_cents is missing"


def test_benefit_descriptions():
    assert Benefit(kind="percent_off", percent=10).describe() == "10% off"
    assert Benefit(kind="amount_off", amount_cents=1234).describe() == "$12.34 off"
    assert Benefit(kind="amount_off", amount_cents=5).describe() == "$0.05 off"
    assert Benefit(kind="free_item", sku="drink-soda").describe() == "free drink-soda"


def test_code_public_key_and_groups():
    key31 = base64.urlsafe_b64encode(bytes(31)).decode().rstrip("=")
    for value in (key31, "not base64!", base64.urlsafe_b64encode(bytes(32)).decode()):  # padded: not canonical
        assert refused(doc(code_public_key=value)) == \
            "invalid campaign: code_public_key is not a base64url Ed25519 public key"
    c = parse_campaign(doc(groups=[{"name": "g" * 200, "benefit": None}, {"name": "h", "benefit": {}}]), TZ)
    assert c.groups == (("g" * 200, None), ("h", None))
    assert refused(doc(groups=[{"name": ""}])) == "invalid campaign: groups[0].name = '' is not allowed"
    assert refused(doc(groups=[{"name": "g" * 201}])) == f"invalid campaign: groups[0].name = {'g' * 201!r} is not allowed"
    assert refused(doc(groups=[{"name": "a"}, {"name": "b", "benefit": {"kind": "amount_off"}}])) == \
        "invalid campaign: groups[1].benefit.amount_cents is missing"
    assert refused(doc(groups={})) == "invalid campaign: campaign.groups = {} is not allowed"


def test_goals():
    g = parse_campaign(doc(goal={"start": "11:00", "end": "12:30", "sales_cents": 1}), TZ).goal
    assert g == Goal(label="goal", start=time(11), end=time(12, 30), customers=None, sales_cents=1)
    g = parse_campaign(doc(goal={"label": "lunch", "start": "11:00", "end": "12:00", "customers": 1}), TZ).goal
    assert (g.label, g.customers, g.sales_cents) == ("lunch", 1, None)
    assert refused(doc(goal={"start": "25:00", "end": "12:00", "customers": 1})) == \
        "invalid campaign: goal.start/end must be HH:MM"
    assert refused(doc(goal={"start": "11:00", "end": "noon", "customers": 1})) == \
        "invalid campaign: goal.start/end must be HH:MM"
    assert refused(doc(goal={"start": "11:00", "end": "12:00"})) == \
        "invalid campaign: the goal needs customers and/or sales_cents"
    assert refused(doc(goal={"start": "11:00", "end": "12:00", "customers": 0})) == \
        "invalid campaign: goal.customers = 0 is not allowed"
    assert refused(doc(goal={"start": "11:00", "end": "12:00", "sales_cents": 0})) == \
        "invalid campaign: goal.sales_cents = 0 is not allowed"
    assert refused(doc(goal={"end": "12:00", "customers": 1})) == "invalid campaign: goal.start/end must be HH:MM"
    assert refused(doc(goal=[])) == "invalid campaign: campaign.goal = [] is not allowed"


def test_how_codes_and_group_names_compare():
    assert normalize("fb-like 10_x\t\r\nq") == "FBLIKE10XQ"
    assert normalize("a-b_c d") == normalize("ABCD") == "ABCD"
    assert group_key("  Acme   Corporation,\tAccounting ") == "acme corporation, accounting"
    assert group_key("STRASSE") == group_key("straße")  # casefold, not lower


def test_a_business_day_starts_at_4_unless_the_truck_says_otherwise():
    # README: business_day_start_hour = 4 ("a sale at 01:30 counts to the previous business day")
    c = parse_campaign(doc(valid_from="2026-06-02", valid_until="2026-06-02"), TZ)
    assert (c.valid_from_utc, c.valid_until_utc) == (utc(2026, 6, 2, 9), utc(2026, 6, 3, 9))


def test_an_issued_at_without_an_offset_is_the_trucks_wall_clock():
    """README: times without an offset are wall-clock times in the truck's zone (issued_at too)."""
    assert parse_campaign(doc(issued_at="2026-05-31T20:00"), TZ).issued_at_utc == utc(2026, 6, 1, 1, 0)  # CDT = UTC-5
    assert parse_campaign(doc(issued_at="2026-05-31T20:00Z"), TZ).issued_at_utc == utc(2026, 5, 31, 20, 0)
