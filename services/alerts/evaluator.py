"""Prompt rule evaluation: on ingest's post-commit NOTIFY (only the rules of the touched signals), on a timer tick
(deadman, period ends, pending and firing alerts), and in a periodic full sweep.

Each cycle is one transaction: lock the rules (SKIP LOCKED: another replica evaluating them wins; they are
retried next cycle), read inputs, step every alert's lifecycle, write state, transitions and outbox rows, commit.

One rule never stops the others: a rule that cannot be loaded, or whose evaluation raises, is logged, counted in
/metrics, marked on its row (`last_error`, shown by GET /v1/rules) and skipped; each rule's writes sit in their own
savepoint, so a failing rule leaves nothing half-written while every other rule is evaluated and notified.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.alerts import store
from services.alerts.formats import Notification, render
from services.alerts.lifecycle import FIRING, INACTIVE, PENDING, RESOLVED_EVENT, AlertState, step
from services.alerts.matchers import Matcher, all_match
from services.alerts.metrics import AlertsMetrics
from services.alerts.rules import (
    BASELOAD_KINDS,
    TIMER_KINDS,
    Inputs,
    Needs,
    Rule,
    Verdict,
    evaluate,
    fingerprint,
    needs,
)
from services.alerts.settings import Settings
from services.alerts.signing import new_message_id
from shared.contracts import ContractError, decode_readings_changed
from shared.db import DATABASE_ERRORS, UNAVAILABLE_ERRORS, asyncpg_dsn, transaction
from shared.worker import Backoff, Worker, worker_metrics

log = logging.getLogger("baseload.alerts.evaluator")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class CycleResult:
    evaluated: int = 0
    deferred: set[int] = field(default_factory=set)
    hot: set[int] = field(default_factory=set)  # rules with a pending or firing alert
    notifications: int = 0
    failed: dict[int, str] = field(default_factory=dict)  # rule id → error


@dataclass
class CycleContext:
    now: datetime
    silences: list[tuple[Matcher, ...]]
    endpoints: list[store.Endpoint] | None = None
    outbox: list[tuple[int, int, str, str, str]] = field(default_factory=list)


class Evaluator:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        database_url: str,
        *,
        clock: Callable[[], datetime] = utcnow,
        metrics: AlertsMetrics | None = None,
    ) -> None:
        self.pool, self.settings, self.database_url, self.clock = pool, settings, database_url, clock
        self.metrics = metrics
        self.rules: dict[int, Rule] = {}
        self.marked: set[int] = set()  # rules whose row carries an error (cleared after a clean evaluation)
        self._errors: dict[int, str] = {}
        self.by_signal: dict[int, set[int]] = {}
        self.hot: set[int] = set()
        self.deferred: set[int] = set()
        self._touched: set[int] = set()
        self._rules_dirty = True
        self._wake = asyncio.Event()
        self._conn: asyncpg.Connection | None = None  # the LISTEN connection
        self._last_sweep = self._last_tick = self._last_refresh = 0.0
        # A bug in one cycle must not stop alerting for good: every failure is logged and retried, soon.
        self.worker = Worker(
            "alerts.evaluator",
            self.step,
            every_s=0.0,  # the step waits for its own wake-up
            backoff=Backoff(base_s=1.0, max_s=5.0),
            metrics=worker_metrics(metrics.registry) if metrics is not None else None,
            logger=log,
        )

    # --- the loop -----------------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Listen and evaluate until cancelled; reconnects while the database is away (shared.worker: logged,
        counted in /metrics as baseload_worker_failures{worker="alerts.evaluator"}, retried with backoff)."""
        try:
            await self.worker.run()
        finally:
            await self._disconnect()

    async def step(self) -> None:
        """One wake-up: (re)connect the LISTEN connection if needed, wait for a notification or the next tick,
        evaluate. Any error drops the connection (the next step reconnects and sweeps every rule)."""
        try:
            await self._wait_and_evaluate()
        except BaseException:
            await self._disconnect()
            raise

    async def _wait_and_evaluate(self) -> None:
        if self._conn is None:
            conn = await asyncpg.connect(asyncpg_dsn(self.database_url))
            self._conn = conn
            await conn.add_listener(self.settings.readings_channel, self._on_readings)
            await conn.add_listener(self.settings.rules_channel, self._on_rules)
            self._rules_dirty = True
            self._last_sweep = self._last_tick = self._last_refresh = 0.0  # a fresh connection sweeps everything
        timeout = max(0.0, self._last_tick + self.settings.tick_s - time.monotonic())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()
        if self._conn.is_closed():
            raise asyncpg.ConnectionDoesNotExistError("the LISTEN connection was lost")
        mono = time.monotonic()
        if self._rules_dirty or mono - self._last_refresh >= self.settings.rules_refresh_s:
            await self.refresh_rules()
            self._last_refresh = mono
        full = mono - self._last_sweep >= self.settings.full_sweep_s
        timer = mono - self._last_tick >= self.settings.tick_s
        touched, self._touched = self._touched, set()
        await self.cycle(touched, timer=timer, full=full)
        self._last_sweep = mono if full else self._last_sweep
        self._last_tick = mono if timer else self._last_tick

    async def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(*DATABASE_ERRORS):
                await conn.close()

    def _on_readings(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        try:
            self._touched.update(decode_readings_changed(str(payload)).signal_ids)
        except ContractError:
            log.warning("ignoring a malformed readings notification: %.200s", payload)
            return
        self._wake.set()

    def _on_rules(self, *_: Any) -> None:
        self._rules_dirty = True
        self._wake.set()

    async def refresh_rules(self) -> None:
        self._rules_dirty = False
        async with transaction(self.pool) as conn:
            loaded = await store.load_rules(conn)
            if loaded.failed:
                await store.mark_rule_errors(conn, loaded.failed, self.clock())
        self._failed("load", loaded.failed)
        self.rules, self.marked = loaded.rules, loaded.marked | set(loaded.failed)
        index: dict[int, set[int]] = {}
        for rule in self.rules.values():
            for signal_id in rule.signal_ids:
                index.setdefault(signal_id, set()).add(rule.id)
        self.by_signal = index

    # --- one cycle ----------------------------------------------------------------------------------------------

    def candidates(self, touched: set[int], *, timer: bool, full: bool) -> set[int]:
        """Rules to evaluate now: those reading touched signals, plus the clock-driven ones on a tick."""
        if full:
            return set(self.rules)
        ids = {rid for sid in touched for rid in self.by_signal.get(sid, ())} | self.deferred
        if timer:
            ids |= {r.id for r in self.rules.values() if r.kind in TIMER_KINDS} | self.hot
        return {i for i in ids if i in self.rules}

    async def cycle(self, touched: set[int], *, timer: bool = True, full: bool = False) -> CycleResult:
        ids = self.candidates(touched, timer=timer, full=full)
        result = CycleResult()
        if ids:
            async with transaction(self.pool) as conn:
                result = await self.evaluate_rules(conn, ids)
        self.deferred = result.deferred
        self.hot = (self.hot - (ids - result.deferred)) | result.hot
        return result

    async def evaluate_rules(self, conn: asyncpg.Connection, ids: set[int]) -> CycleResult:
        now = self.clock()
        locked = await store.lock_rules(conn, ids)
        result = CycleResult(deferred=ids - locked)
        rules = [self.rules[i] for i in sorted(locked)]
        if not rules:
            return result
        plants = {r.plant_id for r in rules if r.kind in BASELOAD_KINDS and r.plant_id is not None}
        books = await store.load_books(conn, plants, now, default_period_s=self.settings.settlement_period_s)
        want = Needs()
        for rule in list(rules):
            try:
                merge_needs(want, needs(rule, books, now))
            except Exception as exc:  # one rule's defect: reported and skipped below
                result.failed[rule.id] = store.describe(exc)
                rules.remove(rule)
        inputs = await store.load_inputs(
            conn,
            want,
            books,
            now,
            max_gap_s=self.settings.max_gap_s,
            min_coverage=self.settings.compliance_min_coverage,
        )
        existing = await store.lock_alerts(conn, [r.id for r in rules])
        inputs.previous = {fp: row.evidence for fp, row in existing.items() if row.evidence is not None}
        ctx = CycleContext(now, await store.active_silences(conn, now))
        for rule in rules:
            await self._evaluate_one(conn, rule, inputs, existing, ctx, result)
        if result.failed:
            await store.mark_rule_errors(conn, result.failed, now)
        recovered = (self.marked & {r.id for r in rules}) - set(result.failed)
        if recovered:
            await store.clear_rule_errors(conn, recovered)
        self.marked = (self.marked - recovered) | set(result.failed)
        for rule_id in recovered:
            self._errors.pop(rule_id, None)
        self._failed("evaluate", result.failed)
        if ctx.outbox:
            await store.enqueue(conn, ctx.outbox)
            await store.notify(conn, self.settings.outbox_channel)
        result.notifications = len(ctx.outbox)
        return result

    async def _evaluate_one(
        self,
        conn: asyncpg.Connection,
        rule: Rule,
        inputs: Inputs,
        existing: dict[str, store.AlertRow],
        ctx: CycleContext,
        result: CycleResult,
    ) -> None:
        """Evaluate one rule and write its alerts in a savepoint; on any error, undo them and report the rule."""
        queued = len(ctx.outbox)
        try:
            verdicts = evaluate(rule, inputs, ctx.now)
            async with conn.transaction():
                for verdict in verdicts:
                    state = await self.apply(conn, rule, verdict, existing, ctx)
                    if state.state in (PENDING, FIRING):
                        result.hot.add(rule.id)
        except UNAVAILABLE_ERRORS:  # InterfaceError among them
            raise  # the connection is gone: nothing else can be evaluated either
        except Exception as exc:  # one rule's defect must not silence the others
            del ctx.outbox[queued:]
            result.hot.discard(rule.id)
            result.failed[rule.id] = store.describe(exc)
            return
        result.evaluated += 1

    def _failed(self, stage: str, failed: dict[int, str]) -> None:
        for rule_id, error in failed.items():
            if self._errors.get(rule_id) != error:  # log each new error once, not every tick
                log.error("alert rule %s failed to %s and is skipped: %s", rule_id, stage, error)
            self._errors[rule_id] = error
            if self.metrics is not None:
                self.metrics.rule_errors.labels(stage).inc()

    async def apply(
        self,
        conn: asyncpg.Connection,
        rule: Rule,
        verdict: Verdict,
        existing: dict[str, store.AlertRow],
        ctx: CycleContext,
    ) -> AlertState:
        """Step one alert; write it (only if it is not quiet), its transition and its notifications."""
        labels = dict(verdict.labels)
        fp = fingerprint(rule.id, labels)
        row = existing.get(fp)
        current = row.state if row else AlertState()
        silenced = any(all_match(matchers, labels) for matchers in ctx.silences)
        outcome = step(current, verdict.active, verdict.timing or rule.timing, silenced=silenced, now=ctx.now)
        if row is None and outcome.state.state == INACTIVE and not verdict.keep:
            return outcome.state  # never active: no alert row yet
        evidence = {**verdict.evidence, "summary": verdict.summary, "active": verdict.active}
        alert_id = await store.save_alert(
            conn,
            rule_id=rule.id,
            fingerprint=fp,
            labels=labels,
            value=verdict.value,
            evidence=evidence,
            now=ctx.now,
            state=outcome.state,
        )
        if outcome.transition:
            await store.record_transition(
                conn, alert_id, ctx.now, *outcome.transition, {**evidence, "value": verdict.value}
            )
        if outcome.notify:
            await self.queue_notifications(
                conn, rule, verdict, alert_id, fp, outcome.state, outcome.notify, row.acked_by if row else None, ctx
            )
        return outcome.state

    async def queue_notifications(
        self,
        conn: asyncpg.Connection,
        rule: Rule,
        verdict: Verdict,
        alert_id: int,
        fp: str,
        state: AlertState,
        event: str,
        acked_by: str | None,
        ctx: CycleContext,
    ) -> None:
        if ctx.endpoints is None:
            ctx.endpoints = await store.enabled_endpoints(conn)
        for endpoint in ctx.endpoints:
            if not endpoint.wants(rule.severity, verdict.labels):
                continue
            note = Notification(
                event_type=event,
                at=ctx.now,
                alert_id=alert_id,
                fingerprint=fp,
                incident=state.incident,
                rule_id=rule.id,
                rule_name=rule.name,
                rule_kind=rule.kind,
                severity=rule.severity,
                status="resolved" if event == RESOLVED_EVENT else "firing",
                labels=verdict.labels,
                summary=verdict.summary,
                value=verdict.value,
                evidence=verdict.evidence,
                starts_at=state.firing_since,
                ends_at=state.resolved_at if event == RESOLVED_EVENT else None,
                acked_by=acked_by if state.acked_at else None,
                acked_at=state.acked_at,
                receiver=endpoint.name,
                external_url=self.settings.external_url,
            )
            body = render(endpoint.format, note, endpoint.options).decode()
            ctx.outbox.append((endpoint.id, alert_id, event, new_message_id(), body))


def merge_needs(into: Needs, more: Needs) -> None:
    into.latest |= more.latest
    into.last_seen |= more.last_seen
    into.gateways |= more.gateways
    into.held |= more.held
    for signal_id, since in more.minutes.items():
        into.want_minutes(signal_id, since)
