"""Gateway keys write only their plants' signals; keys that could not be right are never created."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from services.ingest.app import create_app
from services.ingest.settings import Settings
from shared import auth
from shared.db import asyncpg_dsn
from shared.embedded import with_database
from shared.migrate import upgrade_async
from tests.support import REPO_ROOT, make_key, serving

NOW = datetime.now(UTC).replace(microsecond=0)


def reading(signal: str, seconds_ago: int = 0) -> dict:
    ts = (NOW - timedelta(seconds=seconds_ago)).isoformat().replace("+00:00", "Z")
    return {"signal": signal, "ts": ts, "value": 100.0}


async def add_plant(db: asyncpg.Pool | asyncpg.Connection, key: str = "kg") -> None:
    plant = await db.fetchval(
        "INSERT INTO plants (key, name, capacity_mw) VALUES ($1, 'Kragujevac', 300) RETURNING id", key
    )
    await db.execute(
        "INSERT INTO signals (key, plant_id, kind, unit, min_value, max_value)"
        " VALUES ($1, $2, 'net_output', 'MW', -50, 400)",
        f"{key}.net_output",
        plant,
    )


async def test_a_gateway_key_writes_its_plant_and_each_other_plants_reading_is_refused(
    database_url: str, db: asyncpg.Pool
) -> None:
    await add_plant(db)
    nish_gateway = await make_key(db, name="gw-nish")
    both = await make_key(db, name="gw-both", plants=("nish", "kg"))
    admin = await make_key(db, role="admin", name="root")
    async with (
        serving(create_app(Settings(database_url=database_url))) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):

        async def post(token: str, *readings: dict) -> dict:
            response = await client.post(
                "/v1/readings", json={"readings": list(readings)}, headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 200, response.text
            return response.json()

        refused = await post(nish_gateway, reading("gt1.active_power"), reading("kg.net_output"))
        assert refused["accepted"] == 1
        assert [(r["index"], r["code"]) for r in refused["rejected"]] == [(1, "forbidden_signal")]
        lines = await client.post(
            "/api/v2/write?precision=s",
            content=f"kg net_output=5 {int(NOW.timestamp())}",
            headers={"Authorization": f"Token {nish_gateway}"},
        )
        assert lines.status_code == 400 and "forbidden_signal" in lines.text
        assert (await post(both, reading("kg.net_output", 1)))["accepted"] == 1
        assert (await post(admin, reading("kg.net_output", 2)))["accepted"] == 1
    stored = await db.fetchval(
        "SELECT count(*) FROM readings r JOIN signals s ON s.id = r.signal_id WHERE s.key = 'kg.net_output'"
    )
    assert stored == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"role": "partner", "partner": "nobody"}, "no plant names partner 'nobody'"),
        ({"role": "partner"}, "needs --partner"),
        ({"role": "gateway", "partner": "eps", "plants": ("nish",)}, "partner keys only"),
        ({"role": "gateway"}, "needs --plant"),
        ({"role": "gateway", "plants": ("nowhere",)}, "no plant 'nowhere'"),
        ({"role": "operator", "plants": ("nish",)}, "gateway keys only"),
        ({"role": "root"}, "unknown role"),
    ],
)
async def test_keys_that_could_not_be_right_are_refused_and_nothing_is_stored(
    db: asyncpg.Pool, options: dict, message: str
) -> None:
    with pytest.raises(auth.InvalidKey, match=message):
        await auth.create_key(db, name="k", **options)
    assert await db.fetchval("SELECT count(*) FROM api_keys") == 0


def baseload(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "BASELOAD_DATABASE_URL": url, "BASELOAD_DEBUG": ""},
    )


async def test_keys_create_on_the_command_line_refuses_in_one_line_and_scopes_gateways(
    database_url: str, db: asyncpg.Pool
) -> None:
    nobody = baseload("keys", "create", "--role", "partner", "--name", "x", "--partner", "nobody", url=database_url)
    gateway_partner = baseload(
        "keys", "create", "--role", "gateway", "--name", "y", "--partner", "eps", "--plant", "nish", url=database_url
    )
    for refused in (nobody, gateway_partner):
        assert refused.returncode != 0 and refused.stdout == ""
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    await add_plant(db)
    made = baseload(
        "keys", "create", "--role", "gateway", "--name", "gw", "--plant", "nish", "--plant", "kg", url=database_url
    )
    assert made.returncode == 0, made.stderr
    principal = await auth.lookup(db, made.stdout.strip())
    plants = await db.fetch("SELECT id FROM plants WHERE key = ANY($1::text[])", ["nish", "kg"])
    assert principal is not None and principal.plant_ids == {r["id"] for r in plants}
    listed = baseload("keys", "list", url=database_url)
    assert "kg,nish" in listed.stdout
    assert await db.fetchval("SELECT count(*) FROM api_keys") == 1


async def test_the_migration_gives_existing_gateway_keys_the_plants_then_known(pg_server_url: str) -> None:
    name = f"baseload_mig_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(with_database(pg_server_url, "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(pg_server_url, name)
    try:
        await upgrade_async(url, "0008")
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            await add_plant(conn, "kg")
            await add_plant(conn, "pa")
            await conn.execute(
                "INSERT INTO api_keys (name, role, token_hash, token_prefix) VALUES"
                " ('old-gw', 'gateway', 'h1', 'p1'), ('ops', 'operator', 'h2', 'p2')"
            )
            await upgrade_async(url)
            scopes = await conn.fetch(
                "SELECT k.name, p.key FROM api_key_plants JOIN api_keys k ON k.id = api_key_id"
                " JOIN plants p ON p.id = plant_id ORDER BY 1, 2"
            )
            assert [(r["name"], r["key"]) for r in scopes] == [("old-gw", "kg"), ("old-gw", "pa")]
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
