"""Baseload commitment numbers for the alert rules, through `shared.settlement` only: the same period alignment,
commitment resolution (latest valid_from wins, schedule overrides), held integral, coverage and verdict as
`GET /v1/plants/{plant}/compliance`, so a period's alert states the numbers the api settles it at.

Pure (no database, no clock): `now` is passed in. The in-period projection is ours: it extrapolates the current
output to the period end, and says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from shared.commitments import Commitment
from shared.settlement import (
    Exclusion,
    Integral,
    PeriodSettlement,
    SettlementPeriod,
    commitment_at,
    excluded_by,
    settle_period,
    settlement_periods,
)

# The defaults of shared.settings.SettlingServiceSettings, for inputs built without settings (unit tests).
DEFAULT_MAX_GAP_S = 60.0
DEFAULT_MIN_COVERAGE = 0.5
DEFAULT_PERIOD_S = 900
MAX_PERIODS = 10_000


@dataclass(frozen=True, slots=True)
class Minute:
    """Good readings of one signal in one UTC minute (for the expected frequency response)."""

    bucket: datetime
    count: int
    sum: float

    @property
    def mean(self) -> float:
        return self.sum / self.count


@dataclass(frozen=True, slots=True)
class CommitmentBook:
    """A plant's flat commitments, per-period schedule overrides and exclusion windows."""

    commitments: Sequence[Commitment] = ()
    schedule: Mapping[datetime, float] = field(default_factory=dict)
    exclusions: Sequence[Exclusion] = ()
    default_period_s: int = DEFAULT_PERIOD_S

    @property
    def longest_period_s(self) -> int:
        return max([self.default_period_s, *(c.settlement_period_s for c in self.commitments)])

    def commitment_at(self, ts: datetime) -> Commitment | None:
        return commitment_at(ts, self.commitments)

    def periods_around(self, ts: datetime) -> list[SettlementPeriod]:
        """The settlement periods from two of the longest periods before `ts` to one after it."""
        span = timedelta(seconds=self.longest_period_s)
        return settlement_periods(
            ts - 2 * span, ts + span, self.commitments, self.schedule, self.default_period_s, limit=MAX_PERIODS
        )

    def periods_between(self, start: datetime, end: datetime) -> list[SettlementPeriod]:
        """The settlement periods overlapping [start, end)."""
        return settlement_periods(start, end, self.commitments, self.schedule, self.default_period_s, limit=MAX_PERIODS)

    def last_ended(self, ref: datetime) -> SettlementPeriod | None:
        """The last settlement period that ended at or before `ref`."""
        ended = [p for p in self.periods_around(ref) if p.end <= ref]
        return ended[-1] if ended else None

    def period_at(self, ts: datetime) -> SettlementPeriod | None:
        """The settlement period running at `ts`."""
        return next((p for p in self.periods_around(ts) if p.start <= ts < p.end), None)

    def exclusion(self, start: datetime, end: datetime) -> Exclusion | None:
        return excluded_by(start, end, self.exclusions)

    def excluded(self, start: datetime, end: datetime) -> bool:
        return self.exclusion(start, end) is not None


def settle(
    period: SettlementPeriod,
    integral: Integral,
    book: CommitmentBook,
    *,
    min_coverage: float,
    expected_offset_mw: float = 0.0,
) -> PeriodSettlement:
    """The period's verdict exactly as the api gives it, from its held integral (plus an expected offset, e.g. the
    frequency response)."""
    commitment = period.commitment
    if commitment is not None and expected_offset_mw:
        commitment = replace(commitment, committed_mw=commitment.committed_mw + expected_offset_mw)
    return settle_period(
        period.start,
        period.end,
        commitment,
        book.exclusion(period.start, period.end),
        integral,
        min_coverage=min_coverage,
    )


def settlement_evidence(p: PeriodSettlement) -> dict[str, Any]:
    """Every number of the period, unrounded, as the compliance report states it."""
    return {
        "period_start": p.start.isoformat(),
        "period_end": p.end.isoformat(),
        "status": p.status,
        "committed_mw": p.committed_mw,
        "tolerance_mw": p.tolerance_mw,
        "delivered_mw": p.delivered_mw,
        "deviation_mw": p.deviation_mw,
        "deviation_mwh": p.deviation_mwh,
        "delivered_mwh": p.delivered_mwh,
        "coverage": p.coverage,
        "commitment_source": p.commitment.source if p.commitment else None,
        "excluded_reason": p.excluded_reason,
        "method": "shared.settlement (as GET /v1/plants/{plant}/compliance)",
    }


@dataclass(frozen=True, slots=True)
class Projection:
    """The period mean if the current output holds until the period ends: an extrapolation, not a settlement."""

    so_far: Integral
    elapsed_s: float
    remaining_s: float
    current_mw: float
    projected_mean_mw: float
    committed_mw: float
    tolerance_mw: float
    deviation_mw: float
    deviation_mwh: float
    missed: bool

    def evidence(self) -> dict[str, Any]:
        return {
            "extrapolated": True,
            "basis": "held integral so far, then the current output held to the period end",
            "delivered_mwh_so_far": self.so_far.area / 3600.0,
            "covered_s_so_far": self.so_far.covered_s,
            "elapsed_s": self.elapsed_s,
            "remaining_s": self.remaining_s,
            "current_mw": self.current_mw,
            "projected_mean_mw": self.projected_mean_mw,
            "committed_mw": self.committed_mw,
            "tolerance_mw": self.tolerance_mw,
            "deviation_mw": self.deviation_mw,
            "deviation_mwh": self.deviation_mwh,
            "missed": self.missed,
        }


def project(
    period: SettlementPeriod,
    so_far: Integral,
    current_mw: float,
    now: datetime,
    *,
    expected_offset_mw: float = 0.0,
) -> Projection | None:
    """The held integral of [period start, now) (`so_far`) plus `current_mw` held to the period end; None without
    a commitment in force."""
    if period.commitment is None:
        return None
    stop = min(now, period.end)
    remaining = (period.end - stop).total_seconds()
    length = (period.end - period.start).total_seconds()
    mean = (
        (so_far.area + current_mw * remaining) / (so_far.covered_s + remaining)
        if so_far.covered_s + remaining
        else current_mw
    )
    expected = period.commitment.committed_mw + expected_offset_mw
    deviation = mean - expected
    return Projection(
        so_far,
        (stop - period.start).total_seconds(),
        remaining,
        current_mw,
        mean,
        expected,
        period.commitment.tolerance_mw,
        deviation,
        deviation * length / 3600.0,
        abs(deviation) > period.commitment.tolerance_mw,
    )


def minutes_in(minutes: Sequence[Minute], start: datetime, end: datetime) -> list[Minute]:
    return [m for m in minutes if start <= m.bucket < end and m.count > 0]
