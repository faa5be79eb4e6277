"""The cross-service contracts: the readings NOTIFY payload round-trips and splits; enums match what is stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from shared import quality, schema
from shared.auth import ROLES
from shared.contracts import (
    NOTIFY_PAYLOAD_LIMIT,
    AlertState,
    ContractError,
    QualityClass,
    ReadingsChanged,
    Role,
    decode_readings_changed,
    encode_readings_changed,
)

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def test_a_payload_round_trips_with_sorted_ids() -> None:
    [payload] = encode_readings_changed([9, 3, 5], T0, T0 + timedelta(seconds=30))
    assert decode_readings_changed(payload) == ReadingsChanged((3, 5, 9), T0, T0 + timedelta(seconds=30))


def test_the_payload_is_the_documented_json() -> None:
    [payload] = encode_readings_changed([1, 2], T0, T0)
    doc = json.loads(payload)
    assert doc["signal_ids"] == [1, 2]
    assert datetime.fromisoformat(doc["start"]) == T0 and datetime.fromisoformat(doc["end"]) == T0


def test_a_large_change_is_split_into_payloads_that_fit_and_cover_every_signal() -> None:
    ids = list(range(100_000, 103_000))
    payloads = encode_readings_changed(ids, T0, T0 + timedelta(hours=1))
    assert len(payloads) > 1
    assert all(len(p.encode()) <= NOTIFY_PAYLOAD_LIMIT for p in payloads)
    decoded = [decode_readings_changed(p) for p in payloads]
    assert [i for d in decoded for i in d.signal_ids] == ids
    assert {(d.start, d.end) for d in decoded} == {(T0, T0 + timedelta(hours=1))}


def test_no_signals_means_no_payload() -> None:
    assert encode_readings_changed([], T0, T0) == []


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        "[]",
        '{"signal_ids": [1], "start": "2026-11-25T10:00:00Z"}',
        '{"signal_ids": ["x"], "start": "2026-11-25T10:00:00Z", "end": "2026-11-25T10:00:00Z"}',
        '{"signal_ids": [1], "start": "2026-11-25T10:00:00", "end": "2026-11-25T10:00:00"}',  # no time zone
        '{"signal_ids": 1, "start": "2026-11-25T10:00:00Z", "end": "2026-11-25T10:00:00Z"}',
    ],
)
def test_a_malformed_payload_is_a_contract_error(payload: str) -> None:
    with pytest.raises(ContractError):
        decode_readings_changed(payload)


def test_contract_error_is_a_value_error() -> None:
    assert issubclass(ContractError, ValueError)


def test_roles_are_the_stored_strings() -> None:
    assert ROLES == ("gateway", "partner", "operator", "admin")
    assert Role("partner") is Role.PARTNER and Role.ADMIN == "admin"


def test_alert_states_are_the_stored_strings() -> None:
    assert [s.value for s in AlertState] == ["inactive", "pending", "firing", "resolved"]


@pytest.mark.parametrize(
    ("status_code", "expected"),
    [
        (0x00000000, QualityClass.GOOD),
        (0x00AB0000, QualityClass.GOOD),
        (0x40000000, QualityClass.UNCERTAIN),
        (0x80000000, QualityClass.BAD),
        (0xC0000000, QualityClass.BAD),  # top bits 11 count as bad
    ],
)
def test_severity_is_a_quality_class(status_code: int, expected: QualityClass) -> None:
    assert quality.severity(status_code) is expected
    assert quality.NAMED[expected] >> 30 == expected_top_bits(expected)


def expected_top_bits(cls: QualityClass) -> int:
    return {QualityClass.GOOD: 0, QualityClass.UNCERTAIN: 1, QualityClass.BAD: 2}[cls]


def test_the_good_sql_predicate_bounds_are_the_good_int4_range() -> None:
    assert quality.GOOD_SQL_PREDICATE == "quality BETWEEN 0 AND 1073741823"
    assert quality.is_good(1073741823) and not quality.is_good(1073741824)


@pytest.mark.parametrize(
    ("constraint", "members"),
    [
        ("api_keys_role_known", list(Role)),
        ("alerts_state_known", list(AlertState)),
    ],
)
def test_the_schema_checks_allow_exactly_the_enum_members(constraint: str, members: list[str]) -> None:
    [check] = [c for t in schema.metadata.tables.values() for c in t.constraints if c.name == constraint]
    allowed = str(check.sqltext).split("IN", 1)[1].strip(" ()").split(",")
    assert [a.strip(" '") for a in allowed] == members
