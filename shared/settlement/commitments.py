"""Which commitment is in force, and the settlement periods it defines. Pure.

Rules (README "Method in brief"):
- Among the commitments covering an instant (valid_from ≤ t < valid_to), the one with the latest `valid_from` wins.
- A period is judged against the commitment in force at the period's start; a schedule override for that period
  start replaces the committed MW (the tolerance still comes from the commitment in force).
- The settlement period length is the one of the commitment in force (the configured default where none is).
  Periods are UTC-aligned to their length; where the length in force changes (at a commitment's `valid_from` or
  `valid_to`), the period running at that instant ends there and the new length starts there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.commitments import Commitment
from shared.settlement.periods import TooManyPeriods, count_periods, floor_to


@dataclass(frozen=True, slots=True)
class CommitmentInForce:
    """What the plant owes in one period and where that figure came from."""

    commitment_id: int | None
    valid_from: datetime
    committed_mw: float
    tolerance_mw: float
    period_s: int
    source: str  # "commitment" (the flat value) or "schedule" (a per-period override)


@dataclass(frozen=True, slots=True)
class SettlementPeriod:
    start: datetime
    end: datetime
    commitment: CommitmentInForce | None


def commitment_at(ts: datetime, commitments: Sequence[Commitment]) -> Commitment | None:
    """The commitment in force at `ts`: among those covering it, the latest `valid_from` wins."""
    best: Commitment | None = None
    for c in commitments:
        if c.covers(ts) and (best is None or c.valid_from > best.valid_from):
            best = c
    return best


def resolve(
    ts: datetime, commitments: Sequence[Commitment], schedule: Mapping[datetime, float]
) -> CommitmentInForce | None:
    """The commitment in force for the period starting at `ts`, with a schedule override applied."""
    flat = commitment_at(ts, commitments)
    if flat is None:
        return None
    override = schedule.get(ts)
    committed = flat.committed_mw if override is None else override
    return CommitmentInForce(
        flat.id,
        flat.valid_from,
        committed,
        flat.tolerance_for(committed),
        flat.settlement_period_s,
        "commitment" if override is None else "schedule",
    )


def period_length_at(ts: datetime, commitments: Sequence[Commitment], default_period_s: int) -> int:
    flat = commitment_at(ts, commitments)
    return flat.settlement_period_s if flat is not None else default_period_s


def _changes(commitments: Sequence[Commitment]) -> list[datetime]:
    """Instants where the commitment in force may change."""
    out = {c.valid_from for c in commitments} | {c.valid_to for c in commitments if c.valid_to is not None}
    return sorted(out)


def _length_changes_at(ts: datetime, commitments: Sequence[Commitment], default_period_s: int) -> bool:
    before = period_length_at(ts - timedelta(microseconds=1), commitments, default_period_s)
    return before != period_length_at(ts, commitments, default_period_s)


def _first_start(
    start: datetime, changes: Sequence[datetime], commitments: Sequence[Commitment], default_period_s: int
) -> datetime:
    """The start of the period holding `start`: its aligned start, or a later change of period length."""
    length = period_length_at(start, commitments, default_period_s)
    first = floor_to(start, length)
    for change in changes:
        if first < change <= start and _length_changes_at(change, commitments, default_period_s):
            first = change
    return first


def settlement_periods(
    start: datetime,
    end: datetime,
    commitments: Sequence[Commitment],
    schedule: Mapping[datetime, float],
    default_period_s: int,
    *,
    limit: int | None = None,
) -> list[SettlementPeriod]:
    """The settlement periods overlapping [start, end), each with the commitment in force at its start.

    Raises `TooManyPeriods` before building more than `limit` periods.
    """
    changes = _changes(commitments)
    lengths = [default_period_s, *(c.settlement_period_s for c in commitments)]
    shortest = min(lengths)
    # Counted before anything is built: no period is longer than the longest length, so this is a lower bound.
    if limit is not None and count_periods(start, end, max(lengths)) - 1 > limit:
        raise TooManyPeriods(count_periods(start, end, shortest), limit)
    out: list[SettlementPeriod] = []
    t = _first_start(start, changes, commitments, default_period_s)
    while t < end:
        length = period_length_at(t, commitments, default_period_s)
        stop = floor_to(t, length) + timedelta(seconds=length)
        for change in changes:
            if t < change < stop and _length_changes_at(change, commitments, default_period_s):
                stop = change
                break
        out.append(SettlementPeriod(t, stop, resolve(t, commitments, schedule)))
        if limit is not None and len(out) > limit:  # never more than limit + 1 built
            raise TooManyPeriods(max(len(out), count_periods(start, end, shortest)), limit)
        t = stop
    return out
