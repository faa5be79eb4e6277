"""Test helpers: real HTTP servers on 127.0.0.1, and keyword-only factories."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import uvicorn

from shared import auth


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def serving(app: Any, *, port: int | None = None) -> AsyncIterator[str]:
    """Run an ASGI app under uvicorn on 127.0.0.1 (lifespan included) and yield its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                            access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server exited during start-up")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


async def make_key(conn: asyncpg.Connection | asyncpg.Pool, *, role: str = "gateway", name: str | None = None,
                   partner: str | None = None) -> str:
    """A fresh API key's token."""
    if role == "partner" and partner is None:
        partner = "eps"
    _, token = await auth.create_key(conn, role=role, name=name or f"test-{role}", partner=partner)
    return token
