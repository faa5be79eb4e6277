"""Schemathesis over the api service's OpenAPI document (fast profile; BASELOAD_FUZZ_EXAMPLES for more)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.api.app import create_app
from services.api.settings import Settings
from shared import auth
from tests.fuzz.conftest import examples, fresh_database, run_sql, service_thread
from tests.fuzz.schemathesis_run import check_operation, operation_labels

# The event stream never ends for a known plant, so a generated request could wait forever: its errors are covered
# here through unknown plants only by the api tests (tests/integration/api: test_formats, test_edge_bounds).
ENDLESS = ("GET /v1/plants/{plant}/stream",)
OPERATIONS = [label for label in operation_labels(create_app(Settings()).openapi()) if label not in ENDLESS]


@pytest.fixture(scope="module")
def api_service(pg_server_url: str, template_database: str) -> Iterator[tuple[str, str]]:
    with fresh_database(pg_server_url, template_database) as url:
        token = run_sql(url, lambda c: auth.create_key(c, role="admin", name="schemathesis"))[1]
        with service_thread(create_app(Settings(database_url=url))) as base_url:
            yield base_url, token


@pytest.mark.parametrize("label", OPERATIONS)
def test_api_operation_conforms_to_its_document(api_service: tuple[str, str], label: str) -> None:
    base_url, token = api_service
    check_operation(
        base_url,
        label,
        {"Authorization": f"Bearer {token}"},
        examples(10),
        known={"plant": "nish", "signal": "plant.net_output"},
    )
