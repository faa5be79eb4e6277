"""Energy and fuel per period from time integrals (area in value·s per bucket). Pure functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from services.api.catalog import Signal
from shared.settlement import Integral
from shared.settlement.verdict import SECONDS_PER_HOUR

__all__ = [
    "SECONDS_PER_HOUR",
    "Integral",
    "energy_series",
    "fuel_periods",
    "heat_rate",
    "per_hour_factor",
    "volume_per_period",
]


def per_hour_factor(unit: str) -> float:
    """Divide a flow's integral (unit × s) by this to get the quantity: 3600 for '/h' units, 1 for '/s'."""
    return 1.0 if unit.endswith("/s") else SECONDS_PER_HOUR


def energy_series(
    signal: Signal,
    starts: Sequence[datetime],
    ends: Mapping[datetime, datetime],
    integrals: Mapping[tuple[int, datetime], Integral],
) -> dict[str, Any]:
    """MWh, mean MW and coverage per period for one power signal; periods without data have nulls."""
    periods = []
    total = 0.0
    for start in starts:
        length = (ends[start] - start).total_seconds()
        got = integrals.get((signal.id, start))
        if got is None or got.covered_s <= 0:
            periods.append({"start": start, "end": ends[start], "mwh": None, "mean_mw": None, "coverage": 0.0})
            continue
        mwh = got.area / SECONDS_PER_HOUR
        total += mwh
        periods.append(
            {
                "start": start,
                "end": ends[start],
                "mwh": mwh,
                "mean_mw": got.area / got.covered_s,
                "coverage": min(1.0, got.covered_s / length),
            }
        )
    return {"signal": signal.key, "kind": signal.kind, "unit": "MWh", "total_mwh": total, "periods": periods}


def volume_per_period(
    signals: Sequence[Signal], starts: Sequence[datetime], integrals: Mapping[tuple[int, datetime], Integral]
) -> dict[datetime, float | None]:
    """Fuel volume per period (Nm3), summed over the flow signals; None where no signal has data."""
    out: dict[datetime, float | None] = {}
    for start in starts:
        parts = [integrals[(s.id, start)].area / per_hour_factor(s.unit) for s in signals if (s.id, start) in integrals]
        out[start] = sum(parts) if parts else None
    return out


def heat_rate(
    volume_nm3: float | None, energy_mwh: float | None, lhv_mj_per_nm3: float | None
) -> tuple[float | None, float | None]:
    """(heat rate kJ/kWh, efficiency 0..1) from fuel volume, net energy and the gas LHV; None if not computable."""
    if lhv_mj_per_nm3 is None or not volume_nm3 or not energy_mwh or energy_mwh <= 0:
        return None, None
    fuel_mj = volume_nm3 * lhv_mj_per_nm3
    # MJ / MWh = kJ / kWh; 1 MWh = 3600 MJ.
    return fuel_mj / energy_mwh, energy_mwh * 3600.0 / fuel_mj


def fuel_periods(
    starts: Sequence[datetime],
    ends: Mapping[datetime, datetime],
    volumes: Mapping[datetime, float | None],
    net: Mapping[datetime, float | None],
    lhv: float | None,
) -> list[dict[str, Any]]:
    out = []
    for start in starts:
        rate, efficiency = heat_rate(volumes[start], net.get(start), lhv)
        out.append(
            {
                "start": start,
                "end": ends[start],
                "fuel_nm3": volumes[start],
                "net_mwh": net.get(start),
                "heat_rate_kj_per_kwh": rate,
                "efficiency": efficiency,
            }
        )
    return out
