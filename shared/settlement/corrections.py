"""Agreed corrections: approved substitute readings replace the originals of their interval. Pure.

The one place a correction changes a number: the api's settlement (through `services/api/disputes/corrected.py`)
and the offline recomputation of a signed statement (`shared/ledger/offline.py`) both call `correction_for` and
`corrected_integral`. The originals stay in `readings`, untouched and readable; settlement of a corrected period is
computed by the shared engine's raw held integral over the readings this module returns. Substitutes are stored
and shown with the OPC UA quality UncertainSubstituteValue; because both partners agreed them, settlement counts
them as Good (`corrected_integral`). An approved energy value replaces the period's integral outright.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from shared.quality import GOOD
from shared.settlement.integral import Integral, Reading, held_integral

SECONDS_PER_HOUR = 3600.0


class Timed(Protocol):
    @property
    def ts(self) -> datetime: ...


R = TypeVar("R", bound=Timed)


@dataclass(frozen=True, slots=True)
class Substitution(Generic[R]):
    """Approved substitute readings of one signal for [starts_at, ends_at)."""

    signal_id: int
    starts_at: datetime
    ends_at: datetime
    readings: tuple[R, ...]


@dataclass(frozen=True, slots=True)
class EnergyOverride:
    """An approved substitute energy value for one settlement period."""

    period_start: datetime
    period_end: datetime
    energy_mwh: float


def apply_substitutions(readings: Sequence[R], substitutions: Sequence[Substitution[R]]) -> list[R]:
    """One signal's readings with every substituted interval replaced by its substitutes, in time order.

    Later substitutions win where approved intervals overlap (they cannot while pending, but two applied in turn
    may): an original or earlier substitute inside a later interval is dropped.
    """
    out: list[R] = list(readings)
    for sub in substitutions:
        out = [r for r in out if not sub.starts_at <= r.ts < sub.ends_at]
        out.extend(r for r in sub.readings if sub.starts_at <= r.ts < sub.ends_at)
    out.sort(key=lambda r: r.ts)
    return out


def agreed(sub: Substitution[Any]) -> Substitution[Reading]:
    """The substitution as settlement counts it: every substitute a Good reading."""
    return Substitution(
        sub.signal_id, sub.starts_at, sub.ends_at, tuple(Reading(r.ts, r.value, GOOD) for r in sub.readings)
    )


def period_overlay(
    applied: Sequence[Substitution[Any] | EnergyOverride], start: datetime, end: datetime
) -> EnergyOverride | list[Substitution[Any]] | None:
    """What applies to [start, end), from corrections in the order they took effect: the last energy value unless a
    readings correction took effect after it (then the substitutions after it), else every substitution."""
    chosen: EnergyOverride | list[Substitution[Any]] | None = None
    for item in applied:
        if item_start(item) >= end or item_end(item) <= start:
            continue
        if isinstance(item, EnergyOverride):
            chosen = item
        elif isinstance(chosen, list):
            chosen.append(item)
        else:
            chosen = [item]
    return chosen


def item_start(item: Substitution[Any] | EnergyOverride) -> datetime:
    return item.period_start if isinstance(item, EnergyOverride) else item.starts_at


def item_end(item: Substitution[Any] | EnergyOverride) -> datetime:
    return item.period_end if isinstance(item, EnergyOverride) else item.ends_at


def corrected_integral(
    readings: Sequence[Reading],
    overlay: EnergyOverride | Sequence[Substitution[Any]],
    start: datetime,
    end: datetime,
    *,
    max_gap_s: float,
) -> Integral:
    """A corrected period's integral: the approved energy value (over the whole period), or the shared engine's raw
    held integral of the readings (all qualities, with their context) with the agreed substitutes overlaid."""
    if isinstance(overlay, EnergyOverride):
        return Integral(overlay.energy_mwh * SECONDS_PER_HOUR, (end - start).total_seconds())
    overlaid = apply_substitutions(list(readings), [agreed(s) for s in overlay])
    return held_integral(overlaid, start, end, max_gap_s=max_gap_s)


def correction_margin(max_gap_s: float) -> timedelta:
    """How far outside a period a substitution can still change it: a substitute holds at most one maximum gap, and
    the hold rule looks one step further back."""
    return timedelta(seconds=2 * max_gap_s)


def correction_for(
    applied: Sequence[Substitution[Any] | EnergyOverride], start: datetime, end: datetime, *, max_gap_s: float
) -> EnergyOverride | list[Substitution[Any]] | None:
    """What corrects [start, end): its own approved energy value, else every substitution that reaches it within
    `correction_margin`, else nothing (`applied` in the order the corrections took effect)."""
    own = period_overlay(applied, start, end)
    if isinstance(own, EnergyOverride):
        return own
    margin = correction_margin(max_gap_s)
    nearby = period_overlay(applied, start - margin, end + margin)
    return (nearby if isinstance(nearby, list) else own) or None
