"""The api (statements routes) and ingest services on 127.0.0.1 over this test's database, with a signing key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from services.api.settings import Settings
from services.api.statements import worker
from services.api.statements.service import Issuing
from services.ingest.app import create_app as create_ingest
from services.ingest.settings import Settings as IngestSettings
from shared.ledger.keys import add_key, load_keyring
from tests import support
from tests.integration.api.conftest import Api, running_api


@dataclass
class Env:
    api: Api
    ingest: httpx.AsyncClient
    gateway: str
    ctx: Issuing
    key_file: Path
    database_url: str

    async def post(self, signal: str, samples: list[tuple[datetime, float]], quality: int = 0) -> None:
        """Readings through the real ingest service (so each batch's provenance is recorded)."""
        body = {
            "readings": [{"signal": signal, "ts": ts.isoformat(), "value": v, "quality": quality} for ts, v in samples]
        }
        got = await self.ingest.post("/v1/readings", json=body, headers={"Authorization": f"Bearer {self.gateway}"})
        assert got.status_code == 200, got.text
        assert got.json()["accepted"] == len(samples), got.text

    async def scan(self, now: datetime) -> int:
        return await worker.scan(self.api.db, self.ctx, now)

    async def statements(self, role: str = "eps", **params: Any) -> list[dict[str, Any]]:
        return (await self.api.json("/v1/plants/nish/statements", role=role, **params))["statements"]


async def _tokens(db: asyncpg.Pool) -> dict[str, str]:
    orphan = getattr(support, "make_orphan_partner_key", None)
    stranger = (
        await orphan(db)
        if orphan is not None
        else await support.make_key(db, role="partner", name="other-analyst", partner="acme")
    )
    return {
        "gateway": await support.make_key(db, role="gateway", name="gw"),
        "eps": await support.make_key(db, role="partner", name="eps-analyst", partner="eps"),
        "socar": await support.make_key(db, role="partner", name="socar-analyst", partner="socar"),
        "stranger": stranger,
        "operator": await support.make_key(db, role="operator", name="ops"),
        "admin": await support.make_key(db, role="admin", name="root"),
    }


@pytest.fixture
async def env(database_url: str, db: asyncpg.Pool, tmp_path: Path) -> AsyncIterator[Env]:
    key_file = tmp_path / "signing-keys.json"
    add_key(key_file, datetime(2026, 1, 1).astimezone())
    settings = Settings(database_url=database_url, signing_key_file=key_file, statements_every_s=0)
    tokens = await _tokens(db)
    ingest_app = create_ingest(IngestSettings(database_url=database_url))
    async with (
        running_api(settings, db, tokens) as api,
        support.serving(ingest_app) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as ingest,
    ):
        yield Env(api, ingest, tokens["gateway"], Issuing(settings, load_keyring(key_file)), key_file, database_url)
