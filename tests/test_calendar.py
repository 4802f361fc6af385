"""Business days and local time (truck_pos.domain.calendar) against hand-worked clock arithmetic.

The expected instants come from the published time-zone rules, worked out by hand: Europe/Berlin is UTC+1
(CET) in winter and UTC+2 (CEST) from 2026-03-29 02:00 local to 2026-10-25 03:00 local; America/New_York is
UTC-5 (EST) and UTC-4 (EDT) from 2026-03-08 to 2026-11-01. A business day starts at ``start_hour`` local.
"""

from __future__ import annotations

import os
import time
from datetime import date, datetime, timedelta, timezone

import pytest

from truck_pos.domain.calendar import business_day, business_day_start, local

UTC = timezone.utc


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_local_is_the_same_instant_on_the_trucks_wall_clock():
    shown = local(utc(2026, 6, 1, 10, 30), "Europe/Berlin")  # CEST, UTC+2
    assert (shown.hour, shown.minute, shown.utcoffset()) == (12, 30, timedelta(hours=2))
    assert shown == utc(2026, 6, 1, 10, 30)
    winter = local(utc(2026, 1, 15, 23, 30), "America/New_York")  # EST, UTC-5
    assert (winter.date(), winter.hour, winter.utcoffset()) == (date(2026, 1, 15), 18, timedelta(hours=-5))


@pytest.mark.parametrize("instant, day", [
    (utc(2026, 6, 1, 2, 0), date(2026, 6, 1)),       # 04:00 CEST: the day has just begun
    (utc(2026, 6, 1, 1, 59, 59), date(2026, 5, 31)),  # 03:59:59 CEST: still the night before
    (utc(2026, 5, 31, 23, 30), date(2026, 5, 31)),    # 01:30 CEST on June 1st: a late sale of May 31st
    (utc(2026, 6, 1, 21, 59), date(2026, 6, 1)),      # 23:59 CEST
    (utc(2026, 1, 10, 3, 0), date(2026, 1, 10)),      # 04:00 CET (UTC+1)
    (utc(2026, 1, 10, 2, 59), date(2026, 1, 9)),      # 03:59 CET
])
def test_the_default_business_day_starts_at_four_in_the_morning_local(instant, day):
    assert business_day(instant, "Europe/Berlin") == day


def test_the_start_hour_moves_the_boundary():
    instant = utc(2026, 6, 1, 4, 30)  # 06:30 CEST
    assert business_day(instant, "Europe/Berlin", start_hour=6) == date(2026, 6, 1)
    assert business_day(instant, "Europe/Berlin", start_hour=7) == date(2026, 5, 31)
    assert business_day(utc(2026, 5, 31, 22, 0), "Europe/Berlin", start_hour=0) == date(2026, 6, 1)  # 00:00 CEST


@pytest.mark.parametrize("day, tz, start", [
    (date(2026, 6, 1), "Europe/Berlin", utc(2026, 6, 1, 2)),         # 04:00 CEST
    (date(2026, 1, 10), "Europe/Berlin", utc(2026, 1, 10, 3)),       # 04:00 CET
    (date(2026, 3, 28), "Europe/Berlin", utc(2026, 3, 28, 3)),       # the last winter morning
    (date(2026, 3, 29), "Europe/Berlin", utc(2026, 3, 29, 2)),       # clocks went forward at 02:00
    (date(2026, 10, 25), "Europe/Berlin", utc(2026, 10, 25, 3)),     # clocks went back at 03:00
    (date(2026, 3, 8), "America/New_York", utc(2026, 3, 8, 8)),      # 04:00 EDT (UTC-4)
    (date(2026, 3, 7), "America/New_York", utc(2026, 3, 7, 9)),      # 04:00 EST (UTC-5)
])
def test_a_business_day_starts_at_four_local_as_utc_across_daylight_saving(day, tz, start):
    begins = business_day_start(day, tz)
    assert begins == start and begins.utcoffset() == timedelta(0)


def test_the_start_of_a_business_day_honours_the_start_hour():
    assert business_day_start(date(2026, 6, 1), "Europe/Berlin", start_hour=0) == utc(2026, 5, 31, 22)
    assert business_day_start(date(2026, 6, 1), "Europe/Berlin", 23) == utc(2026, 6, 1, 21)


def test_the_start_is_given_in_utc_whatever_zone_the_machine_itself_is_set_to():
    """A Pi set to its owner's zone still stores UTC: the result's own wall clock reads UTC."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "America/Los_Angeles"
    time.tzset()
    try:
        begins = business_day_start(date(2026, 6, 1), "Europe/Berlin")
        assert (begins.hour, begins.utcoffset()) == (2, timedelta(0))
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()
