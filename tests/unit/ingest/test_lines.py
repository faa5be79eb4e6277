"""Line-protocol bodies to readings: a body of one shape is decoded in columns (`lineprotocol.parse_uniform`), and
must come out as line-by-line decoding makes it, readings, line numbers, errors and refusals alike."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest.mock import patch

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from services.ingest import lineprotocol as lp
from services.ingest.lines import DecodedLines, decode_lines
from shared.errors import ApiError
from shared.signalmap import SignalMap

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
name_st = st.text(alphabet="abcuqy0189_.-:;/", min_size=1, max_size=6)
series_st = st.sampled_from(["gt1", "gt1,unit=GT1,site=nish", "st1,site=nish", "grid", "m,host=gw1", "m,id=ns=2;s=a"])
kind_st = st.sampled_from(["float", "int", "uint", "quality"])
EDITS = ["", " ", ",", "=", "\\", '"', "_", "i", "u", "t", "#", "\t", "\r", "\n", "e", "."]


def text_of(kind: str, draw: st.DrawFn) -> str:
    if kind == "float":
        return repr(draw(st.floats(allow_nan=False, allow_infinity=False)))
    if kind == "int":
        return f"{draw(st.integers(lp.INT64_MIN, lp.INT64_MAX))}i"
    if kind == "uint":
        return f"{draw(st.integers(0, lp.UINT64_MAX))}u"
    return f"{draw(st.integers(0, 2**32 - 1))}i"


@st.composite
def uniform_bodies(draw: st.DrawFn) -> str:
    """Lines of one shape (the same fields in the same order), as a gateway sends them; now and then one line edited
    or one field of another kind, so that the columns must hand the body back."""
    names = draw(st.lists(name_st.filter(lambda n: n != lp.QUALITY_FIELD), min_size=1, max_size=3, unique=True))
    kinds = [draw(kind_st.filter(lambda k: k != "quality")) for _ in names]
    if draw(st.booleans()):
        at = draw(st.integers(0, len(names)))
        names.insert(at, lp.QUALITY_FIELD)
        kinds.insert(at, "quality")
    scale = draw(st.sampled_from([1, 1000, 10**9]))
    lines = []
    others = {n: draw(st.sampled_from([n, n + "x", "y"])) for n in names if n != lp.QUALITY_FIELD}
    for _ in range(draw(st.integers(1, 12))):
        # Measurements differ in their fields: a position may name another field on another line.
        line_names = [others[n] if n in others and draw(st.booleans()) else n for n in names]
        fields = ",".join(f"{n}={text_of(k, draw)}" for n, k in zip(line_names, kinds, strict=True))
        timestamp = draw(st.integers(0, 2 * 10**18)) // scale * scale
        lines.append(f"{draw(series_st)} {fields} {timestamp}")
    if draw(st.booleans()):  # one line edited: a near miss of the shape
        index = draw(st.integers(0, len(lines) - 1))
        line = lines[index]
        at = draw(st.integers(0, len(line)))
        edit = draw(st.sampled_from(EDITS))
        lines[index] = line[:at] + edit + line[at + draw(st.integers(0, 2)) :]
    return "\n".join(lines) + ("\n" if draw(st.booleans()) else "")


def decoded(body: str, precision: str, signal_map: SignalMap, max_readings: int) -> DecodedLines | tuple[object, ...]:
    try:
        return decode_lines(body.encode(), precision, NOW, max_readings, signal_map)
    except ApiError as exc:
        return exc.status, exc.code, exc.message


MAPS = [lp.DEFAULT_MAP, SignalMap(("{measurement}.{tag:unit}.{field}",))]


@settings(max_examples=400)
@example(body="m v=1,quality=5i 1000\nm v=2,quality=7i 2000", precision="ns", mapped=0, max_readings=100)
@example(body="m v=1 1\n\nm v=2 2", precision="s", mapped=0, max_readings=100)
@example(body="m v=1 1\nm v=2i 2", precision="s", mapped=0, max_readings=100)
@example(body="m a=1,b=2 1\nm a=1,b=2 2", precision="s", mapped=0, max_readings=3)
@example(body="m v=1 1500", precision="ns", mapped=0, max_readings=100)  # cut to the microsecond
@example(body="m v=1,quality=2i 1\nm v=1=quality,2i 2", precision="s", mapped=0, max_readings=100)
@example(body="m v=1i 1\nm v=9223372036854775808i 1", precision="s", mapped=0, max_readings=100)
@example(body="m v=1u 1\nm v=-1u 1", precision="s", mapped=0, max_readings=100)
@example(body="m v=1 1\nm v=v=1 1\nm v=2 1", precision="s", mapped=0, max_readings=100)
@example(body="m v=1,w=2 1\nm w=1,v=2 1", precision="s", mapped=0, max_readings=100)
@example(body="m v=1 1\nm vv=1 1", precision="s", mapped=0, max_readings=100)
@example(body="m v=1 1\nm 2 1", precision="s", mapped=0, max_readings=100)
@example(body="m v=1 -5000\nm v=2 3000\nm v=3 3000", precision="ns", mapped=0, max_readings=100)
@example(body="m v=1 2000\nm v=2 2001", precision="ns", mapped=0, max_readings=100)
@example(body="m v=1 +2000\nm v=2 2000", precision="ns", mapped=0, max_readings=100)
@example(body="m v=1 9999999999999999999", precision="s", mapped=0, max_readings=100)
@example(body="m v=1 100000006,14330\nm v=1 5", precision="s", mapped=0, max_readings=100)
@example(body="m v=1,w=1 1\nm 2,w=1 1", precision="s", mapped=0, max_readings=100)
@given(
    body=uniform_bodies(),
    precision=st.sampled_from(["ns", "us", "ms", "s", "h"]),
    mapped=st.integers(0, len(MAPS) - 1),
    max_readings=st.sampled_from([5, 10_000]),
)
def test_a_body_decodes_in_columns_as_it_does_line_by_line(
    body: str, precision: str, mapped: int, max_readings: int
) -> None:
    columns = decoded(body, precision, MAPS[mapped], max_readings)
    with patch.object(lp, "parse_uniform", lambda *_: None):
        line_by_line = decoded(body, precision, MAPS[mapped], max_readings)
    assert columns == line_by_line


def test_measurements_with_other_fields_take_the_columns_too() -> None:
    body = "gt1,unit=GT1 active_power=161.5,quality=0i 1\ngrid frequency=50.01,quality=0i 1\nm v=1,quality=5i 2"
    uniform = lp.parse_uniform(body, "s")
    assert uniform is not None
    assert uniform.keys == [["gt1.active_power", "grid.frequency", "m.v"]]
    assert uniform.values == [[161.5, 50.01, 1.0]]
    assert lp.parse_uniform("m v=1,w=2 1\nm w=1,w=2 1", "s") is None  # a field twice in a line
    assert lp.parse_uniform("m v=1,quality=2i 1\nm quality=1i,v=2 1", "s") is None  # quality moves


def test_a_gateway_body_takes_the_columns() -> None:
    body = "\n".join(f"u{s:03d},site=bench,unit=u{s:03d} p={100 + s / 7},quality={s % 3}i 1764000000" for s in range(9))
    uniform = lp.parse_uniform(body, "s")
    assert uniform is not None
    assert uniform.keys == [[f"u{s:03d}.p" for s in range(9)]]
    assert uniform.qualities == [s % 3 for s in range(9)]
    lines = decode_lines(body.encode(), "s", NOW, 100)
    assert lines.items[4] == (4, "u004.p", datetime(2025, 11, 24, 16, tzinfo=UTC), 100 + 4 / 7, 1)
    assert lines.line_of == list(range(1, 10))


@pytest.mark.parametrize(
    "body",
    [
        "m v=1 1\n\nm v=2 2",  # a blank line
        "# comment\nm v=1 1",
        "m v=1 1\nm v=1i 1",  # another kind
        "m v=1,v=2 1",
        "m v=1 1\r\nm v=2 2",
        "m v=1",  # no timestamp
        "m v=1 1_0",
        "m quality=1i 1",  # no value field
        'm v=1,s="x" 1',
    ],
)
def test_bodies_of_other_shapes_are_decoded_line_by_line(body: str) -> None:
    assert lp.parse_uniform(body, "s") is None
