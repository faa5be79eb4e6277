"""PostgreSQL's binary array format (`array_send`) read straight into numpy: a hot read path gets a whole column in
one bytea value instead of one Python object per element."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

PG_EPOCH_US = 946_684_800_000_000  # binary timestamptz counts µs from 2000-01-01 UTC; this is that instant's Unix µs


def unpack_array(image: bytes | None, element: str) -> npt.NDArray[Any]:
    """A one-dimensional array without NULLs → numpy in native byte order. `element` is the big-endian numpy type
    code of the elements (">i8", ">f8", ">i4"…), or "ts" for timestamptz (→ µs since the Unix epoch). The image is a
    12-byte header (dimensions, has-nulls flag, element type), per dimension its length and lower bound, then per
    element its byte length and bytes; `None` (array_agg over no rows) and an empty array give an empty result."""
    code = ">i8" if element == "ts" else element
    native = np.dtype(code).newbyteorder("=")
    if image is None or int.from_bytes(image[:4], "big") == 0:
        return np.zeros(0, native)
    if int.from_bytes(image[:4], "big") != 1 or int.from_bytes(image[4:8], "big") != 0:
        raise ValueError("expected a one-dimensional array without NULLs")
    count = int.from_bytes(image[12:16], "big")
    cells = np.frombuffer(image, np.dtype([("n", ">i4"), ("v", code)]), count, offset=20)
    values = cells["v"].astype(native)  # a native-order copy, so the epoch shift below can be in place
    if element == "ts":
        values += PG_EPOCH_US
    return values
