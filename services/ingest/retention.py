"""Retention policy as pure functions of (settings, now): what is old enough to drop, in whole units.

Readings go by whole UTC days (a day is dropped only once its end is at or before the readings horizon, so nothing
inside the horizon is ever touched): hot days as their partition, compressed days block by block; rollups go by
bucket ranges against their own, longer horizons, except packed days of minute rollups (shared/history/packed.py),
which go whole once the entire day is older than the 1-minute horizon. Published statements are never dropped:
they are the signed ledger.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DAY = timedelta(days=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Rollup tables with their bucket widths, finest first (their horizons never shrink from finer to coarser).
ROLLUP_WIDTHS = (
    ("rollups_1m", timedelta(minutes=1)),
    ("rollups_15m", timedelta(minutes=15)),
    ("rollups_1h", timedelta(hours=1)),
)


@dataclass(frozen=True, slots=True)
class Horizons:
    """Everything strictly older than a horizon may go; a `None` horizon keeps that table forever."""

    readings: datetime
    rollups: dict[str, datetime | None]

    @property
    def whole_days(self) -> datetime:
        """The end of the last UTC day entirely older than the readings horizon: partitions and compressed blocks
        before it go, so a day of readings is kept or dropped as a whole, hot or compressed."""
        return floor_to(self.readings, DAY)


def horizons(now: datetime, *, readings_days: int, rollup_days: int | None, rollup_1m_days: int | None) -> Horizons:
    """The horizons at `now`: the readings one is the write path's refusal horizon (`now - readings_days`)."""
    coarse = None if rollup_days is None else now - timedelta(days=rollup_days)
    fine = coarse if rollup_1m_days is None else now - timedelta(days=rollup_1m_days)
    by_table = {"rollups_1m": fine, "rollups_15m": coarse, "rollups_1h": coarse}
    return Horizons(
        readings=now - timedelta(days=readings_days),
        # Floored to each table's bucket width: only whole buckets older than the horizon go.
        rollups={t: None if (h := by_table[t]) is None else floor_to(h, w) for t, w in ROLLUP_WIDTHS},
    )


def floor_to(ts: datetime, width: timedelta) -> datetime:
    """`ts` down to a multiple of `width` since the epoch (the rollups' buckets: 1 min, 15 min, 1 h)."""
    return ts - (ts - EPOCH) % width


def expired_days(days: Iterable[datetime], horizon: datetime) -> list[datetime]:
    """The UTC days (midnights) whose whole day [day, day + 1 d) lies before `horizon`, oldest first."""
    return sorted(day for day in days if day.astimezone(UTC) + DAY <= horizon)


def windows(oldest: datetime, horizon: datetime, step: timedelta) -> Iterator[tuple[datetime, datetime]]:
    """[start, end) ranges of at most `step` covering [oldest, horizon): one bounded DELETE each."""
    start = oldest
    while start < horizon:
        end = min(start + step, horizon)
        yield start, end
        start = end
