"""shared.db's connection helpers against the real PostgreSQL: one transaction per block, rolled back on error."""

from __future__ import annotations

import asyncpg
import pytest

from shared.db import connection, create_pool, one, transaction


async def test_a_transaction_block_commits_when_it_ends(db: asyncpg.Pool) -> None:
    async with transaction(db) as conn:
        await conn.execute("CREATE TABLE t (x int)")
        await conn.execute("INSERT INTO t VALUES (1)")
        assert conn.is_in_transaction()
    assert await db.fetchval("SELECT count(*) FROM t") == 1


async def test_an_error_rolls_the_whole_block_back(db: asyncpg.Pool) -> None:
    await db.execute("CREATE TABLE t (x int)")
    with pytest.raises(ZeroDivisionError):
        async with transaction(db) as conn:
            await conn.execute("INSERT INTO t VALUES (1)")
            raise ZeroDivisionError
    assert await db.fetchval("SELECT count(*) FROM t") == 0


async def test_a_read_only_transaction_refuses_writes(db: asyncpg.Pool) -> None:
    await db.execute("CREATE TABLE t (x int)")
    with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
        async with transaction(db, isolation="repeatable_read", readonly=True) as conn:
            await conn.execute("INSERT INTO t VALUES (1)")


async def test_a_plain_connection_autocommits_each_statement(db: asyncpg.Pool) -> None:
    async with connection(db) as conn:
        assert not conn.is_in_transaction()
        await conn.execute("CREATE TABLE t (x int)")
    assert await db.fetchval("SELECT count(*) FROM t") == 0


async def test_one_returns_the_row_and_refuses_none(db: asyncpg.Pool) -> None:
    async with connection(db) as conn:
        assert one(await conn.fetchrow("SELECT 1 AS x"))["x"] == 1
        with pytest.raises(LookupError):
            one(await conn.fetchrow("SELECT 1 WHERE false"))


async def test_pool_session_settings_survive_the_release_of_a_connection(database_url: str) -> None:
    # The pool runs RESET ALL on release: a SET in `init` would hold for the first statement only.
    pool = await create_pool(database_url, max_size=1, server_settings={"jit": "off", "work_mem": "64MB"})
    try:
        for _ in range(3):
            assert (await pool.fetchval("SHOW jit"), await pool.fetchval("SHOW work_mem")) == ("off", "64MB")
    finally:
        await pool.close()
