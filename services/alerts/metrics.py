"""Alerts' Prometheus metrics: what is firing and what waits in the outbox, read from the database so that every
replica reports the same, plus the upkeep that keeps the delivery log bounded."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from prometheus_client import CollectorRegistry, Counter, Gauge

from services.alerts import store
from shared.contracts import AlertState
from shared.db import connection
from shared.worker import Backoff, Worker, worker_metrics

log = logging.getLogger("baseload.alerts.metrics")

ALERT_STATES = tuple(state.value for state in AlertState)
OUTBOX_STATUSES = ("pending", "delivered", "dead")


@dataclass(frozen=True)
class AlertsMetrics:
    registry: CollectorRegistry
    alerts: Gauge
    outbox: Gauge
    forgotten: Counter
    rule_errors: Counter
    rules_failing: Gauge

    @classmethod
    def create(cls) -> AlertsMetrics:
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            alerts=Gauge("baseload_alerts", "Alerts by state", ["state"], registry=registry),
            outbox=Gauge(
                "baseload_alerts_notifications",
                "Webhook notifications in the outbox by status",
                ["status"],
                registry=registry,
            ),
            forgotten=Counter(
                "baseload_alerts_delivery_log_pruned",
                "Delivered notifications removed after the retention period",
                registry=registry,
            ),
            rule_errors=Counter(
                "baseload_alerts_rule_errors",
                "Rules that failed to load or evaluate and were skipped (the other rules still ran), by stage",
                ["stage"],
                registry=registry,
            ),
            rules_failing=Gauge(
                "baseload_alerts_rules_failing", "Rules whose last load or evaluation failed", registry=registry
            ),
        )

    def show(self, alert_states: dict[str, int], outbox_statuses: dict[str, int], failing_rules: int = 0) -> None:
        self.rules_failing.set(failing_rules)
        for state in ALERT_STATES:
            self.alerts.labels(state).set(alert_states.get(state, 0))
        for status in OUTBOX_STATUSES:
            self.outbox.labels(status).set(outbox_statuses.get(status, 0))


async def run_upkeep(
    pool: asyncpg.Pool, metrics: AlertsMetrics, *, every_s: float, retention: timedelta, prune_every_s: float = 3600.0
) -> None:
    """Refresh the gauges every `every_s`; prune delivered notifications older than `retention` hourly. A failed
    round (the database away) is logged, counted and retried by shared.worker, never ends the loop."""
    loop = asyncio.get_running_loop()
    pruned_at = float("-inf")

    async def step() -> None:
        nonlocal pruned_at
        async with connection(pool) as conn:
            metrics.show(*await store.status_counts(conn))
            if loop.time() - pruned_at >= prune_every_s:
                metrics.forgotten.inc(await store.forget_delivered(conn, datetime.now(UTC) - retention))
                pruned_at = loop.time()

    await Worker(
        "alerts.upkeep",
        step,
        every_s=every_s,
        backoff=Backoff(base_s=every_s, max_s=max(every_s, 60.0)),
        metrics=worker_metrics(metrics.registry),
        logger=log,
    ).run()
