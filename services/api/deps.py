"""What every endpoint needs: the roles, settings, the cached catalog and scope checks on plants and signals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Query, Request

from services.api.buckets import (
    FILLS,
    QUALITIES,
    Bucketing,
    make_bucketing,
    parse_choice,
    parse_every,
    parse_functions,
    parse_range,
    parse_tz,
)
from services.api.catalog import Catalog, Plant, Signal, can_read_plant
from services.api.responses import is_closed
from services.api.settings import Settings
from services.api.ui.session import principal_from_session
from shared.auth import Principal, is_active, require_roles
from shared.db import connection
from shared.errors import ApiError

# `start` and `end` are parsed by the endpoints themselves (a missing one is 400 `missing_parameter` in the common
# envelope, not the framework's 422), so they are declared optional; this mark has the OpenAPI document say they are
# required (see `require_marked_parameters`).
REQUIRED_MARK = "x-baseload-required"
_TIME_HELP = "RFC 3339 with an offset (e.g. 2026-11-25T00:00:00Z), between 1970-01-01 and 2200-01-01 UTC."
Start = Annotated[
    str | None, Query(description=f"Range start (inclusive). {_TIME_HELP}", json_schema_extra={REQUIRED_MARK: True})
]
End = Annotated[
    str | None, Query(description=f"Range end (exclusive). {_TIME_HELP}", json_schema_extra={REQUIRED_MARK: True})
]


Every = Annotated[str | None, Query(description="Bucket width: 1s … 30s (raw readings, where allowed), 1m … 1w.")]
Tz = Annotated[str | None, Query(description="IANA time zone aligning day and week buckets to local days (UTC).")]
Fn = Annotated[str | None, Query(description="Comma-separated: avg, min, max, count, first, last, twa (avg).")]
Fill = Annotated[str | None, Query(description="Empty buckets: none (omitted), null, previous, linear (none).")]
Quality = Annotated[str | None, Query(description="good (Good readings only, the default) or all.")]


class RangeQuery:
    """`start` and `end`, shared by the report endpoints. Parsed by the endpoint after authorization (`parse`), so
    an unknown or forbidden plant is 404/403 whatever the parameters."""

    def __init__(self, start: Start = None, end: End = None) -> None:
        self.start = start
        self.end = end

    def parse(self) -> tuple[datetime, datetime]:
        return parse_range(self.start, self.end)


class BucketQuery(RangeQuery):
    """A range cut into buckets: `start`, `end`, `every`, `tz`."""

    def __init__(self, start: Start = None, end: End = None, every: Every = None, tz: Tz = None) -> None:
        super().__init__(start, end)
        self.every = every
        self.tz = tz

    def bucketing(self, settings: Settings, default_every: str, *, fine: bool = False) -> Bucketing:
        lo, hi = self.parse()
        every = parse_every(self.every, default_every, fine=fine)
        return make_bucketing(lo, hi, every, tz=parse_tz(self.tz), max_buckets=settings.max_buckets)


def quality_mode(quality: str | None) -> str:
    return parse_choice(quality, QUALITIES, "quality")


class AggregateQuery(BucketQuery):
    """The aggregate endpoints' parameters: a `BucketQuery` and `fn`, `fill`, `quality`."""

    def __init__(
        self,
        start: Start = None,
        end: End = None,
        every: Every = None,
        fn: Fn = None,
        fill: Fill = None,
        quality: Quality = None,
        tz: Tz = None,
    ) -> None:
        super().__init__(start, end, every, tz)
        self.fn = fn
        self.fill = fill
        self.quality = quality

    def parse_all(self, settings: Settings) -> tuple[Bucketing, tuple[str, ...], str, str]:
        """(bucketing, functions, fill, quality), in the order the parameters' errors are reported."""
        lo, hi = self.parse()
        every = parse_every(self.every, "1h", fine=True)
        fns = parse_functions(self.fn)
        fill = parse_choice(self.fill, FILLS, "fill")
        quality = quality_mode(self.quality)
        b = make_bucketing(lo, hi, every, tz=parse_tz(self.tz), max_buckets=settings.max_buckets)
        return b, fns, fill, quality


Range = Annotated[RangeQuery, Depends()]
Buckets = Annotated[BucketQuery, Depends()]
Aggregates = Annotated[AggregateQuery, Depends()]


def require_marked_parameters(document: dict[str, Any]) -> dict[str, Any]:
    """Parameters marked with `REQUIRED_MARK` are documented as required strings."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if schema.pop(REQUIRED_MARK, False):
                    parameter["required"] = True
                    parameter["schema"] = {"type": "string", "title": schema.get("title", parameter["name"])}
    return document


def bearer_or_session(*roles: str) -> Callable[[Request], Awaitable[Principal]]:
    """A bearer token if one is sent, else, for reads (GET, HEAD), the dashboard's session cookie
    (services/api/ui/session.py). A cookie never authorizes a state change here: the dashboard's own POSTs check
    origin and CSRF token."""
    bearer = require_roles(*roles)

    async def dependency(request: Request) -> Principal:
        if request.method in ("GET", "HEAD") and "authorization" not in request.headers:
            principal = await principal_from_session(request, roles)
            if principal is not None:
                return principal
        return await bearer(request)

    return dependency


READ = Depends(bearer_or_session("partner", "operator", "admin"))
RAW = Depends(bearer_or_session("operator", "admin"))


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_pool(request: Request) -> asyncpg.Pool:
    """The app's pool, typed: store functions take a Connection, so handing them the pool is a type error."""
    pool: asyncpg.Pool = request.app.state.pool
    return pool


async def get_catalog(request: Request, refresh: bool = False) -> Catalog:
    return await request.app.state.catalog.get(get_pool(request), refresh=refresh)


def authorize(principal: Principal, plant: Plant) -> None:
    if not can_read_plant(principal, plant):
        raise ApiError(
            403,
            "forbidden_plant",
            f"This key may not read plant {plant.key!r}.",
            {"plant": plant.key, "partner": principal.partner},
        )


async def plant_for(request: Request, principal: Principal, key: str) -> tuple[Catalog, Plant]:
    catalog = await get_catalog(request)
    if key not in catalog.plants:
        catalog = await get_catalog(request, refresh=True)
    plant = catalog.plants.get(key)
    if plant is None:
        raise ApiError(404, "unknown_plant", f"No plant {key!r}.", {"plant": key})
    authorize(principal, plant)
    return catalog, plant


async def signal_for(request: Request, principal: Principal, key: str) -> tuple[Catalog, Signal]:
    catalog = await get_catalog(request)
    if key not in catalog.signals:
        catalog = await get_catalog(request, refresh=True)
    signal = catalog.signals.get(key)
    if signal is None:
        raise ApiError(404, "unknown_signal", f"No signal {key!r}.", {"signal": key})
    authorize(principal, catalog.plant_of(signal))
    return catalog, signal


def one_of_kind(catalog: Catalog, plant: Plant, kind: str) -> Signal:
    found = catalog.signals_of(plant, (kind,))
    if not found:
        raise ApiError(404, "unknown_signal", f"Plant {plant.key!r} has no {kind} signal.", {"kind": kind})
    return found[0]


def utcnow() -> datetime:
    return datetime.now(UTC)


def closed(settings: Settings, end: datetime) -> bool:
    return is_closed(end, utcnow(), settings.late_data_window_s)


def cache_horizon(settings: Settings) -> datetime:
    """Buckets ending before this are closed: cacheable and served with an ETag."""
    return utcnow() - timedelta(seconds=settings.late_data_window_s)


async def key_active(request: Request, principal: Principal) -> bool:
    """The key behind a long-lived response (an event stream) is still valid: checked again on every event."""
    async with connection(get_pool(request)) as conn:
        return await is_active(conn, principal.key_id)
