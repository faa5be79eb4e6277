"""The InfluxDB line protocol parser, on the examples of the protocol's reference."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest import lineprotocol as lp


def only(text: str, precision: str = "ns") -> lp.Point:
    result = lp.parse(text, precision)
    assert result.errors == []
    (point,) = result.points
    return point


def test_plain_line_with_tags_and_timestamp() -> None:
    point = only("gt1,unit=GT1,site=nish active_power=251.3,reactive_power=12 1732528800000000000")
    assert point.fields == (("gt1.active_power", 251.3), ("gt1.reactive_power", 12.0))
    assert point.timestamp_ns == 1732528800000000000 and point.quality is None


@pytest.mark.parametrize(("literal", "expected"), [
    ("1", 1.0), ("-1.5e3", -1500.0), ("42i", 42), ("7u", 7), ("t", 1.0), ("TRUE", 1.0), ("True", 1.0),
    ("f", 0.0), ("false", 0.0), ("FALSE", 0.0),
])
def test_field_types(literal: str, expected: float) -> None:
    assert only(f"m v={literal}").fields == (("m.v", float(expected)),)


@pytest.mark.parametrize(("precision", "factor"), [
    ("ns", 1), ("us", 1_000), ("u", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000), ("m", 60 * 10**9),
    ("h", 3600 * 10**9),
])
def test_every_precision_scales_to_nanoseconds(precision: str, factor: int) -> None:
    assert only("m v=1 1732528800", precision).timestamp_ns == 1732528800 * factor


def test_missing_timestamp_means_now() -> None:
    assert only("m v=1").timestamp_ns is None


def test_escapes_in_measurement_tags_and_fields() -> None:
    point = only(r"grid\ meter,loc=Ni\,š\ \=1 freq\ hz=50.01,freq\,b=49.99,a\=b=1 1")
    assert point.fields == (("grid meter.freq hz", 50.01), ("grid meter.freq,b", 49.99), ("grid meter.a=b", 1.0))


def test_quoted_strings_with_spaces_commas_and_escaped_quotes_are_scanned_whole() -> None:
    # Were the quoted text split at its space or comma, the error would be a syntax error, not this one.
    result = lp.parse(r'm,t=x v=1,note="a, \"quoted\" \\ text",w=2 1')
    assert result.errors == [(1, "field 'note': string values are not supported; signals are numeric")]


def test_string_fields_are_rejected_with_a_reason() -> None:
    result = lp.parse('m note="running, ok",v=1 1')
    assert result.points == []
    assert result.errors == [(1, "field 'note': string values are not supported; signals are numeric")]


def test_quality_field_applies_to_the_other_fields() -> None:
    point = only("gt1 active_power=0,quality=2156527616i 1")
    assert point.fields == (("gt1.active_power", 0.0),) and point.quality == 0x808A0000


def test_comments_and_blank_lines_are_skipped_and_line_numbers_kept() -> None:
    result = lp.parse("# header\n\nm v=1 1\nbroken\nm v=2 2\n")
    assert [p.line for p in result.points] == [3, 5]
    assert [line for line, _ in result.errors] == [4]


@pytest.mark.parametrize("line", [
    "m", "m v", "m v= 1", "m =1", "m v=1 notatime", "m v=12x", "m v=-3u", "m,t v=1", 'm v="unterminated',
    "m v=1 1 extra", ",t=1 v=1", "m v=1_000 1", "m v=1 1_000",
])
def test_malformed_lines_are_errors(line: str) -> None:
    result = lp.parse(line)
    assert result.points == [] and len(result.errors) == 1


def test_unknown_precision_is_refused() -> None:
    with pytest.raises(lp.LineError):
        lp.parse("m v=1", "fortnights")


COMMON_LINES = [
    "gt1 active_power=161.5 1732528800", "gt1,unit=GT1,site=nish active_power=1.,reactive=-2e3 17",
    "grid frequency=.5 0", "m v=1 -5", "m v=1_0 1", "m v=nan 1", "m v=inf 1", "m v=1e999 1", "m v=12i 1",
    "m v=t 1", "m quality=0i,v=1 1", ",t=1 v=1 1", "m,t v=1 1", "m v=1 1.5", "m v=1", "m  v=1 1",
]
word = st.text(alphabet="abcxyz_,=.-0123456789ieE", min_size=0, max_size=8)


@pytest.mark.parametrize("line", COMMON_LINES)
def test_the_fast_path_agrees_with_the_general_parser(line: str) -> None:
    assert_same_as_general(line)


@settings(max_examples=300)
@given(measurement=word, tags=word, fields=word, timestamp=word)
def test_the_fast_path_agrees_with_the_general_parser_on_generated_lines(measurement: str, tags: str, fields: str,
                                                                         timestamp: str) -> None:
    assert_same_as_general(f"{measurement}{',' if tags else ''}{tags} {fields} {timestamp}")


def assert_same_as_general(line: str) -> None:
    fast = lp._parse_common(line, 1, 1000, {})
    if fast is None:
        return  # the general parser decides
    assert fast == lp.parse_line(line, 1, 1000)


def test_the_fast_path_takes_the_common_shape_and_leaves_the_rest() -> None:
    taken = [line for line in COMMON_LINES if lp._parse_common(line, 1, 1, {}) is not None]
    assert taken == ["gt1 active_power=161.5 1732528800", "gt1,unit=GT1,site=nish active_power=1.,reactive=-2e3 17",
                     "grid frequency=.5 0", "m v=1 -5", "m v=1e999 1"]
