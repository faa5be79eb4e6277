"""The api on 127.0.0.1 with keys of both partners of the demo plant, a partner of another plant (acme, the only
partner of plant `other`), operator, admin and gateway keys; helpers for the dispute endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from services.api.settings import Settings
from services.api.statements.service import Issuing
from shared.ledger.keys import add_key, load_keyring
from tests.integration.api.conftest import Api, running_api
from tests.support import make_key, make_orphan_partner_key

# A closed settlement period of the demo plant (15 min, no commitment: the default period).
P0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
P1 = P0 + timedelta(minutes=15)


def iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


@dataclass
class Disputes:
    api: Api

    async def post(self, path: str, body: Any = None, *, role: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.api.tokens[role]}"} if role else {}
        return await self.api.client.post(path, json=body, headers=headers)

    async def open(
        self,
        *,
        role: str = "eps",
        plant: str = "nish",
        period_start: datetime = P0,
        reason: str = "meter outage",
        **extra: Any,
    ) -> httpx.Response:
        return await self.post(
            f"/v1/plants/{plant}/disputes", {"period_start": iso(period_start), "reason": reason, **extra}, role=role
        )

    async def opened(self, **kwargs: Any) -> int:
        response = await self.open(**kwargs)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    async def propose(
        self, dispute_id: int, body: dict[str, Any], *, role: str = "eps", plant: str = "nish"
    ) -> httpx.Response:
        return await self.post(f"/v1/plants/{plant}/disputes/{dispute_id}/corrections", body, role=role)

    async def proposed(self, dispute_id: int, body: dict[str, Any], **kwargs: Any) -> int:
        response = await self.propose(dispute_id, body, **kwargs)
        assert response.status_code == 201, response.text
        return int(response.json()["correction_id"])

    async def approve(self, dispute_id: int, correction_id: int, *, role: str, plant: str = "nish") -> httpx.Response:
        return await self.post(
            f"/v1/plants/{plant}/disputes/{dispute_id}/corrections/{correction_id}/approve", role=role
        )

    async def detail(self, dispute_id: int, *, role: str = "operator", plant: str = "nish") -> dict[str, Any]:
        return await self.api.json(f"/v1/plants/{plant}/disputes/{dispute_id}", role=role)


def substitution(start: datetime, minutes: int, value: float, *, step_s: int = 10, **extra: Any) -> dict[str, Any]:
    """A readings correction replacing [start, start + minutes) with `value` every `step_s` seconds."""
    n = minutes * 60 // step_s
    return {
        "kind": "readings",
        "start": iso(start),
        "end": iso(start + timedelta(minutes=minutes)),
        "readings": [{"ts": iso(start + timedelta(seconds=i * step_s)), "value": value} for i in range(n)],
        **extra,
    }


async def _tokens(db: asyncpg.Pool) -> dict[str, str]:
    plant_id = await db.fetchval(
        "INSERT INTO plants (key, name, capacity_mw) VALUES ('other', 'Another plant', 100) RETURNING id"
    )
    await db.execute("INSERT INTO plant_partners (plant_id, partner) VALUES ($1, 'acme')", plant_id)
    await db.execute(
        """INSERT INTO signals (key, plant_id, kind, unit, min_value, max_value)
                        VALUES ('other.net_output', $1, 'net_output', 'MW', -10, 120)""",
        plant_id,
    )
    return {
        "gateway": await make_key(db, role="gateway", name="gw"),
        "eps": await make_key(db, role="partner", name="eps-analyst", partner="eps"),
        "eps2": await make_key(db, role="partner", name="eps-second", partner="eps"),
        "socar": await make_key(db, role="partner", name="socar-analyst", partner="socar"),
        "stranger": await make_orphan_partner_key(db, name="acme-analyst"),
        "operator": await make_key(db, role="operator", name="ops"),
        "admin": await make_key(db, role="admin", name="root"),
    }


@pytest.fixture
async def disputes(database_url: str, db: asyncpg.Pool) -> AsyncIterator[Disputes]:
    async with running_api(Settings(database_url=database_url), db, await _tokens(db)) as api:
        yield Disputes(api)


@pytest.fixture
async def signed(database_url: str, db: asyncpg.Pool, tmp_path: Path) -> AsyncIterator[tuple[Disputes, Issuing]]:
    """As `disputes`, with a signing key: statements are issued (by `worker.scan`) and restated."""
    key_file = tmp_path / "signing-keys.json"
    add_key(key_file, datetime(2026, 1, 1).astimezone())
    settings = Settings(database_url=database_url, signing_key_file=key_file, statements_every_s=0)
    async with running_api(settings, db, await _tokens(db)) as api:
        yield Disputes(api), Issuing(settings, load_keyring(key_file))
