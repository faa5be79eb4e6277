"""OPC UA source: one subscription with a monitored item per mapped node (sampling interval, optional deadband).

Source timestamps and StatusCodes are carried through. The client reconnects by itself (asyncua's supervisor
re-creates the subscription); the first connection is retried here until the server answers.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from asyncua import Client, ua

from services.gateway.config import GatewayConfig, OpcUaConfig, OpcUaNode
from services.gateway.metrics import GatewayMetrics
from services.gateway.readings import Reading, as_utc, is_bad
from shared.quality import severity

log = logging.getLogger("baseload.gateway.opcua")
logging.getLogger("asyncua").setLevel(logging.ERROR)
# Its publish loop logs a traceback on every lost connection; we log the loss ourselves, in one line.
logging.getLogger("asyncua.client.ua_session").setLevel(logging.CRITICAL)

Sink = Callable[[Sequence[Reading]], None]


class LastValues:
    """The last value seen per signal, so a Bad status without a value can still be recorded as a Bad reading."""

    def __init__(self, policy: str) -> None:
        self.policy = policy
        self._last: dict[str, float] = {}

    def reading(self, signal: str, ts: datetime, value: float | None, status: int) -> Reading | None:
        """The reading to send, or None for a gap (a Bad status with no value to hold)."""
        if value is not None and math.isfinite(value):
            if not is_bad(status):
                self._last[signal] = value
            return Reading(signal, ts, value, status)
        held = self._last.get(signal) if self.policy == "hold_last" else None
        return None if held is None else Reading(signal, ts, held, status)


def monitored_item_requests(nodes: Sequence[OpcUaNode]) -> list[ua.MonitoredItemCreateRequest]:
    """One request per node; the client handle is the node's index + 1, used to route notifications back."""
    requests = []
    for handle, node in enumerate(nodes, start=1):
        params = ua.MonitoringParameters()
        params.ClientHandle = handle
        params.SamplingInterval = node.sampling_interval_ms
        params.QueueSize = node.queue_size
        params.DiscardOldest = True
        flt = ua.DataChangeFilter()
        if node.deadband is not None:
            flt.Trigger = ua.DataChangeTrigger.StatusValue
            flt.DeadbandType = ua.DeadbandType.Absolute
            flt.DeadbandValue = node.deadband
        else:
            # Report every new source timestamp, not only changed values: a frozen sensor then still shows up as
            # repeated readings (which alerts can call frozen) instead of silence (indistinguishable from stale).
            flt.Trigger = ua.DataChangeTrigger.StatusValueTimestamp
        params.Filter = flt
        request = ua.MonitoredItemCreateRequest()
        request.ItemToMonitor = ua.ReadValueId(
            NodeId=ua.NodeId.from_string(node.node_id), AttributeId=ua.AttributeIds.Value
        )
        request.MonitoringMode = ua.MonitoringMode.Reporting
        request.RequestedParameters = params
        requests.append(request)
    return requests


def reading_from_datavalue(node: OpcUaNode, dv: ua.DataValue, received: datetime, last: LastValues) -> Reading | None:
    status = dv.StatusCode.value if dv.StatusCode is not None else 0
    ts = dv.SourceTimestamp or dv.ServerTimestamp or received
    raw = dv.Value.Value if dv.Value is not None else None
    value = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
    return last.reading(node.signal, as_utc(ts), value, status)


class OpcUaSource:
    def __init__(self, config: GatewayConfig, sink: Sink, metrics: GatewayMetrics) -> None:
        assert config.opcua is not None
        self.config: OpcUaConfig = config.opcua
        self.sink = sink
        self.metrics = metrics
        self.last = LastValues(config.bad_readings)
        self.connected = False

    async def run(self) -> None:
        delay = 0.5
        while True:
            client = Client(self.config.endpoint, timeout=5)
            client.connection_lost_callback = self._lost
            try:
                await client.connect(auto_reconnect=True, reconnect_max_delay=self.config.reconnect_max_s)
            except (OSError, TimeoutError, ua.UaError) as exc:
                log.warning("OPC UA %s unreachable (%r); retrying in %.1fs", self.config.endpoint, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.config.reconnect_max_s)
                continue
            delay = 0.5
            try:
                await self._stream(client)
            except (OSError, TimeoutError, ua.UaError) as exc:
                log.warning("OPC UA subscription failed (%r); reconnecting", exc)
            finally:
                self._set_connected(False)
                await _quiet_disconnect(client)

    async def _stream(self, client: Client) -> None:
        subscription = await client.create_subscription(self.config.publishing_interval_ms, handler=None)
        results = await subscription.create_monitored_items(monitored_item_requests(self.config.nodes))
        for node, result in zip(self.config.nodes, results, strict=True):
            if isinstance(result, ua.StatusCode):
                log.error("OPC UA node %s (%s) cannot be monitored: %s", node.node_id, node.signal, result)
        self._set_connected(True)
        log.info("OPC UA subscribed to %d nodes at %s", len(self.config.nodes), self.config.endpoint)
        async for event in subscription:
            self._set_connected(True)
            data = getattr(event, "data", None)
            if data is None:
                continue
            handle = data.monitored_item.ClientHandle
            if 1 <= handle <= len(self.config.nodes):
                self._forward(self.config.nodes[handle - 1], data.monitored_item.Value)

    def _forward(self, node: OpcUaNode, dv: ua.DataValue) -> None:
        reading = reading_from_datavalue(node, dv, datetime.now(UTC), self.last)
        if reading is None:
            self.metrics.source_gaps.labels(source="opcua").inc()
            return
        self.metrics.source_readings.labels(source="opcua", quality=severity(reading.quality)).inc()
        self.sink([reading])

    async def _lost(self, exc: Exception) -> None:
        log.warning("OPC UA connection lost (%r); the client reconnects by itself", exc)
        self._set_connected(False)

    def _set_connected(self, connected: bool) -> None:
        self.connected = connected
        self.metrics.source_connected.labels(source="opcua").set(1 if connected else 0)


async def _quiet_disconnect(client: Client) -> None:
    try:
        await asyncio.wait_for(client.disconnect(), 5)
    except (OSError, TimeoutError, ua.UaError, AttributeError) as exc:
        log.debug("OPC UA disconnect: %r", exc)
