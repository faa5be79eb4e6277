"""An api service on 127.0.0.1 over this test's database, keys of every role, and a way to write readings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest

from services.api.app import create_app
from services.api.settings import Settings
from services.ingest.store import write_readings
from tests.support import make_key, make_orphan_partner_key, serving


@dataclass
class Api:
    url: str
    client: httpx.AsyncClient
    db: asyncpg.Pool
    tokens: dict[str, str] = field(default_factory=dict)

    async def get(self, path: str, *, role: str = "operator", **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return await self.client.get(path, params=params, headers=headers)

    async def json(self, path: str, *, role: str = "operator", **params: Any) -> dict[str, Any]:
        response = await self.get(path, role=role, **params)
        assert response.status_code == 200, response.text
        return response.json()

    async def signal_id(self, key: str) -> int:
        return await self.db.fetchval("SELECT id FROM signals WHERE key = $1", key)

    async def write(self, key: str, samples: Iterable[tuple[datetime, float]], quality: int = 0) -> None:
        """Write through the ingest service's store (readings, rollups and the change NOTIFY in one transaction)."""
        sid = await self.signal_id(key)
        rows = [(sid, ts, float(v), quality) for ts, v in samples]
        async with self.db.acquire() as conn:
            await write_readings(conn, rows)

    async def eventually(
        self, path: str, check: Callable[[dict[str, Any]], bool], *, within_s: float = 5.0, **params: Any
    ) -> dict[str, Any]:
        """The first body for which `check` holds: a change reaches the api's cache by NOTIFY, just after commit."""
        deadline = asyncio.get_running_loop().time() + within_s
        while True:
            body = await self.json(path, **params)
            if check(body) or asyncio.get_running_loop().time() > deadline:
                return body
            await asyncio.sleep(0.05)


async def _tokens(db: asyncpg.Pool) -> dict[str, str]:
    return {
        "gateway": await make_key(db, role="gateway", name="gw"),
        "eps": await make_key(db, role="partner", name="eps-analyst", partner="eps"),
        "socar": await make_key(db, role="partner", name="socar-analyst", partner="socar"),
        "stranger": await make_orphan_partner_key(db, name="other-analyst"),
        "operator": await make_key(db, role="operator", name="ops"),
        "admin": await make_key(db, role="admin", name="root"),
    }


@pytest.fixture
def api_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@asynccontextmanager
async def running_api(settings: Settings, db: asyncpg.Pool, tokens: dict[str, str] | None = None) -> AsyncIterator[Api]:
    """The api app under uvicorn on 127.0.0.1 with `settings`."""
    tokens = tokens or await _tokens(db)
    async with serving(create_app(settings)) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield Api(url, client, db, tokens)


@pytest.fixture
async def api(api_settings: Settings, db: asyncpg.Pool) -> AsyncIterator[Api]:
    async with running_api(api_settings, db) as running:
        yield running
