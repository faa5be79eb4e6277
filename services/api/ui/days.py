"""Plant-local days as UTC ranges. Pure: a settlement day is a local calendar day (23, 24 or 25 hours with DST)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def local_day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the calendar day `day` in `tz`."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def local_today(tz: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(tz)).date()


def parse_day(text: str | None, tz: str, now: datetime) -> date | None:
    """`YYYY-MM-DD` (default: today in `tz`); None if malformed or after today there."""
    today = local_today(tz, now)
    if not text:
        return today
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if day <= today else None
