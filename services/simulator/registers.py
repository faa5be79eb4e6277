"""The simulator's Modbus holding-register map: every signal as FLOAT32, once per word order.

Block `o` (0 ABCD, 1 CDAB, 2 BADC, 3 DCBA) starts at `o * BLOCK_SIZE`; signal `i` of `SIGNALS` sits at
`block + 2 * i` (protocol addresses, i.e. 40001 is 0). One device thus exercises all four orders.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.simulator.model import SIGNALS

WORD_ORDERS = ("ABCD", "CDAB", "BADC", "DCBA")
BLOCK_SIZE = 100


@dataclass(frozen=True, slots=True)
class RegisterSlot:
    signal: str
    word_order: str
    address: int


def register_map(signals: Sequence[str] = SIGNALS) -> list[RegisterSlot]:
    return [
        RegisterSlot(signal, order, block * BLOCK_SIZE + 2 * i)
        for block, order in enumerate(WORD_ORDERS)
        for i, signal in enumerate(signals)
    ]


def register_count(signals: Sequence[str] = SIGNALS) -> int:
    return (len(WORD_ORDERS) - 1) * BLOCK_SIZE + 2 * len(signals)


def encode_float32(value: float, word_order: str) -> list[int]:
    """Two 16-bit registers for `value`; bytes A B C D are the big-endian IEEE 754 bytes."""
    a, b, c, d = struct.pack(">f", value)
    order = {"ABCD": (a, b, c, d), "CDAB": (c, d, a, b), "BADC": (b, a, d, c), "DCBA": (d, c, b, a)}[word_order]
    return [order[0] << 8 | order[1], order[2] << 8 | order[3]]


def fill_registers(registers: list[int], values: Mapping[str, float], slots: Sequence[RegisterSlot]) -> None:
    """Write every slot's value into the register image (in place: pymodbus hands us its own list)."""
    for slot in slots:
        if slot.signal in values:
            registers[slot.address : slot.address + 2] = encode_float32(values[slot.signal], slot.word_order)


def slots_touched(slots: Sequence[RegisterSlot], address: int, count: int) -> list[RegisterSlot]:
    """The slots a read of `count` registers from `address` overlaps."""
    return [s for s in slots if s.address < address + count and address < s.address + 2]
