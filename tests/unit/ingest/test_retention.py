"""Retention policy: which whole days and bucket ranges are old enough, as functions of (settings, now)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.ingest.retention import expired_days, horizons, windows
from services.ingest.settings import Settings

NOW = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)


def day(d: int, month: int = 11) -> datetime:
    return datetime(2026, month, d, tzinfo=UTC)


@pytest.mark.parametrize(
    ("horizon", "expected"),
    [
        (datetime(2026, 11, 20, 10, 30, tzinfo=UTC), [day(18), day(19)]),  # the 20th is only partly older
        (datetime(2026, 11, 20, 0, 0, tzinfo=UTC), [day(18), day(19)]),  # the 19th ends exactly at the horizon
        (datetime(2026, 11, 19, 23, 59, 59, 999999, tzinfo=UTC), [day(18)]),  # one microsecond short
        (datetime(2026, 11, 18, 0, 0, tzinfo=UTC), []),
    ],
)
def test_a_day_expires_only_when_all_of_it_is_older_than_the_horizon(horizon: datetime, expected: list) -> None:
    assert expired_days([day(21), day(19), day(20), day(18)], horizon) == expected


def test_the_readings_horizon_is_the_write_paths_refusal_horizon() -> None:
    h = horizons(NOW, readings_days=7, rollup_days=None, rollup_1m_days=None)
    assert h.readings == NOW - timedelta(days=7)
    assert h.whole_days == day(20)  # compressed blocks go by whole days too, like partitions
    assert h.rollups == {"rollups_1m": None, "rollups_15m": None, "rollups_1h": None}


def test_one_minute_rollups_follow_the_coarse_horizon_unless_set() -> None:
    h = horizons(NOW, readings_days=7, rollup_days=30, rollup_1m_days=None)
    assert h.rollups["rollups_1m"] == h.rollups["rollups_15m"] == NOW - timedelta(days=30)
    h = horizons(NOW, readings_days=7, rollup_days=None, rollup_1m_days=10)
    assert h.rollups == {"rollups_1m": NOW - timedelta(days=10), "rollups_15m": None, "rollups_1h": None}


def test_a_rollup_bucket_goes_only_when_all_of_it_is_older_than_the_horizon() -> None:
    now = datetime(2026, 11, 27, 10, 37, 30, tzinfo=UTC)
    h = horizons(now, readings_days=7, rollup_days=30, rollup_1m_days=None)
    base = datetime(2026, 10, 28, tzinfo=UTC)
    assert h.rollups == {
        "rollups_1m": base.replace(hour=10, minute=37),
        "rollups_15m": base.replace(hour=10, minute=30),
        "rollups_1h": base.replace(hour=10),
    }


def test_windows_cover_the_range_in_bounded_steps() -> None:
    start, end = day(1), day(10) + timedelta(hours=5)
    parts = list(windows(start, end, timedelta(days=4)))
    assert parts == [(day(1), day(5)), (day(5), day(9)), (day(9), end)]
    assert list(windows(end, end, timedelta(days=1))) == []


@pytest.mark.parametrize(
    "env",
    [
        {"retention_days": 30, "rollup_retention_days": 10},
        {"retention_days": 30, "rollup_1m_retention_days": 10},
        {"retention_days": 30, "rollup_retention_days": 60, "rollup_1m_retention_days": 90},
    ],
)
def test_rollups_may_not_go_before_the_readings_or_finer_outlive_coarser(env: dict) -> None:
    with pytest.raises(ValidationError):
        Settings(**env)


def test_rollup_horizons_default_to_forever() -> None:
    settings = Settings(retention_days=30, rollup_retention_days=365, rollup_1m_retention_days=90)
    assert settings.rollup_1m_retention_days == 90
    assert Settings().rollup_retention_days is None and Settings().rollup_1m_retention_days is None
