"""The api's HTTP edge: times outside 1970..2200, ranges with too many periods, revoked keys on open streams."""

from __future__ import annotations

import asyncio
import time

from shared import auth
from tests.integration.api.conftest import Api

RANGE_PATHS = [
    "/v1/signals/plant.net_output/aggregates",
    "/v1/plants/nish/energy",
    "/v1/plants/nish/compliance",
    "/v1/plants/nish/aggregates",
    "/v1/plants/nish/fuel",
    "/v1/plants/nish/frequency",
    "/v1/signals/plant.net_output/readings",
]
OUT_OF_BOUNDS = [
    ("0001-01-01T00:00:00+01:00", "2026-01-01T00:00:00Z"),  # before datetime.min once in UTC
    ("0001-01-02T00:00:00Z", "0001-01-09T00:00:00Z"),
    ("2026-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00"),  # after datetime.max once in UTC
    ("9999-12-24T00:00:00Z", "9999-12-31T00:00:00Z"),
    ("1969-12-31T23:59:59Z", "1970-01-02T00:00:00Z"),
]


async def test_times_outside_the_documented_bounds_are_400_with_or_without_tz(api: Api) -> None:
    for path in RANGE_PATHS:
        for start, end in OUT_OF_BOUNDS:
            for tz in ({}, {"every": "1d", "tz": "Europe/Belgrade"}):
                if tz and not ("aggregates" in path or "energy" in path or "fuel" in path):
                    continue
                response = await api.get(path, role="admin", start=start, end=end, **tz)
                assert response.status_code == 400, (path, start, end, tz, response.text[:300])
                assert response.json()["error"]["code"] == "time_out_of_range", (path, start, end)


async def test_a_centuries_long_range_is_refused_promptly_and_the_service_stays_responsive(api: Api) -> None:
    cases = [
        ("/v1/plants/nish/compliance", {}),
        ("/v1/plants/nish/energy", {"every": "15m"}),
        ("/v1/signals/plant.net_output/aggregates", {"every": "1h", "tz": "Europe/Belgrade"}),
        ("/v1/plants/nish/aggregates", {"every": "1m"}),
    ]
    for start, end in [
        ("1026-11-01T00:00:00Z", "2026-11-01T00:00:00Z"),
        ("1970-01-01T00:00:00Z", "2199-12-31T00:00:00Z"),
    ]:
        for path, params in cases:
            started = time.monotonic()
            refused = await api.get(path, role="eps", start=start, end=end, **params)
            assert refused.status_code == 400, (path, start, refused.text[:300])
            assert refused.json()["error"]["code"] in ("too_many_buckets", "time_out_of_range")
            normal = await api.get(
                "/v1/plants/nish/compliance", role="eps", start="2026-11-01T00:00:00Z", end="2026-11-02T00:00:00Z"
            )
            assert normal.status_code == 200, normal.text[:300]
            assert time.monotonic() - started < 10, f"{path} from {start}: both answered within a generous bound"


async def test_an_open_stream_ends_soon_after_its_key_is_revoked(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.tokens['eps']}"}
    events: list[str] = []
    async with api.client.stream("GET", "/v1/plants/nish/stream", headers=headers) as response:
        lines = response.aiter_lines()
        while "event: latest" not in events:
            events.append(await asyncio.wait_for(anext(lines), timeout=10))
        assert await auth.revoke_key(api.db, "eps-analyst") == 1
        revoked_at = time.monotonic()

        async def drain() -> None:
            async for line in lines:
                events.append(line)

        await asyncio.wait_for(drain(), timeout=10)  # the server ends the stream
    assert time.monotonic() - revoked_at < 5, "ended within a few seconds of the revocation"
    assert "event: revoked" in events
    assert "event: latest" not in events[events.index("event: revoked") :]
