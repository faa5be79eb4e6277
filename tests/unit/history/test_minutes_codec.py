"""The packed-minutes codec: lossless bit for bit (NULLs included), a few bytes per minute on plant-like rows, and
loud on damaged payloads."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from shared.history.codec import CodecError
from shared.history.minutes_codec import COLUMNS, FLOAT, Minutes, decode_minutes, encode_minutes

MINUTE = 60_000_000
T0 = 1_800_000_000_000_000 - 1_800_000_000_000_000 % MINUTE


def assert_same(a: Minutes, b: Minutes) -> None:
    for c in COLUMNS:
        x, y = a.values[c.name], b.values[c.name]
        assert x.dtype == y.dtype, c.name
        assert np.array_equal(x.view(np.int64), y.view(np.int64)), c.name  # bit for bit: -0.0, NaN payloads
        if c.nullable:
            assert np.array_equal(a.nulls[c.name], b.nulls[c.name]), c.name


@st.composite
def days(draw: st.DrawFn) -> Minutes:
    n = draw(st.integers(0, 200))
    gaps = draw(
        st.one_of(
            st.just(np.ones(n, np.int64)),
            hnp.arrays(np.int64, n, elements=st.integers(1, 1440)),
        )
    )
    bucket = T0 + np.cumsum(gaps) * MINUTE
    anything = st.floats(allow_infinity=True, allow_nan=True)
    decimals = st.decimals(-(10**6), 10**6, places=3).map(float)
    values: dict[str, np.ndarray] = {}
    nulls: dict[str, np.ndarray] = {}
    for c in COLUMNS:
        if c.name == "bucket":
            values[c.name] = bucket
        elif c.kind == FLOAT:
            like_base = c.base is not None and draw(st.booleans())
            x = draw(hnp.arrays(np.float64, n, elements=st.one_of(decimals, anything)))
            if like_base:  # mostly equal to the base (every reading Good), a few cells not
                x = np.where(draw(hnp.arrays(np.bool_, n)), x, values[c.base])  # type: ignore[index]
            values[c.name] = x
        else:
            offsets = draw(hnp.arrays(np.int64, n, elements=st.integers(-(2**40), 2**40)))
            values[c.name] = offsets + (values[c.base] if c.base is not None and draw(st.booleans()) else 0)
        if c.nullable:
            null = draw(st.one_of(st.just(np.zeros(n, np.bool_)), hnp.arrays(np.bool_, n)))
            nulls[c.name] = null
            values[c.name] = np.where(null, 0, values[c.name]).astype(values[c.name].dtype)
    return Minutes(values, nulls)


@settings(max_examples=300, deadline=None)
@given(days())
def test_decoding_returns_every_minute_bit_for_bit(minutes: Minutes) -> None:
    assert_same(decode_minutes(encode_minutes(minutes)), minutes)


def plant_day(n: int = 1440, per_minute: int = 60) -> Minutes:
    """A signal's day at 1 Hz: 3-decimal random walk readings, every one Good."""
    rng = np.random.default_rng(10)
    readings = np.round(400 + np.cumsum(rng.normal(0, 0.05, n * per_minute)), 3).reshape(n, per_minute)
    bucket = T0 + np.arange(n, dtype=np.int64) * MINUTE
    step = 60.0 / per_minute
    v = {
        "bucket": bucket,
        "count": np.full(n, per_minute, np.int64),
        "sum": readings.sum(axis=1),
        "min": readings.min(axis=1),
        "max": readings.max(axis=1),
        "first_ts": bucket.copy(),
        "first_value": readings[:, 0].copy(),
        "last_ts": bucket + int((per_minute - 1) * step * 1e6),
        "last_value": readings[:, -1].copy(),
        "area": (readings[:, :-1] * step).sum(axis=1),
        "good_held_s": np.full(n, (per_minute - 1) * step),
        "max_step_s": np.full(n, step),
        "last_step_s": np.full(n, step),
    }
    for name in ("count", "sum", "min", "max", "first_ts", "first_value", "last_ts", "last_value", "area"):
        v["good_" + name] = v[name].copy()
    return Minutes(v, {c.name: np.zeros(n, np.bool_) for c in COLUMNS if c.nullable})


def test_a_plant_day_packs_into_a_few_bytes_per_minute() -> None:
    day = plant_day()
    payload = encode_minutes(day)
    assert_same(decode_minutes(payload), day)
    # Unpacked, a minute row costs ~200 bytes in rollups_1m; the floats that carry sums (sum, area) are the bulk.
    assert len(payload) / 1440 < 40


def test_damaged_payloads_fail_loudly() -> None:
    payload = encode_minutes(plant_day(10))
    with pytest.raises(CodecError):
        decode_minutes(b"\x09" + payload[1:])
    with pytest.raises(CodecError):
        decode_minutes(payload[:-3])
    with pytest.raises(CodecError):
        decode_minutes(b"")


def test_buckets_out_of_order_are_refused() -> None:
    day = plant_day(3)
    day.values["bucket"][:] = day.values["bucket"][::-1].copy()
    with pytest.raises(CodecError):
        encode_minutes(day)
