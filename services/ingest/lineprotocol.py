"""InfluxDB line protocol: `measurement[,tag=v...] field=v[,field=v...] [timestamp]`, the full syntax.

Numeric, integer (`i`), unsigned (`u`) and boolean fields each become a reading; string fields are skipped and
counted (Telegraf's OPC UA input sends `Quality="OK (0x0)"` next to the value). The signal a field is stored under
comes from a `SignalMap` (shared/signalmap.py): `<measurement>.<field>` unless the plant file configures templates
such as `{tag:id}`. An integer field named `quality` is the OPC UA StatusCode of the line's other fields.

Timestamps are integers at the request's precision, scaled to nanoseconds here; a line whose time falls outside
0001-01-01..9999-12-31 is an error of its own (the request's other lines are kept).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import repeat
from operator import eq
from typing import NamedTuple

from shared.signalmap import DEFAULT_MAP, SignalMap

# Nanoseconds per unit, for the `precision` query parameter of /write (v1) and /api/v2/write.
PRECISION_NS = {
    "ns": 1,
    "n": 1,
    "us": 1_000,
    "u": 1_000,
    "µ": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_TRUE = frozenset(("t", "T", "true", "True", "TRUE"))
_FALSE = frozenset(("f", "F", "false", "False", "FALSE"))
QUALITY_FIELD = "quality"
# The timestamps a reading can carry (Python's datetime range, 0001-01-01 .. 9999-12-31T23:59:59.999999), in ns.
MIN_TIMESTAMP_NS = -62_135_596_800 * 10**9
MAX_TIMESTAMP_NS = 253_402_300_800 * 10**9 - 1
MAX_TIMESTAMP_DIGITS = 24  # beyond any in-range value at any precision; refuses 10^5-digit numbers before int()
INT64_MIN, INT64_MAX, UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1
# A gateway line is well under a kilobyte; a longer one is refused before it is scanned character by character.
MAX_LINE_CHARS = 64 * 1024


class LineError(ValueError):
    """A line that does not parse; the message says where."""


class Point(NamedTuple):
    """One parsed line: its fields as (signal key, value), the line's quality (if given) and time (ns)."""

    line: int
    fields: tuple[tuple[str, float], ...]
    quality: int | None
    timestamp_ns: int | None
    strings: int = 0  # string fields skipped


@dataclass(frozen=True, slots=True)
class ParseResult:
    points: list[Point]
    errors: list[tuple[int, str]]  # (line number, message)

    @property
    def ignored_strings(self) -> int:
        """String fields skipped in the whole body (signals are numeric)."""
        return sum(p.strings for p in self.points)


class Keys:
    """Signal keys by (series text, field), cached per request: the mapping runs once per series and field."""

    __slots__ = ("cache", "map", "measurements", "plain")

    def __init__(self, signal_map: SignalMap = DEFAULT_MAP) -> None:
        self.map = signal_map
        self.plain = signal_map.is_default
        self.cache: dict[tuple[str, str], str] = {}
        # Series texts the fast path has checked (measurement and key=value tags), with their measurement: a
        # gateway repeats each series once per scan, so its tags are checked once per request.
        self.measurements: dict[str, str] = {}

    def of(self, series: str, measurement: str, field: str, tags: dict[str, str] | None = None) -> str:
        cached = self.cache.get((series, field))
        if cached is not None:
            return cached
        if self.plain:
            key = f"{measurement}.{field}"
        else:
            key = self.map.signal_key(measurement, _plain_tags(series) if tags is None else tags, field)
        self.cache[(series, field)] = key
        return key


def _plain_tags(series: str) -> dict[str, str]:
    """Tags of a series without escapes (the fast path's lines)."""
    return dict(tag.partition("=")[::2] for tag in series.split(",")[1:])


def count_lines(body: bytes) -> int:
    """An upper bound of the lines in a body, in one pass of C (memchr): the limit is checked before parsing."""
    return body.count(b"\n") + 1


def parse(
    text: str, precision: str = "ns", signal_map: SignalMap = DEFAULT_MAP, max_line_chars: int = MAX_LINE_CHARS
) -> ParseResult:
    """Parse a whole body; bad lines are reported, good ones kept (partial writes)."""
    scale = PRECISION_NS.get(precision)
    if scale is None:
        raise LineError(f"unknown precision {precision!r}; use one of ns, us, ms, s, m, h")
    points: list[Point] = []
    errors: list[tuple[int, str]] = []
    keys = Keys(signal_map)
    for number, raw in enumerate(text.split("\n"), start=1):
        if len(raw) > max_line_chars:
            errors.append((number, f"line of {len(raw)} characters; at most {max_line_chars} are accepted"))
            continue
        line = raw.strip(" \t\r")
        if not line or line[0] == "#":
            continue
        point = _parse_common(line, number, scale, keys)
        if point is not None:
            points.append(point)
            continue
        try:
            points.append(parse_line(line, number, scale, keys))
        except LineError as exc:
            errors.append((number, str(exc)))
    return ParseResult(points, errors)


def _parse_common(line: str, number: int, scale: int, keys: Keys) -> Point | None:
    """The common shape, `m[,tags] f=1.5[,g=2i,quality=0i] 1700000000`, in one pass; None sends the line to
    `parse_line`.

    Float, integer and unsigned fields, tags and a timestamp, no escapes or quotes: whatever this accepts,
    `parse_line` would parse to the same point (a test holds the two to that), about twice as fast.
    """
    if "\\" in line or '"' in line:
        return None
    parts = line.split(" ")
    if len(parts) != 3:
        return None
    series, fields_text, ts_text = parts
    measurement = keys.measurements.get(series)
    if measurement is None:
        measurement = _plain_measurement(series)
        if measurement is None:
            return None
        keys.measurements[series] = measurement
    fields: list[tuple[str, float]] = []
    quality = None
    for item in fields_text.split(","):
        field, _, text = item.partition("=")
        if not field or not text or "_" in text:
            return None
        last = text[-1]
        if last.isdigit() or last == ".":
            try:
                value = float(text)
            except ValueError:
                return None
        elif (last == "i" or last == "u") and len(text) > 1:
            try:
                integer = int(text[:-1])
            except ValueError:
                return None
            if not (INT64_MIN <= integer <= INT64_MAX if last == "i" else 0 <= integer <= UINT64_MAX):
                return None
            if field == QUALITY_FIELD:
                quality = integer
                continue
            value = float(integer)
        else:
            return None
        fields.append((keys.of(series, measurement, field), value))
    if not fields or "_" in ts_text or len(ts_text) > MAX_TIMESTAMP_DIGITS:
        return None
    try:
        timestamp = int(ts_text) * scale
    except ValueError:
        return None
    if not MIN_TIMESTAMP_NS <= timestamp <= MAX_TIMESTAMP_NS:
        return None
    return Point(number, tuple(fields), quality, timestamp)


@dataclass(frozen=True, slots=True)
class Uniform:
    """A body whose lines all have one shape (see `parse_uniform`), as columns: line i is line number i + 1."""

    keys: list[list[str]]  # per value field (in the lines' field order): the signal key of each line
    values: list[list[float]]  # per value field: the value of each line
    qualities: list[int] | None  # the `quality` field of each line, when the lines carry one
    timestamps_ns: list[int]  # of each line


# Column texts the uniform path converts with float() / int() as `_parse_common` does (anything else: per line).
_FLOAT_COLUMN = re.compile(r"[0-9eE+.\-]*[0-9.](?:,[0-9eE+.\-]*[0-9.])*")
_TIMESTAMPS = re.compile(r"-?[0-9]{1,19}(?: -?[0-9]{1,19})*")
_INTEGER_COLUMN = {
    "i": re.compile(r"[+-]?[0-9]+i(?:,[+-]?[0-9]+i)*"),
    "u": re.compile(r"[+-]?[0-9]+u(?:,[+-]?[0-9]+u)*"),
}


def parse_uniform(text: str, precision: str, signal_map: SignalMap = DEFAULT_MAP) -> Uniform | None:
    """A whole body in C-level passes (str.split, map, regular expressions) when every line has `_parse_common`'s
    shape with the same fields in the same order, whole-microsecond timestamps, no blank or comment line; None
    sends the body to `parse`, line by line. What this returns is what `parse` returns for the same body (a test
    holds the two to that), at a fraction of the CPU: a gateway's body is thousands of lines of one shape."""
    scale = PRECISION_NS.get(precision)
    if scale is None or "\\" in text or '"' in text or "\r" in text or "\t" in text:
        return None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # a final newline
    if not lines or "" in lines or text[0] == "#" or "\n#" in text or max(map(len, lines)) > MAX_LINE_CHARS:
        return None
    if set(map(str.count, lines, repeat(" "))) != {2}:
        return None
    tokens = " ".join(lines).split(" ")  # three a line: series, fields, timestamp
    series, fields_texts, ts_texts = tokens[0::3], tokens[1::3], tokens[2::3]
    keys = Keys(signal_map)
    for one in set(series):
        measurement = _plain_measurement(one)
        if measurement is None:
            return None
        keys.measurements[one] = measurement
    commas = set(map(str.count, fields_texts, repeat(",")))
    if len(commas) != 1:
        return None
    width = commas.pop() + 1
    items = ",".join(fields_texts).split(",")
    if set(map(str.count, items, repeat("="))) != {1}:
        return None  # an item that is not exactly `name=text`
    pairs = "=".join(items).split("=")
    names, texts = pairs[0::2], pairs[1::2]
    if "" in names:
        return None
    # Per field position: the names (a position may name different fields on different lines: a gateway's
    # measurements differ in their fields) and the texts; `quality` keeps a position of its own.
    columns = [(names[at::width], texts[at::width]) for at in range(width)]
    for at, (column_names, _) in enumerate(columns):
        if QUALITY_FIELD in column_names and set(column_names) != {QUALITY_FIELD}:
            return None
        if any(any(map(eq, column_names, other)) for other, _ in columns[at + 1 :]):
            return None  # a field named twice in a line
    out_keys: list[list[str]] = []
    out_values: list[list[float]] = []
    qualities: list[int] | None = None
    for column_names, column in columns:
        joined = ",".join(column)
        if _FLOAT_COLUMN.fullmatch(joined):
            try:
                values = list(map(float, column))
            except ValueError:
                return None
        elif (pattern := _INTEGER_COLUMN.get(joined[-1:])) is not None and pattern.fullmatch(joined):
            integers = list(map(int, joined.replace(joined[-1], "").split(",")))
            low, high = (INT64_MIN, INT64_MAX) if joined[-1] == "i" else (0, UINT64_MAX)
            if min(integers) < low or max(integers) > high:
                return None
            if column_names[0] == QUALITY_FIELD:
                qualities = integers
                continue
            values = list(map(float, integers))
        else:
            return None
        field_names = set(column_names)
        if len(field_names) == 1:
            name = field_names.pop()
            key_of = {one: keys.of(one, keys.measurements[one], name) for one in keys.measurements}
            out_keys.append(list(map(key_of.__getitem__, series)))
        else:
            pairs_of = {
                pair: keys.of(pair[0], keys.measurements[pair[0]], pair[1])
                for pair in set(zip(series, column_names, strict=True))
            }
            out_keys.append(list(map(pairs_of.__getitem__, zip(series, column_names, strict=True))))
        out_values.append(values)
    if not out_values:
        return None
    distinct = set(ts_texts)
    # Plain decimal integers, as clients write them, are converted in C (joined by " ", which no token holds).
    if _TIMESTAMPS.fullmatch(" ".join(distinct)):
        ns = [number * scale for number in map(int, distinct)]
        if min(ns) < MIN_TIMESTAMP_NS or max(ns) > MAX_TIMESTAMP_NS or (scale % 1000 and any(n % 1000 for n in ns)):
            return None  # out of range (an error of its line) or cut to the microsecond: line by line
        return Uniform(
            out_keys, out_values, qualities, list(map(dict(zip(distinct, ns, strict=True)).__getitem__, ts_texts))
        )
    ns_of: dict[str, int] = {}
    for ts_text in distinct:
        if "_" in ts_text or len(ts_text) > MAX_TIMESTAMP_DIGITS:
            return None
        try:
            timestamp = int(ts_text) * scale
        except ValueError:
            return None
        if not MIN_TIMESTAMP_NS <= timestamp <= MAX_TIMESTAMP_NS or timestamp % 1000:
            return None  # out of range (an error of its line) or cut to the microsecond: line by line
        ns_of[ts_text] = timestamp
    return Uniform(out_keys, out_values, qualities, list(map(ns_of.__getitem__, ts_texts)))


def _plain_measurement(series: str) -> str | None:
    """The measurement of `m[,k=v...]` without escapes or quotes; None when a tag is not key=value."""
    if "," not in series:
        return series or None
    measurement, *tags = series.split(",")
    for tag in tags:
        key, sep, tag_value = tag.partition("=")
        if not sep or not key or not tag_value:
            return None
    return measurement or None


def parse_line(line: str, number: int = 1, scale: int = 1, keys: Keys | None = None) -> Point:
    """One line (not the fast path): escapes, quoted strings, booleans, any spacing."""
    if "\\" in line or '"' in line:
        measurement, tags, fields_text, ts_text = _split_escaped(line)
    else:
        measurement, tags, fields_text, ts_text = _split_plain(line)
    if not measurement:
        raise LineError("empty measurement")
    series = "\0" + ",".join((measurement, *(f"{k}={v}" for k, v in tags)))  # apart from raw series texts
    fields, quality, strings = _fields(measurement, dict(tags), series, fields_text, keys or Keys())
    return Point(number, fields, quality, _timestamp(ts_text, scale), strings)


def _split_plain(line: str) -> tuple[str, list[tuple[str, str]], list[tuple[str, str]], str | None]:
    parts = line.split(" ")
    if "" in parts:  # runs of spaces between the sections
        parts = [p for p in parts if p]
    if len(parts) not in (2, 3):
        raise LineError("expected 'measurement[,tags] fields [timestamp]'")
    series, fields_text = parts[0], parts[1]
    measurement, *tag_texts = series.split(",")
    tags = []
    for tag in tag_texts:
        key, sep, value = tag.partition("=")
        if not sep or not key or not value:
            raise LineError(f"tag {tag!r} is not key=value")
        tags.append((key, value))
    pairs = []
    for item in fields_text.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise LineError(f"field {item!r} is not key=value")
        pairs.append((key, value))
    return measurement, tags, pairs, parts[2] if len(parts) == 3 else None


def _split_escaped(line: str) -> tuple[str, list[tuple[str, str]], list[tuple[str, str]], str | None]:
    """Character scanner for lines with escapes or quoted strings."""
    i, n = 0, len(line)
    measurement, i = _read_until(line, i, (",", " "))
    tags = []
    while i < n and line[i] == ",":
        key, i = _read_until(line, i + 1, ("=",))
        if i >= n:
            raise LineError(f"tag {key!r} has no value")
        value, i = _read_until(line, i + 1, (",", " "))
        if not key or not value:
            raise LineError("empty tag key or value")
        tags.append((key, value))
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
    return measurement, tags, pairs, rest or None


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


def _fields(
    measurement: str, tags: dict[str, str], series: str, pairs: list[tuple[str, str]], keys: Keys
) -> tuple[tuple[tuple[str, float], ...], int | None, int]:
    fields: list[tuple[str, float]] = []
    quality: int | None = None
    strings = 0
    for key, text in pairs:
        if text[0] == '"':  # only `_read_quoted` yields a leading quote
            strings += 1
            continue
        value = _field_value(key, text)
        if key == QUALITY_FIELD and isinstance(value, int):
            quality = value
        else:
            fields.append((keys.of(series, measurement, key, tags), float(value)))
    if not fields and not strings:
        raise LineError("no value fields (only 'quality')")
    return tuple(fields), quality, strings


def _field_value(key: str, text: str) -> float | int:
    if "_" in text:  # Python's int() and float() accept digit separators; the protocol does not
        raise LineError(f"field {key!r}: invalid number {text!r}")
    last = text[-1]
    if last in "iu" and len(text) > 1:
        try:
            number = int(text[:-1])
        except ValueError:
            raise LineError(f"field {key!r}: invalid integer {text!r}") from None
        if last == "u" and not 0 <= number <= UINT64_MAX:
            raise LineError(f"field {key!r}: {text[:40]!r} is not an unsigned 64-bit integer")
        if last == "i" and not INT64_MIN <= number <= INT64_MAX:
            raise LineError(f"field {key!r}: {text[:40]!r} is not a signed 64-bit integer")
        return number
    if text in _TRUE:
        return 1.0
    if text in _FALSE:
        return 0.0
    try:
        return float(text)
    except ValueError:
        raise LineError(f"field {key!r}: invalid number {text[:40]!r}") from None


def _timestamp(text: str | None, scale: int) -> int | None:
    if text is None:
        return None
    if "_" in text or len(text) > MAX_TIMESTAMP_DIGITS:
        raise LineError(f"invalid timestamp {text[:40]!r}")
    try:
        timestamp = int(text) * scale
    except ValueError:
        raise LineError(f"invalid timestamp {text!r}") from None
    if not MIN_TIMESTAMP_NS <= timestamp <= MAX_TIMESTAMP_NS:
        raise LineError(f"timestamp {text} is outside 0001-01-01..9999-12-31 at this precision")
    return timestamp
