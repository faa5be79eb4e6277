"""The foundation: migrations match the declared schema, partitions, plant loading, keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shared import auth
from shared.migrate import sqlalchemy_engine
from shared.plants import apply_plant, load_plant_file
from shared.schema import metadata
from tests.conftest import DEMO_PLANT


async def test_migrations_create_exactly_the_declared_schema(database_url: str) -> None:
    engine = sqlalchemy_engine(database_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), metadata)
            )
    finally:
        await engine.dispose()
    # Partitions are created at run time and are not part of the declared schema.
    relevant = [d for d in diff if not (d[0] == "remove_table" and d[1].name.startswith("readings_"))]
    assert relevant == []


async def test_partitions_are_created_for_backfills_and_ahead(db: asyncpg.Pool) -> None:
    old = datetime(2024, 2, 28, 12, tzinfo=UTC)
    created = await db.fetchval("SELECT ensure_readings_partitions($1, $2)", old, old + timedelta(days=2))
    assert created == 3  # 28 Feb, 29 Feb (leap day) and 1 Mar 2024
    again = await db.fetchval("SELECT ensure_readings_partitions($1, $2)", old, old + timedelta(days=2))
    assert again == 0
    bounds = await db.fetchval(
        "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'readings_20240229'"
    )
    assert "2024-02-29 00:00:00+00" in bounds and "2024-03-01 00:00:00+00" in bounds
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y%m%d")
    assert await db.fetchval("SELECT to_regclass($1) IS NOT NULL", f"readings_{tomorrow}")


async def test_plant_file_loads_idempotently(db: asyncpg.Pool) -> None:
    config = load_plant_file(DEMO_PLANT)
    async with db.acquire() as conn:
        first = await apply_plant(conn, config)
        second = await apply_plant(conn, config)
    assert first == second
    assert await db.fetchval("SELECT count(*) FROM signals") == len(config.signals) == 7
    assert await db.fetchval("SELECT count(*) FROM commitments") == 1
    partners = await db.fetch("SELECT partner FROM plant_partners ORDER BY partner")
    assert [r["partner"] for r in partners] == ["eps", "socar"]
    row = await db.fetchrow("SELECT unit, min_value, max_value FROM signals WHERE key = 'gt1.fuel_gas_flow'")
    assert (row["unit"], row["min_value"], row["max_value"]) == ("Nm3/h", 0.0, 60000.0)


async def test_keys_store_only_a_hash_and_revocation_takes_effect(db: asyncpg.Pool) -> None:
    principal, token = await auth.create_key(db, role="partner", name="socar-analyst", partner="socar")
    stored = await db.fetchrow("SELECT token_hash, token_prefix FROM api_keys WHERE id = $1", principal.key_id)
    assert token.encode() not in stored["token_hash"] and stored["token_hash"] == auth.hash_token(token)
    assert await auth.lookup(db, token) == principal
    assert await auth.revoke_key(db, "socar-analyst") == 1
    assert await auth.lookup(db, token) is None
