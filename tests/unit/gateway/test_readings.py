"""Readings: JSON form, Bad values without a value, and the OPC UA monitored-item requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from asyncua import ua

from services.gateway.config import OpcUaNode
from services.gateway.opcua_source import LastValues, monitored_item_requests, reading_from_datavalue
from services.gateway.readings import BAD_NOT_CONNECTED, Reading, to_json

TS = datetime(2026, 11, 25, 10, 0, 0, 250000, tzinfo=UTC)


def test_a_reading_serialises_to_the_ingest_contract() -> None:
    local = TS.astimezone(timezone(timedelta(hours=1)))
    assert to_json(Reading("gt1.active_power", local, 251.3, 0)) == {
        "signal": "gt1.active_power",
        "ts": "2026-11-25T10:00:00.250000Z",
        "value": 251.3,
        "quality": 0,
    }


def test_a_bad_status_without_a_value_holds_the_last_good_value() -> None:
    last = LastValues("hold_last")
    assert last.reading("f", TS, None, BAD_NOT_CONNECTED) is None  # nothing to hold yet: a gap
    last.reading("f", TS, 50.01, 0)
    assert last.reading("f", TS, None, BAD_NOT_CONNECTED) == Reading("f", TS, 50.01, BAD_NOT_CONNECTED)


def test_a_bad_value_never_becomes_the_held_value() -> None:
    last = LastValues("hold_last")
    last.reading("f", TS, 50.0, 0)
    last.reading("f", TS, 99.0, BAD_NOT_CONNECTED)
    assert last.reading("f", TS, None, BAD_NOT_CONNECTED).value == 50.0


def test_the_drop_policy_leaves_gaps() -> None:
    last = LastValues("drop")
    last.reading("f", TS, 50.0, 0)
    assert last.reading("f", TS, None, BAD_NOT_CONNECTED) is None


def test_source_timestamp_and_status_are_carried_from_a_datavalue() -> None:
    node = OpcUaNode(node_id="ns=2;s=x", signal="gt1.active_power")
    naive_utc = datetime(2026, 11, 25, 9, 0, 0)
    dv = ua.DataValue(ua.Variant(160.5, ua.VariantType.Double), ua.StatusCode(0x40900000), SourceTimestamp=naive_utc)
    reading = reading_from_datavalue(node, dv, TS, LastValues("hold_last"))
    assert reading == Reading("gt1.active_power", naive_utc.replace(tzinfo=UTC), 160.5, 0x40900000)


def test_monitored_items_carry_sampling_interval_and_deadband() -> None:
    nodes = [
        OpcUaNode(node_id="ns=2;s=a", signal="a", sampling_interval_ms=250),
        OpcUaNode(node_id="ns=3;i=1001", signal="b", deadband=0.5, queue_size=500),
    ]
    first, second = monitored_item_requests(nodes)
    assert (first.RequestedParameters.QueueSize, second.RequestedParameters.QueueSize) == (100, 500)
    assert first.RequestedParameters.ClientHandle == 1 and second.RequestedParameters.ClientHandle == 2
    assert first.RequestedParameters.SamplingInterval == 250
    assert first.RequestedParameters.Filter.Trigger == ua.DataChangeTrigger.StatusValueTimestamp
    assert second.RequestedParameters.Filter.Trigger == ua.DataChangeTrigger.StatusValue
    assert second.ItemToMonitor.NodeId == ua.NodeId(1001, 3)
    assert second.RequestedParameters.Filter.DeadbandType == ua.DeadbandType.Absolute
    assert second.RequestedParameters.Filter.DeadbandValue == 0.5
