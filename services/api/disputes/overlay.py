"""The correction overlay: approved substitute readings replace the originals of their interval. Pure.

The originals stay in `readings`, untouched and readable; settlement of a corrected period is computed from the
readings this module returns. Substitutes carry the OPC UA quality UncertainSubstituteValue; because both partners
agreed them, settlement counts them as it counts Good readings (`settlement_readings`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar


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


def settlement_readings(readings: Sequence[R], substitutions: Sequence[Substitution[R]],
                        is_good: Callable[[R], bool]) -> list[R]:
    """The readings settlement integrates: Good originals outside substituted intervals, and every substitute."""
    kept = [r for r in readings if is_good(r)]
    return apply_substitutions(kept, substitutions)


def touches(substitutions: Sequence[Substitution[R]], start: datetime, end: datetime) -> bool:
    return any(s.starts_at < end and s.ends_at > start for s in substitutions)
