"""The issuer: a background task of the api service that keeps every plant's statements up to date."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import asyncpg

from services.api.statements import service, store
from shared.db import connection, transaction
from shared.worker import Worker

log = logging.getLogger("baseload.statements")


async def scan(pool: asyncpg.Pool, ctx: service.Issuing, now: datetime) -> int:
    """One pass over all plants, each in its own transaction; a plant another replica is issuing is skipped."""
    issued = 0
    async with connection(pool) as conn:
        plants = await service.subjects(conn)
    for subj in plants:
        async with transaction(pool) as conn:
            if not await store.lock_plant(conn, subj.plant.id, wait=False):
                continue
            issued += len(await service.catch_up(conn, ctx, subj, now))
    return issued


async def run(pool: asyncpg.Pool, ctx: service.Issuing, every_s: float) -> None:
    """Scan every `every_s` seconds (shared.worker: retries with backoff, logs failures, survives outages)."""

    async def step() -> None:
        got = await scan(pool, ctx, datetime.now(UTC))
        if got:
            log.info("issued %d statements", got)

    await Worker("api.statements", step, every_s=every_s, logger=log).run()
