"""Period verdicts and totals from held integrals and the commitment in force. Pure.

delivered_mw = held integral / covered seconds (the time-weighted mean over the covered time);
delivered_mwh = held integral / 3600 (energy measured in the period, never extrapolated);
deviation_mw = delivered_mw − committed_mw; deviation_mwh = deviation_mw × period hours;
compliant when |deviation_mw| ≤ tolerance_mw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.settlement.commitments import CommitmentInForce
from shared.settlement.integral import Integral

SECONDS_PER_HOUR = 3600.0

COMPLIANT = "compliant"
NON_COMPLIANT = "non_compliant"
EXCLUDED = "excluded"
NO_COMMITMENT = "no_commitment"
INSUFFICIENT_DATA = "insufficient_data"
STATUSES = (COMPLIANT, NON_COMPLIANT, EXCLUDED, INSUFFICIENT_DATA, NO_COMMITMENT)
ASSESSED = (COMPLIANT, NON_COMPLIANT)


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A window (planned outage, grid-operator instruction, force majeure) in which the commitment does not apply."""

    starts_at: datetime
    ends_at: datetime
    reason: str = ""


@dataclass(slots=True)  # not frozen: a 30-day report builds thousands, and frozen __init__ is slower
class PeriodSettlement:
    start: datetime
    end: datetime
    status: str  # one of STATUSES
    committed_mw: float | None
    tolerance_mw: float | None
    delivered_mw: float | None
    deviation_mw: float | None
    deviation_mwh: float | None
    delivered_mwh: float | None
    coverage: float
    commitment: CommitmentInForce | None
    excluded_reason: str | None = None
    note: str = ""

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / SECONDS_PER_HOUR

    @property
    def within_tolerance(self) -> bool | None:
        """True/False for assessed periods, None for the others."""
        return None if self.status not in ASSESSED else self.status == COMPLIANT


@dataclass(frozen=True, slots=True)
class Totals:
    periods: int
    compliant: int
    non_compliant: int
    excluded: int
    insufficient_data: int
    no_commitment: int
    compliant_share: float | None
    shortfall_mwh: float
    surplus_mwh: float
    committed_mwh: float
    delivered_mwh: float
    availability: float | None
    data_coverage: float | None


def excluded_by(start: datetime, end: datetime, exclusions: Sequence[Exclusion]) -> Exclusion | None:
    """The first exclusion window overlapping [start, end), if any."""
    if not exclusions:
        return None
    return next((e for e in exclusions if e.starts_at < end and e.ends_at > start), None)


def settle_period(
    start: datetime,
    end: datetime,
    commitment: CommitmentInForce | None,
    exclusion: Exclusion | None,
    integral: Integral | None,
    *,
    min_coverage: float,
) -> PeriodSettlement:
    """One period's verdict: the mean delivered MW over the covered time against the commitment in force."""
    length = (end - start).total_seconds()
    got = integral if integral is not None and integral.covered_s > 0 else None
    coverage = min(1.0, got.covered_s / length) if got else 0.0
    delivered = got.area / got.covered_s if got else None
    delivered_mwh = got.area / SECONDS_PER_HOUR if got else None
    if commitment is None:
        return PeriodSettlement(
            start, end, NO_COMMITMENT, None, None, delivered, None, None, delivered_mwh, coverage, None
        )
    committed, tolerance = commitment.committed_mw, commitment.tolerance_mw
    if exclusion is not None:
        return PeriodSettlement(
            start,
            end,
            EXCLUDED,
            committed,
            tolerance,
            delivered,
            None,
            None,
            delivered_mwh,
            coverage,
            commitment,
            exclusion.reason,
            exclusion.reason,
        )
    if delivered is None or coverage < min_coverage:
        return PeriodSettlement(
            start,
            end,
            INSUFFICIENT_DATA,
            committed,
            tolerance,
            delivered,
            None,
            None,
            delivered_mwh,
            coverage,
            commitment,
        )
    deviation = delivered - committed
    status = COMPLIANT if abs(deviation) <= tolerance else NON_COMPLIANT
    return PeriodSettlement(
        start,
        end,
        status,
        committed,
        tolerance,
        delivered,
        deviation,
        deviation * length / SECONDS_PER_HOUR,
        delivered_mwh,
        coverage,
        commitment,
    )


def totals(periods: Sequence[PeriodSettlement]) -> Totals:
    """Sums over the periods' own values (see `METHOD["totals"]`), in one pass and in period order."""
    count = dict.fromkeys(STATUSES, 0)
    committed_mwh = met_mwh = shortfall = surplus = delivered_mwh = coverage = 0.0
    counted = 0
    for p in periods:
        status = p.status
        count[status] += 1
        if p.delivered_mwh is not None:
            delivered_mwh += p.delivered_mwh
        if status not in (EXCLUDED, NO_COMMITMENT):
            counted += 1
            coverage += p.coverage
        if status in ASSESSED:
            hours = p.hours
            committed_mwh += (p.committed_mw or 0.0) * hours
            met_mwh += min(p.delivered_mw or 0.0, p.committed_mw or 0.0) * hours
            deviation = p.deviation_mwh
            if deviation is not None and deviation < 0:
                shortfall += -deviation
            elif deviation is not None and deviation > 0:
                surplus += deviation
    assessed = count[COMPLIANT] + count[NON_COMPLIANT]
    return Totals(
        periods=len(periods),
        compliant=count[COMPLIANT],
        non_compliant=count[NON_COMPLIANT],
        excluded=count[EXCLUDED],
        insufficient_data=count[INSUFFICIENT_DATA],
        no_commitment=count[NO_COMMITMENT],
        compliant_share=count[COMPLIANT] / assessed if assessed else None,
        shortfall_mwh=shortfall,
        surplus_mwh=surplus,
        committed_mwh=committed_mwh,
        delivered_mwh=delivered_mwh,
        availability=met_mwh / committed_mwh if committed_mwh > 0 else None,
        data_coverage=coverage / counted if counted else None,
    )


def method(*, max_gap_s: float, min_coverage: float, default_period_s: int) -> dict[str, str]:
    """The method block of every settlement number: the rules, stated once."""
    return {
        "periods": f"UTC-aligned settlement periods of the commitment in force (default {default_period_s} s); "
        "where the period length changes, the new length starts at that commitment's valid_from",
        "commitment": "among commitments covering the period start the latest valid_from wins; a schedule "
        "override for the period start replaces its committed MW",
        "hold": f"each reading holds its value until the next reading if that comes within {max_gap_s:g} s, "
        f"otherwise as long as the step from the reading before it, at most {max_gap_s:g} s; only Good "
        "readings' holds count, so a non-Good reading ends the hold of the Good one before it",
        "delivered_mw": "held integral of Good net-output readings / covered seconds",
        "delivered_mwh": "held integral / 3600 s: energy measured in the period, never extrapolated",
        "coverage": "held seconds inside the period / period seconds",
        "deviation": "deviation_mw = delivered_mw − committed_mw; deviation_mwh = deviation_mw × period hours",
        "verdict": "compliant when |deviation_mw| ≤ tolerance_mw (tolerance_pct × committed when given in %)",
        "excluded": "periods overlapping an exclusion window are not assessed",
        "insufficient_data": f"coverage below {min_coverage:g}: not assessed",
        "totals": "sums of the periods' own values: committed_mwh, shortfall_mwh, surplus_mwh over assessed "
        "periods; delivered_mwh = Σ delivered_mwh of all periods; availability = Σ min(delivered_mw, "
        "committed_mw) × h / committed_mwh (assessed); data_coverage = mean coverage of periods with a "
        "commitment and no exclusion",
    }
