"""A baseload commitment as both the api (compliance reports) and alerts (deviation rules) read it, so that the
two always agree on what the plant owed and how much deviation the contract tolerates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Commitment:
    valid_from: datetime
    valid_to: datetime | None
    committed_mw: float
    tolerance_mw: float | None = None
    tolerance_pct: float | None = None
    settlement_period_s: int = 900
    id: int | None = None

    def covers(self, ts: datetime) -> bool:
        return self.valid_from <= ts and (self.valid_to is None or ts < self.valid_to)

    def tolerance_for(self, committed_mw: float) -> float:
        """The tolerated deviation in MW: the fixed band, or the percentage of what is committed."""
        if self.tolerance_mw is not None:
            return self.tolerance_mw
        return abs(committed_mw) * (self.tolerance_pct or 0.0) / 100.0
