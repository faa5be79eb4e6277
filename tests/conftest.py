"""Real PostgreSQL for every test: the embedded server (or DATABASE_URL's), one fresh database per test.

A migrated template database is made once per session; each test gets `CREATE DATABASE … TEMPLATE`, which
takes a few tens of milliseconds, and is dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from shared.db import asyncpg_dsn
from shared.embedded import start_embedded, stop_embedded, with_database
from shared.migrate import upgrade
from shared.plants import apply_plant, load_plant_file

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_PLANT = REPO_ROOT / "deploy" / "plants" / "nish.yaml"


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """The PostgreSQL server under test: DATABASE_URL's if set, else a fresh embedded one."""
    external = os.environ.get("BASELOAD_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if external:
        yield asyncpg_dsn(external)
        return
    data_dir = Path(tempfile.mkdtemp(prefix="baseload-test-"))
    try:
        yield start_embedded(data_dir)
    finally:
        stop_embedded(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


async def _admin(server_url: str, sql: str) -> None:
    conn = await asyncpg.connect(with_database(server_url, "postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def template_database(pg_server_url: str) -> Iterator[str]:
    """A migrated database with the demo plant loaded, used as the template of every test database."""
    name = f"baseload_tpl_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(pg_server_url, f'CREATE DATABASE "{name}"'))
    url = with_database(pg_server_url, name)
    upgrade(url)

    async def load_plant() -> None:
        conn = await asyncpg.connect(url)
        try:
            await apply_plant(conn, load_plant_file(DEMO_PLANT))
        finally:
            await conn.close()

    asyncio.run(load_plant())
    yield name
    asyncio.run(_admin(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def database_url(pg_server_url: str, template_database: str) -> AsyncIterator[str]:
    """A fresh database (migrated, demo plant loaded) for this test only."""
    name = f"baseload_t_{uuid.uuid4().hex[:12]}"
    await _admin(pg_server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    yield with_database(pg_server_url, name)
    await _admin(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """An asyncpg pool on this test's database, for arranging and asserting."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4, server_settings={"timezone": "UTC"})
    try:
        yield pool
    finally:
        await pool.close()
