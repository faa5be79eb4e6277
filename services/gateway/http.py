"""The gateway's own HTTP face: `/healthz` (buffer depth, oldest buffered reading, last successful post) and
`/metrics` (Prometheus)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.gateway.buffer import DiskBuffer
from services.gateway.metrics import GatewayMetrics
from services.gateway.sender import Sender


class Source(Protocol):
    @property
    def connected(self) -> bool: ...


class Observed(Protocol):
    """What the HTTP face reads (the bridge, which imports this module, provides it)."""

    @property
    def buffer(self) -> DiskBuffer: ...
    @property
    def sender(self) -> Sender: ...
    @property
    def metrics(self) -> GatewayMetrics: ...
    @property
    def sources(self) -> Sequence[Source]: ...


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def health(bridge: Observed, now: float) -> dict[str, Any]:
    """What an operator needs to see at a glance; `status` is `degraded` while ingest is failing."""
    stats = bridge.buffer.stats()
    sender = bridge.sender
    return {
        "status": "degraded" if sender.last_error else "ok",
        "buffer_depth": stats.depth,
        "oldest_buffered_reading_ts": stats.oldest_ts,
        "oldest_buffered_age_s": None if stats.oldest_enqueued_at is None else round(now - stats.oldest_enqueued_at, 3),
        "dead_letters": stats.dead_letters,
        "last_successful_post": _iso(sender.last_success),
        "last_error": sender.last_error,
        "sources": {
            type(s).__name__.removesuffix("Source").lower(): {"connected": s.connected} for s in bridge.sources
        },
    }


def create_app(bridge: Observed) -> FastAPI:
    app = FastAPI(title="Baseload SCADA gateway", docs_url=None, redoc_url=None)

    @app.get("/healthz", summary="Liveness and store-and-forward state")
    async def healthz() -> dict[str, Any]:
        return health(bridge, time.time())

    @app.get("/metrics", summary="Prometheus metrics")
    async def metrics() -> Response:
        bridge.sender.update_gauges()
        return Response(generate_latest(bridge.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
