"""The rules of disputes and two-party corrections, as pure functions with `now` passed in.

A refusal is a `Refusal` (status, code, message, details); the service maps it to the common error envelope.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

# Every step on a dispute is one of these events (stored in dispute_events, listed in the detail endpoint).
OPENED, COMMENTED, PROPOSED, APPROVED, APPLIED, REJECTED = (
    "opened",
    "commented",
    "correction_proposed",
    "correction_approved",
    "correction_applied",
    "correction_rejected",
)
EVENT_KINDS = (OPENED, COMMENTED, PROPOSED, APPROVED, APPLIED, REJECTED)

PENDING, APPLIED_STATUS, REJECTED_STATUS = "pending", "applied", "rejected"
READINGS, ENERGY = "readings", "energy"

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)  # any UTC midnight: periods divide a day, so alignment is the same
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)


class Refusal(Exception):
    """A request the workflow refuses: rendered as a 4xx in the common envelope."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or {}


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Pending:
    """A pending correction as far as overlap is concerned: energy corrections cover their whole period."""

    id: int
    kind: str
    signal_id: int | None
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class Approval:
    """What an approval did: the partners that have now approved, and whether the correction takes effect."""

    approved: tuple[str, ...]
    waiting_for: tuple[str, ...]
    takes_effect: bool = field(default=False)


def settlement_period(period_start: datetime, period_s: int, now: datetime, late_window_s: int) -> Period:
    """The closed settlement period starting at `period_start`; refused if it is not a period or not yet closed."""
    start = check_time(period_start, "period_start")
    length = timedelta(seconds=period_s)
    aligned = ORIGIN + ((start - ORIGIN) // length) * length
    if aligned != start:
        raise Refusal(
            404,
            "unknown_period",
            f"{start.isoformat()} is not the start of a {period_s} s settlement period.",
            {"period_start": start.isoformat(), "period_s": period_s, "containing_period_start": aligned.isoformat()},
        )
    end = start + length
    closes_at = end + timedelta(seconds=late_window_s)
    if now < closes_at:
        raise Refusal(
            409,
            "period_not_closed",
            "The period is not closed yet: late data may still change it.",
            {"period_start": start.isoformat(), "period_end": end.isoformat(), "closes_at": closes_at.isoformat()},
        )
    return Period(start, end)


def check_time(ts: datetime, field: str) -> datetime:
    """A time in [1970, 2200) as UTC; refused (400) outside, before it reaches arithmetic or the database."""
    if not EARLIEST <= ts < LATEST:  # compared as aware datetimes: no conversion that could overflow
        raise Refusal(400, "invalid_time", f"`{field}` must lie in [{EARLIEST.year}, {LATEST.year}).", {"field": field})
    return ts.astimezone(UTC)


def check_digest(digest: str | None) -> None:
    if digest is not None and not DIGEST.match(digest):
        raise Refusal(
            400,
            "invalid_attachment_digest",
            "An attachment digest is 'sha256:' and 64 lowercase hex digits.",
            {"field": "attachment_digest"},
        )


def check_interval(period: Period, starts_at: datetime, ends_at: datetime) -> None:
    """A substitution interval is non-empty and lies inside the disputed period."""
    if ends_at <= starts_at:
        raise Refusal(400, "invalid_interval", "`end` must be after `start`.", {"field": "end"})
    if starts_at < period.start or ends_at > period.end:
        raise Refusal(
            400,
            "interval_outside_period",
            "The substitution interval must lie inside the disputed period.",
            {"period_start": period.start.isoformat(), "period_end": period.end.isoformat()},
        )


def check_substitutes(
    times: Sequence[datetime],
    values: Sequence[float],
    starts_at: datetime,
    ends_at: datetime,
    valid: tuple[float, float],
    max_count: int,
) -> None:
    """Substitute readings: 1..max_count, unique times inside [starts_at, ends_at), finite values in range."""
    if not times:
        raise Refusal(
            400,
            "no_substitute_readings",
            "A readings correction needs at least one substitute reading.",
            {"field": "readings"},
        )
    if len(times) > max_count:
        raise Refusal(
            400,
            "too_many_readings",
            f"At most {max_count} substitute readings per correction.",
            {"field": "readings", "max": max_count},
        )
    if len(set(times)) != len(times):
        raise Refusal(400, "duplicate_timestamp", "Two substitute readings have the same time.", {"field": "readings"})
    for i, (ts, value) in enumerate(zip(times, values, strict=True)):
        if not starts_at <= ts < ends_at:
            raise Refusal(
                400,
                "reading_outside_interval",
                "A substitute reading lies outside [start, end).",
                {"field": f"readings[{i}].ts"},
            )
        if not math.isfinite(value) or not valid[0] <= value <= valid[1]:
            raise Refusal(
                400,
                "value_out_of_range",
                f"Substitute values must lie in the signal's range [{valid[0]:g}, {valid[1]:g}].",
                {"field": f"readings[{i}].value"},
            )


def check_energy(energy_mwh: float, period: Period, valid_mw: tuple[float, float]) -> None:
    """A substitute energy value is finite and possible over the period for the net-output range."""
    hours = (period.end - period.start).total_seconds() / 3600.0
    lo, hi = valid_mw[0] * hours, valid_mw[1] * hours
    if not math.isfinite(energy_mwh) or not lo <= energy_mwh <= hi:
        raise Refusal(
            400,
            "value_out_of_range",
            f"The energy must lie in [{lo:g}, {hi:g}] MWh for this period.",
            {"field": "energy_mwh"},
        )


def conflicting(new: Pending, pending: Sequence[Pending]) -> Pending | None:
    """The first pending correction the new one overlaps: same time span and same signal (energy: any)."""
    for other in pending:
        if other.id == new.id or other.starts_at >= new.ends_at or other.ends_at <= new.starts_at:
            continue
        if ENERGY in (new.kind, other.kind) or new.signal_id == other.signal_id:
            return other
    return None


def approve(plant_partners: Collection[str], approved: Collection[str], partner: str, status: str) -> Approval:
    """One partner's approval; the correction takes effect once every partner of the plant (at least two) has."""
    if status != PENDING:
        raise Refusal(
            409,
            "correction_not_pending",
            f"The correction is {status}; only a pending one can be approved.",
            {"status": status},
        )
    if partner in approved:
        raise Refusal(
            409, "already_approved", f"Partner {partner!r} has already approved this correction.", {"partner": partner}
        )
    if len(set(plant_partners)) < 2:
        raise Refusal(
            409,
            "second_party_required",
            "A correction takes effect only with the approval of two "
            "partners; this plant has one, so it cannot be approved by its proposer alone.",
            {"partners": sorted(plant_partners)},
        )
    now_approved = tuple(sorted({*approved, partner}))
    waiting = tuple(sorted(set(plant_partners) - set(now_approved)))
    return Approval(now_approved, waiting, takes_effect=not waiting)


def reject(status: str) -> None:
    if status != PENDING:
        raise Refusal(
            409,
            "correction_not_pending",
            f"The correction is {status}; only a pending one can be rejected.",
            {"status": status},
        )
