"""Sub-minute bucket aggregates of raw readings, from columns (shared/history/columns.py). Pure.

The same numbers PostgreSQL's count/avg/min/max and first/last-by-time gave when this was SQL: avg is the plain
left-to-right sum in time order divided by the count (what float8 avg does), so hot and compressed readings, which
reach this function identically, give identical buckets.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shared.history.columns import F64, I64, Columns

RAW_NAMES = ("count", "avg", "min", "max", "first", "last")


def bucket_stats(
    c: Columns, *, origin_us: int, every_us: int, start_us: int, size: int, good: bool
) -> dict[str, list[Any]]:
    """Arrays aligned to the `size` buckets of `every_us` from `start_us` (aligned to `origin_us`) of `RAW_NAMES`:
    count (0 where empty), avg … last (None where empty). `c`: readings inside the buckets, time order."""
    if good:
        c = c.take(c.good())
    out: dict[str, list[Any]] = {k: [0] * size if k == "count" else [None] * size for k in RAW_NAMES}
    if not len(c):
        return out
    bucket = origin_us + (c.ts_us - origin_us) // every_us * every_us
    position = (bucket - start_us) // every_us
    first = np.flatnonzero(np.concatenate(([True], position[1:] != position[:-1])))
    last = np.concatenate((first[1:], [len(position)])) - 1
    counts = last - first + 1
    at = position[first].tolist()
    v = c.values
    columns = {
        "count": counts.tolist(),
        "avg": (sequential_sums(v, first, counts) / counts).tolist(),
        "min": np.minimum.reduceat(v, first).tolist(),
        "max": np.maximum.reduceat(v, first).tolist(),
        "first": v[first].tolist(),
        "last": v[last].tolist(),
    }
    for name, values in columns.items():
        column = out[name]
        for i, x in zip(at, values, strict=True):
            column[i] = x
    return out


def sequential_sums(v: F64, first: I64, counts: I64) -> F64:
    """Σ of each run v[first[i] : first[i] + counts[i]], added left to right (numpy's own sums are pairwise, which
    can differ in the last bit): one vector step per position inside the runs."""
    sums = np.zeros(len(first))
    for k in range(int(counts.max(initial=0))):
        live = counts > k
        sums[live] += v[first[live] + k]
    return sums
