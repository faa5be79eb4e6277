"""The dashboard in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) against real services.

One stack per module: a fresh migrated database, ingest, api and alerts under uvicorn on 127.0.0.1, data posted
through ingest's HTTP API. Each test opens its own browser context (its own cookies) and fails on any JavaScript
console error or uncaught exception of its pages.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import asyncpg
import pytest
import pytest_asyncio
from playwright.async_api import Browser, ConsoleMessage, Error, async_playwright

from services.alerts.app import create_app as create_alerts
from services.alerts.settings import Settings as AlertsSettings
from services.api.app import create_app as create_api
from services.api.settings import Settings as ApiSettings
from services.ingest.app import create_app as create_ingest
from services.ingest.settings import Settings as IngestSettings
from shared.embedded import with_database
from shared.plants import apply_plant, parse_plant
from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, LAPTOP, OTHER_PLANT, TIMEOUT_MS, OpenSession, Session, Stack
from tests.support import make_key, serving


async def _admin(server_url: str, sql: str) -> None:
    conn = await asyncpg.connect(with_database(server_url, "postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(pg_server_url: str, template_database: str) -> AsyncIterator[Stack]:
    """ingest, api and alerts on 127.0.0.1 over a fresh database with the demo plant, a second plant and keys."""
    name = f"baseload_ui_{uuid.uuid4().hex[:12]}"
    await _admin(pg_server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    url = with_database(pg_server_url, name)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=4, server_settings={"timezone": "UTC"})
    try:
        async with pool.acquire() as conn:
            await apply_plant(conn, parse_plant(OTHER_PLANT))
        keys = (
            ("gateway", "gw", None),
            ("operator", "ana-operator", None),
            ("eps", "eps-analyst", "eps"),
            ("acme", "acme-analyst", "acme"),
        )
        tokens = {
            label: await make_key(
                pool,
                role="gateway" if label == "gateway" else "operator" if label == "operator" else "partner",
                name=key_name,
                partner=partner,
            )
            for label, key_name, partner in keys
        }
        alerts_settings = AlertsSettings(database_url=url, tick_s=0.2, full_sweep_s=1.0, dispatcher_enabled=False)
        async with AsyncExitStack() as services:
            ingest = await services.enter_async_context(serving(create_ingest(IngestSettings(database_url=url))))
            api = await services.enter_async_context(serving(create_api(ApiSettings(database_url=url))))
            alerts = await services.enter_async_context(serving(create_alerts(alerts_settings)))
            yield Stack(pool, api, ingest, alerts, tokens, {label: n for label, n, _ in keys})
    finally:
        await pool.close()
        await _admin(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium from Debian (`make test` installs it when missing); never a downloaded browser."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def open_session(browser: Browser, stack: Stack) -> AsyncIterator[OpenSession]:
    """New browser contexts (own cookies) whose pages record console errors; the test fails on any."""
    opened: list[Session] = []

    async def open_(viewport: dict[str, int] | None = None) -> Session:
        context = await browser.new_context(viewport=viewport or LAPTOP, timezone_id="America/New_York", locale="en-GB")
        context.set_default_timeout(TIMEOUT_MS)
        page = await context.new_page()
        errors: list[str] = []

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                errors.append(f"console: {message.text} at {message.location}")

        def on_page_error(error: Error) -> None:
            errors.append(f"page error: {error}")

        page.on("console", on_console)
        page.on("pageerror", on_page_error)
        session = Session(context, page, errors, stack.api)
        opened.append(session)
        return session

    yield open_
    for session in opened:
        await session.context.close()
    errors = [e for s in opened for e in s.errors]
    assert errors == [], "JavaScript errors in the dashboard:\n" + "\n".join(errors)
