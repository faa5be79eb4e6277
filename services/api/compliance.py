"""Settlement-period compliance against a baseload commitment. Pure: periods, commitments and integrals in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from services.api.buckets import ORIGIN
from services.api.energy import SECONDS_PER_HOUR, Integral
from shared.commitments import Commitment


@dataclass(frozen=True, slots=True)
class Exclusion:
    starts_at: datetime
    ends_at: datetime
    reason: str


@dataclass(slots=True)  # not frozen: a 30-day report builds thousands, and frozen __init__ is several times slower
class PeriodResult:
    start: datetime
    end: datetime
    status: str  # compliant | non_compliant | excluded | no_commitment | insufficient_data
    committed_mw: float | None
    tolerance_mw: float | None
    delivered_mw: float | None
    deviation_mw: float | None
    deviation_mwh: float | None
    delivered_mwh: float | None
    within_tolerance: bool | None
    coverage: float
    note: str = ""


def period_length(commitments: Sequence[Commitment], default_s: int) -> timedelta:
    """The settlement period: the first applicable commitment's, else the configured default."""
    return timedelta(seconds=commitments[0].settlement_period_s if commitments else default_s)


def period_starts(start: datetime, end: datetime, period: timedelta) -> list[datetime]:
    """UTC-aligned period starts covering [start, end)."""
    first = ORIGIN + ((start.astimezone(UTC) - ORIGIN) // period) * period
    out = []
    while first < end:
        out.append(first)
        first += period
    return out


def committed_at(ts: datetime, commitments: Sequence[Commitment], schedule: Mapping[datetime, float]
                 ) -> tuple[float, Commitment] | None:
    """The committed MW at a period start (a schedule override wins) and the commitment giving the tolerance."""
    flat = next((c for c in commitments if c.covers(ts)), None)
    if flat is None:
        return None
    return schedule.get(ts, flat.committed_mw), flat


def excluded_by(start: datetime, end: datetime, exclusions: Sequence[Exclusion]) -> Exclusion | None:
    return next((e for e in exclusions if e.starts_at < end and e.ends_at > start), None)


def assess_period(start: datetime, period: timedelta, commitment: tuple[float, Commitment] | None,
                  exclusion: Exclusion | None, integral: Integral | None, min_coverage: float) -> PeriodResult:
    """One period: mean delivered MW over the covered time against the committed MW and its tolerance."""
    end = start + period
    hours = period.total_seconds() / SECONDS_PER_HOUR
    covered = integral.covered_s if integral else 0.0
    coverage = min(1.0, covered / period.total_seconds())
    delivered = integral.area / covered if integral and covered > 0 else None
    delivered_mwh = integral.area / SECONDS_PER_HOUR if integral and covered > 0 else None
    if commitment is None:
        return PeriodResult(start, end, "no_commitment", None, None, delivered, None, None, delivered_mwh, None,
                            coverage)
    committed, flat = commitment
    tolerance = flat.tolerance_for(committed)
    if exclusion is not None:
        return PeriodResult(start, end, "excluded", committed, tolerance, delivered, None, None, delivered_mwh, None,
                            coverage, exclusion.reason)
    if delivered is None or coverage < min_coverage:
        return PeriodResult(start, end, "insufficient_data", committed, tolerance, delivered, None, None,
                            delivered_mwh, None, coverage)
    deviation = delivered - committed
    within = abs(deviation) <= tolerance
    return PeriodResult(start, end, "compliant" if within else "non_compliant", committed, tolerance, delivered,
                        deviation, deviation * hours, delivered_mwh, within, coverage)


def assess(starts: Sequence[datetime], period: timedelta, commitments: Sequence[Commitment],
           schedule: Mapping[datetime, float], exclusions: Sequence[Exclusion],
           integrals: Mapping[datetime, Integral], min_coverage: float) -> list[PeriodResult]:
    return [
        assess_period(s, period, committed_at(s, commitments, schedule), excluded_by(s, s + period, exclusions),
                      integrals.get(s), min_coverage)
        for s in starts
    ]


def totals(results: Sequence[PeriodResult], period: timedelta) -> dict[str, Any]:
    """Shares and energies over the assessed periods (compliant or not); excluded and data-less ones are counted."""
    hours = period.total_seconds() / SECONDS_PER_HOUR
    assessed = [r for r in results if r.within_tolerance is not None]
    compliant = sum(1 for r in assessed if r.within_tolerance)
    committed_mwh = sum((r.committed_mw or 0.0) * hours for r in assessed)
    met_mwh = sum(min(r.delivered_mw or 0.0, r.committed_mw or 0.0) * hours for r in assessed)
    counted = [r for r in results if r.status not in ("excluded", "no_commitment")]
    statuses = ("compliant", "non_compliant", "excluded", "insufficient_data", "no_commitment")
    return {
        "periods": len(results),
        **{s: sum(1 for r in results if r.status == s) for s in statuses},
        "compliant_share": compliant / len(assessed) if assessed else None,
        "shortfall_mwh": sum(-r.deviation_mwh for r in assessed if r.deviation_mwh and r.deviation_mwh < 0),
        "surplus_mwh": sum(r.deviation_mwh for r in assessed if r.deviation_mwh and r.deviation_mwh > 0),
        "committed_mwh": committed_mwh,
        "delivered_mwh": sum((r.delivered_mw or 0.0) * hours for r in assessed),
        "availability": met_mwh / committed_mwh if committed_mwh > 0 else None,
        "data_coverage": sum(r.coverage for r in counted) / len(counted) if counted else None,
    }


FIELDS = tuple(f.name for f in fields(PeriodResult))


def as_dict(result: PeriodResult) -> dict[str, Any]:
    return {name: getattr(result, name) for name in FIELDS}
