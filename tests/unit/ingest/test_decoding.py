"""Bodies to readings: every undecodable body is one precise BodyError; readings fail field by field."""

from __future__ import annotations

import gzip
import json

import pytest

from services.ingest.decoding import BodyError, decode_batch, gunzip

GOOD = {"signal": "gt1.active_power", "ts": "2026-11-25T10:00:00Z", "value": 1.5}


def body(*readings: object) -> bytes:
    return json.dumps({"readings": list(readings)}).encode()


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b'{"readings":[{"signal":"gt1.active_power","ts":"2026-11-25T10:00:00Z","value":"x"}]}x', 400, "invalid_json"),
        (b'{"readings":[{"signal":"gt1.\xff","ts":"2026-11-25T10:00:00Z","value":1}]}', 400, "invalid_json"),
        (b'{"readings":[], "note": "\xc3"}', 400, "invalid_json"),
        (b'{"readings":[' + b"[" * 1000 + b"]" * 1000 + b"]}", 400, "invalid_json"),
        (
            b'{"readings":[{"signal":"a","ts":"2026-11-25T10:00:00Z","value":1,"x":'
            + b"[" * 5000
            + b"]" * 5000
            + b"}]}",
            400,
            "invalid_json",
        ),
        (b"{readings: oops", 400, "invalid_json"),
        (b"", 400, "invalid_json"),
        (b'{"data": []}', 422, "invalid_batch"),
        (b"[]", 422, "invalid_batch"),
    ],
)
def test_a_body_that_does_not_decode_is_one_precise_error(raw: bytes, status: int, code: str) -> None:
    with pytest.raises(BodyError) as refused:
        decode_batch(raw, 100)
    assert (refused.value.status, refused.value.code) == (status, code)


@pytest.mark.parametrize(
    ("reading", "code"),
    [
        ({**GOOD, "value": "x"}, "invalid_value"),
        ({**GOOD, "value": True}, "invalid_value"),
        ({**GOOD, "value": None}, "invalid_value"),
        ({**GOOD, "ts": "yesterday"}, "invalid_timestamp"),
        ({**GOOD, "ts": 1764064800}, "invalid_timestamp"),
        ({**GOOD, "quality": 1.5}, "invalid_quality"),
        ({**GOOD, "quality": False}, "invalid_quality"),
        ({"signal": "gt1.active_power", "value": 1.0}, "invalid_reading"),
        ({**GOOD, "signal": 7}, "invalid_reading"),
        ("not an object", "invalid_reading"),
    ],
)
def test_each_bad_field_gives_its_code_and_the_good_reading_stays(reading: object, code: str) -> None:
    items, rejected = decode_batch(body(GOOD, reading), 100)
    assert [(r.index, r.code) for r in rejected] == [(1, code)]
    assert [item[0] for item in items] == [0]


def test_numbers_beyond_float64_decode_as_infinite_to_be_rejected_as_non_finite() -> None:
    big_integer, huge_float = b"9" * 400, b"-1e999"
    raw = (
        b'{"readings":[{"signal":"s","ts":"2026-11-25T10:00:00Z","value":%s},'
        b'{"signal":"s","ts":"2026-11-25T10:00:00Z","value":%s}]}' % (big_integer, huge_float)
    )
    items, rejected = decode_batch(raw, 100)
    assert rejected == []
    assert [item[3] for item in items] == [float("inf"), float("-inf")]


def test_gzip_members_are_all_decoded_and_junk_after_them_is_refused() -> None:
    one, two = body(GOOD), body({**GOOD, "value": 2.0})
    assert gunzip(gzip.compress(one) + gzip.compress(two), 10_000) == one + two
    for tail in (b"x", b"\0\0\0\0", gzip.compress(two)[:5]):
        with pytest.raises(BodyError) as refused:
            gunzip(gzip.compress(one) + tail, 10_000)
        assert (refused.value.status, refused.value.code) == (400, "invalid_gzip")


def test_the_decoded_size_limit_counts_every_member() -> None:
    member = gzip.compress(b" " * 6_000)
    assert len(gunzip(member, 10_000)) == 6_000
    with pytest.raises(BodyError) as refused:
        gunzip(member + member, 10_000)
    assert refused.value.status == 413
