"""Settlement-period alignment: UTC-aligned periods and plant-local days. Pure (no clock, no I/O)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Periods are aligned to this UTC midnight (a Monday): every length that divides a day starts at UTC midnight.
ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)


class TooManyPeriods(ValueError):
    """A range would hold more periods than the caller's limit; raised before any list is built."""

    def __init__(self, count: int, limit: int) -> None:
        super().__init__(f"{count} periods exceed the limit of {limit}")
        self.count = count
        self.limit = limit


def _length(period_s: int) -> timedelta:
    if period_s <= 0:
        raise ValueError(f"period_s must be positive, got {period_s}")
    return timedelta(seconds=period_s)


def floor_to(ts: datetime, period_s: int) -> datetime:
    """The start of the UTC-aligned period of `period_s` seconds holding `ts`."""
    length = _length(period_s)
    return ORIGIN + ((ts.astimezone(UTC) - ORIGIN) // length) * length


def period_bounds(ts: datetime, period_s: int) -> tuple[datetime, datetime]:
    """The UTC-aligned period [start, end) of `period_s` seconds containing `ts`."""
    start = floor_to(ts, period_s)
    return start, start + _length(period_s)


def count_periods(start: datetime, end: datetime, period_s: int) -> int:
    """How many aligned periods overlap [start, end): cheap, so callers check limits before building lists."""
    if end <= start:
        return 0
    length = _length(period_s)
    first = (start.astimezone(UTC) - ORIGIN) // length
    last = -((ORIGIN - end.astimezone(UTC)) // length)  # ceiling
    return int(last - first)


def period_starts(start: datetime, end: datetime, period_s: int, *, limit: int | None = None) -> list[datetime]:
    """Starts of the aligned periods overlapping [start, end); `TooManyPeriods` before building more than `limit`."""
    n = count_periods(start, end, period_s)
    if limit is not None and n > limit:
        raise TooManyPeriods(n, limit)
    first, length = floor_to(start, period_s), _length(period_s)
    return [first + i * length for i in range(n)]


def local_midnight(day: date, tz: str) -> datetime:
    """UTC instant of local midnight starting `day` in `tz` (a nonexistent midnight resolves as zoneinfo does)."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def local_day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the plant-local calendar `day` (23 h or 25 h on DST change days)."""
    return local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
