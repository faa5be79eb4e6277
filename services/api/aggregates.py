"""Shaping rollup aggregates into buckets, and the method statement that lets a reader reproduce them."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from services.api.buckets import Bucketing

VALUE_FUNCTIONS = ("avg", "min", "max", "first", "last", "twa")
FILL_METHODS = {"none": "empty buckets omitted", "null": "empty buckets with null values",
                "previous": "empty buckets carry the previous bucket's values",
                "linear": "empty buckets interpolated in time between the neighbouring non-empty buckets"}
HOLD_RULE = ("sample-and-hold: a reading holds its value until the next reading if that comes within {g:g} s, "
             "otherwise (a gap, or no later reading) as long as the step before it, at most {g:g} s; "
             "holds crossing a bucket edge are split, a reading before the bucket can hold into it")


def bucket_ends(b: Bucketing) -> dict[datetime, datetime]:
    starts = b.starts()
    if b.edges is not None:
        return dict(zip(starts, b.edges[1:], strict=True))
    return {s: s + b.every for s in starts}


def columns_to_rows(columns: Mapping[str, Sequence[Any]], names: Sequence[str]) -> list[dict[str, Any]]:
    return [dict(zip(names, values, strict=True)) for values in zip(*(columns[n] for n in names), strict=True)]


def value_names(fns: Sequence[str]) -> list[str]:
    """The value functions asked for, in order, then count and coverage."""
    return [*[f for f in fns if f != "count"], "count", "coverage"]


def output_names(fns: Sequence[str]) -> list[str]:
    """Bucket fields in output order: start, end, the value functions asked for, count, coverage."""
    return ["start", "end", *value_names(fns)]


def coverage(minutes: Sequence[int], b: Bucketing) -> list[float]:
    """Share of each bucket's minutes that have a counted reading."""
    if b.edges is None:
        per_minute = 60.0 / b.every.total_seconds()
        return [m * per_minute for m in minutes]
    lengths = [(hi - lo).total_seconds() / 60.0 for lo, hi in itertools.pairwise(b.edges)]
    return [m / n for m, n in zip(minutes, lengths, strict=True)]


def shape_grid(grid: Mapping[str, list[Any]], b: Bucketing, fns: Sequence[str],
               twa: Mapping[datetime, tuple[float, float]] | None, fill_mode: str) -> dict[str, list[Any]]:
    """One signal's dense arrays from the store → output value arrays (twa, coverage, fill applied).

    `twa` maps a bucket start to (area, covered seconds) from the time integral. Empty buckets have count 0,
    coverage 0 and null values, unless `fill_mode` is previous or linear.
    """
    out: dict[str, list[Any]] = {f: grid[f] for f in fns if f not in ("count", "twa")}
    if "twa" in fns:
        got = twa or {}
        out["twa"] = [(a / c if c > 0 and n else None) for (a, c), n in
                      zip((got.get(s, (0.0, 0.0)) for s in b.starts()), grid["count"], strict=True)]
    out["count"] = grid["count"]
    out["coverage"] = grid["coverage"] if "coverage" in grid else coverage(grid["minutes"], b)
    if fill_mode in ("previous", "linear"):
        values = [f for f in fns if f in VALUE_FUNCTIONS]
        filler = _carry if fill_mode == "previous" else _interpolate
        for f in values:
            out[f] = filler(out[f], grid["count"], b.starts())
    return {n: out[n] for n in value_names(fns)}


def _carry(values: list[Any], counts: Sequence[int], _: Sequence[datetime]) -> list[Any]:
    result, last = [], None
    for v, n in zip(values, counts, strict=True):
        last = v if n else last
        result.append(v if n else last)
    return result


def _interpolate(values: list[Any], counts: Sequence[int], starts: Sequence[datetime]) -> list[Any]:
    """Linear in time between the nearest non-empty buckets; nothing before the first or after the last."""
    result = list(values)
    real = [i for i, n in enumerate(counts) if n and values[i] is not None]
    for left, right in itertools.pairwise(real):
        span = (starts[right] - starts[left]).total_seconds()
        for i in range(left + 1, right):
            frac = (starts[i] - starts[left]).total_seconds() / span
            result[i] = values[left] + (values[right] - values[left]) * frac
    return result


def raw_grid(raw: Mapping[str, list[Any]], b: Bucketing
             ) -> tuple[dict[str, list[Any]], dict[datetime, tuple[float, float]]]:
    """Sub-minute arrays from `store.raw_buckets` → (grid with held coverage, twa areas) for `shape_grid`."""
    width = b.every.total_seconds()
    grid = {k: raw[k] for k in ("count", "avg", "min", "max", "first", "last")}
    grid["coverage"] = [min(1.0, c / width) for c in raw["covered"]]
    twa = {s: (a, c) for s, a, c in zip(b.starts(), raw["area"], raw["covered"], strict=True) if c > 0}
    return grid, twa


def bucket_rows(values: Mapping[str, list[Any]], b: Bucketing, fns: Sequence[str], fill_mode: str
                ) -> list[dict[str, Any]]:
    """Row form for one signal; empty buckets are dropped when fill is none."""
    starts = b.starts()
    columns = {"start": starts, "end": [*starts[1:], b.end] if b.edges is None else list(b.edges[1:]), **values}
    rows = columns_to_rows(columns, output_names(fns))
    return [r for r in rows if r["count"]] if fill_mode == "none" else rows


def aggregate_method(b: Bucketing, fns: Sequence[str], quality: str, fill_mode: str, unit: str,
                     integration: str, max_gap_s: float) -> dict[str, Any]:
    """How every number of an aggregates response was computed."""
    if b.fine:
        return _raw_method(b, fns, quality, fill_mode, unit, max_gap_s)
    method: dict[str, Any] = {
        "source": "rollups_1m (per signal and UTC minute)",
        "alignment": b.describe(),
        "timezone": b.tz,
        "range": {"start": b.start, "end": b.end},
        "quality_filter": "Good readings only (OPC UA severity 00)" if quality == "good" else "all readings",
        "unit": unit,
        "avg": "sum of values / number of readings (each reading weighs the same)",
        "coverage": "minutes of the bucket with at least one counted reading / minutes in the bucket",
        "fill": FILL_METHODS[fill_mode],
    }
    if "twa" in fns:
        method["twa"] = integral_method(integration, max_gap_s) + " twa = integral / covered time."
    return method


def _raw_method(b: Bucketing, fns: Sequence[str], quality: str, fill_mode: str, unit: str, max_gap_s: float
                ) -> dict[str, Any]:
    """The method block of sub-minute buckets, computed from raw readings."""
    method: dict[str, Any] = {
        "source": "readings (raw, one query; sub-minute buckets are not served from the 1-minute rollups)",
        "alignment": b.describe(),
        "timezone": "UTC",
        "range": {"start": b.start, "end": b.end},
        "quality_filter": "Good readings only (OPC UA severity 00)" if quality == "good" else "all readings",
        "unit": unit,
        "avg": "sum of values / number of readings in the bucket (each reading weighs the same)",
        "first_last": "values of the earliest and the latest reading in the bucket",
        "coverage": "seconds of the bucket covered by held readings / bucket seconds "
                    f"({HOLD_RULE.format(g=max_gap_s)})",
        "fill": FILL_METHODS[fill_mode],
    }
    if "twa" in fns:
        method["twa"] = (f"Time integral of the held readings within the bucket / covered seconds; "
                         f"{HOLD_RULE.format(g=max_gap_s)}. Always sample-and-hold, exact from raw readings; "
                         "null when the bucket has no reading of its own.")
    return method


def integral_method(integration: str, max_gap_s: float) -> str:
    how = ("sample-and-hold: each reading's value holds until the next reading"
           if integration == "step" else "trapezoid: linear between consecutive readings")
    return (f"Time integral, {how}; readings more than {max_gap_s:g} s apart are not joined: a reading followed by "
            f"such a gap (or by no reading) holds as long as the step before it, at most {max_gap_s:g} s. "
            "Computed from the 1-minute rollups: readings inside a minute are taken as evenly spaced between its "
            "first and last reading (exact for fixed-rate scans), minute boundaries use the true first/last readings; "
            "holds crossing a bucket edge are split.")
