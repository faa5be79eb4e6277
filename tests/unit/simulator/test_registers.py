"""The simulator's register map and FLOAT32 encoding (checked against struct, not against our decoder)."""

from __future__ import annotations

import struct

import pytest

from services.simulator.model import SIGNALS
from services.simulator.registers import encode_float32, fill_registers, register_count, register_map, slots_touched


def test_fifty_hertz_is_4248_0000_in_abcd() -> None:
    assert encode_float32(50.0, "ABCD") == [0x4248, 0x0000]


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("ABCD", [0x3F9D, 0xF3B6]),
        ("CDAB", [0xF3B6, 0x3F9D]),
        ("BADC", [0x9D3F, 0xB6F3]),
        ("DCBA", [0xB6F3, 0x9D3F]),
    ],
)
def test_each_word_order_places_the_bytes_as_labelled(order: str, expected: list[int]) -> None:
    assert struct.pack(">f", 1.234) == bytes.fromhex("3F9DF3B6")
    assert encode_float32(1.234, order) == expected


def test_every_signal_appears_once_per_word_order_without_overlap() -> None:
    slots = register_map()
    assert len(slots) == 4 * len(SIGNALS)
    addresses = sorted(a for s in slots for a in (s.address, s.address + 1))
    assert len(addresses) == len(set(addresses))
    assert max(addresses) < register_count()


def test_fill_registers_writes_only_the_given_slots() -> None:
    slots = register_map()
    registers = [0] * register_count()
    fill_registers(registers, {"grid.frequency": 50.0}, [s for s in slots if s.word_order == "ABCD"])
    index = SIGNALS.index("grid.frequency")
    assert registers[2 * index : 2 * index + 2] == [0x4248, 0x0000]
    assert sum(1 for r in registers if r) == 1


def test_a_read_touches_the_slots_it_overlaps() -> None:
    slots = register_map()
    assert [s.signal for s in slots_touched(slots, 1, 2)] == [SIGNALS[0], SIGNALS[1]]
    assert slots_touched(slots, 50, 10) == []
