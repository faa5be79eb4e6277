"""Schemathesis over the ingest service's OpenAPI document (fast profile; BASELOAD_FUZZ_EXAMPLES for more)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.ingest.app import create_app
from services.ingest.settings import Settings
from shared import auth
from tests.fuzz.conftest import examples, fresh_database, run_sql, service_thread
from tests.fuzz.schemathesis_run import check_operation, operation_labels

OPERATIONS = operation_labels(create_app(Settings()).openapi())


@pytest.fixture(scope="module")
def ingest_service(pg_server_url: str, template_database: str) -> Iterator[tuple[str, str]]:
    with fresh_database(pg_server_url, template_database) as url:
        token = run_sql(url, lambda c: auth.create_key(c, role="gateway", name="schemathesis", plants=("nish",)))[1]
        with service_thread(create_app(Settings(database_url=url))) as base_url:
            yield base_url, token


@pytest.mark.parametrize("label", OPERATIONS)
def test_ingest_operation_conforms_to_its_document(ingest_service: tuple[str, str], label: str) -> None:
    base_url, token = ingest_service
    check_operation(base_url, label, {"Authorization": f"Bearer {token}"}, examples(15))
