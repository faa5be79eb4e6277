"""With PostgreSQL stopped, ingest answers 503 with Retry-After (never a stack trace) and recovers by itself."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

from services.ingest.app import create_app
from services.ingest.settings import Settings
from shared.embedded import start_embedded, stop_embedded
from shared.migrate import upgrade_async
from shared.plants import apply_plant, load_plant_file
from tests.conftest import DEMO_PLANT
from tests.support import make_key, serving


def batch(start: datetime, n: int) -> dict:
    return {
        "readings": [
            {"signal": "gt1.active_power", "ts": (start + timedelta(seconds=i)).isoformat(), "value": 150.0}
            for i in range(n)
        ]
    }


async def test_database_stopped_gives_503_and_recovery_follows() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="baseload-outage-"))
    try:
        url = await asyncio.to_thread(start_embedded, data_dir)
        await upgrade_async(url)
        conn = await asyncpg.connect(url)
        await apply_plant(conn, load_plant_file(DEMO_PLANT))
        token = await make_key(conn)
        await conn.close()
        auth = {"Authorization": f"Bearer {token}"}
        t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)

        app = create_app(Settings(database_url=url, db_connect_timeout_s=1))
        async with serving(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
            assert (await client.post("/v1/readings", json=batch(t0, 10), headers=auth)).json()["accepted"] == 10

            await asyncio.to_thread(stop_embedded, data_dir)
            down = await client.post("/v1/readings", json=batch(t0 + timedelta(seconds=10), 10), headers=auth)
            assert down.status_code == 503
            assert down.json()["error"]["code"] == "database_unavailable" and down.headers["Retry-After"]
            assert "Traceback" not in down.text
            assert (await client.get("/readyz")).status_code == 503
            assert (await client.get("/healthz")).status_code == 200

            await asyncio.to_thread(start_embedded, data_dir)
            statuses = []
            for _ in range(50):  # bounded: the pool replaces its dead connections on its own
                up = await client.post("/v1/readings", json=batch(t0 + timedelta(seconds=10), 10), headers=auth)
                statuses.append(up.status_code)
                if up.status_code == 200:
                    break
                await asyncio.sleep(0.2)
            assert statuses[-1] == 200 and set(statuses) <= {200, 503}
            assert (await client.get("/readyz")).status_code == 200

        conn = await asyncpg.connect(url)
        assert await conn.fetchval("SELECT count(*) FROM readings") == 20  # nothing lost, nothing twice
        await conn.close()
    finally:
        await asyncio.to_thread(stop_embedded, data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
