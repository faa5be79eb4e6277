"""FLOAT32 decoding in all four word orders; registers built by hand with struct, independently of the decoder."""

from __future__ import annotations

import math
import struct

import pytest

from services.gateway.codec import decode_float32, engineering_value


def wire(order: str, value: float) -> list[int]:
    a, b, c, d = struct.pack(">f", value)
    byte_order = {"ABCD": (a, b, c, d), "CDAB": (c, d, a, b), "BADC": (b, a, d, c), "DCBA": (d, c, b, a)}[order]
    return list(struct.unpack(">HH", bytes(byte_order)))


def test_fifty_hertz_from_the_domain_notes() -> None:
    assert decode_float32([0x4248, 0x0000], "ABCD") == 50.0
    assert decode_float32([0x0000, 0x4248], "CDAB") == 50.0
    assert decode_float32([0x4842, 0x0000], "BADC") == 50.0
    assert decode_float32([0x0000, 0x4842], "DCBA") == 50.0


@pytest.mark.parametrize("order", ["ABCD", "CDAB", "BADC", "DCBA"])
@pytest.mark.parametrize("value", [0.0, -1.5, 49.987, 43_344.25, 1e-7, -480.7])
def test_every_word_order_round_trips(order: str, value: float) -> None:
    expected = struct.unpack(">f", struct.pack(">f", value))[0]
    assert decode_float32(wire(order, value), order) == expected


def test_a_wrong_word_order_gives_a_different_number() -> None:
    assert decode_float32(wire("CDAB", 50.0), "ABCD") != 50.0


def test_two_registers_are_required() -> None:
    with pytest.raises(ValueError):
        decode_float32([0x4248], "ABCD")


@pytest.mark.parametrize(
    ("raw", "scale", "offset", "expected"),
    [
        (50.0, 1.0, 0.0, 50.0),
        (4.0, 1000.0, 0.0, 4000.0),
        (12.5, 2.0, -1.0, 24.0),
    ],
)
def test_scale_and_offset(raw: float, scale: float, offset: float, expected: float) -> None:
    assert engineering_value(raw, scale, offset) == expected


def test_nan_and_infinity_are_not_values() -> None:
    assert engineering_value(math.nan, 1.0, 0.0) is None
    assert engineering_value(math.inf, 1.0, 0.0) is None
