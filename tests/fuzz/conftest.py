"""Fuzzing against the services as deployed: each under uvicorn on 127.0.0.1 in a thread of its own, so that
synchronous clients (Hypothesis, Schemathesis) can drive it; a fresh migrated database per test.

`BASELOAD_FUZZ_EXAMPLES` sets the examples per property or operation (default: a fast profile for `make test`).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import asyncpg
import pytest
import uvicorn

from shared.embedded import with_database
from tests.support import free_port

T = TypeVar("T")
FAST_EXAMPLES = 25


def examples(fast: int = FAST_EXAMPLES) -> int:
    """Examples per property/operation: `fast` unless BASELOAD_FUZZ_EXAMPLES asks for more (or fewer)."""
    return int(os.environ.get("BASELOAD_FUZZ_EXAMPLES") or fast)


def derandomize() -> bool:
    """The fast profile (make test, CI) replays the same examples every run, so a red run is never a coin toss;
    with BASELOAD_FUZZ_EXAMPLES set, each run explores new ones."""
    return not os.environ.get("BASELOAD_FUZZ_EXAMPLES")


def run_sql(url: str, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """`work(conn)` on a short-lived connection, from synchronous code."""

    async def run() -> T:
        conn = await asyncpg.connect(url)
        try:
            return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(run())


@contextmanager
def fresh_database(pg_server_url: str, template_database: str) -> Iterator[str]:
    """A database (migrated, demo plant loaded) made from the session's template, dropped afterwards."""
    name = f"baseload_fz_{uuid.uuid4().hex[:12]}"
    admin = with_database(pg_server_url, "postgres")
    run_sql(admin, lambda c: c.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"'))
    try:
        yield with_database(pg_server_url, name)
    finally:
        run_sql(admin, lambda c: c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def fuzz_database(pg_server_url: str, template_database: str) -> Iterator[str]:
    """A fresh database for one synchronous test."""
    with fresh_database(pg_server_url, template_database) as url:
        yield url


@contextmanager
def service_thread(app: Any) -> Iterator[str]:
    """Run an ASGI app under uvicorn on 127.0.0.1 in a background thread; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", access_log=False, loop="asyncio"
        )
    )
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the service did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
