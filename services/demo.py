"""`baseload demo` (what `make run` does): prepare the database and the demo plant, then run the services."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from shared import auth
from shared.db import asyncpg_dsn, resolve_database_url
from shared.migrate import upgrade
from shared.plants import apply_plant, load_plant_file
from shared.settings import BaseServiceSettings

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_PLANT = REPO_ROOT / "deploy" / "plants" / "nish.yaml"
DEMO_KEYS = (("gateway", "demo-gateway", None), ("operator", "demo-operator", None),
             ("partner", "demo-eps", "eps"), ("partner", "demo-socar", "socar"), ("admin", "demo-admin", None))


@dataclass(frozen=True)
class Process:
    name: str
    argv: list[str]
    url: str


def demo_processes() -> list[Process]:
    """What the demo runs, each as `baseload ...` in its own process."""
    me = [sys.executable, "-m", "services.cli"]
    return [Process("ingest", [*me, "serve", "ingest"], "http://127.0.0.1:8001")]


async def prepare(url: str) -> dict[str, str]:
    """Load the demo plant and mint fresh demo keys (older demo keys are revoked)."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await apply_plant(conn, load_plant_file(DEMO_PLANT))
        tokens = {}
        for role, name, partner in DEMO_KEYS:
            await auth.revoke_key(conn, name)
            _, tokens[name] = await auth.create_key(conn, role=role, name=name, partner=partner)
        return tokens
    finally:
        await conn.close()


def run_demo(settings: BaseServiceSettings) -> int:
    url = resolve_database_url(settings)
    upgrade(url)
    tokens = asyncio.run(prepare(url))
    env = {**os.environ, "BASELOAD_DATABASE_URL": url}
    children = [subprocess.Popen(p.argv, env=env, cwd=REPO_ROOT) for p in demo_processes()]
    print("\nBaseload demo is running. Press Ctrl-C to stop.\n")
    for p in demo_processes():
        print(f"  {p.name:<10} {p.url}")
    print()
    for name, token in tokens.items():
        print(f"  {name:<15} {token}")
    print(f"\n  export GATEWAY_KEY={tokens['demo-gateway']}\n", flush=True)
    return _supervise(children)


def _supervise(children: list[subprocess.Popen[bytes]]) -> int:
    stop = False

    def on_signal(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while not stop and all(c.poll() is None for c in children):
        time.sleep(0.2)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
    for child in children:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
    print("Baseload demo stopped.")
    return 0
