"""A Hypothesis fuzz of the alerts query parameters and path ids: any text, huge or negative numbers, odd dates and
NUL characters get a 2xx or a 4xx in the common envelope, never a server error."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.alerts.app import create_app
from services.alerts.settings import Settings
from shared.embedded import with_database
from tests.conftest import _admin
from tests.fuzz.serving import serving_in_thread
from tests.fuzz.test_alerts_schemathesis import _seed

EXAMPLES = int(os.environ.get("BASELOAD_FUZZ_EXAMPLES", "10")) * 10

numbers = st.one_of(
    st.integers(),
    st.integers(min_value=2**31 - 2, max_value=2**31 + 2),
    st.integers(min_value=2**63 - 2, max_value=2**64),
).map(str)
dates = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-02-30", "now"]),
)
values = st.one_of(st.text(max_size=30), numbers, dates, st.sampled_from(["", "\x00", "a\x00b", "%", "nish"]))
QUERIES = {
    "/v1/alerts": ("state", "limit"),
    "/v1/deliveries": ("endpoint_id", "alert_id", "status", "limit"),
    "/v1/commitments": ("plant",),
    "/v1/silences": ("include_expired",),
    "/v1/plants/nish/schedule": ("start", "end"),
}
ID_PATHS = (
    "/v1/rules/{}",
    "/v1/alerts/{}",
    "/v1/deliveries/{}",
    "/v1/webhook-endpoints/{}",
    "/v1/plants/{}/exclusions",
    "/v1/plants/nish/schedule?start={}",
)


@pytest.fixture
def alerts_client(pg_server_url: str, template_database: str) -> Iterator[httpx.Client]:
    name = f"baseload_fz_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(pg_server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"'))
    url = with_database(pg_server_url, name)
    try:
        token = asyncio.run(_seed(url))
        app = create_app(Settings(database_url=url, evaluator_enabled=False, dispatcher_enabled=False))
        with (
            serving_in_thread(app) as base,
            httpx.Client(base_url=base, headers={"authorization": f"Bearer {token}"}, timeout=10) as client,
        ):
            yield client
    finally:
        asyncio.run(_admin(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def assert_answered(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert set(response.json()) == {"error"} and {"code", "message", "details"} <= set(response.json()["error"])


def test_alerts_query_parameters_never_cause_a_server_error(alerts_client: httpx.Client) -> None:
    @given(path=st.sampled_from(sorted(QUERIES)), data=st.data())
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def run(path: str, data: st.DataObject) -> None:
        names = data.draw(st.lists(st.sampled_from(QUERIES[path]), unique=True))
        params = {name: data.draw(values) for name in names}
        assert_answered(alerts_client.get(path, params=params))

    run()


def test_alerts_path_ids_never_cause_a_server_error(alerts_client: httpx.Client) -> None:
    @given(template=st.sampled_from(ID_PATHS), value=st.one_of(numbers, st.text(min_size=1, max_size=20)))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def run(template: str, value: str) -> None:
        assert_answered(alerts_client.get(template.format(quote(value, safe=""))))

    run()
