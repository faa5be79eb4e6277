"""The api's endpoints. Each one: authorize, parse, ask the store, shape with the domain modules, render."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from services.api import deps, service, store
from services.api.aggregates import aggregate_method, bucket_rows, output_names
from services.api.buckets import (
    FILLS,
    QUALITIES,
    Bucketing,
    QueryError,
    make_bucketing,
    parse_choice,
    parse_every,
    parse_functions,
    parse_range,
    parse_tz,
)
from services.api.catalog import Catalog, Plant, Signal, visible_plants
from services.api.responses import Table, render
from services.api.schemas import documented
from services.api.settings import Settings
from shared.auth import Principal
from shared.errors import ApiError
from shared.quality import from_db, severity

router = APIRouter(prefix="/v1")


@router.get("/plants", tags=["plants"], summary="Plants this key may read", responses=documented("plants"))
async def list_plants(request: Request, principal: Principal = deps.READ) -> Response:
    """Plants readable with this key (a partner key: the plants its partner is party to)."""
    plants = [
        {
            "key": p.key,
            "name": p.name,
            "capacity_mw": p.capacity_mw,
            "timezone": p.timezone,
            "partners": list(p.partners),
        }
        for p in visible_plants(principal, await deps.get_catalog(request))
    ]
    return render(request, {"plants": plants}, Table(plants, ["key", "name", "capacity_mw", "timezone"]))


@router.get(
    "/plants/{plant}/signals",
    tags=["plants"],
    summary="Signals of a plant with their latest value",
    responses=documented("signals", 404),
)
async def list_signals(request: Request, plant: str, principal: Principal = deps.READ) -> Response:
    """Key, kind, unit, valid range and the latest reading (time, value, OPC UA quality) of each signal."""
    catalog, found = await deps.plant_for(request, principal, plant)
    signals = sorted(catalog.signals_of(found), key=lambda s: s.key)
    latest = await store.latest_values(request.app.state.pool, [s.id for s in signals])
    out, rows = [], []
    for s in signals:
        ts, value, quality = latest.get(s.id, (None, None, None))
        last = (
            None
            if ts is None or quality is None
            else {"ts": ts, "value": value, "quality": from_db(quality), "severity": severity(from_db(quality))}
        )
        out.append(
            {
                "key": s.key,
                "kind": s.kind,
                "unit": s.unit,
                "range": {"min": s.min_value, "max": s.max_value},
                "description": s.description,
                "latest": last,
            }
        )
        rows.append(
            {
                "key": s.key,
                "kind": s.kind,
                "unit": s.unit,
                "min": s.min_value,
                "max": s.max_value,
                "latest_ts": ts,
                "latest_value": value,
            }
        )
    columns = ["key", "kind", "unit", "min", "max", "latest_ts", "latest_value"]
    return render(request, {"plant": found.key, "signals": out}, Table(rows, columns))


def _aggregate_params(
    settings: Settings,
    start: str | None,
    end: str | None,
    every: str | None,
    fn: str | None,
    fill: str | None,
    quality: str | None,
    tz: str | None,
) -> tuple[Bucketing, tuple[str, ...], str, str]:
    lo, hi = parse_range(start, end)
    every_td = parse_every(every, "1h", fine=True)
    fns = parse_functions(fn)
    fill_mode = parse_choice(fill, FILLS, "fill")
    quality_mode = parse_choice(quality, QUALITIES, "quality")
    b = make_bucketing(lo, hi, every_td, tz=parse_tz(tz), max_buckets=settings.max_buckets)
    return b, fns, fill_mode, quality_mode


async def _columns_by_signal(
    request: Request, signals: list[Signal], b: Bucketing, fns: tuple[str, ...], fill_mode: str, quality: str
) -> dict[int, dict[str, list]]:
    settings = deps.get_settings(request)
    return await service.bucket_columns(
        request.app.state.pool,
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
    responses=documented("aggregates", 400, 404),
)
async def signal_aggregates(
    request: Request,
    signal: str,
    start: deps.Start = None,
    end: deps.End = None,
    every: str | None = None,
    fn: str | None = None,
    fill: str | None = None,
    quality: str | None = None,
    tz: str | None = None,
    principal: Principal = deps.READ,
) -> Response:
    """Buckets of `every` (1m … 1w) from the 1-minute rollups, or of 1s … 30s from raw readings (UTC-aligned);
    fn = avg,min,max,count,first,last,twa; fill = none|null|previous|linear; quality = good (default) | all;
    tz aligns day/week buckets to local days.

    Example: `/v1/signals/plant.net_output/aggregates?start=2026-11-25T00:00:00Z&end=2026-11-26T00:00:00Z
    &every=15m&fn=avg,twa`
    """
    settings = deps.get_settings(request)
    _, sig = await deps.signal_for(request, principal, signal)
    b, fns, fill_mode, quality_mode = _aggregate_params(settings, start, end, every, fn, fill, quality, tz)
    values = (await _columns_by_signal(request, [sig], b, fns, fill_mode, quality_mode))[sig.id]
    buckets = bucket_rows(values, b, fns, fill_mode)
    payload = {
        "signal": sig.key,
        "unit": sig.unit,
        "every": every or "1h",
        "fn": list(fns),
        "method": aggregate_method(b, fns, quality_mode, fill_mode, sig.unit, settings.max_gap_s),
        "buckets": buckets,
    }
    return render(
        request,
        payload,
        Table(buckets, output_names(fns)),
        closed=deps.closed(settings, b.end),
        max_age_s=settings.cache_max_age_s,
    )


@router.get(
    "/plants/{plant}/aggregates",
    tags=["aggregates"],
    summary="Aggregates of many signals of a plant",
    responses=documented("plant_aggregates", 400, 404),
)
async def plant_aggregates(
    request: Request,
    plant: str,
    start: deps.Start = None,
    end: deps.End = None,
    every: str | None = None,
    fn: str | None = None,
    fill: str | None = None,
    quality: str | None = None,
    tz: str | None = None,
    signals: str | None = None,
    principal: Principal = deps.READ,
) -> Response:
    """As `/v1/signals/{signal}/aggregates`, for every signal of the plant (or the comma-separated `signals`),
    in one query, in columns: `buckets.start`/`buckets.end` once, and per signal one array per fn, `count` and
    `coverage`, aligned to them (empty buckets are null, count 0, unless fill is previous or linear).
    At most `max_buckets` buckets per signal and `max_points` buckets × signals."""
    settings = deps.get_settings(request)
    catalog, found = await deps.plant_for(request, principal, plant)
    chosen = _chosen_signals(catalog, found, signals)
    b, fns, fill_mode, quality_mode = _aggregate_params(settings, start, end, every, fn, fill, quality, tz)
    if b.count * len(chosen) > settings.max_points:
        raise QueryError(
            "too_many_buckets",
            f"{b.count} buckets × {len(chosen)} signals exceeds {settings.max_points}.",
            {"max_points": settings.max_points},
        )
    by_signal = await _columns_by_signal(request, chosen, b, fns, fill_mode, quality_mode)
    out = [{"signal": s.key, "unit": s.unit, **by_signal[s.id]} for s in chosen]
    starts = b.starts()
    grid = {"start": starts, "end": [*starts[1:], b.end] if b.edges is None else list(b.edges[1:])}
    table = (
        {"signal": s.key, **row}
        for s in chosen
        for row in bucket_rows(by_signal[s.id], b, fns, "null" if fill_mode == "none" else fill_mode)
    )
    payload = {
        "plant": found.key,
        "every": every or "1h",
        "fn": list(fns),
        "method": aggregate_method(b, fns, quality_mode, fill_mode, "per signal", settings.max_gap_s),
        "buckets": grid,
        "signals": out,
    }
    return render(
        request,
        payload,
        Table(table, ["signal", *output_names(fns)]),
        closed=deps.closed(settings, b.end),
        max_age_s=settings.cache_max_age_s,
    )


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
    responses=documented("readings", 400, 404),
)
async def signal_readings(
    request: Request,
    signal: str,
    start: deps.Start = None,
    end: deps.End = None,
    limit: str | None = None,
    cursor: str | None = None,
    principal: Principal = deps.RAW,
) -> Response:
    """Raw readings in time order, `limit` per page (default 1000); pass `next_cursor` back as `cursor`."""
    settings = deps.get_settings(request)
    _, sig = await deps.signal_for(request, principal, signal)
    lo, hi = parse_range(start, end)
    size = _parse_limit(limit, settings.max_readings_page)
    rows = await store.readings_page(
        request.app.state.pool, sig.id, lo, hi, after=_decode_cursor(cursor), limit=size + 1
    )
    page = [
        {
            "ts": r["ts"],
            "value": r["value"],
            "quality": from_db(r["quality"]),
            "severity": severity(from_db(r["quality"])),
        }
        for r in rows[:size]
    ]
    next_cursor = _encode_cursor(rows[size - 1]["ts"]) if len(rows) > size else None
    payload = {"signal": sig.key, "unit": sig.unit, "readings": page, "next_cursor": next_cursor}
    response = render(
        request,
        payload,
        Table(page, ["ts", "value", "quality", "severity"]),
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
