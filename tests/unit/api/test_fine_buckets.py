"""Sub-minute buckets: parsing, UTC alignment, the bucket cap, the tz refusal and shaping of raw arrays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.api.aggregates import aggregate_method, shape_grid
from services.api.buckets import QueryError, make_bucketing, parse_every
from shared.settlement import Integral
from shared.settlement.integral import Integrals

S = timedelta(seconds=1)
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["1s", "2s", "5s", "10s", "15s", "20s", "30s"])
def test_sub_minute_widths_parse_only_where_fine_buckets_are_served(text: str) -> None:
    assert parse_every(text, fine=True) == int(text[:-1]) * S
    with pytest.raises(QueryError) as err:
        parse_every(text)
    assert err.value.code == "unknown_every" and text not in err.value.details["allowed"]


@pytest.mark.parametrize("text", ["3s", "45s", "0s", "1ms"])
def test_other_sub_minute_widths_are_refused(text: str) -> None:
    with pytest.raises(QueryError) as err:
        parse_every(text, fine=True)
    assert err.value.code == "unknown_every" and "10s" in err.value.details["allowed"]


def test_fine_buckets_are_utc_aligned_and_widened_to_whole_buckets() -> None:
    b = make_bucketing(T0 + 3.5 * S, T0 + 31 * S, 10 * S)
    assert b.fine and (b.start, b.end, b.count) == (T0, T0 + 40 * S, 4)
    assert not make_bucketing(T0, T0 + 60 * S, timedelta(minutes=1)).fine


def test_the_bucket_cap_counts_fine_buckets() -> None:
    assert make_bucketing(T0, T0 + 100_000 * S, S).count == 100_000
    with pytest.raises(QueryError) as err:
        make_bucketing(T0, T0 + timedelta(hours=28), S)
    assert err.value.code == "too_many_buckets" and err.value.details["buckets"] == 28 * 3600


def test_a_local_tz_with_fine_buckets_is_refused() -> None:
    with pytest.raises(QueryError) as err:
        make_bucketing(T0, T0 + 60 * S, 10 * S, tz="Europe/Belgrade")
    assert err.value.code == "unsupported_tz"
    assert make_bucketing(T0, T0 + 60 * S, 10 * S, tz="UTC").count == 6


def test_raw_arrays_shape_into_twa_and_held_coverage() -> None:
    b = make_bucketing(T0, T0 + 30 * S, 10 * S)
    raw = {
        "count": [2, 0, 1],
        "avg": [1.5, None, 4.0],
        "min": [1.0, None, 4.0],
        "max": [2.0, None, 4.0],
        "first": [1.0, None, 4.0],
        "last": [2.0, None, 4.0],
    }
    held = Integrals.of([Integral(15.0, 10.0), Integral(10.0, 5.0), Integral(20.0, 5.0)])
    out = shape_grid(raw, b, ("avg", "twa", "count"), held, "null")
    # twa = held area / held seconds, also in the bucket without a reading of its own; coverage = held s / 10 s.
    assert out == {"avg": [1.5, None, 4.0], "twa": [1.5, 2.0, 4.0], "count": [2, 0, 1], "coverage": [1.0, 0.5, 0.5]}
    method = aggregate_method(b, ("twa",), "good", "null", "MW", 60.0)
    assert method["source"].startswith("readings") and "sample-and-hold" in method["coverage"]
