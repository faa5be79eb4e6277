"""Ingest wiring: settings, the pool, the write service and its background workers, and the routes."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.ingest import store
from services.ingest.compaction import run_history
from services.ingest.metrics import IngestMetrics
from services.ingest.routes import install_routes
from services.ingest.service import Ingestor, run_maintenance
from services.ingest.settings import Settings
from shared.db import create_pool, resolve_database_url
from shared.errors import install_error_handlers
from shared.http import add_operational_routes


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = IngestMetrics.create()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.gc_gen0_threshold:
            _, gen1, gen2 = gc.get_threshold()
            gc.set_threshold(settings.gc_gen0_threshold, gen1, gen2)
        url = await asyncio.to_thread(resolve_database_url, settings)
        pool = await create_pool(
            url,
            max_size=settings.max_concurrent_writes + 2,  # + the maintenance and compression workers
            timeout=settings.db_connect_timeout_s,
            init=store.prepare_connection,
        )
        app.state.pool = pool
        app.state.ingestor = Ingestor(pool, settings, metrics)
        tasks = [asyncio.create_task(run_maintenance(app.state.ingestor))]
        if settings.compress_every_s > 0:
            tasks.append(asyncio.create_task(run_history(pool, settings, metrics.registry)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await pool.close()

    app = FastAPI(
        title="Baseload ingest",
        version="1",
        lifespan=lifespan,
        description="The SCADA gateways' write path: durable, exactly-once, per-reading errors.",
    )
    install_error_handlers(app)
    add_operational_routes(app, metrics.registry)
    install_routes(app, settings)
    return app
