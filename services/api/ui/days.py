"""Which plant-local day the day view shows. Pure; the day's UTC bounds come from the settlement engine
(`shared.settlement.periods.local_day_bounds`: 23, 24 or 25 hours with DST)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo


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
