"""The InfluxDB line protocol parser, on the examples of the protocol's reference."""

from __future__ import annotations

from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest import lineprotocol as lp
from shared.signalmap import SignalMap


def only(text: str, precision: str = "ns") -> lp.Point:
    result = lp.parse(text, precision)
    assert result.errors == []
    (point,) = result.points
    return point


def test_plain_line_with_tags_and_timestamp() -> None:
    point = only("gt1,unit=GT1,site=nish active_power=251.3,reactive_power=12 1732528800000000000")
    assert point.fields == (("gt1.active_power", 251.3), ("gt1.reactive_power", 12.0))
    assert point.timestamp_ns == 1732528800000000000 and point.quality is None


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("1", 1.0),
        ("-1.5e3", -1500.0),
        ("42i", 42),
        ("7u", 7),
        ("t", 1.0),
        ("TRUE", 1.0),
        ("True", 1.0),
        ("f", 0.0),
        ("false", 0.0),
        ("FALSE", 0.0),
    ],
)
def test_field_types(literal: str, expected: float) -> None:
    assert only(f"m v={literal}").fields == (("m.v", float(expected)),)


@pytest.mark.parametrize(
    ("precision", "factor"),
    [
        ("ns", 1),
        ("us", 1_000),
        ("u", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60 * 10**9),
        ("h", 3600 * 10**9),
    ],
)
def test_every_precision_scales_to_nanoseconds(precision: str, factor: int) -> None:
    assert only("m v=1 480000", precision).timestamp_ns == 480000 * factor  # 1970..2024 at every precision


def test_missing_timestamp_means_now() -> None:
    assert only("m v=1").timestamp_ns is None


def test_escapes_in_measurement_tags_and_fields() -> None:
    point = only(r"grid\ meter,loc=Ni\,š\ \=1 freq\ hz=50.01,freq\,b=49.99,a\=b=1 1")
    assert point.fields == (("grid meter.freq hz", 50.01), ("grid meter.freq,b", 49.99), ("grid meter.a=b", 1.0))


def test_quoted_strings_with_spaces_commas_and_escaped_quotes_are_scanned_whole() -> None:
    # Were the quoted text split at its space or comma, w would be lost or the line a syntax error.
    point = only(r'm,t=x v=1,note="a, \"quoted\" \\ text",w=2 1')
    assert point.fields == (("m.v", 1.0), ("m.w", 2.0)) and point.strings == 1


def test_string_fields_are_skipped_and_counted_while_the_numeric_fields_of_the_line_are_kept() -> None:
    result = lp.parse('st1,host=x active_power=150i,status="running" 1\nst1 note="only text" 2')
    assert result.errors == []
    assert [p.fields for p in result.points] == [(("st1.active_power", 150.0),), ()]
    assert result.ignored_strings == 2


def test_quality_field_applies_to_the_other_fields() -> None:
    point = only("gt1 active_power=0,quality=2156527616i 1")
    assert point.fields == (("gt1.active_power", 0.0),) and point.quality == 0x808A0000


def test_comments_and_blank_lines_are_skipped_and_line_numbers_kept() -> None:
    result = lp.parse("# header\n\nm v=1 1\nbroken\nm v=2 2\n")
    assert [p.line for p in result.points] == [3, 5]
    assert [line for line, _ in result.errors] == [4]


@pytest.mark.parametrize(
    "line",
    [
        "m",
        "m v",
        "m v= 1",
        "m =1",
        "m v=1 notatime",
        "m v=12x",
        "m v=-3u",
        "m,t v=1",
        'm v="unterminated',
        "m v=1 1 extra",
        ",t=1 v=1",
        "m v=1_000 1",
        "m v=1 1_000",
        "m quality=0i 1",
    ],
)
def test_malformed_lines_are_errors(line: str) -> None:
    result = lp.parse(line)
    assert result.points == [] and len(result.errors) == 1


def test_unknown_precision_is_refused() -> None:
    with pytest.raises(lp.LineError):
        lp.parse("m v=1", "fortnights")


COMMON_LINES = [
    "gt1 active_power=161.5 1732528800",
    "gt1,unit=GT1,site=nish active_power=1.,reactive=-2e3 17",
    "grid frequency=.5 0",
    "m v=1 -5",
    "m v=1_0 1",
    "m v=nan 1",
    "m v=inf 1",
    "m v=1e999 1",
    "m v=12i 1",
    "m v=t 1",
    "m quality=0i,v=1 1",
    ",t=1 v=1 1",
    "m,t v=1 1",
    "m v=1 1.5",
    "m v=1",
    "m  v=1 1",
    "gt1,host=gw1,site=nish active_power=161.5,quality=1083179008i 1732528800000",
    "m quality=1u 1",
    "m,a=b=c v=7u,w=-3i 1",
    "m v=9223372036854775808i 1",
    "m v=-1u 1",
    "m quality=1.0,v=1 1",
    "m v=1 300000000000000000000",
    "m v=1 -300000000000000000000",
]
word = st.text(alphabet="abcxyz_,=.-0123456789ieEuq", min_size=0, max_size=8)
fields_st = st.lists(
    st.sampled_from(
        [
            "v=1",
            "quality=0i",
            "quality=2156527616i",
            "w=-3i",
            "u=7u",
            "x=1.5e3",
            "quality=1",
            "y=18446744073709551616u",
            "z=t",
        ]
    ),
    max_size=4,
).map(",".join)


@pytest.mark.parametrize("line", COMMON_LINES)
def test_the_fast_path_agrees_with_the_general_parser(line: str) -> None:
    assert_same_as_general(line)


@settings(max_examples=300)
@given(measurement=word, tags=word, fields=word, timestamp=word)
def test_the_fast_path_agrees_with_the_general_parser_on_generated_lines(
    measurement: str, tags: str, fields: str, timestamp: str
) -> None:
    assert_same_as_general(f"{measurement}{',' if tags else ''}{tags} {fields} {timestamp}")


@settings(max_examples=300)
@given(
    measurement=word,
    tags=st.lists(st.sampled_from(["host=gw1", "site=nish", "id=ns=2;s=a", "q"]), max_size=3),
    fields=fields_st,
    timestamp=st.integers(-(10**22), 10**22),
)
def test_the_fast_path_agrees_on_gateway_lines_with_tags_and_quality(
    measurement: str, tags: list[str], fields: str, timestamp: int
) -> None:
    assert_same_as_general(f"{measurement}{''.join(',' + t for t in tags)} {fields} {timestamp}")
    mapped = lp.Keys(SignalMap(("{tag:host}.{field}",)))
    line = f"{measurement}{''.join(',' + t for t in tags)} {fields} {timestamp}"
    fast = lp._parse_common(line, 1, 1000, mapped)
    if fast is not None:
        assert fast == lp.parse_line(line, 1, 1000, lp.Keys(SignalMap(("{tag:host}.{field}",))))


def assert_same_as_general(line: str) -> None:
    fast = lp._parse_common(line, 1, 1000, lp.Keys())
    if fast is None:
        return  # the general parser decides
    assert fast == lp.parse_line(line, 1, 1000)


def test_the_fast_path_takes_the_common_shape_and_leaves_the_rest() -> None:
    taken = [line for line in COMMON_LINES if lp._parse_common(line, 1, 1, lp.Keys()) is not None]
    assert taken == [
        "gt1 active_power=161.5 1732528800",
        "gt1,unit=GT1,site=nish active_power=1.,reactive=-2e3 17",
        "grid frequency=.5 0",
        "m v=1 -5",
        "m v=1e999 1",
        "m v=12i 1",
        "m quality=0i,v=1 1",
        "gt1,host=gw1,site=nish active_power=161.5,quality=1083179008i 1732528800000",
        "m,a=b=c v=7u,w=-3i 1",
        "m quality=1.0,v=1 1",
    ]


@pytest.mark.parametrize(
    ("line", "precision"),
    [
        ("gt1 active_power=100 300000000000", "s"),
        ("gt1 active_power=100 -300000000000", "s"),
        ("gt1 active_power=100 90000000", "h"),
        ("gt1 active_power=100 -9223372036854775808", "ms"),
        ("gt1 active_power=100 " + "9" * 30, "ns"),
        ("gt1 active_power=100 1" + "0" * 5000, "ns"),
    ],
)
def test_a_timestamp_outside_the_datetime_range_is_an_error_of_its_line_alone(line: str, precision: str) -> None:
    result = lp.parse(f"gt1 active_power=99 1\n{line}\ngt2 active_power=98 2", precision)
    assert [p.line for p in result.points] == [1, 3]
    assert [n for n, _ in result.errors] == [2]


def test_the_edges_of_the_datetime_range_are_accepted() -> None:
    assert only(f"m v=1 {lp.MIN_TIMESTAMP_NS}").timestamp_ns == lp.MIN_TIMESTAMP_NS
    assert only(f"m v=1 {lp.MAX_TIMESTAMP_NS}").timestamp_ns == lp.MAX_TIMESTAMP_NS


@pytest.mark.parametrize(
    "field",
    [
        "active_power=1" + "0" * 309 + "i",
        "v=9223372036854775808i",
        "v=-9223372036854775809i",
        "v=18446744073709551616u",
        "v=1" + "0" * 5000 + "i",
    ],
)
def test_integers_beyond_64_bits_are_an_error_of_their_line(field: str) -> None:
    result = lp.parse(f"m {field} 1\nm ok=1 1")
    assert [p.line for p in result.points] == [2]
    (error,) = result.errors
    assert error[0] == 1 and ("64-bit integer" in error[1] or "invalid integer" in error[1])


def test_the_64_bit_integer_edges_are_values() -> None:
    assert only("m a=9223372036854775807i,b=-9223372036854775808i,c=18446744073709551615u 1").fields == (
        ("m.a", 9223372036854775807.0),
        ("m.b", -9223372036854775808.0),
        ("m.c", 18446744073709551615.0),
    )


def test_a_line_longer_than_the_limit_is_refused_without_being_scanned() -> None:
    escapes = "m,t=" + "\\ " * 40_000 + " v=1 1"
    result = lp.parse(f"m v=1 1\n{escapes}\nm v=2 2", max_line_chars=64 * 1024)
    assert [p.line for p in result.points] == [1, 3]
    assert result.errors == [(2, f"line of {len(escapes)} characters; at most 65536 are accepted")]


def test_count_lines_is_an_upper_bound_of_the_lines() -> None:
    assert lp.count_lines(b"a v=1\nb v=2\n") == 3 and lp.count_lines(b"") == 1


# Telegraf's documented output (plugins/inputs/opcua/README.md "Example Output", inputs/modbus/README.md).
TELEGRAF_OPCUA = "\n".join(
    [
        r'group1_metric_name,group1_tag=val1,id=ns\=3;i\=1001,node1_tag=val2 name=0,Quality="OK (0x0)" '
        "1606893246000000000",
        r'group1_metric_name,group1_tag=val1,id=ns\=3;i\=1002,node1_tag=val3 name=-1.389117,Quality="OK (0x0)" '
        "1606893246000000000",
        r'group2_metric_name,group2_tag=val3,id=ns\=3;i\=1003,node2_tag=val4 Quality="OK (0x0)",saw=-1.6 '
        "1606893246000000000",
        r'group2_metric_name,group2_tag=val3,id=ns\=3;i\=1004 sin=1.902113,Quality="OK (0x0)" 1606893246000000000',
    ]
)
TELEGRAF_MODBUS = (
    "modbus.InputRegisters,host=orangepizero Current=0,Energy=0,Frequency=60,Power=0,PowerFactor=0,"
    "Voltage=123.9000015258789 1554079521000000000"
)


def test_telegraf_opcua_output_maps_to_signals_by_the_id_tag_and_a_key_mapping_table() -> None:
    signal_map = SignalMap(
        ("{tag:id}",),
        {
            "ns=3;i=1001": "gt1.active_power",
            "ns=3;i=1002": "gt2.active_power",
            "ns=3;i=1003": "st1.active_power",
            "ns=3;i=1004": "grid.frequency",
        },
    )
    result = lp.parse(TELEGRAF_OPCUA, "ns", signal_map)
    assert result.errors == [] and result.ignored_strings == 4
    assert [p.fields for p in result.points] == [
        (("gt1.active_power", 0.0),),
        (("gt2.active_power", -1.389117),),
        (("st1.active_power", -1.6),),
        (("grid.frequency", 1.902113),),
    ]
    assert {p.timestamp_ns for p in result.points} == {1606893246000000000}


def test_telegraf_modbus_output_maps_each_register_field_through_the_table() -> None:
    signal_map = SignalMap(
        (), {"modbus.InputRegisters.Frequency": "grid.frequency", "modbus.InputRegisters.Power": "plant.net_output"}
    )
    (point,) = lp.parse(TELEGRAF_MODBUS, "ns", signal_map).points
    assert dict(point.fields)["grid.frequency"] == 60.0 and dict(point.fields)["plant.net_output"] == 0.0
    assert "modbus.InputRegisters.Voltage" in dict(point.fields)  # unmapped: stored under its rendered name


def test_tags_name_the_signal_so_two_hosts_are_two_signals() -> None:
    signal_map = SignalMap(("{measurement}.{tag:host}.{field}",))
    result = lp.parse(
        "gt1,host=a active_power=100 1\ngt1,host=b active_power=101 1\ngt1 active_power=102 1", "s", signal_map
    )
    assert [p.fields[0][0] for p in result.points] == [
        "gt1.a.active_power",
        "gt1.b.active_power",
        "gt1.active_power",
    ]  # no host tag: the default template


# What gateways send (Telegraf's OPC UA input, Node-RED, the InfluxDB clients): tags, float/integer fields, the OPC UA
# StatusCode as `quality=<int>i`, a timestamp. These must take the fast path and parse as the general parser does.
name_st = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789_.-:;/", min_size=1, max_size=12)
float_st = st.floats(allow_nan=False, allow_infinity=False).map(repr)  # the shortest round-trip text, as clients write
number_st = st.one_of(
    float_st,
    st.integers(lp.INT64_MIN, lp.INT64_MAX).map(lambda i: f"{i}i"),
    st.integers(0, lp.UINT64_MAX).map(lambda i: f"{i}u"),
    st.integers(-(10**6), 10**6).map(str),
)


@st.composite
def gateway_lines(draw: st.DrawFn) -> str:
    measurement = draw(name_st.filter(lambda m: m[0] != "#"))
    tags = draw(st.dictionaries(name_st, name_st, max_size=3))
    values = draw(st.dictionaries(name_st.filter(lambda f: f != lp.QUALITY_FIELD), number_st, min_size=1, max_size=3))
    fields = [f"{k}={v}" for k, v in values.items()]
    if draw(st.booleans()):
        quality = f"{lp.QUALITY_FIELD}={draw(st.integers(0, 2**32 - 1))}i"
        fields.insert(draw(st.integers(0, len(fields))), quality)
    timestamp = draw(st.integers(0, 2 * 10**18))
    return f"{measurement}{''.join(f',{k}={v}' for k, v in tags.items())} {','.join(fields)} {timestamp}"


@settings(max_examples=500)
@given(line=gateway_lines())
def test_gateway_lines_with_tags_and_quality_take_the_fast_path_and_parse_as_the_general_parser_does(
    line: str,
) -> None:
    fast = lp._parse_common(line, 1, 1, lp.Keys())
    assert fast is not None, line
    assert fast == lp.parse_line(line, 1, 1)
    mapped = SignalMap(("{measurement}.{tag:unit}.{field}",))
    assert lp._parse_common(line, 1, 1, lp.Keys(mapped)) == lp.parse_line(line, 1, 1, lp.Keys(mapped))


# Whole bodies: gateway lines mixed with near-misses (each a small edit of a gateway line) and junk. With the fast
# path switched off, `parse` must return the same points and the same per-line errors.
@st.composite
def near_misses(draw: st.DrawFn) -> str:
    line = draw(gateway_lines())
    at = draw(st.integers(0, len(line)))
    edit = draw(st.sampled_from(["", " ", ",", "=", "\\", '"', "_", "i", "u", "t", "#", "\t", "e", "-", "."]))
    return line[:at] + edit + line[at + draw(st.integers(0, 2)) :]


@settings(max_examples=300)
@given(
    lines=st.lists(st.one_of(gateway_lines(), near_misses(), word), max_size=8),
    precision=st.sampled_from(["ns", "us", "ms", "s", "h"]),
)
def test_a_body_parses_to_the_same_points_and_errors_with_and_without_the_fast_path(
    lines: list[str], precision: str
) -> None:
    body = "\n".join(lines)
    with_fast_path = lp.parse(body, precision)
    with patch.object(lp, "_parse_common", lambda *_: None):
        general_only = lp.parse(body, precision)
    assert with_fast_path == general_only
