"""The gateway's Prometheus metrics, on a registry of its own (so tests can run several bridges in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.buffer_depth = Gauge("gateway_buffer_depth", "Readings waiting in the disk buffer.", registry=r)
        self.buffer_oldest_age = Gauge(
            "gateway_buffer_oldest_age_seconds", "Age of the oldest buffered reading (0 when empty).", registry=r
        )
        self.dead_letters = Gauge("gateway_dead_letters", "Readings set aside after a permanent refusal.", registry=r)
        self.last_success = Gauge(
            "gateway_last_successful_post_timestamp_seconds", "Unix time of the last batch ingest accepted.", registry=r
        )
        self.readings_sent = Counter(
            "gateway_readings_sent_total", "Readings posted, by ingest's answer.", ["result"], registry=r
        )
        self.readings_dropped = Counter(
            "gateway_readings_dropped_total", "Old readings dropped because the buffer was full.", registry=r
        )
        self.post_failures = Counter("gateway_post_failures_total", "Failed posts to ingest.", ["reason"], registry=r)
        self.source_connected = Gauge(
            "gateway_source_connected", "1 while the source is connected.", ["source"], registry=r
        )
        self.source_readings = Counter(
            "gateway_source_readings_total", "Readings taken from a source.", ["source", "quality"], registry=r
        )
        self.source_gaps = Counter(
            "gateway_source_gaps_total", "Bad values without a usable value (left as gaps).", ["source"], registry=r
        )
