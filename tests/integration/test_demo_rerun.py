"""A rerun of the demo over a database that already holds its replay window runs live instead (nothing twice)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from services.demo import DemoOptions, _continue_after_earlier_runs, newest_demo_reading


async def test_a_rerun_over_earlier_readings_runs_live_and_says_so(
    database_url: str, db: asyncpg.Pool, capsys: pytest.CaptureFixture[str]
) -> None:
    options = DemoOptions(time_scale=20.0)
    first = await asyncio.to_thread(_continue_after_earlier_runs, options, database_url)
    assert first == options and "no earlier demo readings" in capsys.readouterr().out

    earlier = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    await db.execute(
        "INSERT INTO readings (signal_id, ts, value) SELECT id, $1, 480 FROM signals WHERE key = 'plant.net_output'",
        earlier,
    )
    assert await newest_demo_reading(database_url, earlier - timedelta(hours=1)) == earlier
    rerun = await asyncio.to_thread(_continue_after_earlier_runs, options, database_url)
    assert rerun.time_scale == 1.0 and rerun.ports == options.ports
    assert "running live from now, so nothing is stored twice" in capsys.readouterr().out
