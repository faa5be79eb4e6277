"""The write pipeline behind both wire formats: check, make partitions, write once, remember the response."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec

from services.ingest import store
from services.ingest.gate import WriteGate
from services.ingest.metrics import IngestMetrics
from services.ingest.retention_job import RetentionMetrics, run_retention
from services.ingest.settings import Settings
from services.ingest.validation import (
    CONFLICTING_VALUE,
    UNKNOWN_SIGNAL,
    Checked,
    Rejection,
    SignalInfo,
    Window,
    check_readings,
    utc_days,
)
from shared.auth import Principal
from shared.db import transaction
from shared.errors import ApiError
from shared.history.spans import hot_from
from shared.ledger.digest import batch_digest
from shared.worker import Backoff, Worker, worker_metrics

log = logging.getLogger("baseload.ingest")

CATALOG_REFRESH_S = 5.0
LAST_SEEN_EVERY_S = 5.0
Item = tuple[int, str, datetime, float, object]
# Idempotency records hold the outcome (not an HTTP reply): the route renders it, on the first answer and on
# replays alike. Records of other content types were written by an earlier version and are replayed verbatim.
OUTCOME_CONTENT_TYPE = "application/vnd.baseload.write-outcome+json"


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What a write did: `rejected` holds every reading refused (index = the item's position in the request)."""

    accepted: int
    duplicates: int
    rejected: list[Rejection]
    replayed: bool = False


class _StoredRejection(msgspec.Struct, array_like=True):
    index: int
    code: str
    message: str


class _StoredOutcome(msgspec.Struct):
    accepted: int
    duplicates: int
    rejected: list[_StoredRejection]


Replay = BatchResult | store.StoredResponse


def encode_outcome(result: BatchResult, request_hash: bytes) -> store.StoredResponse:
    rejected = [_StoredRejection(r.index, r.code, r.message) for r in result.rejected]
    body = msgspec.json.encode(_StoredOutcome(result.accepted, result.duplicates, rejected))
    return store.StoredResponse(request_hash, 0, OUTCOME_CONTENT_TYPE, body)


def decode_outcome(stored: store.StoredResponse) -> Replay:
    """A stored outcome as a replayed `BatchResult`; an earlier version's stored reply as it is."""
    if stored.content_type != OUTCOME_CONTENT_TYPE:
        return stored
    out = msgspec.json.decode(stored.body, type=_StoredOutcome)
    return BatchResult(
        out.accepted, out.duplicates, [Rejection(r.index, r.code, r.message) for r in out.rejected], replayed=True
    )


class MergeOrder:
    """Concurrent append batches of this process merge their rollups in time order: a batch waits, before its merge,
    for the batches in flight that started earlier on any of its signals to merge theirs. Out-of-order merges are
    exact too (a batch landing inside a stored rollup row marks it for a recompute), but every 15-minute and 1-hour
    row of several clients sending one stream would otherwise be recomputed again and again. Only an ordering aid:
    a wait ends after `wait_s` (no batch can then hold another up for long, whatever it waits on)."""

    def __init__(self, wait_s: float = 1.0) -> None:
        self.wait_s = wait_s
        self._in_flight: dict[int, tuple[datetime, frozenset[int], asyncio.Event]] = {}
        self._tokens = itertools.count()

    @asynccontextmanager
    async def batch(self, checked: Checked) -> AsyncIterator[AbstractAsyncContextManager[None]]:
        """For one batch's transaction: the context its merge runs in."""
        token = next(self._tokens)
        merged = asyncio.Event()
        self._in_flight[token] = (checked.oldest, checked.signal_ids, merged)
        try:
            yield self._turn(token, checked, merged)
        finally:
            del self._in_flight[token]
            merged.set()

    @asynccontextmanager
    async def _turn(self, token: int, checked: Checked, merged: asyncio.Event) -> AsyncIterator[None]:
        earlier = [
            event
            for other, (oldest, signals, event) in self._in_flight.items()
            if other != token and oldest < checked.oldest and not signals.isdisjoint(checked.signal_ids)
        ]
        if earlier:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(e.wait() for e in earlier)), self.wait_s)
        try:
            yield
        finally:
            merged.set()  # the rows are locked now: a later batch's merge queues behind them in PostgreSQL


@dataclass(frozen=True, slots=True)
class Idempotency:
    key: str
    request_hash: bytes

    @classmethod
    def of(cls, key: str | None, path: str, body: bytes) -> Idempotency | None:
        if key is None:
            return None
        if not 1 <= len(key) <= 255:
            raise ApiError(400, "invalid_idempotency_key", "Idempotency-Key must be 1 to 255 characters.")
        return cls(key, hashlib.sha256(path.encode() + b"\n" + body).digest())


class Ingestor:
    """Holds the pool, the signal catalog and the partition cache; `write` is the one way readings get in."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings, metrics: IngestMetrics) -> None:
        self.pool = pool
        self.settings = settings
        self.metrics = metrics
        self.gate = WriteGate(
            settings.max_concurrent_writes,
            settings.max_queued_writes,
            settings.queue_timeout_s,
            settings.max_body_reads,
        )
        metrics.body_reads.set_function(lambda: self.gate.reads)
        self.retention_metrics = RetentionMetrics.create(metrics.registry)
        self.catalog: dict[str, SignalInfo] = {}
        self._catalog_loaded_at = float("-inf")
        self._partition_days: set[datetime] = set()
        self._last_seen: dict[int, float] = {}
        # Newest stored ts per signal as far as this process knows: only a hint for the append path.
        self._newest: dict[int, datetime | None] = {}
        self.merge_order = MergeOrder()

    async def refresh(self) -> None:
        """Reload the signal catalog, the known partitions and the newest-reading hints of the append path."""
        catalog = await store.load_catalog(self.pool)
        partition_days = await store.existing_partition_days(self.pool)
        newest = await store.newest_per_signal(self.pool)
        # All at once: a request must not see the new catalog with the old (at start-up: empty) append hints.
        self.catalog, self._partition_days, self._newest = catalog, partition_days, newest
        self._catalog_loaded_at = time.monotonic()

    async def maintain(self, now: datetime) -> None:
        """Hourly upkeep: partitions ahead of time, expired idempotency records, retention."""
        await store.ensure_partitions_ahead(self.pool, now, self.settings.partitions_ahead_days)
        await store.forget_old_responses(self.pool, now - timedelta(hours=self.settings.idempotency_ttl_h))
        await run_retention(self.pool, self.settings, now, self.retention_metrics)

    def window(self, now: datetime) -> Window:
        return Window.around(
            now, retention_days=self.settings.retention_days, max_future_skew_s=self.settings.max_future_skew_s
        )

    async def check(self, items: Sequence[Item], now: datetime, plant_ids: frozenset[int] | None = None) -> Checked:
        if not self.catalog:  # before the background refresh has succeeded once
            await self.refresh()
        checked = check_readings(items, self.catalog, self.window(now), plant_ids)
        stale = time.monotonic() - self._catalog_loaded_at > CATALOG_REFRESH_S
        if stale and any(r.code == UNKNOWN_SIGNAL for r in checked.rejected):
            await self.refresh()  # a plant file may have been loaded since
            checked = check_readings(items, self.catalog, self.window(now), plant_ids)
        return checked

    async def replay(self, principal: Principal, idem: Idempotency | None) -> Replay | None:
        """The outcome of an earlier request with the same Idempotency-Key, if any."""
        if idem is None:
            return None
        stored = await store.find_response(self.pool, principal.key_id, idem.key)
        if stored is None:
            return None
        if stored.request_hash != idem.request_hash:
            raise ApiError(
                422,
                "idempotency_key_reused",
                "This Idempotency-Key was used with a different request body.",
                {"key": idem.key},
            )
        return decode_outcome(stored)

    async def write(
        self,
        principal: Principal,
        items: Sequence[Item],
        now: datetime,
        *,
        fmt: str,
        idem: Idempotency | None = None,
        prior: Sequence[Rejection] = (),
    ) -> Replay:
        """Check and store `items` in one transaction; with `idem`, the outcome is saved in that transaction.

        `prior` are readings the route already refused while decoding: they are part of the outcome (and of the
        saved record), with their index in the request. A concurrent retry that waited on the same key gets the
        first request's outcome."""
        started = time.perf_counter()
        checked = await self.check(items, now, principal.plant_ids)
        await self._ensure_partitions(checked)
        digest = batch_digest(checked.rows)  # provenance (issue 11), hashed before taking a write slot
        async with self.gate.write_slot():
            self.metrics.in_flight.inc()
            try:
                result = await self._write_once(principal, checked, idem, prior, digest, hot_from(now))
            finally:
                self.metrics.in_flight.dec()
        self._remember_newest(checked)
        self.metrics.batch_seconds.labels(fmt).observe(time.perf_counter() - started)
        if isinstance(result, BatchResult) and not result.replayed:
            self.metrics.count(principal.name, result.accepted, result.duplicates, len(result.rejected))
        await self._touch(principal)
        return result

    async def _write_once(
        self,
        principal: Principal,
        checked: Checked,
        idem: Idempotency | None,
        prior: Sequence[Rejection],
        digest: str,
        hot_since: datetime,
    ) -> Replay:
        for attempt in range(2):
            try:
                return await self._transaction(principal, checked, idem, prior, digest, hot_since)
            except asyncpg.CheckViolationError as exc:
                # A partition dropped behind our back ("no partition of relation ... found for row"): re-learn.
                if attempt or "partition" not in str(exc):
                    raise
                self._partition_days.clear()
                self._partition_days = await store.existing_partition_days(self.pool)
                await self._ensure_partitions(checked)
        raise AssertionError("unreachable")

    async def _transaction(
        self,
        principal: Principal,
        checked: Checked,
        idem: Idempotency | None,
        prior: Sequence[Rejection],
        digest: str,
        hot_since: datetime,
    ) -> Replay:
        async with transaction(self.pool) as conn:
            if idem is not None:
                await store.lock_idempotency_key(conn, principal.key_id, idem.key)
                earlier = await store.find_response(conn, principal.key_id, idem.key)
                if earlier is not None:
                    return decode_outcome(earlier)
            outcome = None
            if checked.rows:
                append = self._looks_like_append(checked)
                async with self.merge_order.batch(checked) if append else contextlib.nullcontext() as merge_turn:
                    outcome = await store.write_rows(
                        conn,
                        checked.rows,
                        notify_channel=self.settings.notify_channel,
                        try_append=append,
                        hot_from=hot_since,  # older rows may belong to a compressed day (shared/history)
                        oldest=checked.oldest,
                        merge_turn=merge_turn,
                    )
                self.metrics.write_paths.labels(outcome.path).inc()
                if outcome.inserted:  # provenance of the batch (issue 11): who sent what, when
                    await store.record_batch(conn, principal.key_id, outcome, digest)
            result = _result(checked, outcome, prior)
            if idem is not None:
                await store.save_response(conn, principal.key_id, idem.key, encode_outcome(result, idem.request_hash))
            return result

    def _looks_like_append(self, checked: Checked) -> bool:
        """True when every row is newer than what this process last saw stored for its signal."""
        oldest, newest = checked.oldest, self._newest
        for signal_id in checked.signal_ids:
            if signal_id not in newest:
                return False
            seen = newest[signal_id]
            if seen is not None and seen >= oldest:
                return False
        return True

    def _remember_newest(self, checked: Checked) -> None:
        latest = checked.newest
        for signal_id in checked.signal_ids:
            seen = self._newest.get(signal_id)
            if signal_id in self._newest and (seen is None or seen < latest):
                self._newest[signal_id] = latest

    async def _ensure_partitions(self, checked: Checked) -> None:
        if not checked.rows:
            return
        missing = utc_days(checked.rows, checked.oldest, checked.newest) - self._partition_days
        if missing:
            await store.ensure_partitions(self.pool, sorted(missing))
            self._partition_days |= missing

    async def _touch(self, principal: Principal) -> None:
        now = time.monotonic()
        if now - self._last_seen.get(principal.key_id, float("-inf")) >= LAST_SEEN_EVERY_S:
            self._last_seen[principal.key_id] = now
            await store.touch_key(self.pool, principal.key_id)


def _result(checked: Checked, outcome: store.WriteOutcome | None, prior: Sequence[Rejection]) -> BatchResult:
    inserted = outcome.inserted if outcome else 0
    conflicts = outcome.conflicts if outcome else []
    rejected = [*checked.rejected]
    for index in conflicts:
        rejected.append(
            Rejection(
                index,
                CONFLICTING_VALUE,
                "a different value or quality is already stored for this signal and ts; readings are immutable",
            )
        )
    rejected = sorted([*prior, *rejected], key=lambda r: r.index)
    duplicates = len(checked.rows) - inserted - len(conflicts)
    return BatchResult(inserted, duplicates, rejected)


async def run_maintenance(ingestor: Ingestor, *, refresh_every_s: float = 30.0, upkeep_every_s: float = 3600.0) -> None:
    """Background task, off the request path: the catalog every `refresh_every_s`, upkeep at start-up and every
    `upkeep_every_s`; survives database outages (shared.worker: logged, counted, retried with backoff)."""
    upkept_at = float("-inf")

    async def step() -> None:
        nonlocal upkept_at
        if time.monotonic() - upkept_at >= upkeep_every_s:
            await ingestor.maintain(datetime.now(UTC))
            upkept_at = time.monotonic()
        await ingestor.refresh()

    await Worker(
        "ingest.maintenance",
        step,
        every_s=refresh_every_s,
        backoff=Backoff(base_s=5.0, max_s=60.0),
        metrics=worker_metrics(ingestor.metrics.registry),
        logger=log,
    ).run()
