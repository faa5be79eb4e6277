"""Modbus FLOAT32 over two holding registers, in any of the four word/byte orders; then scale and offset."""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

# Position of bytes A B C D (big-endian IEEE 754) in the wire bytes r0hi r0lo r1hi r1lo, per order label.
_WIRE_TO_ABCD = {"ABCD": (0, 1, 2, 3), "CDAB": (2, 3, 0, 1), "BADC": (1, 0, 3, 2), "DCBA": (3, 2, 1, 0)}


def decode_float32(registers: Sequence[int], word_order: str) -> float:
    """Two registers → float. `ABCD` is big-endian; `CDAB` swaps words; `BADC` swaps bytes; `DCBA` both."""
    if len(registers) != 2:
        raise ValueError(f"FLOAT32 needs 2 registers, got {len(registers)}")
    wire = struct.pack(">HH", *registers)
    positions = _WIRE_TO_ABCD[word_order]
    ordered = bytes(wire[positions.index(i)] for i in range(4))
    return float(struct.unpack(">f", ordered)[0])


def engineering_value(raw: float, scale: float, offset: float) -> float | None:
    """raw × scale + offset; None for NaN/∞ (a device's "no value" pattern must not become a reading)."""
    value = raw * scale + offset
    return value if math.isfinite(value) else None
