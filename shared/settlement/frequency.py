"""Frequency band membership, decided in integer millihertz so that 49.8 and 50.2 Hz are exactly ±200 mHz. Pure.

Rule: a value's deviation is round(value_hz × 1000) − round(nominal_hz × 1000) mHz (IEEE double product, rounded
half to even — Python's round() and PostgreSQL's round(float8) agree); a value is inside ±band when
|deviation| ≤ band_mhz. `BAND_DEVIATION_SQL` is the same rule for queries.
"""

from __future__ import annotations

# ${value} and the nominal parameter are substituted by the caller: the deviation in integer mHz.
BAND_DEVIATION_SQL = "abs(round({value} * 1000) - round({nominal} * 1000))"


def to_mhz(value_hz: float) -> int:
    return round(value_hz * 1000)


def deviation_mhz(value_hz: float, nominal_hz: float) -> int:
    """Signed deviation from nominal in integer mHz."""
    return to_mhz(value_hz) - to_mhz(nominal_hz)


def in_band(value_hz: float, nominal_hz: float, band_mhz: int) -> bool:
    """Inside ±band (boundary included)."""
    return abs(deviation_mhz(value_hz, nominal_hz)) <= band_mhz


def band_mhz(band_hz: float) -> int:
    """A configured band in Hz (e.g. 0.2) as integer mHz (200)."""
    return to_mhz(band_hz)
