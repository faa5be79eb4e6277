"""Schemathesis over the alerts OpenAPI document, in-process against the app with a real database: every operation,
valid and invalid inputs, 0 server errors, and every response documented (status code, content type, schema).

Fast by default (`BASELOAD_FUZZ_EXAMPLES`, default 10 per operation and mode); raise it for a longer run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.alerts import store
from services.alerts.app import create_app
from services.alerts.settings import Settings
from shared.embedded import with_database
from tests.conftest import _admin
from tests.fuzz.serving import serving_in_thread
from tests.support import make_key

EXAMPLES = int(os.environ.get("BASELOAD_FUZZ_EXAMPLES", "10"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


async def _seed(url: str) -> str:
    """An operator key, and one of each thing so that generated ids sometimes exist."""
    conn = await asyncpg.connect(url)
    try:
        await store.init_connection(conn)
        token = await make_key(conn, role="operator", name="fuzz")
        rule_id = await conn.fetchval(
            "INSERT INTO alert_rules (name, kind, severity, params) VALUES ('band', 'frequency_band', 'warning',"
            ' \'{"signal": "grid.frequency", "low_hz": 49.8, "high_hz": 50.2}\'::jsonb) RETURNING id'
        )
        endpoint_id = await conn.fetchval(
            "INSERT INTO webhook_endpoints (name, url, secret) VALUES ('hook', 'http://127.0.0.1:9/h', 'whsec_AA==')"
            " RETURNING id"
        )
        alert_id = await conn.fetchval(
            "INSERT INTO alerts (rule_id, fingerprint, state, firing_since) VALUES ($1, 'fp', 'firing', now())"
            " RETURNING id",
            rule_id,
        )
        await conn.execute(
            "INSERT INTO webhook_outbox (endpoint_id, alert_id, event_type, webhook_id, body)"
            " VALUES ($1, $2, 'alert.firing', 'msg_1', '{}')",
            endpoint_id,
            alert_id,
        )
        return token
    finally:
        await conn.close()


@pytest.fixture
def alerts_base(pg_server_url: str, template_database: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    name = f"baseload_fz_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(pg_server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"'))
    url = with_database(pg_server_url, name)
    try:
        token = asyncio.run(_seed(url))
        app = create_app(
            Settings(
                database_url=url, evaluator_enabled=False, dispatcher_enabled=False, webhook_allow_cidrs="127.0.0.1/32"
            )
        )
        with serving_in_thread(app) as base:
            yield base, token, app.openapi()
    finally:
        asyncio.run(_admin(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def fuzz(strategy: Any, label: str, base: str, headers: dict[str, str], failures: list[str]) -> None:
    """Send EXAMPLES generated requests of one operation and mode; collect every failed check."""

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    def run(case: Any) -> None:
        response = case.call(base_url=base, headers=headers, timeout=10)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (AssertionError, BaseExceptionGroup) as exc:  # collected: every operation still runs
            failures.append(f"{label} {response.status_code}: {exc}"[:800])

    run()


def test_the_alerts_api_answers_every_generated_request_as_documented(
    alerts_base: tuple[str, str, dict[str, Any]],
) -> None:
    base, token, document = alerts_base
    schema = schemathesis.openapi.from_dict(document)
    headers = {"authorization": f"Bearer {token}"}
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            with contextlib.suppress(Unsatisfiable):  # no invalid input exists for an operation without inputs
                fuzz(
                    operation.as_strategy(generation_mode=mode),
                    f"{operation.label} [{mode.value}]",
                    base,
                    headers,
                    failures,
                )
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(dict.fromkeys(failures))
