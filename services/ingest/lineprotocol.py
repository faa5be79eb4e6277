"""InfluxDB line protocol: `measurement[,tag=v...] field=v[,field=v...] [timestamp]`, the full syntax.

Each field becomes a reading of signal `<measurement>.<field>`. An integer field named `quality` is the
OPC UA StatusCode of the line's other fields. Tags are accepted and ignored (a signal key names the series).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

# Nanoseconds per unit, for the `precision` query parameter of /write (v1) and /api/v2/write.
PRECISION_NS = {
    "ns": 1, "n": 1, "us": 1_000, "u": 1_000, "µ": 1_000, "ms": 1_000_000,
    "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000,
}
_TRUE = frozenset(("t", "T", "true", "True", "TRUE"))
_FALSE = frozenset(("f", "F", "false", "False", "FALSE"))
QUALITY_FIELD = "quality"


class LineError(ValueError):
    """A line that does not parse; the message says where."""


class Point(NamedTuple):
    """One parsed line: its fields as (signal key, value), the line's quality (if given) and time (ns)."""

    line: int
    fields: tuple[tuple[str, float], ...]
    quality: int | None
    timestamp_ns: int | None


@dataclass(frozen=True, slots=True)
class ParseResult:
    points: list[Point]
    errors: list[tuple[int, str]]  # (line number, message)


def parse(text: str, precision: str = "ns") -> ParseResult:
    """Parse a whole body; bad lines are reported, good ones kept (partial writes)."""
    scale = PRECISION_NS.get(precision)
    if scale is None:
        raise LineError(f"unknown precision {precision!r}; use one of ns, us, ms, s, m, h")
    points: list[Point] = []
    errors: list[tuple[int, str]] = []
    keys: dict[tuple[str, str], str] = {}
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip(" \t\r")
        if not line or line[0] == "#":
            continue
        point = _parse_common(line, number, scale, keys)
        if point is not None:
            points.append(point)
            continue
        try:
            points.append(parse_line(line, number, scale))
        except LineError as exc:
            errors.append((number, str(exc)))
    return ParseResult(points, errors)


def _parse_common(line: str, number: int, scale: int, keys: dict[tuple[str, str], str]) -> Point | None:
    """The common shape, `m[,tags] f=1.5[,g=2] 1700000000`, in one pass; None sends the line to `parse_line`.

    Only float fields and a timestamp, no escapes, quotes or quality: whatever this accepts, `parse_line` would
    parse to the same point (a test holds the two to that), about twice as fast.
    """
    if "\\" in line or '"' in line:
        return None
    parts = line.split(" ")
    if len(parts) != 3:
        return None
    series, fields_text, ts_text = parts
    measurement = series
    if "," in series:
        measurement = series.partition(",")[0]
        try:
            _check_tags(series)
        except LineError:
            return None
    if not measurement:
        return None
    fields = []
    for item in fields_text.split(","):
        field, _, text = item.partition("=")
        if not field or not text or field == QUALITY_FIELD or not (text[-1].isdigit() or text[-1] == ".") \
                or "_" in text:
            return None
        try:
            value = float(text)
        except ValueError:
            return None
        key = keys.get((measurement, field))
        if key is None:
            key = keys[(measurement, field)] = f"{measurement}.{field}"
        fields.append((key, value))
    if "_" in ts_text:
        return None
    try:
        timestamp = int(ts_text) * scale
    except ValueError:
        return None
    return Point(number, tuple(fields), None, timestamp)


def parse_line(line: str, number: int = 1, scale: int = 1) -> Point:
    if "\\" in line or '"' in line:
        measurement, fields_text, ts_text = _split_escaped(line)
    else:
        measurement, fields_text, ts_text = _split_plain(line)
    fields, quality = _fields(measurement, fields_text)
    return Point(number, fields, quality, _timestamp(ts_text, scale))


def _split_plain(line: str) -> tuple[str, list[tuple[str, str]], str | None]:
    parts = line.split(" ")
    if "" in parts:  # runs of spaces between the sections
        parts = [p for p in parts if p]
    if len(parts) not in (2, 3):
        raise LineError("expected 'measurement[,tags] fields [timestamp]'")
    series, fields_text = parts[0], parts[1]
    measurement = series
    if "," in series:
        measurement = series.split(",", 1)[0]
        _check_tags(series)
    pairs = []
    for item in fields_text.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise LineError(f"field {item!r} is not key=value")
        pairs.append((key, value))
    return measurement, pairs, parts[2] if len(parts) == 3 else None


def _check_tags(series: str) -> None:
    for tag in series.split(",")[1:]:
        key, sep, value = tag.partition("=")
        if not sep or not key or not value:
            raise LineError(f"tag {tag!r} is not key=value")


def _split_escaped(line: str) -> tuple[str, list[tuple[str, str]], str | None]:
    """Character scanner for lines with escapes or quoted strings."""
    i, n = 0, len(line)
    measurement, i = _read_until(line, i, (",", " "))
    while i < n and line[i] == ",":  # tags
        key, i = _read_until(line, i + 1, ("=",))
        if i >= n:
            raise LineError(f"tag {key!r} has no value")
        value, i = _read_until(line, i + 1, (",", " "))
        if not key or not value:
            raise LineError("empty tag key or value")
    if i >= n or line[i] != " ":
        raise LineError("missing fields")
    while i < n and line[i] == " ":
        i += 1
    pairs: list[tuple[str, str]] = []
    while True:
        key, i = _read_until(line, i, ("=",))
        if i >= n or not key:
            raise LineError(f"field {key!r} is not key=value")
        i += 1
        if i < n and line[i] == '"':
            value, i = _read_quoted(line, i)
        else:
            value, i = _read_until(line, i, (",", " "))
        if not value:
            raise LineError(f"field {key!r} has no value")
        pairs.append((key, value))
        if i < n and line[i] == ",":
            i += 1
            continue
        break
    rest = line[i:].strip(" ")
    return measurement, pairs, rest or None


def _read_until(line: str, i: int, stops: tuple[str, ...]) -> tuple[str, int]:
    out: list[str] = []
    n = len(line)
    while i < n:
        ch = line[i]
        if ch == "\\" and i + 1 < n:
            out.append(line[i + 1])
            i += 2
            continue
        if ch in stops:
            break
        out.append(ch)
        i += 1
    return "".join(out), i


def _read_quoted(line: str, i: int) -> tuple[str, int]:
    out = ['"']
    i += 1
    n = len(line)
    while i < n:
        ch = line[i]
        if ch == "\\" and i + 1 < n and line[i + 1] in ('"', "\\"):
            out.append(line[i + 1])
            i += 2
            continue
        if ch == '"':
            out.append('"')
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise LineError("unterminated string field value")


def _fields(measurement: str, pairs: list[tuple[str, str]]) -> tuple[tuple[tuple[str, float], ...], int | None]:
    if not measurement:
        raise LineError("empty measurement")
    fields: list[tuple[str, float]] = []
    quality: int | None = None
    for key, text in pairs:
        value = _field_value(key, text)
        if key == QUALITY_FIELD and isinstance(value, int):
            quality = value
        else:
            fields.append((f"{measurement}.{key}", float(value)))
    if not fields:
        raise LineError("no value fields (only 'quality')")
    return tuple(fields), quality


def _field_value(key: str, text: str) -> float | int:
    if "_" in text:  # Python's int() and float() accept digit separators; the protocol does not
        raise LineError(f"field {key!r}: invalid number {text!r}")
    last = text[-1]
    if last in "iu" and len(text) > 1 and text[0] != '"':
        try:
            number = int(text[:-1])
        except ValueError:
            raise LineError(f"field {key!r}: invalid integer {text!r}") from None
        if last == "u" and number < 0:
            raise LineError(f"field {key!r}: unsigned integer {text!r} is negative")
        return number
    if text[0] == '"':
        raise LineError(f"field {key!r}: string values are not supported; signals are numeric")
    if text in _TRUE:
        return 1.0
    if text in _FALSE:
        return 0.0
    try:
        return float(text)
    except ValueError:
        raise LineError(f"field {key!r}: invalid number {text!r}") from None


def _timestamp(text: str | None, scale: int) -> int | None:
    if text is None:
        return None
    if "_" in text:
        raise LineError(f"invalid timestamp {text!r}")
    try:
        return int(text) * scale
    except ValueError:
        raise LineError(f"invalid timestamp {text!r}") from None
