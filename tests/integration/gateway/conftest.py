"""Harness for the bridge tests: the real simulator on 127.0.0.1, a recording HTTP receiver, config factories."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response

from services.gateway.config import GatewayConfig, parse_config
from services.simulator.model import PlantParams, Scenario
from services.simulator.runner import SimulatorOptions
from tests.support import free_port


def simulator_options(
    *,
    scenario: Scenario | None = None,
    seed: int = 1,
    tick_s: float = 0.25,
    time_scale: float = 1.0,
    start: datetime | None = None,
    opcua_port: int | None = None,
    modbus_port: int | None = None,
) -> SimulatorOptions:
    return SimulatorOptions(
        opcua_port=opcua_port or free_port(),
        modbus_port=modbus_port or free_port(),
        seed=seed,
        scenario=scenario or Scenario(),
        params=PlantParams(),
        tick_s=tick_s,
        time_scale=time_scale,
        start=start or datetime.now(UTC).replace(microsecond=0),
    )


def gateway_config(
    tmp_path: Path,
    *,
    ingest_url: str,
    opcua: dict[str, Any] | None = None,
    modbus: dict[str, Any] | None = None,
    key: str = "bl_test",
    **sections: Any,
) -> GatewayConfig:
    doc: dict[str, Any] = {
        "ingest": {"url": ingest_url, "key": key, "timeout_s": 5},
        "batch": {"max_size": 200, "max_age_s": 0.2},
        "retry": {"base_s": 0.1, "max_s": 0.5},
        "buffer": {"path": str(tmp_path / "buffer.sqlite3")},
        "http": {"host": "127.0.0.1", "port": free_port()},
        "opcua": opcua,
        "modbus": modbus,
        **sections,
    }
    return parse_config(doc, {})


def opcua_section(endpoint: str, signals: list[str], **extra: Any) -> dict[str, Any]:
    nodes = [{"node_id": f"ns=2;s={s}", "signal": s, "sampling_interval_ms": 0} for s in signals]
    return {"endpoint": endpoint, "publishing_interval_ms": 100, "reconnect_max_s": 1.0, "nodes": nodes, **extra}


@dataclass
class Receiver:
    """A stand-in for ingest that records what it is sent; `plan` scripts failures for the next requests."""

    readings: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    plan: list[tuple[int, dict[str, str]]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/readings")
        async def post(request: Request) -> Response:
            self.requests += 1
            if self.plan:
                status, headers = self.plan.pop(0)
                return Response(
                    '{"error":{"code":"scripted","message":"scripted failure"}}',
                    status,
                    headers,
                    media_type="application/json",
                )
            body = await request.json()
            self.readings.extend(body["readings"])
            n = len(body["readings"])
            return Response(f'{{"accepted":{n},"duplicates":0,"rejected":[]}}', media_type="application/json")

        return app


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)
