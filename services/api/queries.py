"""Store reads through the bucket cache: closed buckets from memory when known, the rest from PostgreSQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

import asyncpg

from services.api import store
from services.api.buckets import ORIGIN, Bucketing
from services.api.cache import BucketCache
from services.api.energy import Integral

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


async def through_cache(cache: BucketCache, variant: Hashable, ids: Sequence[int], b: Bucketing,
                        closed_before: datetime, fetch: Fetch[V]) -> dict[int, dict[datetime, V | None]]:
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


async def integrals(pool: asyncpg.Pool, cache: BucketCache, ids: Sequence[int], b: Bucketing, *, good: bool,
                    method: str, max_gap_s: float, closed_before: datetime) -> dict[tuple[int, datetime], Integral]:
    """`store.integrals`, with closed buckets cached."""
    async def fetch(some: list[int], part: Bucketing) -> dict[int, dict[datetime, Integral]]:
        rows = await store.integrals(pool, some, part, good=good, method=method, max_gap_s=max_gap_s)
        grouped: dict[int, dict[datetime, Integral]] = {}
        for (sid, start), value in rows.items():
            grouped.setdefault(sid, {})[start] = value
        return grouped

    variant = (b.every.total_seconds(), "integral", good, method, max_gap_s)
    got = await through_cache(cache, variant, ids, b, closed_before, fetch)
    return {(sid, s): v for sid, per in got.items() for s, v in per.items() if v is not None}


async def aggregate_grid(pool: asyncpg.Pool, cache: BucketCache, ids: Sequence[int], b: Bucketing,
                         fns: Sequence[str], *, good: bool, closed_before: datetime) -> dict[int, dict[str, list[Any]]]:
    """`store.aggregate_grid`, with closed buckets of narrow requests cached."""
    if not cache.usable or len(ids) > MAX_CACHED_SIGNALS or closed_part(b, closed_before)[0] is None:
        return await store.aggregate_grid(pool, ids, b, fns, good=good)
    keys = store.grid_names(fns)

    async def fetch(some: list[int], part: Bucketing) -> dict[int, dict[datetime, tuple]]:
        grid = await store.aggregate_grid(pool, some, part, fns, good=good)
        starts = part.starts()
        return {sid: {s: tuple(arrays[k][i] for k in keys) for i, s in enumerate(starts) if arrays["count"][i]}
                for sid, arrays in grid.items()}

    variant = (b.every.total_seconds(), "aggregate", good, tuple(keys))
    got = await through_cache(cache, variant, ids, b, closed_before, fetch)
    starts = b.starts()
    result = {}
    for sid in ids:
        rows = [got[sid].get(s) for s in starts]
        result[sid] = {k: [(r[j] if r is not None else (0 if k in ("count", "minutes") else None)) for r in rows]
                       for j, k in enumerate(keys)}
    return result


def closed_before(now: datetime, late_data_window_s: int) -> datetime:
    return now - timedelta(seconds=late_data_window_s)
