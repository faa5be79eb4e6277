"""Pieces every service's HTTP app has: health, readiness and Prometheus metrics routes."""

from __future__ import annotations

import asyncio

import asyncpg
from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from shared.db import DATABASE_ERRORS
from shared.errors import error_response, error_responses


async def database_ready(pool: asyncpg.Pool, timeout: float = 2.0) -> bool:
    try:
        async with asyncio.timeout(timeout):
            return await pool.fetchval("SELECT 1") == 1
    except DATABASE_ERRORS:
        return False


def add_operational_routes(app: FastAPI, registry: CollectorRegistry) -> None:
    """`/healthz` (the process answers), `/readyz` (the database answers), `/metrics` (Prometheus text)."""

    @app.get("/healthz", tags=["operations"], summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness: the database answers",
        responses={
            200: {
                "description": "The database answers",
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "properties": {"status": {"type": "string", "enum": ["ready"]}}}
                    }
                },
            },
            **error_responses(503),
        },
    )
    async def readyz(request: Request) -> Response:
        if await database_ready(request.app.state.pool):
            return Response('{"status":"ready"}', media_type="application/json")
        return error_response(503, "database_unavailable", "The database is unreachable.", headers={"Retry-After": "2"})

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
        responses={
            200: {
                "description": f"Prometheus text exposition format ({CONTENT_TYPE_LATEST})",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    )
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
