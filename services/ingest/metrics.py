"""Ingest's Prometheus metrics, in a registry of its own (one per app, so tests do not collide)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True)
class IngestMetrics:
    registry: CollectorRegistry
    readings: Counter
    batch_seconds: Histogram
    in_flight: Gauge
    requests: Counter
    write_paths: Counter
    body_reads: Gauge

    @classmethod
    def create(cls) -> IngestMetrics:
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            readings=Counter(
                "baseload_ingest_readings",
                "Readings by outcome (accepted, duplicate, rejected)",
                ["gateway", "outcome"],
                registry=registry,
            ),
            batch_seconds=Histogram(
                "baseload_ingest_batch_seconds",
                "Time to store one batch, from decoded body to commit",
                ["format"],
                registry=registry,
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            ),
            in_flight=Gauge("baseload_ingest_writes_in_flight", "Write transactions in flight", registry=registry),
            requests=Counter(
                "baseload_ingest_requests",
                "Write requests by format and status",
                ["format", "status"],
                registry=registry,
            ),
            write_paths=Counter(
                "baseload_ingest_write_path",
                "Batches by write path (append: plain insert of live data; dedup: ON CONFLICT)",
                ["path"],
                registry=registry,
            ),
            body_reads=Gauge(
                "baseload_ingest_body_reads", "Request bodies being received (no write slot held)", registry=registry
            ),
        )

    def count(self, gateway: str, accepted: int, duplicates: int, rejected: int) -> None:
        for outcome, n in (("accepted", accepted), ("duplicate", duplicates), ("rejected", rejected)):
            if n:
                self.readings.labels(gateway, outcome).inc(n)
