"""Frequency quality: time inside the standard bands and excursions beyond a band. Pure shaping of store rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from shared.settlement.frequency import band_mhz, deviation_mhz


def band_times(inside_s: Sequence[float], covered_s: float, bands_hz: Sequence[float]) -> dict[str, Any]:
    """Seconds and shares inside each ±band (cumulative) and beyond the widest."""
    share = lambda s: s / covered_s if covered_s > 0 else None  # noqa: E731
    inside = [
        {"band_mhz": band_mhz(b), "seconds": s, "share": share(s)} for b, s in zip(bands_hz, inside_s, strict=True)
    ]
    widest = max(inside_s) if inside_s else 0.0
    beyond = {"band_mhz": band_mhz(max(bands_hz)), "seconds": covered_s - widest, "share": share(covered_s - widest)}
    return {"inside": inside, "beyond": beyond}


def excursion(row: Mapping[str, Any], nominal_hz: float) -> dict[str, Any]:
    start: datetime = row["start"]
    end: datetime = row["end"]
    return {
        "start": start,
        "end": end,
        "duration_s": (end - start).total_seconds(),
        "extreme_hz": row["extreme"],
        "extreme_deviation_mhz": deviation_mhz(row["extreme"], nominal_hz),
        "samples": row["samples"],
    }


def frequency_method(
    nominal_hz: float, bands_hz: Sequence[float], band_hz: float, max_gap_s: float, min_s: float
) -> dict[str, Any]:
    return {
        "source": "raw Good-quality readings",
        "weighting": (
            f"sample-and-hold over readings of every quality: each reading holds until the next if it comes "
            f"within {max_gap_s:g} s, else as long as the step before it (at most that); only Good "
            "readings' holds count; times and the mean are weighted by the holds inside the range"
        ),
        "nominal_hz": nominal_hz,
        "bands": f"inside ±band means |round(f × 1000) − round({nominal_hz:g} × 1000)| ≤ band in integer mHz "
        "(so 49.8 and 50.2 Hz are inside ±200 mHz); bands " + ", ".join(f"±{band_mhz(b)} mHz" for b in bands_hz),
        "excursions": (
            f"maximal runs of Good readings with |Δf| > {band_mhz(band_hz)} mHz, ended by a reading back "
            f"inside, a non-Good reading or a gap longer than {max_gap_s:g} s; end = last reading's hold; "
            f"listed if ≥ {min_s:g} s"
        ),
        "unit": "Hz",
    }
