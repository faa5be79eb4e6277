"""Shaping rollup aggregates into buckets, and the method statement that lets a reader reproduce them."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from services.api.buckets import Bucketing, bounds_us
from shared.settlement.integral import Integrals

VALUE_FUNCTIONS = ("avg", "min", "max", "first", "last", "twa")
FILL_METHODS = {
    "none": "empty buckets omitted",
    "null": "empty buckets with null values",
    "previous": "empty buckets carry the previous bucket's values",
    "linear": "empty buckets interpolated in time between the neighbouring non-empty buckets",
}
HOLD_RULE = (
    "sample-and-hold over readings of every quality: a reading holds its value until the next reading if "
    "that comes within {g:g} s, otherwise (a longer gap, or no later reading) as long as the step from the "
    "reading before it, at most {g:g} s; with the Good filter only Good readings' holds count (a non-Good "
    "reading ends the hold of the Good one before it); holds crossing a bucket edge are split, a reading "
    "before the bucket can hold into it"
)


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


GRID_FUNCTIONS = ("avg", "min", "max", "first", "last")


def grid_names(fns: Sequence[str]) -> list[str]:
    """The arrays `grid_from_rows` returns for `fns`, in order."""
    return list(dict.fromkeys(["count", *[f for f in fns if f in GRID_FUNCTIONS]]))


def nullable(values: npt.NDArray[Any], empty: npt.NDArray[np.bool_]) -> list[Any]:
    """`values` as a list, None where `empty`."""
    out: list[Any] = values.tolist()
    for i in np.flatnonzero(empty).tolist():
        out[i] = None
    return out


def grid_from_rows(
    rows: Mapping[str, npt.NDArray[Any]],
    start_us: npt.NDArray[np.int64],
    group: npt.NDArray[np.int64],
    groups: int,
    bounds: npt.NDArray[np.int64],
    fns: Sequence[str],
) -> list[dict[str, list[Any]]]:
    """Per signal (`group` of each row, rows ordered by signal then time) and bucket [bounds[i], bounds[i+1]) (epoch
    µs), from rollup rows (`store.rollup_rows` grid_* columns): count (0 where empty), avg = Σ sum / Σ count, min,
    max, and the first and last values of the bucket's rows with readings (None where empty); only the arrays of
    `grid_names(fns)`."""
    n = len(bounds) - 1
    size = n * groups
    use = (start_us >= bounds[0]) & (start_us < bounds[-1]) & (rows["grid_count"] > 0)
    i = np.searchsorted(bounds, start_us[use], side="right") - 1 + group[use] * n
    count = np.bincount(i, weights=rows["grid_count"][use], minlength=size).astype(np.int64)
    empty = count == 0
    names = grid_names(fns)
    arrays: dict[str, npt.NDArray[Any]] = {}
    if "avg" in names:
        arrays["avg"] = np.bincount(i, weights=rows["grid_sum"][use], minlength=size) / np.where(empty, 1, count)
    for name, fold, start in (("min", np.minimum, np.inf), ("max", np.maximum, -np.inf)):
        if name in names:
            folded = np.full(size, start)
            fold.at(folded, i, rows[f"grid_{name}"][use])
            arrays[name] = folded
    changes = i[1:] != i[:-1]
    for name, at in (("first", np.r_[True, changes]), ("last", np.r_[changes, True])):
        if name in names:
            picked = np.zeros(size)
            if len(i):
                picked[i[at]] = rows[f"grid_{name}_value"][use][at]
            arrays[name] = picked
    counts = count.reshape(groups, n).tolist()
    lists = {k: v.reshape(groups, n).tolist() for k, v in arrays.items()}
    empties = [np.flatnonzero(e).tolist() for e in empty.reshape(groups, n)]
    out = []
    for g in range(groups):
        one: dict[str, list[Any]] = {"count": counts[g]}
        for k, v in lists.items():
            values = v[g]
            for j in empties[g]:
                values[j] = None
            one[k] = values
        out.append({k: one[k] for k in names})
    return out


def shape_grid(
    grid: Mapping[str, list[Any]], b: Bucketing, fns: Sequence[str], held: Integrals, fill_mode: str
) -> dict[str, list[Any]]:
    """One signal's dense arrays from the store and its held integral per bucket → output value arrays.

    twa = held area / held seconds, coverage = held seconds / bucket seconds: both from the holds falling inside the
    bucket, also when no reading starts inside it. Empty buckets (no reading and no hold) have null values, unless
    `fill_mode` is previous or linear.
    """
    out: dict[str, list[Any]] = {f: grid[f] for f in fns if f not in ("count", "twa")}
    if "twa" in fns:
        out["twa"] = nullable(held.means(), held.covered_us <= 0)
    out["count"] = grid["count"]
    out["coverage"] = np.minimum(1.0, held.covered_s / (np.diff(bounds_us(b)) / 1_000_000)).tolist()
    if fill_mode in ("previous", "linear"):
        values = [f for f in fns if f in VALUE_FUNCTIONS]
        filler = _carry if fill_mode == "previous" else _interpolate
        for f in values:
            out[f] = filler(out[f], [v is not None for v in out[f]], b.starts())
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


def bucket_rows(
    values: Mapping[str, list[Any]], b: Bucketing, fns: Sequence[str], fill_mode: str
) -> list[dict[str, Any]]:
    """Row form for one signal; empty buckets are dropped when fill is none."""
    starts = b.starts()
    columns = {"start": starts, "end": [*starts[1:], b.end] if b.edges is None else list(b.edges[1:]), **values}
    rows = columns_to_rows(columns, output_names(fns))
    return [r for r in rows if r["count"] or r["coverage"]] if fill_mode == "none" else rows


def aggregate_method(
    b: Bucketing, fns: Sequence[str], quality: str, fill_mode: str, unit: str, max_gap_s: float
) -> dict[str, Any]:
    """How every number of an aggregates response was computed."""
    fine = b.fine
    method: dict[str, Any] = {
        "source": "readings (raw; sub-minute buckets are not served from the rollups)"
        if fine
        else "rollups_1m (per signal and UTC minute); the held integral from raw readings where a minute "
        "has a step longer than the maximum gap",
        "alignment": b.describe(),
        "timezone": "UTC" if fine else b.tz,
        "range": {"start": b.start, "end": b.end},
        "quality_filter": "Good readings only (OPC UA severity 00)" if quality == "good" else "all readings",
        "unit": unit,
        "avg": "sum of values / number of readings in the bucket (each reading weighs the same)",
        "first_last": "values of the earliest and the latest reading in the bucket",
        "coverage": f"seconds of the bucket covered by held readings / bucket seconds; {integral_method(max_gap_s)}",
        "fill": FILL_METHODS[fill_mode],
    }
    if "twa" in fns:
        method["twa"] = (
            "sample-and-hold integral within the bucket / covered seconds (null when nothing is held "
            "in it), "
            "also when no reading starts inside the bucket"
        )
    return method


def integral_method(max_gap_s: float) -> str:
    """The held integral, in words (the rule lives in shared/settlement/integral.py)."""
    return (
        f"time integral, {HOLD_RULE.format(g=max_gap_s)}; exact from raw readings or from the rollups, which "
        "keep each minute's inner area and first/last readings (the same numbers)"
    )
