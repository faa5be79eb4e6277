"""Start-up of statements in the api lifespan: load the signing keys, publish them, start the issuer."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from services.api.settings import Settings
from services.api.statements import store, worker
from services.api.statements.service import Issuing
from shared.db import transaction
from shared.ledger.keys import KeyFileError, load_keyring

log = logging.getLogger("baseload.statements")


async def start(pool: asyncpg.Pool, settings: Settings) -> tuple[Issuing, asyncio.Task[None] | None]:
    """Statements are served in any case; issued only with a signing key file (and `statements_every_s` > 0)."""
    path = settings.key_file()
    try:
        keyring = await asyncio.to_thread(load_keyring, path) if path.exists() else None
    except KeyFileError as exc:
        log.error("statements are not issued: %s", exc)
        keyring = None
    ctx = Issuing(settings, keyring)
    if keyring is None:
        log.warning("no signing key at %s: statements are served but not issued", path)
        return ctx, None
    with contextlib.suppress(*_unavailable()):
        async with transaction(pool) as conn:
            await store.register_keys(conn, keyring.public_jwks()["keys"])
    if settings.statements_every_s <= 0:
        return ctx, None
    return ctx, asyncio.create_task(worker.run(pool, ctx, settings.statements_every_s))


async def stop(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _unavailable() -> tuple[type[BaseException], ...]:
    return (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)
