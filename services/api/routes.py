"""The api's endpoints. Each one: authorize, parse, ask the store, shape with the domain modules, render."""

from __future__ import annotations

import base64
import binascii
import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from msgspec import UNSET

from services.api import deps, service, store
from services.api.aggregates import aggregate_method, bucket_rows, output_names
from services.api.buckets import Bucketing, QueryError
from services.api.catalog import Catalog, Plant, Signal, visible_plants
from services.api.openapi import documented
from services.api.responses import Table, render
from services.api.schemas import (
    BUCKET_COLUMNS,
    BUCKET_VALUES,
    AggregatesOut,
    Bucket,
    BucketGrid,
    LatestReading,
    PlantAggregatesOut,
    PlantOut,
    PlantRow,
    PlantsOut,
    ReadingOut,
    ReadingsOut,
    SignalColumns,
    SignalOut,
    SignalRow,
    SignalsOut,
    ValueRange,
    columns,
)
from shared.auth import Principal
from shared.db import connection
from shared.errors import ApiError
from shared.quality import from_db, severity

PLANT_COLUMNS = columns(PlantRow)
SIGNAL_COLUMNS = columns(SignalRow)

router = APIRouter(prefix="/v1")


@router.get(
    "/plants", tags=["plants"], summary="Plants this key may read", responses=documented(PlantsOut, csv=PLANT_COLUMNS)
)
async def list_plants(request: Request, principal: Principal = deps.READ) -> Response:
    """Plants readable with this key (a partner key: the plants its partner is party to)."""
    plants = [
        PlantOut(key=p.key, name=p.name, capacity_mw=p.capacity_mw, timezone=p.timezone, partners=list(p.partners))
        for p in visible_plants(principal, await deps.get_catalog(request))
    ]
    return render(request, PlantsOut(plants=plants), Table(plants, PLANT_COLUMNS))


@router.get(
    "/plants/{plant}/signals",
    tags=["plants"],
    summary="Signals of a plant with their latest value",
    responses=documented(SignalsOut, 404, csv=SIGNAL_COLUMNS),
)
async def list_signals(request: Request, plant: str, principal: Principal = deps.READ) -> Response:
    """Key, kind, unit, valid range and the latest reading (time, value, OPC UA quality) of each signal."""
    catalog, found = await deps.plant_for(request, principal, plant)
    signals = sorted(catalog.signals_of(found), key=lambda s: s.key)
    async with connection(deps.get_pool(request)) as conn:
        latest = await store.latest_values(conn, [s.id for s in signals])
    out, rows = [], []
    for s in signals:
        ts, value, quality = latest.get(s.id, (None, None, None))
        last = (
            None
            if ts is None or quality is None or value is None
            else LatestReading(ts=ts, value=value, quality=from_db(quality), severity=severity(from_db(quality)))
        )
        out.append(
            SignalOut(
                key=s.key,
                kind=s.kind,
                unit=s.unit,
                range=ValueRange(min=s.min_value, max=s.max_value),
                description=s.description,
                latest=last,
            )
        )
        rows.append(
            SignalRow(
                key=s.key,
                kind=s.kind,
                unit=s.unit,
                min=s.min_value,
                max=s.max_value,
                latest_ts=ts,
                latest_value=value,
            )
        )
    return render(request, SignalsOut(plant=found.key, signals=out), Table(rows, SIGNAL_COLUMNS))


async def _columns_by_signal(
    request: Request, signals: list[Signal], b: Bucketing, fns: tuple[str, ...], fill_mode: str, quality: str
) -> dict[int, dict[str, list[Any]]]:
    settings = deps.get_settings(request)
    async with connection(deps.get_pool(request)) as conn:
        return await service.bucket_columns(
            conn,
            request.app.state.cache,
            signals,
            b,
            fns,
            fill_mode,
            good=quality == "good",
            settings=settings,
            closed_before=deps.cache_horizon(settings),
        )


@router.get(
    "/signals/{signal}/aggregates",
    tags=["aggregates"],
    summary="Aggregates of one signal per bucket",
    responses=documented(AggregatesOut, 400, 404, csv=BUCKET_COLUMNS),
)
async def signal_aggregates(
    request: Request, signal: str, query: deps.Aggregates, principal: Principal = deps.READ
) -> Response:
    """Buckets of `every` (1m … 1w) from the 1-minute rollups, or of 1s … 30s from raw readings (UTC-aligned);
    fn = avg,min,max,count,first,last,twa; fill = none|null|previous|linear; quality = good (default) | all;
    tz aligns day/week buckets to local days. CSV columns: start, end, the value functions asked for, count,
    coverage.

    Example: `/v1/signals/plant.net_output/aggregates?start=2026-11-25T00:00:00Z&end=2026-11-26T00:00:00Z
    &every=15m&fn=avg,twa`
    """
    settings = deps.get_settings(request)
    _, sig = await deps.signal_for(request, principal, signal)
    b, fns, fill_mode, quality_mode = query.parse_all(settings)
    values = (await _columns_by_signal(request, [sig], b, fns, fill_mode, quality_mode))[sig.id]
    buckets = bucket_models(values, b, fill_mode)
    payload = AggregatesOut(
        signal=sig.key,
        unit=sig.unit,
        every=query.every or "1h",
        fn=list(fns),
        method=aggregate_method(b, fns, quality_mode, fill_mode, sig.unit, settings.max_gap_s),
        buckets=buckets,
    )
    return render(
        request,
        payload,
        Table(buckets, bucket_columns(fns)),
        closed=deps.closed(settings, b.end),
        max_age_s=settings.cache_max_age_s,
    )


@router.get(
    "/plants/{plant}/aggregates",
    tags=["aggregates"],
    summary="Aggregates of many signals of a plant",
    responses=documented(PlantAggregatesOut, 400, 404, csv=["signal", *BUCKET_COLUMNS]),
)
async def plant_aggregates(
    request: Request,
    plant: str,
    query: deps.Aggregates,
    signals: Annotated[str | None, Query(description="Comma-separated signal keys (all of the plant's).")] = None,
    principal: Principal = deps.READ,
) -> Response:
    """As `/v1/signals/{signal}/aggregates`, for every signal of the plant (or the comma-separated `signals`),
    in one query, in columns: `buckets.start`/`buckets.end` once, and per signal one array per fn, `count` and
    `coverage`, aligned to them (empty buckets are null, count 0, unless fill is previous or linear).
    At most `max_buckets` buckets per signal and `max_points` buckets × signals. CSV: one row per signal and
    bucket."""
    settings = deps.get_settings(request)
    catalog, found = await deps.plant_for(request, principal, plant)
    chosen = _chosen_signals(catalog, found, signals)
    b, fns, fill_mode, quality_mode = query.parse_all(settings)
    if b.count * len(chosen) > settings.max_points:
        raise QueryError(
            "too_many_buckets",
            f"{b.count} buckets × {len(chosen)} signals exceeds {settings.max_points}.",
            {"max_points": settings.max_points},
        )
    by_signal = await _columns_by_signal(request, chosen, b, fns, fill_mode, quality_mode)
    out = [SignalColumns(signal=s.key, unit=s.unit, **by_signal[s.id]) for s in chosen]
    starts = b.starts()
    grid = BucketGrid(start=starts, end=[*starts[1:], b.end] if b.edges is None else list(b.edges[1:]))
    table = (
        {"signal": s.key, **row}
        for s in chosen
        for row in bucket_rows(by_signal[s.id], b, fns, "null" if fill_mode == "none" else fill_mode)
    )
    payload = PlantAggregatesOut(
        plant=found.key,
        every=query.every or "1h",
        fn=list(fns),
        method=aggregate_method(b, fns, quality_mode, fill_mode, "per signal", settings.max_gap_s),
        buckets=grid,
        signals=out,
    )
    return render(
        request,
        payload,
        Table(table, ["signal", *bucket_columns(fns)]),
        closed=deps.closed(settings, b.end),
        max_age_s=settings.cache_max_age_s,
    )


def bucket_columns(fns: Sequence[str]) -> list[str]:
    """The CSV columns of buckets: `Bucket` fields, the value functions in the order they were asked for."""
    names = output_names(fns)
    assert set(names) <= set(BUCKET_COLUMNS), names  # the shaping and the model agree on the names
    return names


def bucket_models(values: Mapping[str, list[Any]], b: Bucketing, fill_mode: str) -> list[Bucket]:
    """One signal's value columns as `Bucket`s (fill none: only buckets with a reading or a hold), built positionally
    from the columns: no dict per bucket (a response can hold tens of thousands)."""
    starts = b.starts()
    ends = [*starts[1:], b.end] if b.edges is None else list(b.edges[1:])
    unset = itertools.repeat(UNSET)
    count, coverage = values["count"], values["coverage"]
    assert len(count) == len(coverage) == len(starts)
    buckets = [
        Bucket(*row)
        for row in zip(starts, ends, count, coverage, *(values.get(f, unset) for f in BUCKET_VALUES), strict=False)
    ]
    return [x for x in buckets if x.count or x.coverage] if fill_mode == "none" else buckets


def _chosen_signals(catalog: Catalog, plant: Plant, signals: str | None) -> list[Signal]:
    of_plant = {s.key: s for s in catalog.signals_of(plant)}
    if not signals:
        return sorted(of_plant.values(), key=lambda s: s.key)
    keys = [k.strip() for k in signals.split(",") if k.strip()]
    unknown = [k for k in keys if k not in of_plant]
    if unknown:
        raise ApiError(
            404, "unknown_signal", f"Plant {plant.key!r} has no signal {', '.join(unknown)}.", {"signals": unknown}
        )
    return [of_plant[k] for k in dict.fromkeys(keys)]


def _decode_cursor(cursor: str | None) -> datetime | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return datetime.fromisoformat(text).astimezone(UTC)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise QueryError("invalid_cursor", "The cursor is not one this api returned.") from exc


def _encode_cursor(ts: datetime) -> str:
    return base64.urlsafe_b64encode(ts.isoformat().encode()).decode().rstrip("=")


@router.get(
    "/signals/{signal}/readings",
    tags=["readings"],
    summary="Raw readings (operator and admin keys)",
    responses=documented(ReadingsOut, 400, 404, csv=columns(ReadingOut)),
)
async def signal_readings(
    request: Request,
    signal: str,
    window: deps.Range,
    limit: Annotated[str | None, Query(description="Readings per page, 1 … max_readings_page (default 1000).")] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
    principal: Principal = deps.RAW,
) -> Response:
    """Raw readings in time order, `limit` per page (default 1000); pass `next_cursor` back as `cursor`."""
    settings = deps.get_settings(request)
    _, sig = await deps.signal_for(request, principal, signal)
    lo, hi = window.parse()
    size = _parse_limit(limit, settings.max_readings_page)
    after = _decode_cursor(cursor)
    async with connection(deps.get_pool(request)) as conn:
        rows = await store.readings_page(conn, sig.id, lo, hi, after=after, limit=size + 1)
    page = [
        ReadingOut(
            ts=r["ts"], value=r["value"], quality=from_db(r["quality"]), severity=severity(from_db(r["quality"]))
        )
        for r in rows[:size]
    ]
    next_cursor = _encode_cursor(rows[size - 1]["ts"]) if len(rows) > size else None
    payload = ReadingsOut(signal=sig.key, unit=sig.unit, readings=page, next_cursor=next_cursor)
    response = render(
        request,
        payload,
        Table(page, columns(ReadingOut)),
        closed=deps.closed(settings, hi),
        max_age_s=settings.cache_max_age_s,
    )
    if next_cursor:
        response.headers["X-Next-Cursor"] = next_cursor
    return response


def _parse_limit(limit: str | None, maximum: int) -> int:
    try:
        value = int(limit) if limit else min(1000, maximum)
    except ValueError as exc:
        raise QueryError("invalid_limit", f"`limit` must be an integer 1..{maximum}.") from exc
    if not 1 <= value <= maximum:
        raise QueryError("invalid_limit", f"`limit` must be an integer 1..{maximum}.", {"max": maximum})
    return value
