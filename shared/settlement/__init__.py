"""One settlement engine, pure (no database, web framework or clock): periods, commitments, the held integral,
verdicts, totals and frequency bands. Every service computes settlement numbers through this package."""

from shared.settlement.commitments import (
    CommitmentInForce,
    SettlementPeriod,
    commitment_at,
    resolve,
    settlement_periods,
)
from shared.settlement.frequency import band_mhz, deviation_mhz, in_band
from shared.settlement.integral import Integral, Reading, held_integral, held_integrals, holds, is_good
from shared.settlement.periods import (
    TooManyPeriods,
    count_periods,
    local_day_bounds,
    period_bounds,
    period_starts,
)
from shared.settlement.rollup import NotExact, RollupRow, rollup_integrals
from shared.settlement.verdict import (
    Exclusion,
    PeriodSettlement,
    Totals,
    excluded_by,
    method,
    settle_period,
    totals,
)

__all__ = [
    "CommitmentInForce",
    "Exclusion",
    "Integral",
    "NotExact",
    "PeriodSettlement",
    "Reading",
    "RollupRow",
    "SettlementPeriod",
    "TooManyPeriods",
    "Totals",
    "band_mhz",
    "commitment_at",
    "count_periods",
    "deviation_mhz",
    "excluded_by",
    "held_integral",
    "held_integrals",
    "holds",
    "in_band",
    "is_good",
    "local_day_bounds",
    "method",
    "period_bounds",
    "period_starts",
    "resolve",
    "rollup_integrals",
    "settle_period",
    "settlement_periods",
    "totals",
]
