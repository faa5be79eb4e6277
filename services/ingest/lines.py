"""Line protocol bodies → readings, and the InfluxDB-style reply naming each rejected line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain, repeat

import msgspec

from services.ingest import lineprotocol, store
from services.ingest.service import BatchResult, Item
from services.ingest.validation import CONFLICTING_VALUE, Columns, Rejection
from shared.errors import ApiError, error_body
from shared.signalmap import DEFAULT_MAP, SignalMap

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# String fields skipped (signals are numeric) are counted in this header of the reply.
IGNORED_STRINGS_HEADER = "X-Baseload-Ignored-String-Fields"
TIMESTAMP_COLLISION = "timestamp_collision"
_json_encoder = msgspec.json.Encoder()


@dataclass(slots=True)
class DecodedLines:
    """A line-protocol body as readings, with what the reply needs to name lines."""

    items: Sequence[Item]
    line_of: list[int]  # item index → line number
    errors: list[tuple[int, str]]
    strings: int  # string fields skipped
    truncated: set[int]  # items whose ns timestamp lost its sub-microsecond digits

    def reply(self, result: BatchResult) -> store.StoredResponse:
        """204 when every line was stored; else 400 naming each rejected line (the others are stored)."""
        problems = [*self.errors, *((self.line_of[r.index], self._problem(r)) for r in result.rejected)]
        if not problems:
            return store.StoredResponse(b"", 204, "text/plain", b"")
        problems.sort()
        bad_lines = sorted({line for line, _ in problems})
        summary = "; ".join(f"line {line}: {msg}" for line, msg in problems[:20])
        message = f"partial write: {len(bad_lines)} line(s) rejected, the others stored: {summary}"
        details = {
            "lines": [{"line": line, "message": msg} for line, msg in problems],
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "ignored_string_fields": self.strings,
        }
        body = {
            "code": "invalid",
            "message": message,
            "line": bad_lines[0],
            **error_body("partial_write", message, details),
        }
        return store.StoredResponse(b"", 400, "application/json", _json_encoder.encode(body))

    def _problem(self, rejection: Rejection) -> str:
        if rejection.code == CONFLICTING_VALUE and rejection.index in self.truncated:
            return (
                f"{TIMESTAMP_COLLISION}: its nanosecond timestamp, truncated to the microsecond, meets a "
                "different reading already stored for this signal in that microsecond"
            )
        return f"{rejection.code}: {rejection.message}"


def decode_lines(
    body: bytes, precision: str, now: datetime, max_readings: int, signal_map: SignalMap = DEFAULT_MAP
) -> DecodedLines:
    lines = lineprotocol.count_lines(body)
    if lines > max_readings:  # before decoding or parsing anything: a memchr pass over the body
        raise ApiError(
            413,
            "too_many_lines",
            f"{lines} lines in one request; the limit is {max_readings}.",
            {"count": lines, "max_readings_per_request": max_readings},
        )
    try:
        text = body.decode("utf-8")
        uniform = lineprotocol.parse_uniform(text, precision, signal_map)
        if uniform is not None:
            return _uniform_lines(uniform, max_readings)
        parsed = lineprotocol.parse(text, precision, signal_map)
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_encoding", "Line protocol must be UTF-8.") from None
    except lineprotocol.LineError as exc:
        raise ApiError(400, "invalid_precision", str(exc)) from None
    items: list[Item] = []
    line_of: list[int] = []
    truncated: set[int] = set()
    times: dict[int | None, datetime] = {None: now}  # lines of one scan share their timestamp
    for line, fields, quality, timestamp_ns, _ in parsed.points:
        ts = times.get(timestamp_ns)
        if ts is None:  # the ns → µs rule: truncate (floor), and say so when it meets another reading
            assert timestamp_ns is not None  # lines without a timestamp map to `now` above
            ts = times[timestamp_ns] = EPOCH + timedelta(microseconds=timestamp_ns // 1000)
        cut = timestamp_ns is not None and timestamp_ns % 1000 != 0
        for key, value in fields:
            if cut:
                truncated.add(len(items))
            items.append((len(items), key, ts, value, 0 if quality is None else quality))
            line_of.append(line)
    _check_readings_count(len(items), max_readings)
    errors = parsed.errors
    if truncated:
        items, errors = _split_collisions(items, line_of, parsed, errors)
    return DecodedLines(items, line_of, errors, parsed.ignored_strings, truncated)


def _check_readings_count(count: int, max_readings: int) -> None:
    if count > max_readings:
        raise ApiError(
            413,
            "too_many_readings",
            f"{count} readings in one request; the limit is {max_readings}.",
            {"count": count, "max_readings_per_request": max_readings},
        )


def _uniform_lines(uniform: lineprotocol.Uniform, max_readings: int) -> DecodedLines:
    """The items of a uniform body (`lineprotocol.parse_uniform`) as `decode_lines` makes them line by line: in
    line order, a line's value fields in field order; one datetime per distinct timestamp."""
    lines, width = len(uniform.timestamps_ns), len(uniform.values)
    count = lines * width
    _check_readings_count(count, max_readings)
    times = {ns: EPOCH + timedelta(microseconds=ns // 1000) for ns in set(uniform.timestamps_ns)}
    stamps = list(map(times.__getitem__, uniform.timestamps_ns))
    qualities = [0] * lines if uniform.qualities is None else uniform.qualities
    line_numbers: Sequence[int] = range(1, lines + 1)
    if width == 1:
        keys, values = uniform.keys[0], uniform.values[0]
    else:  # line-major: the fields of line 1, then of line 2, ...
        keys = list(chain.from_iterable(zip(*uniform.keys, strict=True)))
        values = list(chain.from_iterable(zip(*uniform.values, strict=True)))
        stamps = list(chain.from_iterable(zip(*repeat(stamps, width), strict=True)))
        qualities = list(chain.from_iterable(zip(*repeat(qualities, width), strict=True)))
        line_numbers = list(chain.from_iterable(zip(*repeat(line_numbers, width), strict=True)))
    items = Columns(range(count), keys, stamps, values, qualities)
    return DecodedLines(items, list(line_numbers), [], 0, set())


def _split_collisions(
    items: list[Item], line_of: list[int], parsed: lineprotocol.ParseResult, errors: list[tuple[int, str]]
) -> tuple[list[Item], list[tuple[int, str]]]:
    """Readings of one signal whose distinct ns timestamps fall in one microsecond: the first is kept, each later
    one is an error of its line (never a silent conflict or duplicate)."""
    ns_of = {p.line: p.timestamp_ns for p in parsed.points}
    first: dict[tuple[str, datetime], int | None] = {}
    kept: list[Item] = []
    errors = list(errors)
    for item in items:
        index, key, ts = item[0], item[1], item[2]
        ns = ns_of[line_of[index]]
        seen = first.setdefault((key, ts), ns)
        if seen != ns:
            errors.append(
                (
                    line_of[index],
                    f"{TIMESTAMP_COLLISION}: {key} at {ns} ns falls in the same microsecond "
                    f"as {seen} ns in this request; readings are stored to the microsecond",
                )
            )
            continue
        kept.append(item)
    return kept, errors
