"""Baseload commitment arithmetic: settlement periods, period compliance and the in-period projection.

Pure functions over per-minute aggregates (sum and count of Good readings), so they are tested without a database.
Deviation per period = (mean actual MW − committed MW) × period hours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shared.commitments import Commitment

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Minute:
    """Good readings of one signal in one UTC minute."""

    bucket: datetime
    count: int
    sum: float

    @property
    def mean(self) -> float:
        return self.sum / self.count


@dataclass(frozen=True, slots=True)
class PeriodCommitment:
    """What the plant owes in one settlement period."""

    start: datetime
    end: datetime
    committed_mw: float
    tolerance_mw: float

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600.0


@dataclass(frozen=True, slots=True)
class CommitmentBook:
    """A plant's flat commitments, per-period schedule overrides and exclusion windows."""

    commitments: Sequence[Commitment] = ()
    schedule: Mapping[datetime, float] = field(default_factory=dict)
    exclusions: Sequence[tuple[datetime, datetime]] = ()

    def commitment_at(self, ts: datetime) -> Commitment | None:
        covering = [c for c in self.commitments if c.covers(ts)]
        return max(covering, key=lambda c: c.valid_from) if covering else None

    def excluded(self, start: datetime, end: datetime) -> bool:
        return any(s < end and start < e for s, e in self.exclusions)

    def period_at(self, ts: datetime) -> PeriodCommitment | None:
        """The settlement period containing `ts`, or None without a commitment or inside an exclusion."""
        commitment = self.commitment_at(ts)
        if commitment is None:
            return None
        start, end = period_bounds(ts, commitment.settlement_period_s)
        if self.excluded(start, end):
            return None
        committed = self.schedule.get(start, commitment.committed_mw)
        return PeriodCommitment(start, end, committed, commitment.tolerance_for(committed))


def period_bounds(ts: datetime, period_s: int) -> tuple[datetime, datetime]:
    """The UTC-aligned period [start, end) containing `ts`."""
    offset = (ts - EPOCH).total_seconds()
    start = EPOCH + timedelta(seconds=(offset // period_s) * period_s)
    return start, start + timedelta(seconds=period_s)


@dataclass(frozen=True, slots=True)
class Compliance:
    """The verdict for one (complete or partial) settlement period."""

    mean_mw: float
    committed_mw: float
    tolerance_mw: float
    deviation_mw: float
    deviation_mwh: float
    coverage: float
    missed: bool

    def evidence(self) -> dict[str, float | bool]:
        return {
            "mean_mw": round(self.mean_mw, 3), "committed_mw": self.committed_mw, "tolerance_mw": self.tolerance_mw,
            "deviation_mw": round(self.deviation_mw, 3), "deviation_mwh": round(self.deviation_mwh, 4),
            "coverage": round(self.coverage, 3), "missed": self.missed,
        }


def minutes_in(minutes: Sequence[Minute], start: datetime, end: datetime) -> list[Minute]:
    return [m for m in minutes if start <= m.bucket < end and m.count > 0]


def sample_mean(minutes: Sequence[Minute]) -> float | None:
    count = sum(m.count for m in minutes)
    return sum(m.sum for m in minutes) / count if count else None


def period_compliance(
    minutes: Sequence[Minute], period: PeriodCommitment, *, expected_offset_mw: float = 0.0
) -> Compliance | None:
    """Mean output over the period against the commitment (+ an expected offset, e.g. frequency response).

    None when the period holds no Good readings.
    """
    inside = minutes_in(minutes, period.start, period.end)
    mean = sample_mean(inside)
    if mean is None:
        return None
    expected = period.committed_mw + expected_offset_mw
    deviation = mean - expected
    total_minutes = (period.end - period.start).total_seconds() / 60.0
    return Compliance(
        mean_mw=mean, committed_mw=expected, tolerance_mw=period.tolerance_mw, deviation_mw=deviation,
        deviation_mwh=deviation * period.hours, coverage=len(inside) / total_minutes,
        missed=abs(deviation) > period.tolerance_mw,
    )


@dataclass(frozen=True, slots=True)
class Projection:
    """The period mean if the current output holds until the period ends."""

    delivered_mwh: float
    elapsed_h: float
    current_mw: float
    projected_mean_mw: float
    committed_mw: float
    tolerance_mw: float
    deviation_mw: float
    deviation_mwh: float
    missed: bool

    def evidence(self) -> dict[str, float | bool]:
        return {
            "delivered_mwh": round(self.delivered_mwh, 4), "elapsed_h": round(self.elapsed_h, 5),
            "current_mw": self.current_mw, "projected_mean_mw": round(self.projected_mean_mw, 3),
            "committed_mw": self.committed_mw, "tolerance_mw": self.tolerance_mw,
            "deviation_mw": round(self.deviation_mw, 3), "deviation_mwh": round(self.deviation_mwh, 4),
            "missed": self.missed,
        }


def project_period(
    minutes: Sequence[Minute], current_mw: float, period: PeriodCommitment, now: datetime,
    *, expected_offset_mw: float = 0.0,
) -> Projection:
    """Delivered so far (mean of the elapsed part × elapsed time) plus `current_mw` held to the period end."""
    elapsed_h = max(0.0, min((now - period.start).total_seconds() / 3600.0, period.hours))
    mean_so_far = sample_mean(minutes_in(minutes, period.start, min(now, period.end)))
    delivered = (mean_so_far if mean_so_far is not None else current_mw) * elapsed_h
    projected_mean = (delivered + current_mw * (period.hours - elapsed_h)) / period.hours
    expected = period.committed_mw + expected_offset_mw
    deviation = projected_mean - expected
    return Projection(
        delivered_mwh=delivered, elapsed_h=elapsed_h, current_mw=current_mw, projected_mean_mw=projected_mean,
        committed_mw=expected, tolerance_mw=period.tolerance_mw, deviation_mw=deviation,
        deviation_mwh=deviation * period.hours, missed=abs(deviation) > period.tolerance_mw,
    )
