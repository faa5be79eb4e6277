"""Query parameters and time buckets: parsing, alignment (UTC or plant-local days) and fill modes. No I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

from shared.settlement.integral import micros

# Fixed-width buckets are aligned with date_bin to this origin: a UTC midnight that is a Monday, so weeks
# start on Mondays and every width that divides a day starts at midnight.
ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)

EVERY = {
    text: timedelta(minutes=m)
    for text, m in (
        ("1m", 1),
        ("2m", 2),
        ("5m", 5),
        ("10m", 10),
        ("15m", 15),
        ("30m", 30),
        ("1h", 60),
        ("2h", 120),
        ("3h", 180),
        ("4h", 240),
        ("6h", 360),
        ("8h", 480),
        ("12h", 720),
        ("1d", 1440),
        ("1w", 10080),
    )
}
# Sub-minute buckets (aggregates only) are computed from raw readings, UTC-aligned to `ORIGIN`.
FINE_EVERY = {f"{n}s": timedelta(seconds=n) for n in (1, 2, 5, 10, 15, 20, 30)}
# Times a query may name (start, end): wider than any plant's data, narrow enough that no arithmetic on them (time
# zones, bucket alignment) leaves the datetime range. Outside them the request is a 400, never a 500.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
FUNCTIONS = ("avg", "min", "max", "count", "first", "last", "twa")
FILLS = ("none", "null", "previous", "linear")
QUALITIES = ("good", "all")


class QueryError(ValueError):
    """A request parameter is invalid; rendered as 400 with `code`."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


@dataclass(frozen=True, slots=True)
class Bucketing:
    """Buckets covering [start, end): fixed width from `ORIGIN`/`origin`, or explicit `edges` (local days)."""

    every: timedelta
    start: datetime
    end: datetime
    origin: datetime = ORIGIN
    edges: tuple[datetime, ...] | None = None
    tz: str = "UTC"

    @property
    def fine(self) -> bool:
        """Sub-minute buckets: served from raw readings, not the 1-minute rollups."""
        return self.every < MINUTE

    @property
    def count(self) -> int:
        if self.edges is not None:
            return len(self.edges) - 1
        return int((self.end - self.start) / self.every)

    def starts(self) -> list[datetime]:
        if self.edges is not None:
            return list(self.edges[:-1])
        return [self.start + i * self.every for i in range(self.count)]

    def end_of(self, bucket_start: datetime) -> datetime:
        if self.edges is None:
            return bucket_start + self.every
        return self.edges[self.edges.index(bucket_start) + 1]

    def describe(self) -> str:
        if self.edges is not None:
            return f"calendar {self.every.days}-day buckets from local midnight in {self.tz} (DST days are 23 or 25 h)"
        return (
            f"fixed {int(self.every.total_seconds())} s buckets aligned to {self.origin.isoformat()}; "
            "the range is widened to whole buckets"
        )


def parse_time(text: str | None, name: str) -> datetime:
    """An RFC 3339 timestamp with an offset (or Z) → aware UTC datetime."""
    if not text:
        raise QueryError(
            "missing_parameter", f"`{name}` is required (RFC 3339, e.g. 2026-11-25T00:00:00Z).", {"parameter": name}
        )
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None or "T" not in text.upper():
        raise QueryError(
            "invalid_time",
            f"`{name}` is not an RFC 3339 timestamp with an offset: {text!r}.",
            {"parameter": name, "value": text},
        )
    try:
        utc = parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before datetime.min in UTC
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise QueryError(
            "time_out_of_range",
            f"`{name}` must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC): {text!r}.",
            {"parameter": name, "value": text, "earliest": EARLIEST.isoformat(), "latest": LATEST.isoformat()},
        )
    return utc


def parse_range(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    lo, hi = parse_time(start, "start"), parse_time(end, "end")
    if lo >= hi:
        raise QueryError("invalid_range", "`start` must be before `end`.", {"start": start, "end": end})
    return lo, hi


def parse_every(text: str | None, default: str | None = None, *, fine: bool = False) -> timedelta:
    """A bucket width by name; the sub-minute ones (1s … 30s) only where `fine` (aggregates)."""
    value = text or default
    allowed = {**FINE_EVERY, **EVERY} if fine else EVERY
    if value not in allowed:
        raise QueryError("unknown_every", f"Unknown `every` {value!r}.", {"allowed": list(allowed)})
    return allowed[value]


def parse_choice(text: str | None, allowed: Sequence[str], name: str) -> str:
    value = text or allowed[0]
    if value not in allowed:
        raise QueryError(f"unknown_{name}", f"Unknown `{name}` {value!r}.", {"allowed": list(allowed)})
    return value


def parse_functions(text: str | None) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in (text or "avg").split(",") if n.strip()))
    unknown = [n for n in names if n not in FUNCTIONS]
    if unknown or not names:
        raise QueryError("unknown_fn", f"Unknown `fn` {', '.join(unknown) or '(empty)'}.", {"allowed": list(FUNCTIONS)})
    return names


def parse_tz(text: str | None) -> str:
    if not text or text.upper() == "UTC":
        return "UTC"
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise QueryError("unknown_tz", f"Unknown time zone {text!r}.", {"example": "Europe/Belgrade"}) from exc
    return text


def _floor(ts: datetime, every: timedelta, origin: datetime) -> datetime:
    return origin + ((ts - origin) // every) * every


def _ceil(ts: datetime, every: timedelta, origin: datetime) -> datetime:
    floored = _floor(ts, every, origin)
    return floored if floored == ts else floored + every


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _local_day_edges(start: datetime, end: datetime, days: int, tz: ZoneInfo, max_buckets: int) -> list[datetime]:
    first = start.astimezone(tz).date()
    if days == 7:
        first -= timedelta(days=first.weekday())
    edges = [local_midnight(first, tz)]
    while edges[-1] < end:
        if len(edges) > max_buckets + 1:
            break
        first += timedelta(days=days)
        edges.append(local_midnight(first, tz))
    return edges


def make_bucketing(
    start: datetime, end: datetime, every: timedelta, *, tz: str = "UTC", max_buckets: int = 100_000
) -> Bucketing:
    """Align [start, end) to whole buckets; local-day buckets when `tz` is set and `every` is a day or a week.
    Sub-minute buckets are UTC-aligned only: another `tz` with them is refused."""
    if tz != "UTC" and every < MINUTE:
        raise QueryError(
            "unsupported_tz",
            f"`tz` {tz!r} applies to buckets of 1m and more; sub-minute buckets are "
            "aligned to UTC: omit `tz` or pass UTC.",
            {"tz": tz, "every_s": every.total_seconds()},
        )
    if tz != "UTC" and every >= DAY:
        at_least = int((end - start) / (every + every / 24)) - 1  # local days last 23 to 25 hours
        if at_least > max_buckets:  # counted, not built
            raise QueryError(
                "too_many_buckets",
                f"The request spans at least {at_least} buckets; at most {max_buckets}.",
                {"buckets": at_least, "max_buckets": max_buckets},
            )
        edges = _local_day_edges(start, end, every.days, ZoneInfo(tz), max_buckets)
        bucketing = Bucketing(every, edges[0], edges[-1], edges=tuple(edges), tz=tz)
    else:
        origin = ORIGIN if tz == "UTC" else local_midnight(start.astimezone(ZoneInfo(tz)).date(), ZoneInfo(tz))
        bucketing = Bucketing(every, _floor(start, every, origin), _ceil(end, every, origin), origin=origin, tz=tz)
    if bucketing.count > max_buckets:
        raise QueryError(
            "too_many_buckets",
            f"The request spans {bucketing.count} buckets; at most {max_buckets}.",
            {"buckets": bucketing.count, "max_buckets": max_buckets},
        )
    return bucketing


def bounds_us(b: Bucketing) -> npt.NDArray[np.int64]:
    """Every bucket start and the last end, in epoch µs."""
    if b.edges is not None:
        return np.array([micros(e) for e in b.edges], dtype=np.int64)
    every = b.every // timedelta(microseconds=1)
    return micros(b.start) + every * np.arange(b.count + 1, dtype=np.int64)
