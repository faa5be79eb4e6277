"""Connecting to PostgreSQL: resolve the URL (external or embedded) and build asyncpg pools."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal, cast

import asyncpg

from shared.embedded import start_embedded
from shared.settings import BaseServiceSettings

# Errors that mean "the database is not reachable right now", as opposed to a bug in a query.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.ConnectionFailureError,
)
# The database is down or refused the statement: what a background loop retries. One name, because mypy cannot
# read `except (*UNAVAILABLE_ERRORS, asyncpg.PostgresError)`.
DATABASE_ERRORS: tuple[type[Exception], ...] = (*UNAVAILABLE_ERRORS, asyncpg.PostgresError)


def resolve_database_url(settings: BaseServiceSettings) -> str:
    """The configured URL, or the embedded server's (started on demand)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return start_embedded(settings.data_dir)


def asyncpg_dsn(url: str) -> str:
    """asyncpg wants a plain postgresql:// URL; accept SQLAlchemy-style driver suffixes too."""
    for prefix in ("postgresql+asyncpg://", "postgres+asyncpg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


async def create_pool(
    url: str,
    *,
    max_size: int = 4,
    min_size: int = 0,
    timeout: float = 5.0,
    init: Callable[[asyncpg.Connection], Coroutine[Any, Any, None]] | None = None,
    server_settings: Mapping[str, str] | None = None,
) -> asyncpg.Pool:
    """A lazily connecting pool (min_size 0), so a service starts and recovers while the database is down.

    Session settings go in `server_settings`, never a `SET` in `init`: the pool runs RESET ALL whenever a connection
    is released, which undoes a SET but returns to the values sent when connecting."""
    return await asyncpg.create_pool(
        asyncpg_dsn(url),
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        command_timeout=60,
        init=init,
        server_settings={"timezone": "UTC", "application_name": "baseload", **(server_settings or {})},
    )


def one(row: asyncpg.Record | None) -> asyncpg.Record:
    """The row of a statement that always returns one (INSERT … RETURNING, an aggregate without GROUP BY)."""
    if row is None:
        raise LookupError("the statement returned no row")
    return row


Isolation = Literal["serializable", "repeatable_read", "read_committed", "read_uncommitted"]


@asynccontextmanager
async def connection(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection, typed as the `Connection` that store functions take."""
    async with pool.acquire() as proxy:
        # pool.acquire() yields a PoolConnectionProxy, which forwards every Connection method; the stubs do not
        # make it a Connection, so say it once here rather than at every store call.
        yield cast(asyncpg.Connection, proxy)


@asynccontextmanager
async def transaction(
    pool: asyncpg.Pool, *, isolation: Isolation | None = None, readonly: bool = False
) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection inside one transaction: the edge's unit of work, committed when the block ends."""
    async with connection(pool) as conn, conn.transaction(isolation=isolation, readonly=readonly):
        yield conn
