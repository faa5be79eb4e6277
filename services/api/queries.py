"""Store reads through the bucket cache: closed buckets from memory when known, the rest from PostgreSQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from services.api import store
from services.api.buckets import ORIGIN, Bucketing
from services.api.cache import BucketCache
from services.api.store import Conn
from shared.settlement import Integral, NotExact, held_integrals
from shared.settlement.integral import micros
from shared.settlement.rollup import column_integrals

# Wide requests (many signals) are served straight from PostgreSQL: caching them would cost memory for little.
MAX_CACHED_SIGNALS = 16

V = TypeVar("V")
Fetch = Callable[[list[int], Bucketing], Awaitable[dict[int, dict[datetime, V]]]]


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


async def exact_integrals(
    conn: Conn, ids: Sequence[int], edges: Sequence[datetime], *, good: bool, max_gap_s: float
) -> dict[int, list[Integral]]:
    """The held integral of each signal in each bucket [edges[i], edges[i+1]), exact: from the coarsest rollups
    aligned with the edges whose rows can give it (no step inside a row longer than the maximum gap), else from
    finer rollups, else from raw readings. All through shared.settlement, so all give the same numbers."""
    out: dict[int, list[Integral]] = {}
    raw_ids = list(ids)
    bounds = [micros(e) for e in edges]
    for table, width in store.ROLLUP_TABLES:
        if not raw_ids or not store.aligned(edges, width):
            continue
        rows = await store.rollup_rows(conn, raw_ids, edges[0], edges[-1], table=table)
        pending = []
        for sid in raw_ids:
            try:
                out[sid] = column_integrals(rows[sid], bounds, max_gap_s=max_gap_s, good_only=good)
            except NotExact:
                pending.append(sid)
        raw_ids = pending
    if raw_ids:
        readings = await store.raw_readings(conn, raw_ids, edges[0], edges[-1])
        for sid in raw_ids:
            out[sid] = held_integrals(readings[sid], edges, max_gap_s=max_gap_s, good_only=good)
    return out


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
    """`exact_integrals` per (signal, bucket start), with closed buckets cached."""

    async def fetch(some: list[int], part: Bucketing) -> dict[int, dict[datetime, Integral]]:
        edges = bucket_edges(part)
        got = await exact_integrals(conn, some, edges, good=good, max_gap_s=max_gap_s)
        return {sid: dict(zip(edges[:-1], values, strict=True)) for sid, values in got.items()}

    if cache is None:
        direct = await fetch(list(ids), b)
        return {(sid, s): v for sid, per in direct.items() for s, v in per.items()}
    variant = (b.every.total_seconds(), "integral", good, max_gap_s)
    got = await through_cache(cache, variant, ids, b, closed_before, fetch)
    return {(sid, s): v for sid, per in got.items() for s, v in per.items() if v is not None}


async def aggregate_grid(
    pool: Conn,
    cache: BucketCache | None,
    ids: Sequence[int],
    b: Bucketing,
    fns: Sequence[str],
    *,
    good: bool,
    closed_before: datetime,
) -> dict[int, dict[str, list[Any]]]:
    """`store.aggregate_grid`, with closed buckets of narrow requests cached."""
    if cache is None or not cache.usable or len(ids) > MAX_CACHED_SIGNALS or closed_part(b, closed_before)[0] is None:
        return await store.aggregate_grid(pool, ids, b, fns, good=good)
    keys = store.grid_names(fns)

    async def fetch(some: list[int], part: Bucketing) -> dict[int, dict[datetime, tuple]]:
        grid = await store.aggregate_grid(pool, some, part, fns, good=good)
        starts = part.starts()
        return {
            sid: {s: tuple(arrays[k][i] for k in keys) for i, s in enumerate(starts) if arrays["count"][i]}
            for sid, arrays in grid.items()
        }

    variant = (b.every.total_seconds(), "aggregate", good, tuple(keys))
    got = await through_cache(cache, variant, ids, b, closed_before, fetch)
    starts = b.starts()
    result = {}
    for sid in ids:
        rows = [got[sid].get(s) for s in starts]
        result[sid] = {
            k: [(r[j] if r is not None else (0 if k == "count" else None)) for r in rows] for j, k in enumerate(keys)
        }
    return result
