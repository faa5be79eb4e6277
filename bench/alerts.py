"""Alerts benchmark (figures, not a test): reading-to-webhook latency through ingest, evaluation cost of 1,000
rules over 200 signals, delivery throughput to a local receiver, and the alerts process RSS.

    .venv/bin/python -m bench.alerts            # uses BASELOAD_DATABASE_URL's server, else a fresh embedded one
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from datetime import UTC, datetime

import asyncpg
import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.common import RssSampler, bench_database, percentile, service_process
from services.alerts import store
from services.alerts.evaluator import Evaluator
from services.alerts.settings import Settings
from services.ingest.store import write_readings
from shared import auth
from shared.plants import apply_plant, load_plant_file
from tests.support import free_port

EXCURSIONS = 40
RULES, SIGNALS = 1000, 200
DELIVERIES, ALERTS = 2000, 100  # deliveries are ordered per alert, so they spread over many alerts


class Receiver:
    def __init__(self) -> None:
        self.arrivals: list[tuple[float, dict]] = []
        self.event = asyncio.Event()

    async def hook(self, request: Request) -> Response:
        self.arrivals.append((time.perf_counter(), json.loads(await request.body())))
        self.event.set()
        return Response(status_code=204)

    async def wait_type(self, kind: str, timeout: float = 30.0) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            for at, body in reversed(self.arrivals):
                if body.get("type") == kind:
                    self.arrivals.clear()
                    return at
            self.event.clear()
            await asyncio.wait_for(self.event.wait(), timeout)
        raise TimeoutError(kind)


async def latency(url: str, receiver: Receiver, hook: str) -> tuple[list[float], float]:
    ingest_port, alerts_port = free_port(), free_port()
    async with asyncpg.create_pool(url, min_size=1, max_size=2) as pool:
        _, gateway = await auth.create_key(pool, role="gateway", name="bench-gw", plants=("nish",))
        _, operator = await auth.create_key(pool, role="operator", name="bench-op")
    ops = {"authorization": f"Bearer {operator}"}
    async with (
        service_process("ingest", url, ingest_port),
        service_process("alerts", url, alerts_port) as proc,
        httpx.AsyncClient(headers={"authorization": f"Bearer {gateway}"}) as http,
    ):
        with RssSampler(proc) as rss:
            await http.post(
                f"http://127.0.0.1:{alerts_port}/v1/webhook-endpoints", headers=ops, json={"name": "bench", "url": hook}
            )
            await http.post(
                f"http://127.0.0.1:{alerts_port}/v1/rules",
                headers=ops,
                json={"name": "band", "kind": "frequency_band", "severity": "critical", "params": {}},
            )
            await asyncio.sleep(1.5)
            results = []
            for _ in range(EXCURSIONS):
                started = time.perf_counter()
                await post(http, ingest_port, 49.70)
                results.append(await receiver.wait_type("alert.firing") - started)
                await post(http, ingest_port, 50.00)
                await receiver.wait_type("alert.resolved")
            return results, rss.peak_mb


async def post(http: httpx.AsyncClient, port: int, hz: float) -> None:
    reading = {"signal": "grid.frequency", "ts": datetime.now(UTC).isoformat(), "value": hz, "quality": 0}
    response = await http.post(f"http://127.0.0.1:{port}/v1/readings", json={"readings": [reading]})
    response.raise_for_status()


async def evaluation_cost(url: str) -> tuple[float, float]:
    """CPU seconds and wall seconds of one full evaluation cycle over RULES rules (median of 5)."""
    async with asyncpg.create_pool(url, min_size=1, max_size=4, init=store.init_connection) as pool:
        plant = await pool.fetchval("SELECT id FROM plants WHERE key = 'nish'")
        await pool.executemany(
            "INSERT INTO signals (key, plant_id, kind, unit, min_value, max_value) VALUES ($1, $2, 'x', 'MW', 0, 1e6)",
            [(f"bench.s{i:03d}", plant) for i in range(SIGNALS)],
        )
        ids = [r["id"] for r in await pool.fetch("SELECT id FROM signals WHERE key LIKE 'bench.s%' ORDER BY id")]
        now = datetime.now(UTC)
        async with pool.acquire() as conn:
            await write_readings(conn, [(i, now, random.uniform(0, 200), 0) for i in ids], notify_channel=None)
        await pool.executemany(
            "INSERT INTO alert_rules (name, kind, severity, params) VALUES ($1, 'threshold', 'warning', $2)",
            [
                (
                    f"bench-{n}",
                    {"signal": f"bench.s{n % SIGNALS:03d}", "op": "above", "value": 150.0 + n % 50, "max_age_s": 3600},
                )
                for n in range(RULES)
            ],
        )
        evaluator = Evaluator(pool, Settings(database_url=url), url)
        await evaluator.refresh_rules()
        cpu, wall = [], []
        for _ in range(5):
            c0, w0 = time.process_time(), time.perf_counter()
            result = await evaluator.cycle(set(), full=True)
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
            assert result.evaluated == RULES
        await pool.execute("DELETE FROM alert_rules WHERE name LIKE 'bench-%'")
        return sorted(cpu)[2], sorted(wall)[2]


async def throughput(url: str, receiver: Receiver, hook: str) -> float:
    async with asyncpg.create_pool(url, min_size=1, max_size=2) as pool:
        endpoint = await pool.fetchval(
            "INSERT INTO webhook_endpoints (name, url, secret) VALUES ('tp', $1, $2) RETURNING id",
            hook,
            "whsec_" + "QUJD" * 8,
        )
        rule = await pool.fetchval(
            "INSERT INTO alert_rules (name, kind, severity) VALUES ('tp', 'threshold', 'info') RETURNING id"
        )
        alerts = [
            await pool.fetchval(
                "INSERT INTO alerts (rule_id, fingerprint) VALUES ($1, $2) RETURNING id", rule, f"tp{n}"
            )
            for n in range(ALERTS)
        ]
        await pool.execute("UPDATE webhook_endpoints SET enabled = false WHERE id <> $1", endpoint)
        port = free_port()
        async with service_process("alerts", url, port, BASELOAD_ALERTS_EVALUATOR_ENABLED="false"):
            receiver.arrivals.clear()
            started = time.perf_counter()
            await pool.executemany(
                "INSERT INTO webhook_outbox (endpoint_id, alert_id, event_type, webhook_id, body)"
                " VALUES ($1, $2, 'alert.firing', $3, '{\"type\":\"alert.firing\"}')",
                [(endpoint, alerts[i % ALERTS], f"msg_tp{i}") for i in range(DELIVERIES)],
            )
            await pool.execute("SELECT pg_notify('baseload_alerts_outbox', '')")
            while await pool.fetchval("SELECT count(*) FROM webhook_outbox WHERE status = 'pending'"):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            return DELIVERIES / (time.perf_counter() - started)


async def main() -> None:
    receiver = Receiver()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/hook", receiver.hook, methods=["POST"])]),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
        )
    )
    task = asyncio.create_task(server.serve())
    hook = f"http://127.0.0.1:{port}/hook"
    async with bench_database() as url:
        conn = await asyncpg.connect(url)
        await apply_plant(conn, load_plant_file("deploy/plants/nish.yaml"))
        await conn.close()
        cpu, wall = await evaluation_cost(url)
        print(
            f"evaluation: {RULES} threshold rules over {SIGNALS} signals: {cpu * 1000:.0f} ms CPU, "
            f"{wall * 1000:.0f} ms wall per full cycle (median of 5)"
        )
        latencies, rss_mb = await latency(url, receiver, hook)
        print(
            f"reading → webhook through ingest ({EXCURSIONS} excursions): p50 {percentile(latencies, 50) * 1000:.0f}"
            f" ms, p95 {percentile(latencies, 95) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
        )
        print(f"alerts process peak RSS during the latency run: {rss_mb:.0f} MB")
        rate = await throughput(url, receiver, hook)
        print(f"delivery throughput (outbox → local receiver, 4 workers, {ALERTS} alerts): {rate:.0f} webhooks/s")
    server.should_exit = True
    await task


if __name__ == "__main__":
    asyncio.run(main())
