"""Frequency quality: time inside the standard bands and excursions beyond a band. Pure shaping of store rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any


def band_times(inside_s: Sequence[float], covered_s: float, bands_hz: Sequence[float]) -> dict[str, Any]:
    """Seconds and shares inside each ±band (cumulative) and beyond the widest."""
    share = (lambda s: s / covered_s if covered_s > 0 else None)  # noqa: E731
    inside = [{"band_mhz": round(b * 1000, 3), "seconds": s, "share": share(s)}
              for b, s in zip(bands_hz, inside_s, strict=True)]
    widest = max(inside_s) if inside_s else 0.0
    beyond = {"band_mhz": round(max(bands_hz) * 1000, 3), "seconds": covered_s - widest,
              "share": share(covered_s - widest)}
    return {"inside": inside, "beyond": beyond}


def excursion(row: Mapping[str, Any], nominal_hz: float) -> dict[str, Any]:
    start: datetime = row["start"]
    end: datetime = row["end"]
    return {"start": start, "end": end, "duration_s": (end - start).total_seconds(), "extreme_hz": row["extreme"],
            "extreme_deviation_mhz": (row["extreme"] - nominal_hz) * 1000.0, "samples": row["samples"]}


def frequency_method(nominal_hz: float, bands_hz: Sequence[float], band_hz: float, max_gap_s: float,
                     min_s: float) -> dict[str, Any]:
    return {
        "source": "raw Good-quality readings",
        "weighting": (f"sample-and-hold: each reading holds until the next if it comes within {max_gap_s:g} s, "
                      "else as long as the step before it (at most that); times and the mean are weighted by it"),
        "nominal_hz": nominal_hz,
        "bands": f"inside ±band means |f − {nominal_hz:g} Hz| ≤ band; bands "
                 + ", ".join(f"±{b * 1000:g} mHz" for b in bands_hz),
        "excursions": (f"maximal runs of readings with |Δf| > {band_hz * 1000:g} mHz, ended by a reading back inside "
                       f"or a gap longer than {max_gap_s:g} s; end = last reading's hold; listed if ≥ {min_s:g} s"),
        "unit": "Hz",
    }
