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

import bisect
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
    return _in_force(commitment_at(ts, commitments), schedule.get(ts))


def _in_force(flat: Commitment | None, override: float | None) -> CommitmentInForce | None:
    if flat is None:
        return None
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
    length_changes: dict[datetime, bool] = {}

    def cut_in(t: datetime, stop: datetime) -> datetime | None:
        """The first change of period length inside (t, stop)."""
        for change in changes[bisect.bisect_right(changes, t) :]:
            if change >= stop:
                return None
            if change not in length_changes:
                length_changes[change] = _length_changes_at(change, commitments, default_period_s)
            if length_changes[change]:
                return change
        return None

    out: list[SettlementPeriod] = []
    t = _first_start(start, changes, commitments, default_period_s)
    while t < end:
        # Until the next change instant the commitment in force, hence the period length, stays the same: resolve
        # them once for the run of periods starting before it (`resolve` per period would give the same).
        later = bisect.bisect_right(changes, t)
        run_end = min(end, changes[later]) if later < len(changes) else end
        flat = commitment_at(t, commitments)
        length = timedelta(seconds=flat.settlement_period_s if flat is not None else default_period_s)
        plain = _in_force(flat, None)
        stop = floor_to(t, int(length.total_seconds())) + length
        while t < run_end:
            cut = cut_in(t, stop)
            override = schedule.get(t)
            period = SettlementPeriod(t, cut or stop, plain if override is None else _in_force(flat, override))
            out.append(period)
            if limit is not None and len(out) > limit:  # never more than limit + 1 built
                raise TooManyPeriods(max(len(out), count_periods(start, end, shortest)), limit)
            t = period.end
            if cut is not None:
                break
            stop = t + length
    return out
