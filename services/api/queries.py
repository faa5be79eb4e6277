"""Store reads shaped for the api, through the bucket cache: closed buckets from memory when known, the rest from
PostgreSQL. Held integrals come as `Integrals` arrays per signal, computed by shared.settlement."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from services.api import store
from services.api.aggregates import grid_from_rows, grid_names
from services.api.buckets import ORIGIN, Bucketing, bounds_us
from services.api.cache import BucketCache
from services.api.store import Conn
from shared.history.rollups import ROLLUP_TABLES
from shared.settlement import Integral
from shared.settlement.integral import EPOCH, Integrals, edges_us, held_arrays
from shared.settlement.rollup import column_integrals, inexact_rows

# Wide requests (many signals) are served straight from PostgreSQL: caching them would cost memory for little.
MAX_CACHED_SIGNALS = 16
# Many signals are read in chunks, so that one statement's arrays stay bounded.
CHUNK_SIGNALS = 50

V = TypeVar("V")
Fetch = Callable[[list[int], Bucketing], Awaitable[dict[int, dict[datetime, V]]]]
Grid = dict[str, list[Any]]


def closed_part(b: Bucketing, closed_before: datetime) -> tuple[Bucketing | None, Bucketing | None]:
    """Split fixed-width buckets into those ending before `closed_before` (cacheable) and the rest."""
    if b.edges is not None or b.origin != ORIGIN:
        return None, b
    cut = min(b.end, ORIGIN + ((closed_before - ORIGIN) // b.every) * b.every)
    if cut <= b.start:
        return None, b
    return replace(b, end=cut), (replace(b, start=cut) if cut < b.end else None)


async def through_cache(
    cache: BucketCache, variant: Hashable, ids: Sequence[int], b: Bucketing, closed_before: datetime, fetch: Fetch[V]
) -> dict[int, dict[datetime, V | None]]:
    """Per signal and bucket start the fetched value (None: no data); closed buckets via the cache."""
    closed, rest = closed_part(b, closed_before) if cache.usable and len(ids) <= MAX_CACHED_SIGNALS else (None, b)
    out: dict[int, dict[datetime, V | None]] = {sid: {} for sid in ids}
    if closed is not None:
        starts = closed.starts()
        missing = []
        for sid in ids:
            got = cache.lookup(sid, variant, starts)
            if got is None:
                missing.append(sid)
            else:
                out[sid].update(got)
        if missing:
            generations = {sid: cache.generation(sid) for sid in missing}
            fetched = await fetch(missing, closed)
            for sid in missing:
                values: dict[datetime, V | None] = {s: fetched.get(sid, {}).get(s) for s in starts}
                cache.store(sid, variant, generations[sid], values)
                out[sid].update(values)
    if rest is not None:
        fetched = await fetch(list(ids), rest)
        for sid in ids:
            out[sid].update(fetched.get(sid, {}))
    return out


bucket_edges = store.bucket_edges


def _cacheable(cache: BucketCache | None, ids: Sequence[int], b: Bucketing, closed_before: datetime) -> bool:
    return (
        cache is not None
        and cache.usable
        and len(ids) <= MAX_CACHED_SIGNALS
        and closed_part(b, closed_before)[0] is not None
    )


async def _chunked(
    conn: Conn, ids: Sequence[int], read: Callable[[Conn, list[int]], Awaitable[dict[int, V]]]
) -> dict[int, V]:
    """`read` over chunks of `ids` in turn: one statement's arrays stay bounded however many signals are asked."""
    out: dict[int, V] = {}
    for i in range(0, len(ids), CHUNK_SIGNALS):
        out.update(await read(conn, list(ids[i : i + CHUNK_SIGNALS])))
    return out


async def bucket_data(
    conn: Conn,
    ids: Sequence[int],
    bounds: npt.NDArray[np.int64],
    *,
    good: bool,
    max_gap_s: float,
    fns: Sequence[str] | None = None,
) -> dict[int, tuple[Grid | None, Integrals]]:
    """Per signal, for the buckets [bounds[i], bounds[i+1]) (epoch µs): with `fns`, the aggregate arrays of
    `grid_names(fns)` (count 0 and values None where empty); and the held integral in each bucket, exact: from the
    coarsest rollup table aligned with the edges whose rows can give it (no step inside a row longer than the maximum
    gap), else from finer tables, else from raw readings. The aggregates and the first integrals come from one read
    of the coarsest table; every integral through shared.settlement, so all give the same numbers."""
    start, end = (EPOCH + timedelta(microseconds=int(bounds[k])) for k in (0, -1))

    async def read(c: Conn, chunk: list[int]) -> dict[int, tuple[Grid | None, Integrals]]:
        out: dict[int, tuple[Grid | None, Integrals]] = {}
        grids: dict[int, Grid] = {}
        n = len(bounds) - 1
        pending = chunk
        first = True
        for table, width in ROLLUP_TABLES:
            if not pending or not store.aligned(bounds, width):
                continue
            names = grid_names(fns) if fns is not None and first else []
            got = await store.rollup_rows(c, pending, start, end, table=table, width=width, good=good, grid=names)
            if names:
                shaped = grid_from_rows(got.extra, got.columns.start_us, got.group, len(pending), bounds, names)
                grids.update(zip(pending, shaped, strict=True))
            # Signals with a row whose longest step exceeds the maximum gap go on to finer rows (or raw readings).
            inexact = np.unique(got.group[inexact_rows(got.columns, bounds, max_gap_s=max_gap_s)])
            exact = ~np.isin(got.group, inexact)
            held = column_integrals(
                got.columns.take(exact),
                bounds,
                max_gap_s=max_gap_s,
                good_only=good,
                group=got.group[exact],
                groups=len(pending),
            )
            later = set(inexact.tolist())
            for k, sid in enumerate(pending):
                if k not in later:
                    part = slice(k * n, (k + 1) * n)
                    out[sid] = (grids.get(sid), Integrals(held.area[part], held.covered_us[part]))
            pending, first = [sid for k, sid in enumerate(pending) if k in later], False
        if pending:
            readings = await store.raw_columns(c, pending, start, end)
            for sid in pending:
                r = readings[sid]
                out[sid] = (
                    grids.get(sid),
                    held_arrays(r.ts_us, r.values, r.good(), bounds, max_gap_s=max_gap_s, good_only=good),
                )
        return out

    return await _chunked(conn, ids, read)


async def exact_integrals(
    conn: Conn, ids: Sequence[int], edges: Sequence[datetime], *, good: bool, max_gap_s: float
) -> dict[int, Integrals]:
    """The exact held integral of each signal in each bucket [edges[i], edges[i+1]) (see `bucket_data`)."""
    got = await bucket_data(conn, ids, edges_us(edges), good=good, max_gap_s=max_gap_s)
    return {sid: held for sid, (_, held) in got.items()}


def _from_cells(
    cells: dict[datetime, tuple[Any, ...] | None], starts: Sequence[datetime], keys: Sequence[str]
) -> tuple[Grid, Integrals]:
    """Arrays back from per-bucket cached cells (grid values…, area, covered µs); a missing cell is an empty bucket."""
    empty = (*[0 if k == "count" else None for k in keys], 0.0, 0)
    rows = [cells.get(s) or empty for s in starts]
    n = len(keys)
    grid = {k: [r[j] for r in rows] for j, k in enumerate(keys)}
    held = Integrals(
        np.array([r[n] for r in rows], dtype=np.float64), np.array([r[n + 1] for r in rows], dtype=np.int64)
    )
    return grid, held


def _to_cells(grid: Grid | None, held: Integrals, starts: Sequence[datetime], keys: Sequence[str]) -> dict:
    columns = [grid[k] for k in keys] if grid is not None else []
    return dict(zip(starts, zip(*columns, held.area.tolist(), held.covered_us.tolist(), strict=True), strict=True))


async def bucket_arrays(
    conn: Conn,
    cache: BucketCache | None,
    ids: Sequence[int],
    b: Bucketing,
    fns: Sequence[str] | None,
    *,
    good: bool,
    max_gap_s: float,
    closed_before: datetime,
) -> dict[int, tuple[Grid | None, Integrals]]:
    """`bucket_data` over a bucketing; closed buckets of narrow requests through the cache."""
    if not _cacheable(cache, ids, b, closed_before):
        return await bucket_data(conn, ids, bounds_us(b), good=good, max_gap_s=max_gap_s, fns=fns)
    assert cache is not None
    keys = grid_names(fns) if fns is not None else []

    async def fetch(some: list[int], part: Bucketing) -> dict[int, dict[datetime, tuple[Any, ...]]]:
        got = await bucket_data(conn, some, bounds_us(part), good=good, max_gap_s=max_gap_s, fns=fns)
        starts = part.starts()
        return {sid: _to_cells(grid, held, starts, keys) for sid, (grid, held) in got.items()}

    variant = (b.every.total_seconds(), "buckets", good, max_gap_s, tuple(keys))
    got = await through_cache(cache, variant, ids, b, closed_before, fetch)
    starts = b.starts()
    out: dict[int, tuple[Grid | None, Integrals]] = {}
    for sid in ids:
        grid, held = _from_cells(got[sid], starts, keys)
        out[sid] = (grid if fns is not None else None, held)
    return out


async def integral_arrays(
    conn: Conn,
    cache: BucketCache | None,
    ids: Sequence[int],
    b: Bucketing,
    *,
    good: bool,
    max_gap_s: float,
    closed_before: datetime,
) -> dict[int, Integrals]:
    """The exact held integral per signal and bucket of `b`, closed buckets cached."""
    got = await bucket_arrays(conn, cache, ids, b, None, good=good, max_gap_s=max_gap_s, closed_before=closed_before)
    return {sid: held for sid, (_, held) in got.items()}


async def integrals(
    conn: Conn,
    cache: BucketCache | None,
    ids: Sequence[int],
    b: Bucketing,
    *,
    good: bool,
    max_gap_s: float,
    closed_before: datetime,
) -> dict[tuple[int, datetime], Integral]:
    """`integral_arrays` per (signal, bucket start)."""
    got = await integral_arrays(conn, cache, ids, b, good=good, max_gap_s=max_gap_s, closed_before=closed_before)
    starts = b.starts()
    return {(sid, s): v for sid, held in got.items() for s, v in zip(starts, held.to_list(), strict=True)}
