"""Historian CSV layouts, as pure functions: rows of `signal,ts,value[,quality]` or the PI-style export
`tag, timestamp, value, status` → readings for the ingest JSON batch, or a reason the row is refused."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

BASELOAD_COLUMNS = ("signal", "ts", "value")
PI_COLUMNS = ("tag", "timestamp", "value")
# PI/historian status words → the quality ingest accepts ("good", "uncertain", "bad" or a StatusCode).
STATUS_WORDS = {
    "good": "good",
    "ok": "good",
    "uncertain": "uncertain",
    "questionable": "uncertain",
    "substituted": "uncertain",
    "bad": "bad",
}


class LayoutError(ValueError):
    """The header is neither layout; the message shows what was expected."""


@dataclass(frozen=True, slots=True)
class Layout:
    """Column positions of signal, timestamp, value and (optional) quality/status."""

    name: str
    signal: int
    ts: int
    value: int
    quality: int | None


def detect_layout(header: Sequence[str]) -> Layout:
    names = [h.strip().lower() for h in header]
    for name, columns, quality in (("baseload", BASELOAD_COLUMNS, "quality"), ("pi", PI_COLUMNS, "status")):
        if all(c in names for c in columns):
            signal, ts, value = (names.index(c) for c in columns)
            return Layout(name, signal, ts, value, names.index(quality) if quality in names else None)
    raise LayoutError(
        f"header {', '.join(header)!r}: expected signal,ts,value[,quality] or tag,timestamp,value[,status]"
    )


Reading = dict[str, object]


def to_reading(row: Sequence[str], layout: Layout) -> Reading | str:
    """The reading of one CSV row, or why it cannot be one (the ingest service judges the rest)."""
    width = max(layout.signal, layout.ts, layout.value, layout.quality or 0) + 1
    if len(row) < width:
        return f"expected at least {width} columns, got {len(row)}"
    text = row[layout.value].strip()
    try:
        value = float(text)
    except ValueError:
        return f"value {text[:40]!r} is not a number (a digital state?)"
    if not math.isfinite(value):
        return f"value {text!r} is not a finite number"
    reading: Reading = {"signal": row[layout.signal].strip(), "ts": row[layout.ts].strip(), "value": value}
    if layout.quality is not None and (status := row[layout.quality].strip()):
        quality = _quality(status)
        if quality is None:
            return f"status {status[:40]!r} is not good/uncertain/bad or an OPC UA StatusCode"
        reading["quality"] = quality
    return reading


def _quality(status: str) -> int | str | None:
    word = STATUS_WORDS.get(status.lower())
    if word is not None:
        return word
    try:
        return int(status, 0)
    except ValueError:
        return None
