"""The alerts HTTP app (127.0.0.1:8003) and, in its lifespan, the evaluator and the webhook dispatcher."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from fastapi import FastAPI

from services.alerts import routes_alerts, routes_config, store
from services.alerts.dispatch import Dispatcher
from services.alerts.egress import EgressPolicy, Resolver, system_resolver
from services.alerts.evaluator import Evaluator
from services.alerts.metrics import AlertsMetrics, run_upkeep
from services.alerts.settings import Settings
from shared.db import create_pool, resolve_database_url
from shared.errors import install_error_handlers
from shared.http import add_operational_routes
from shared.worker import worker_metrics


def create_app(settings: Settings | None = None, *, resolver: Resolver = system_resolver) -> FastAPI:
    """The app; `resolver` is the DNS seam of the webhook egress policy (registration and every send)."""
    settings = settings or Settings()
    metrics = AlertsMetrics.create()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = await asyncio.to_thread(resolve_database_url, settings)  # may start the embedded server
        pool = await create_pool(
            url, max_size=settings.db_pool_size, timeout=settings.db_connect_timeout_s, init=store.init_connection
        )
        # No proxies from the environment: the egress policy checks the address the POST really connects to.
        client = httpx.AsyncClient(timeout=settings.delivery_timeout_s, follow_redirects=False, trust_env=False)
        app.state.pool, app.state.settings = pool, settings
        app.state.egress, app.state.resolver = EgressPolicy(settings.webhook_allow_cidrs), resolver
        app.state.evaluator = Evaluator(pool, settings, url, metrics=metrics)
        app.state.dispatcher = Dispatcher(
            pool, settings, url, client, resolver=resolver, metrics=worker_metrics(metrics.registry)
        )
        tasks = [
            asyncio.create_task(
                run_upkeep(
                    pool,
                    metrics,
                    every_s=settings.metrics_refresh_s,
                    retention=timedelta(days=settings.delivery_log_retention_days),
                ),
                name="alerts-upkeep",
            )
        ]
        if settings.evaluator_enabled:
            tasks.append(asyncio.create_task(app.state.evaluator.run(), name="alerts-evaluator"))
        if settings.dispatcher_enabled:
            tasks.append(asyncio.create_task(app.state.dispatcher.run(), name="alerts-dispatcher"))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await client.aclose()
            await pool.close()

    app = FastAPI(title="Baseload alerts", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    add_operational_routes(app, metrics.registry)
    app.include_router(routes_config.router)
    app.include_router(routes_alerts.router)
    return app
