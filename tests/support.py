"""Test helpers: real HTTP servers on 127.0.0.1, and keyword-only factories."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import uvicorn

from shared import auth

REPO_ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def cli_process(
    *args: str, env: dict[str, str], log: Path, stop_timeout: float = 10
) -> Iterator[subprocess.Popen[bytes]]:
    """`baseload <args>` as a user would run it, in its own session; Ctrl-C on exit, then SIGKILL to the session."""
    with open(log, "wb") as out:  # a file, not a pipe: a chatty child can never block on a full pipe
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", *args],
            cwd=REPO_ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its session: the process and every child it started
            proc.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def serving(app: Any, *, port: int | None = None) -> AsyncIterator[str]:
    """Run an ASGI app under uvicorn on 127.0.0.1 (lifespan included) and yield its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", access_log=False)
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


async def make_key(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    role: str = "gateway",
    name: str | None = None,
    partner: str | None = None,
    plants: tuple[str, ...] | None = None,
) -> str:
    """A fresh API key's token (a gateway key writes the demo plant unless `plants` says otherwise)."""
    if role == "partner" and partner is None:
        partner = "eps"
    if plants is None:
        plants = ("nish",) if role == "gateway" else ()
    _, token = await auth.create_key(conn, role=role, name=name or f"test-{role}", partner=partner, plants=plants)
    return token


async def make_orphan_partner_key(
    conn: asyncpg.Connection | asyncpg.Pool, *, partner: str = "acme", name: str = "orphan-partner"
) -> str:
    """A partner key whose partner no plant names (as after a plant file dropped that partner).

    `auth.create_key` refuses to mint one, so it is written directly: it exists to test what such a key sees."""
    token = auth.new_token()
    await conn.execute(
        "INSERT INTO api_keys (name, role, partner, token_hash, token_prefix) VALUES ($1, 'partner', $2, $3, $4)",
        name,
        partner,
        auth.hash_token(token),
        token[:10],
    )
    return token
