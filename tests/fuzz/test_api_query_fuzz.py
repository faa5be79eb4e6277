"""Hypothesis against the api's query parameters over real HTTP: whatever the values, an answer below 500, and every
refusal in the common envelope."""

from __future__ import annotations

import string

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.api.app import create_app
from services.api.settings import Settings
from shared import auth
from tests.fuzz.conftest import derandomize, examples, run_sql, service_thread

PATHS = [
    "/v1/signals/plant.net_output/aggregates",
    "/v1/plants/nish/aggregates",
    "/v1/signals/grid.frequency/readings",
    "/v1/plants/nish/energy",
    "/v1/plants/nish/compliance",
    "/v1/plants/nish/frequency",
    "/v1/plants/nish/fuel",
    "/v1/plants/nish/signals",
]

junk = st.text(string.printable, max_size=24)
times = st.one_of(
    st.datetimes(timezones=st.timezones(), allow_imaginary=False).map(lambda t: t.isoformat()),
    st.sampled_from(
        [
            "2026-11-25T00:00:00Z",
            "2026-11-26T00:00:00Z",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59.999999-14:00",
            "2026-11-25",
            "2026-11-25T00:00:00",
            "now",
            "",
        ]
    ),
    junk,
)
PARAMETERS = {
    "start": times,
    "end": times,
    "every": st.sampled_from(["1s", "30s", "1m", "15m", "1h", "1d", "1w", "2w", "0m", "", "-1h"]) | junk,
    "fn": st.sampled_from(["avg", "avg,min,max,count,first,last,twa", "twa", "", ",", "median"]) | junk,
    "fill": st.sampled_from(["none", "null", "previous", "linear", "zero"]) | junk,
    "quality": st.sampled_from(["good", "all", "bad"]) | junk,
    "tz": st.sampled_from(["UTC", "Europe/Belgrade", "America/St_Johns", "Etc/GMT+12", "Mars/Olympus", "../etc"])
    | junk,
    "signals": st.sampled_from(["plant.net_output,gt1.active_power", "nope", ",,", ""]) | junk,
    "limit": st.sampled_from(["1", "1000", "0", "-1", "1e3", "99999999999999999999"]) | junk,
    "cursor": st.sampled_from(["", "MjAyNi0xMS0yNVQwMDowMDowMCswMDowMA", "!!"]) | junk,
}


@st.composite
def queries(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    path = draw(st.sampled_from(PATHS))
    names = draw(st.sets(st.sampled_from(sorted(PARAMETERS)), max_size=len(PARAMETERS)))
    return path, {name: draw(PARAMETERS[name]) for name in names}


def test_any_query_parameters_are_answered_below_500_in_the_envelope(fuzz_database: str) -> None:
    token = run_sql(fuzz_database, lambda c: auth.create_key(c, role="admin", name="fuzz-api"))[1]
    with (
        service_thread(create_app(Settings(database_url=fuzz_database))) as url,
        httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {token}"}) as client,
    ):

        @settings(
            max_examples=examples(60),
            deadline=None,
            derandomize=derandomize(),
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(query=queries(), csv=st.booleans())
        def one(query: tuple[str, dict[str, str]], csv: bool) -> None:
            path, params = query
            response = client.get(path, params=params, headers={"Accept": "text/csv"} if csv else {})
            assert response.status_code < 500, (path, params, response.text[:300])
            if response.status_code >= 400:
                assert set(response.json()["error"]) == {"code", "message", "details"}, response.text[:300]

        one()
