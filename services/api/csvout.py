"""CSV rendering of the tabular part of a response (buckets, periods, readings...)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec


def cell(value: Any) -> str:
    """RFC 3339 UTC for times, repr-exact floats, empty for null."""
    if value is None or value is msgspec.UNSET:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def to_csv(rows: Iterable[Mapping[str, Any] | msgspec.Struct], columns: Sequence[str]) -> bytes:
    """Rows are mappings or Structs (response models); a column a row lacks is empty."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        if isinstance(row, Mapping):
            writer.writerow([cell(row.get(c)) for c in columns])
        else:
            writer.writerow([cell(getattr(row, c, None)) for c in columns])
    return buf.getvalue().encode()
