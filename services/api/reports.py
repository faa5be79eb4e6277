"""Plant reports: energy, compliance, frequency quality, fuel, and the live stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from services.api import deps, frequency, queries, store
from services.api.aggregates import bucket_ends, integral_method
from services.api.buckets import Bucketing, QueryError
from services.api.catalog import POWER_KINDS
from services.api.energy import energy_series, fuel_periods, per_hour_factor, volume_per_period
from services.api.frequency import band_times, excursion, frequency_method
from services.api.openapi import documented, schema_ref
from services.api.responses import Table, encode, render
from services.api.schemas import (
    Bands,
    ComplianceOut,
    CompliancePeriod,
    EnergyOut,
    EnergyPeriod,
    EnergySeries,
    Excursion,
    FrequencyOut,
    FuelOut,
    FuelPeriod,
    FuelRow,
    StreamEvent,
    StreamValue,
    columns,
)
from services.api.service import compliance_method, plant_settlement
from services.api.settings import Settings
from shared.auth import Principal
from shared.db import connection
from shared.errors import error_responses
from shared.quality import from_db
from shared.settlement import PeriodSettlement, TooManyPeriods
from shared.settlement.frequency import band_mhz

router = APIRouter(prefix="/v1")

ENERGY_COLUMNS = columns(EnergyPeriod, prefix=("signal",))
PERIOD_COLUMNS = columns(CompliancePeriod)
EXCURSION_COLUMNS = columns(Excursion)
FUEL_COLUMNS = columns(FuelRow)


@router.get(
    "/plants/{plant}/energy",
    tags=["energy"],
    summary="MWh per period for net output and each unit",
    responses=documented(EnergyOut, 400, 404, csv=ENERGY_COLUMNS),
)
async def plant_energy(
    request: Request, plant: str, query: deps.Buckets, quality: deps.Quality = None, principal: Principal = deps.READ
) -> Response:
    """Time integral of power per period (default 15m) for net output and each unit, with coverage."""
    settings = deps.get_settings(request)
    catalog, found = await deps.plant_for(request, principal, plant)
    query.parse()
    quality_mode = deps.quality_mode(quality)
    b = query.bucketing(settings, "15m")
    power = sorted(catalog.signals_of(found, POWER_KINDS), key=lambda s: (s.kind != "net_output", s.key))
    async with connection(deps.get_pool(request)) as conn:
        ints = await queries.integrals(
            conn,
            request.app.state.cache,
            [s.id for s in power],
            b,
            good=quality_mode == "good",
            max_gap_s=settings.max_gap_s,
            closed_before=deps.cache_horizon(settings),
        )
    ends = bucket_ends(b)
    series = [_energy_series(energy_series(s, list(ends), ends, ints)) for s in power]
    method = {
        "integral": integral_method(settings.max_gap_s),
        "alignment": b.describe(),
        "quality_filter": "Good readings only" if quality_mode == "good" else "all readings",
        "unit": "MWh = ∫ MW dt / 3600 s",
        "coverage": "seconds covered by held readings / period seconds",
        "mean_mw": "integral / covered time",
    }
    table = [{"signal": s.signal, **p} for s, raw in series for p in raw]
    payload = EnergyOut(plant=found.key, every=query.every or "15m", method=method, series=[s for s, _ in series])
    return render(
        request,
        payload,
        Table(table, ENERGY_COLUMNS),
        closed=deps.closed(settings, b.end),
        max_age_s=settings.cache_max_age_s,
    )


def _energy_series(raw: dict[str, Any]) -> tuple[EnergySeries, list[dict[str, Any]]]:
    """The model of one `energy_series` result, and its periods as rows (for the CSV)."""
    periods = raw["periods"]
    model = EnergySeries(
        signal=raw["signal"],
        kind=raw["kind"],
        unit=raw["unit"],
        total_mwh=raw["total_mwh"],
        periods=[EnergyPeriod(**p) for p in periods],
    )
    return model, periods


def period_row(p: PeriodSettlement) -> CompliancePeriod:
    """One settlement period as served (JSON and CSV alike)."""
    c = p.commitment
    return CompliancePeriod(
        start=p.start,
        end=p.end,
        status=p.status,
        committed_mw=p.committed_mw,
        tolerance_mw=p.tolerance_mw,
        delivered_mw=p.delivered_mw,
        deviation_mw=p.deviation_mw,
        deviation_mwh=p.deviation_mwh,
        delivered_mwh=p.delivered_mwh,
        within_tolerance=p.within_tolerance,
        coverage=p.coverage,
        commitment_id=c.commitment_id if c else None,
        commitment_source=c.source if c else None,
        note=p.note,
    )


@router.get(
    "/plants/{plant}/compliance",
    tags=["compliance"],
    summary="Settlement-period compliance",
    responses=documented(ComplianceOut, 400, 404, csv=PERIOD_COLUMNS),
)
async def plant_compliance(
    request: Request, plant: str, window: deps.Range, principal: Principal = deps.READ
) -> Response:
    """Per settlement period: committed vs delivered mean MW, deviation, tolerance, coverage; and totals."""
    settings = deps.get_settings(request)
    catalog, found = await deps.plant_for(request, principal, plant)
    net = deps.one_of_kind(catalog, found, "net_output")
    lo, hi = window.parse()
    try:
        async with connection(deps.get_pool(request)) as conn:
            periods, total = await plant_settlement(
                conn,
                found.key,
                lo,
                hi,
                settings=settings,
                cache=request.app.state.cache,
                closed_before=deps.cache_horizon(settings),
            )
    except TooManyPeriods as exc:
        raise QueryError(
            "too_many_buckets",
            f"{exc.count} periods exceed {settings.max_buckets}.",
            {"periods": exc.count, "max_buckets": settings.max_buckets},
        ) from exc
    rows = [period_row(p) for p in periods]
    lengths = sorted({int((p.end - p.start).total_seconds()) for p in periods})
    payload = ComplianceOut(
        plant=found.key,
        signal=net.key,
        settlement_period_s=lengths[0] if len(lengths) == 1 else settings.settlement_period_s,
        method=compliance_method(settings),
        periods=rows,
        totals=total,
    )
    last = periods[-1].end if periods else hi
    return render(
        request,
        payload,
        Table(rows, PERIOD_COLUMNS),
        closed=deps.closed(settings, last),
        max_age_s=settings.cache_max_age_s,
    )


@router.get(
    "/plants/{plant}/frequency",
    tags=["frequency"],
    summary="Grid frequency quality",
    responses=documented(FrequencyOut, 400, 404, csv=EXCURSION_COLUMNS),
)
async def plant_frequency(
    request: Request, plant: str, window: deps.Range, principal: Principal = deps.READ
) -> Response:
    """min, max, time-weighted mean; time inside ±50 mHz and ±200 mHz and beyond; excursions beyond the band.
    CSV: the excursions."""
    settings = deps.get_settings(request)
    catalog, found = await deps.plant_for(request, principal, plant)
    freq = deps.one_of_kind(catalog, found, "frequency")
    lo, hi = window.parse()
    if (hi - lo).total_seconds() > settings.max_raw_span_days * 86400:
        raise QueryError(
            "range_too_long",
            f"Frequency reports read raw readings: at most {settings.max_raw_span_days} days per request.",
            {"max_days": settings.max_raw_span_days},
        )
    bands = sorted(settings.frequency_bands_hz)
    async with connection(deps.get_pool(request)) as conn:
        readings = await store.frequency_readings(conn, freq.id, lo, hi)
    h = frequency.held(readings, lo, hi, nominal_hz=settings.nominal_frequency_hz, max_gap_s=settings.max_gap_s)
    summary = frequency.summary(h, [band_mhz(b) for b in bands])
    rows = frequency.excursions(
        h,
        lo,
        band_mhz=band_mhz(settings.excursion_band_hz),
        min_s=settings.excursion_min_s,
        limit=settings.max_excursions + 1,
    )
    excursions = [Excursion(**excursion(r, settings.nominal_frequency_hz)) for r in rows[: settings.max_excursions]]
    covered = summary["covered"]
    times = band_times([summary[f"inside_{i}"] for i in range(len(bands))], covered, bands)
    payload = FrequencyOut(
        plant=found.key,
        signal=freq.key,
        start=lo,
        end=hi,
        min=summary["min"],
        max=summary["max"],
        mean=summary["mean"],
        samples=summary["samples"],
        coverage=min(1.0, covered / (hi - lo).total_seconds()),
        bands=Bands(**times),
        excursion_band_mhz=band_mhz(settings.excursion_band_hz),
        excursions=excursions,
        excursions_truncated=len(rows) > settings.max_excursions,
        method=frequency_method(
            settings.nominal_frequency_hz,
            bands,
            settings.excursion_band_hz,
            settings.max_gap_s,
            settings.excursion_min_s,
        ),
    )
    return render(
        request,
        payload,
        Table(excursions, EXCURSION_COLUMNS),
        closed=deps.closed(settings, hi),
        max_age_s=settings.cache_max_age_s,
    )


@router.get(
    "/plants/{plant}/fuel",
    tags=["energy"],
    summary="Fuel-gas volume, heat rate and efficiency",
    responses=documented(FuelOut, 400, 404, csv=FUEL_COLUMNS),
)
async def plant_fuel(request: Request, plant: str, query: deps.Buckets, principal: Principal = deps.READ) -> Response:
    """Fuel-gas volume per period (Nm3); with the gas LHV configured, net heat rate and efficiency."""
    settings = deps.get_settings(request)
    catalog, found = await deps.plant_for(request, principal, plant)
    flows = sorted(catalog.signals_of(found, ("fuel_gas_flow",)), key=lambda s: s.key)
    net = deps.one_of_kind(catalog, found, "net_output")
    b = query.bucketing(settings, "15m")
    async with connection(deps.get_pool(request)) as conn:
        ints = await queries.integrals(
            conn,
            request.app.state.cache,
            [s.id for s in [*flows, net]],
            b,
            good=True,
            max_gap_s=settings.max_gap_s,
            closed_before=deps.cache_horizon(settings),
        )
    ends = bucket_ends(b)
    starts = list(ends)
    net_mwh = {k[1]: v.area / 3600.0 for k, v in ints.items() if k[0] == net.id and v.covered_s > 0}
    volumes = volume_per_period(flows, starts, ints)
    periods = [
        FuelPeriod(
            **p,
            signals={
                s.key: ints[(s.id, p["start"])].area / per_hour_factor(s.unit)
                for s in flows
                if (s.id, p["start"]) in ints
            },
        )
        for p in fuel_periods(starts, ends, volumes, net_mwh, settings.gas_lhv_mj_per_nm3)
    ]
    payload = FuelOut(
        plant=found.key,
        every=query.every or "15m",
        lhv_mj_per_nm3=settings.gas_lhv_mj_per_nm3,
        method=_fuel_method(settings, b),
        periods=periods,
    )
    return render(
        request,
        payload,
        Table(periods, FUEL_COLUMNS),
        closed=deps.closed(settings, b.end),
        max_age_s=settings.cache_max_age_s,
    )


def _fuel_method(settings: Settings, b: Bucketing) -> dict[str, str]:
    lhv = settings.gas_lhv_mj_per_nm3
    return {
        "volume": "fuel_nm3 = Σ over fuel_gas_flow signals of ∫ flow dt (Nm3/h × h); Nm3 at 0 °C, 101.325 kPa; "
        + integral_method(settings.max_gap_s),
        "alignment": b.describe(),
        "heat_rate": (
            f"net heat rate = fuel_nm3 × LHV {lhv:g} MJ/Nm3 / net_mwh (MJ/MWh = kJ/kWh); "
            "efficiency = net_mwh × 3600 / (fuel_nm3 × LHV)"
        )
        if lhv
        else "not computed: set BASELOAD_API_GAS_LHV_MJ_PER_NM3 (e.g. 35.8 for methane)",
    }


@router.get(
    "/plants/{plant}/stream",
    tags=["plants"],
    summary="Server-Sent Events: latest value of each signal",
    responses={
        200: {
            "content": {
                "text/event-stream": {
                    "schema": {"type": "string", "description": "Server-Sent Events; each `latest` event's data:"},
                    "x-event-data": schema_ref(StreamEvent),
                    "example": 'event: latest\ndata: {"plant":"nish",'
                    '"signals":{"plant.net_output":{"ts":"2026-11-25T10:00:00Z","value":481.2,'
                    '"quality":0}}}\n\n',
                }
            }
        },
        **error_responses(401, 403, 404),
    },
)
async def plant_stream(request: Request, plant: str, principal: Principal = deps.READ) -> StreamingResponse:
    """An `event: latest` about once a second with each signal's newest reading; reconnect with the usual SSE rules.
    If the key is revoked, a last `event: revoked` is sent and the stream ends."""
    settings = deps.get_settings(request)
    catalog, found = await deps.plant_for(request, principal, plant)
    signals = {s.id: s.key for s in catalog.signals_of(found)}
    pool = deps.get_pool(request)

    async def events() -> AsyncIterator[bytes]:
        yield f"retry: {int(settings.stream_interval_s * 1000)}\n\n".encode()
        while not await request.is_disconnected():
            if not await deps.key_active(request, principal):  # revoked while streaming: say so and end
                yield (
                    b'event: revoked\ndata: {"error":{"code":"invalid_credentials","message":"The API key was '
                    b'revoked.","details":{}}}\n\n'
                )
                return
            async with connection(pool) as conn:
                latest = await store.latest_values(conn, list(signals))
            body = StreamEvent(
                plant=found.key,
                sent_at=deps.utcnow(),
                signals={
                    signals[i]: StreamValue(ts=ts, value=v, quality=from_db(q)) for i, (ts, v, q) in latest.items()
                },
            )
            yield b"event: latest\ndata: " + encode(body) + b"\n\n"
            await asyncio.sleep(settings.stream_interval_s)

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
