"""Pieces of the browser tests: the running stack, a browser session, readings and polling."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from playwright.async_api import BrowserContext, Page

CHROMIUM = Path(os.environ.get("BASELOAD_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--mute-audio",
]
LAPTOP = {"width": 1440, "height": 900}
TIMEOUT_MS = 10_000

# A second plant, so that a partner of another plant has something of its own to see.
OTHER_PLANT = {
    "plant": {
        "key": "kostolac",
        "name": "Kostolac B (test)",
        "capacity_mw": 350,
        "timezone": "Europe/Belgrade",
        "partners": ["acme"],
    },
    "signals": [{"key": "kostolac.net_output", "kind": "net_output", "unit": "MW", "min": -30, "max": 400}],
}


@dataclass
class Stack:
    db: asyncpg.Pool
    api: str
    ingest: str
    alerts: str
    tokens: dict[str, str]
    names: dict[str, str] = field(default_factory=dict)

    async def post(self, readings: list[dict[str, Any]]) -> None:
        """Readings through ingest's HTTP API, as a gateway posts them."""
        async with httpx.AsyncClient(base_url=self.ingest, timeout=30) as client:
            for i in range(0, len(readings), 20_000):
                response = await client.post(
                    "/v1/readings",
                    json={"readings": readings[i : i + 20_000]},
                    headers={"Authorization": f"Bearer {self.tokens['gateway']}"},
                )
                assert response.status_code == 200, response.text
                assert response.json()["rejected"] == [], response.text

    def client(self, service: str, role: str) -> httpx.AsyncClient:
        base = {"api": self.api, "ingest": self.ingest, "alerts": self.alerts}[service]
        return httpx.AsyncClient(base_url=base, timeout=30, headers={"Authorization": f"Bearer {self.tokens[role]}"})


def reading(signal: str, ts: datetime, value: float, quality: int | str = 0) -> dict[str, Any]:
    return {"signal": signal, "ts": ts.isoformat(), "value": value, "quality": quality}


@dataclass
class Session:
    context: BrowserContext
    page: Page
    errors: list[str]
    base: str

    async def sign_in(self, token: str, *, then: str | None = None) -> None:
        """Sign in through the form; then open the page `then` (a path), if given."""
        await self.page.goto(f"{self.base}/ui/login")
        await self.page.fill("#api_key", token)
        await self.page.click("#sign-in")
        await self.page.wait_for_load_state("domcontentloaded")
        if then is not None:
            await self.page.goto(f"{self.base}{then}")


OpenSession = Callable[..., Awaitable[Session]]


async def eventually(check: Callable[[], Awaitable[bool]], within_s: float = 8.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)
