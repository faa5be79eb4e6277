"""Run the Alembic migrations programmatically (no alembic.ini needed) over asyncpg."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared.db import asyncpg_dsn

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def sqlalchemy_engine(url: str) -> AsyncEngine:
    """An async SQLAlchemy engine that connects through asyncpg with our URL as is (sockets included)."""
    dsn = asyncpg_dsn(url)
    return create_async_engine(
        "postgresql+asyncpg://", async_creator=lambda: asyncpg.connect(dsn, server_settings={"timezone": "UTC"})
    )


async def _upgrade(url: str, revision: str) -> None:
    engine = sqlalchemy_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run_upgrade, revision)
    finally:
        await engine.dispose()


def _run_upgrade(sync_conn: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = sync_conn
    command.upgrade(config, revision)


def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the database at `url` to `revision` (from synchronous code)."""
    asyncio.run(_upgrade(url, revision))


async def upgrade_async(url: str, revision: str = "heads") -> None:
    """Bring the database at `url` to `revision` (from a running event loop)."""
    await _upgrade(url, revision)
