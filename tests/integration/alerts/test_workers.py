"""The evaluator, the dispatcher and the upkeep run on shared.worker: when their database connections are cut they
log, count the failure in /metrics (baseload_worker_failures{worker=...}), reconnect and carry on alerting."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import httpx

from services.alerts.app import create_app
from tests.integration.alerts.helpers import Receiver, fast_settings, setup, threshold_rule, wait_for, write
from tests.support import make_key, serving

WORKERS = ("alerts.evaluator", "alerts.upkeep", "alerts.dispatch.listen", "alerts.dispatch.0")
CUT_LISTENERS = """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                   WHERE datname = current_database() AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()"""


def failures(text: str, worker: str) -> float:
    prefix = f'baseload_worker_failures_total{{worker="{worker}"}} '
    return next((float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix)), -1.0)


async def test_cut_listen_connections_are_counted_and_alerting_resumes(database_url: str, db: asyncpg.Pool) -> None:
    receiver = Receiver()
    token = await make_key(db, role="operator")
    async with (
        serving(receiver.app()) as hook,
        serving(create_app(fast_settings(database_url, metrics_refresh_s=0.2))) as base,
        httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {token}"}) as client,
    ):
        receiver.secret = await setup(client, hook, rules=[threshold_rule("gt1-hot", "gt1.active_power")])
        await asyncio.sleep(0.5)
        before = (await client.get("/metrics")).text
        assert all(failures(before, w) == 0.0 for w in WORKERS)  # every worker's series exists from the start
        assert await db.fetchval(CUT_LISTENERS) == 2  # the evaluator's and the dispatcher's

        async def counted() -> bool:
            return failures((await client.get("/metrics")).text, "alerts.evaluator") >= 1.0

        await wait_for(counted, 10)
        await asyncio.sleep(1.5)  # the evaluator's backoff after one failure is about 1 s
        await write(db, "gt1.active_power", [(datetime.now(UTC), 199.0)])
        await wait_for(lambda: len(receiver.received) == 1, 10)
    assert receiver.received[0].json()["type"] == "alert.firing" and receiver.received[0].verified
