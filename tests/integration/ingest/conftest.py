"""An ingest service on 127.0.0.1 over this test's database, and a gateway key for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest

from services.ingest.app import create_app
from services.ingest.settings import Settings
from tests.support import make_key, serving


@dataclass
class Ingest:
    url: str
    client: httpx.AsyncClient
    token: str

    async def post(self, readings: list[dict], **headers: str) -> httpx.Response:
        return await self.client.post(
            "/v1/readings", json={"readings": readings}, headers={"Authorization": f"Bearer {self.token}", **headers}
        )


@pytest.fixture
async def ingest(database_url: str, db: asyncpg.Pool) -> AsyncIterator[Ingest]:
    token = await make_key(db, role="gateway", name="gw-test")
    app = create_app(Settings(database_url=database_url))
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield Ingest(url, client, token)
