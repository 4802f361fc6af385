"""Business days and local time: stored in UTC, shown and grouped in the truck's time zone."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo


def local(now_utc: datetime, tz: str) -> datetime:
    """The same instant in the truck's time zone."""
    return now_utc.astimezone(ZoneInfo(tz))


def business_day(now_utc: datetime, tz: str, start_hour: int = 4) -> date:
    """The trading day an instant belongs to: a 01:30 sale after a late night counts to yesterday."""
    return (local(now_utc, tz) - timedelta(hours=start_hour)).date()


def business_day_start(day: date, tz: str, start_hour: int = 4) -> datetime:
    """When business day ``day`` begins (``start_hour`` local, DST applied), as UTC."""
    return datetime.combine(day, time(start_hour), ZoneInfo(tz)).astimezone(timezone.utc)
