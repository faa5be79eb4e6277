"""What every endpoint needs: the roles, settings, the cached catalog and scope checks on plants and signals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from fastapi import Depends, Request

from services.api.catalog import Catalog, Plant, Signal, can_read_plant
from services.api.responses import is_closed
from services.api.settings import Settings
from services.api.ui.session import principal_from_session
from shared.auth import Principal, require_roles
from shared.errors import ApiError


def bearer_or_session(*roles: str) -> Callable[[Request], Awaitable[Principal]]:
    """A bearer token if one is sent, else the dashboard's session cookie (services/api/ui/session.py)."""
    bearer = require_roles(*roles)

    async def dependency(request: Request) -> Principal:
        if "authorization" not in request.headers:
            principal = await principal_from_session(request, roles)
            if principal is not None:
                return principal
        return await bearer(request)

    return dependency


READ = Depends(bearer_or_session("partner", "operator", "admin"))
RAW = Depends(bearer_or_session("operator", "admin"))


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_catalog(request: Request, refresh: bool = False) -> Catalog:
    return await request.app.state.catalog.get(request.app.state.pool, refresh=refresh)


def authorize(principal: Principal, plant: Plant) -> None:
    if not can_read_plant(principal, plant):
        raise ApiError(403, "forbidden_plant", f"This key may not read plant {plant.key!r}.",
                       {"plant": plant.key, "partner": principal.partner})


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
