"""The api service's HTTP app: lifespan (pool, catalog), metrics, error envelope and the routes."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Histogram

from services.api import deps, reports, routes, store
from services.api.buckets import QueryError
from services.api.cache import BucketCache
from services.api.catalog import Catalog
from services.api.changes import ChangeListener, listener_worker
from services.api.disputes import routes as disputes
from services.api.openapi import install_components
from services.api.settings import Settings
from services.api.statements import lifecycle as statements
from services.api.statements import routes as statement_routes
from services.api.ui.routes import install as install_dashboard
from shared.db import connection, create_pool, resolve_database_url
from shared.errors import error_response, install_error_handlers
from shared.http import add_operational_routes
from shared.worker import worker_metrics

WORK_MEM_MB = 64
LISTENER_CHECK_S = 5.0  # how often the change listener's connection is checked (a half-open one goes unnoticed)
# Our queries are short: JIT compilation would cost more than it saves (tens of ms per query). Minute rows of a
# 30-day or 200-signal request are sorted and windowed in memory rather than spilled to disk. Sent when connecting
# (a SET would be undone by the pool's RESET ALL on release).
SESSION = {"jit": "off", "work_mem": f"{WORK_MEM_MB}MB"}


class CatalogCache:
    """Plants and signals, reloaded when older than the TTL (they change only when a plant file is applied)."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._catalog: Catalog | None = None
        self._loaded_at = 0.0

    async def get(self, pool: asyncpg.Pool, *, refresh: bool = False) -> Catalog:
        now = time.monotonic()
        stale = now - self._loaded_at > self.ttl_s
        if self._catalog is None or stale or (refresh and now - self._loaded_at > 1.0):
            async with connection(pool) as conn:
                self._catalog = await store.load_catalog(conn)
            self._loaded_at = now
        return self._catalog


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter("baseload_api_requests", "HTTP requests", ["route", "status"], registry=registry)
        self.latency = Histogram(
            "baseload_api_request_seconds",
            "Request latency",
            ["route"],
            registry=registry,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
        )


class MetricsMiddleware:
    """Pure ASGI middleware (cheap, and does not buffer Server-Sent Events): count and time by route template."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(route, str(status["code"])).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; nothing connects until the lifespan starts."""
    settings = settings or Settings()
    registry = CollectorRegistry()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = await asyncio.to_thread(resolve_database_url, settings)
        app.state.pool = await create_pool(
            url, max_size=settings.db_pool_size, timeout=settings.db_connect_timeout_s, server_settings=SESSION
        )
        cache: BucketCache = app.state.cache
        changes = ChangeListener(url, settings.notify_channel, cache.on_notification, cache_switch(cache))
        app.state.changes = listener_worker(changes, every_s=LISTENER_CHECK_S, metrics=worker_metrics(registry))
        listener = asyncio.create_task(app.state.changes.run())
        app.state.statements, issuer = await statements.start(app.state.pool, settings)
        try:
            yield
        finally:
            await statements.stop(issuer)
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            changes.close()
            await app.state.pool.close()

    app = FastAPI(
        title="Baseload api",
        version="1.0",
        lifespan=lifespan,
        description=(
            "Aggregates, energy, settlement-period compliance and frequency quality, read by operators and both "
            "partners. Authenticate with `Authorization: Bearer <token>`. JSON by default; CSV with "
            "`Accept: text/csv`. Every aggregate response states its method."
        ),
    )
    app.state.settings = settings
    app.state.catalog = CatalogCache(settings.catalog_ttl_s)
    app.state.cache = BucketCache(settings.cache_max_entries)
    install_error_handlers(app)
    add_operational_routes(app, registry)
    app.include_router(routes.router)
    app.include_router(reports.router)
    disputes.install(app)
    app.include_router(statement_routes.router)
    install_dashboard(app)  # the browser dashboard: /, /ui/… (services/api/ui)
    app.add_exception_handler(QueryError, _bad_query)
    app.add_middleware(MetricsMiddleware, metrics=Metrics(registry))
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        document = generate()
        return install_components(deps.require_marked_parameters(document)) if fresh else document

    app.openapi = openapi  # type: ignore[method-assign]
    return app


async def _bad_query(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QueryError)
    return error_response(400, exc.code, exc.message, exc.details)


def cache_switch(cache: BucketCache) -> Callable[[bool], None]:
    """Use the cache only while changes are heard; start empty after any time deaf."""

    def switch(listening: bool) -> None:
        cache.clear()
        cache.enabled = listening

    return switch
