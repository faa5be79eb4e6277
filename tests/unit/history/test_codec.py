"""The block codec: lossless bit for bit, compact on plant-like data, and loud on damaged payloads."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from shared.history.codec import CodecError, decode_block, encode_block

T0 = 1_800_000_000_000_000  # µs, in 2027


def roundtrip(ts: np.ndarray, values: np.ndarray, qualities: np.ndarray) -> int:
    payload = encode_block(ts, values, qualities)
    block = decode_block(payload)
    assert block.ts_us.dtype == np.int64 and block.values.dtype == np.float64 and block.qualities.dtype == np.int32
    assert np.array_equal(block.ts_us, ts)
    assert np.array_equal(block.values.view(np.uint64), values.view(np.uint64))  # bit for bit: -0.0, subnormals
    assert np.array_equal(block.qualities, qualities)
    return len(payload)


@st.composite
def blocks(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(0, 300))
    steps = draw(
        st.one_of(
            hnp.arrays(np.int64, n, elements=st.integers(1, 10**12)),  # any irregular sampling
            st.just(np.full(n, 1_000_000, np.int64)),  # a regular 1 Hz sampler
            hnp.arrays(np.int64, n, elements=st.sampled_from([999_000, 1_000_000, 1_001_000])),  # jitter
        )
    )
    start = draw(st.integers(-(10**15), 10**16))
    ts = (start + np.cumsum(steps)).astype(np.int64)
    finite = st.floats(allow_nan=False, allow_infinity=False)
    values = draw(
        st.one_of(
            hnp.arrays(np.float64, n, elements=finite),  # anything finite: large, tiny, subnormal, -0.0
            hnp.arrays(np.float64, n, elements=st.decimals(-(10**6), 10**6, places=3).map(float)),
            hnp.arrays(np.float64, n, elements=st.floats(width=32, allow_nan=False, allow_infinity=False)),
            hnp.arrays(np.float64, n, elements=st.sampled_from([0.0, -0.0, 50.0, 49.999, 1e-300, 1.7e308])),
        )
    )
    qualities = draw(
        st.one_of(
            hnp.arrays(np.int32, n, elements=st.integers(-(2**31), 2**31 - 1)),
            hnp.arrays(np.int32, n, elements=st.sampled_from([0, 0x40900000, -0x7F760000, 192])),
        )
    )
    return ts, values, qualities


@settings(max_examples=400, deadline=None)
@given(blocks())
def test_decoding_returns_every_reading_bit_for_bit(block: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    roundtrip(*block)


@pytest.mark.parametrize(
    "values",
    [
        [-0.0, 0.0, -0.0],
        [5e-324, -5e-324, 2.2250738585072014e-308],
        [1.7976931348623157e308, -1.7976931348623157e308, 1e300],
        [0.1 + 0.2, 1 / 3, 2**53 + 2.0],
        [1e22, 1e-22, 123456789.123456789],
    ],
)
def test_edge_values_survive(values: list[float]) -> None:
    n = len(values)
    roundtrip(T0 + np.arange(n, dtype=np.int64), np.array(values), np.zeros(n, np.int32))


def test_an_hour_of_plant_data_takes_a_few_bytes_per_reading() -> None:
    n = 3600
    rng = np.random.default_rng(7)
    ts = T0 + np.arange(n, dtype=np.int64) * 1_000_000
    good = np.zeros(n, np.int32)
    three_decimals = np.round(480 + np.cumsum(rng.normal(0, 0.2, n)), 3)
    assert roundtrip(ts, three_decimals, good) / n < 2.0
    assert roundtrip(ts, np.full(n, 50.0), good) / n < 0.1  # a held value and a regular clock: almost nothing


def test_unordered_or_mismatched_input_is_refused() -> None:
    with pytest.raises(CodecError, match="ascending"):
        encode_block(np.array([2, 1], np.int64), np.zeros(2), np.zeros(2, np.int32))
    with pytest.raises(CodecError, match="ascending"):
        encode_block(np.array([1, 1], np.int64), np.zeros(2), np.zeros(2, np.int32))
    with pytest.raises(CodecError, match="length"):
        encode_block(np.array([1, 2], np.int64), np.zeros(3), np.zeros(2, np.int32))


def test_a_damaged_payload_fails_loudly() -> None:
    payload = encode_block(T0 + np.arange(100, dtype=np.int64), np.arange(100.0), np.zeros(100, np.int32))
    with pytest.raises(CodecError, match="version"):
        decode_block(b"\x07" + payload[1:])
    with pytest.raises(CodecError):
        decode_block(payload[:-3])
    flipped = bytearray(payload)
    flipped[len(payload) // 2] ^= 0x55
    with pytest.raises(CodecError):
        decode_block(bytes(flipped))
