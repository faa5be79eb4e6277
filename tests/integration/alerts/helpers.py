"""Shared pieces of the alerts integration tests: a recording webhook receiver, readings, polling."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.alerts import signing
from services.alerts.settings import Settings
from services.ingest.store import write_readings

FAST_RETRIES = (0.0, 0.3, 0.6, 1.0, 1.0, 1.0)


def fast_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        database_url=database_url,
        tick_s=0.2,
        full_sweep_s=2.0,
        dispatch_poll_s=0.2,
        retry_schedule_s=FAST_RETRIES,
        retry_jitter=0.0,
        delivery_timeout_s=3.0,
        webhook_allow_cidrs="127.0.0.1/32",
    )
    values.update(overrides)
    return Settings(**values)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float
    verified: bool | None

    def json(self) -> Any:
        import json

        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: records requests, verifies signatures, can be 'down' or slow."""

    secret: str | None = None
    status: int = 200
    delay_s: float = 0.0
    received: list[Received] = field(default_factory=list)
    attempts: int = 0
    arrivals: list[str] = field(default_factory=list)  # webhook-id of every request, as it arrives
    released: asyncio.Event = field(default_factory=asyncio.Event)  # ends every held (slow) request

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            self.attempts += 1
            self.arrivals.append(request.headers.get("webhook-id", ""))
            body = await request.body()
            if self.delay_s:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.released.wait(), self.delay_s)
            if self.status >= 300:
                return Response("down", status_code=self.status)
            headers = {k.lower(): v for k, v in request.headers.items()}
            verified = signing.verify(self.secret, headers, body, time.time()) if self.secret else None
            self.received.append(Received(headers, body, time.monotonic(), verified))
            return Response(status_code=204)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


async def write(db: asyncpg.Pool, signal: str, points: list[tuple[datetime, float]]) -> None:
    """Store readings through ingest's bulk writer (rollups and the NOTIFY included)."""
    async with db.acquire() as conn:
        signal_id = await conn.fetchval("SELECT id FROM signals WHERE key = $1", signal)
        await write_readings(conn, [(signal_id, ts, value, 0) for ts, value in points])


async def wait_for(predicate: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met within the timeout")


async def setup(client: Any, hook_url: str, *, rules: list[dict[str, Any]]) -> str:
    """An endpoint (its secret is returned) and rules, through the API."""
    created = await client.post("/v1/webhook-endpoints", json={"name": "oncall", "url": f"{hook_url}/hook"})
    assert created.status_code == 201, created.text
    for rule in rules:
        response = await client.post("/v1/rules", json=rule)
        assert response.status_code == 201, response.text
    return str(created.json()["secret"])


def threshold_rule(name: str, signal: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "threshold",
        "severity": "critical",
        "params": {"signal": signal, "op": "above", "value": 180.0},
        **extra,
    }
