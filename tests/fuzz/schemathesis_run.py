"""Schemathesis against a running service's own OpenAPI document: every operation, a bounded number of generated
requests each, checked for server errors and for conformance to the documented status codes, content types,
headers and response schemas."""

from __future__ import annotations

from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import checks

from tests.fuzz.conftest import derandomize

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


def operation_labels(document: dict[str, Any], skip: tuple[str, ...] = ()) -> list[str]:
    """`METHOD /path` of every documented operation (for parametrizing tests at collection time)."""
    return [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
        if not path.startswith(skip)
    ]


def check_operation(
    base_url: str, label: str, headers: dict[str, str], max_examples: int, known: dict[str, str] | None = None
) -> None:
    """Generate up to `max_examples` requests for `label` and validate every response; raise on the first failure.

    `known` path parameters (e.g. an existing plant) are used in about half the requests, so that generated query
    parameters and bodies reach the endpoint's logic rather than its 404."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operation = schema.find_operation_by_label(label)
    assert operation is not None, label
    session = requests.Session()
    strategy = operation.as_strategy()
    fixed = {name: value for name, value in (known or {}).items() if "{" + name + "}" in operation.path}
    if fixed:
        strategy = st.one_of(strategy, operation.as_strategy(path_parameters=fixed))

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=derandomize(),
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def one(case: Any) -> None:
        case.call_and_validate(base_url=base_url, session=session, headers=headers, checks=CHECKS, timeout=30)

    one()
