"""Issuing, restating and checking statements. Each function runs in the caller's transaction (the edge commits)."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from services.api import store as api_store
from services.api.catalog import Plant, Signal
from services.api.disputes import outbox
from services.api.disputes import store as disputes_store
from services.api.settings import Settings
from services.api.statements import store
from services.api.statements.numbers import settle
from shared.ledger.canonical import canonical, parse
from shared.ledger.digest import readings_digest
from shared.ledger.keys import Keyring
from shared.ledger.payload import (
    Evidence,
    PeriodNumbers,
    Placement,
    changes,
    corrections_json,
    day_payload,
    period_payload,
)
from shared.ledger.signing import sign, statement_hash, unverified_payload
from shared.settlement.corrections import correction_margin

RESTATED = "statement.restated"
LATE_BATCH_MARGIN = timedelta(seconds=60)  # batches commit after they are stamped; look back this far
MAX_PERIODS_PER_CALL = 2000


class IssuingError(Exception):
    """Issuing is not possible (no signing key, unknown plant); the message says what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Issuing:
    """What issuing needs besides a connection: the settings and the signing keys (None: serve only)."""

    settings: Settings
    keyring: Keyring | None

    def key(self) -> Any:
        if self.keyring is None:
            raise IssuingError("no_signing_key", "No signing key is configured; run `baseload keys signing create`.")
        return self.keyring.active


@dataclass(frozen=True, slots=True)
class Subject:
    """A plant and the signals its statements are computed from."""

    plant: Plant
    net: Signal

    @property
    def signals(self) -> dict[int, str]:
        return {self.net.id: self.net.key}


async def subjects(conn: asyncpg.Connection, plant_key: str | None = None) -> list[Subject]:
    """Plants with a net-output signal (the settlement basis), all or the one named."""
    catalog = await api_store.load_catalog(conn)
    if plant_key is not None and plant_key not in catalog.plants:
        raise IssuingError("unknown_plant", f"No plant {plant_key!r}.")
    out = []
    for plant in catalog.plants.values():
        nets = sorted(catalog.signals_of(plant, ("net_output",)), key=lambda s: s.key)
        if nets and plant_key in (None, plant.key):
            out.append(Subject(plant, nets[0]))
    return sorted(out, key=lambda s: s.plant.key)


def local_day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    return start, end


def local_day(ts: datetime, tz: str) -> date:
    return ts.astimezone(ZoneInfo(tz)).date()


# --- building payloads ---------------------------------------------------------------------------------------------


def parameters(settings: Settings) -> dict[str, Any]:
    """The configured values the numbers depend on, stated so that anyone can recompute them offline."""
    return {
        "max_gap_s": settings.max_gap_s,
        "min_coverage": settings.compliance_min_coverage,
        "good_only": True,
        "integration": settings.integration,
    }


Build = Callable[[Placement], dict[str, Any]]


async def _evidence(
    conn: asyncpg.Connection, subj: Subject, start: datetime, end: datetime, settings: Settings
) -> Evidence:
    rows = await store.readings(conn, subj.signals, start, end)
    times = [r.ts for r in rows]
    return Evidence(
        tuple(sorted(subj.signals.values())), min(times, default=None), max(times, default=None), readings_digest(rows)
    )


async def period_builder(
    conn: asyncpg.Connection, ctx: Issuing, subj: Subject, numbers: PeriodNumbers, method: Mapping[str, str]
) -> Build:
    evidence = await _evidence(conn, subj, numbers.start, numbers.end, ctx.settings)
    params = parameters(ctx.settings)
    margin = correction_margin(ctx.settings.max_gap_s)
    applied = await disputes_store.applied_corrections(
        conn, subj.plant.id, subj.net.id, numbers.start - margin, numbers.end + margin
    )
    corrections = corrections_json(applied, subj.net.key)
    return lambda placement: period_payload(subj.plant.key, numbers, method, params, evidence, placement, corrections)


async def day_builder(conn: asyncpg.Connection, ctx: Issuing, subj: Subject, day: date) -> Build:
    start, end = local_day_bounds(day, subj.plant.timezone)
    periods, totals, method = await settle(conn, subj.plant, subj.net, start, end, ctx.settings)
    evidence = await _evidence(conn, subj, start, end, ctx.settings)
    params = parameters(ctx.settings)
    return lambda placement: day_payload(
        subj.plant.key, day, subj.plant.timezone, start, end, periods, totals, method, params, evidence, placement
    )


# --- issuing -------------------------------------------------------------------------------------------------------


async def issue(
    conn: asyncpg.Connection,
    ctx: Issuing,
    subj: Subject,
    kind: str,
    start: datetime,
    end: datetime,
    build: Build,
    now: datetime,
    *,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> store.Stored | None:
    """Sign and chain a new revision if it states something new (revision 1, or changed content); else None.

    The caller holds the plant's lock (`store.lock_plant`) in this transaction."""
    prior = await store.latest(conn, subj.plant.id, kind, start)
    sequence, previous = await store.chain_tip(conn, subj.plant.id)
    placement = Placement(prior.revision + 1 if prior else 1, sequence + 1, now, previous)
    payload = parse(canonical(build(placement)))
    if prior is not None:
        old = unverified_payload(prior.jws)
        diff = changes(old, payload)
        if not diff:
            return None
        restatement = {
            "reason": reason or "recomputed",
            "replaces": prior.hash,
            "replaces_revision": prior.revision,
            "changes": diff,
            **(details or {}),
        }
        payload = parse(canonical(build(Placement(placement.revision, placement.sequence, now, previous, restatement))))
    key = ctx.key()
    token = sign(payload, key)
    stored = store.Stored(
        0,
        subj.plant.id,
        kind,
        start,
        end,
        placement.revision,
        placement.sequence,
        now,
        key.kid,
        statement_hash(token),
        previous,
        reason if prior else None,
        token,
    )
    await store.insert(conn, stored)
    if prior is not None:
        await _announce(conn, subj, stored, payload)
    return stored


async def _announce(conn: asyncpg.Connection, subj: Subject, stored: store.Stored, payload: dict[str, Any]) -> None:
    """`statement.restated` to the plant's partners' webhook endpoints, through the outbox (same transaction)."""
    restatement = payload.get("restatement") or {}
    event = {
        "plant": subj.plant.key,
        "kind": stored.kind,
        "period_start": payload["period_start"],
        "period_end": payload["period_end"],
        "revision": stored.revision,
        "hash": stored.hash,
        "reason": restatement.get("reason"),
        "changes": restatement.get("changes", []),
        "jws": stored.jws,
    }
    await outbox.enqueue_plant_event(conn, subj.plant.id, RESTATED, event, at=stored.issued_at)


async def issue_range(
    conn: asyncpg.Connection, ctx: Issuing, subj: Subject, start: datetime, end: datetime, now: datetime
) -> list[store.Stored]:
    """Revision 1 of every closed period with data in [start, end) that has none yet (locks the plant)."""
    await store.lock_plant(conn, subj.plant.id)
    horizon = min(end, now - timedelta(seconds=ctx.settings.late_data_window_s))
    if horizon <= start:
        return []
    periods, _, method = await settle(conn, subj.plant, subj.net, start, horizon, ctx.settings)
    minutes = await store.minutes_with_data(conn, subj.net.id, start - timedelta(days=1), horizon)
    stated = set(await store.stated_periods(conn, subj.plant.id, "period", start - timedelta(days=1), horizon))
    issued = []
    for p in periods:
        if p.end > horizon or p.start in stated or not _has_data(minutes, p.start, p.end):
            continue
        got = await issue(
            conn, ctx, subj, "period", p.start, p.end, await period_builder(conn, ctx, subj, p, method), now
        )
        if got is not None:
            issued.append(got)
        if len(issued) >= MAX_PERIODS_PER_CALL:
            break
    return issued


def _has_data(minutes: Sequence[datetime], start: datetime, end: datetime) -> bool:
    i = bisect.bisect_left(minutes, start)
    return i < len(minutes) and minutes[i] < end


async def issue_days(
    conn: asyncpg.Connection, ctx: Issuing, subj: Subject, start: datetime, end: datetime, now: datetime
) -> list[store.Stored]:
    """A statement per plant-local day in [start, end) whose periods are all closed and that has stated periods."""
    await store.lock_plant(conn, subj.plant.id)
    horizon = min(end, now - timedelta(seconds=ctx.settings.late_data_window_s))
    tz = subj.plant.timezone
    stated = await store.stated_periods(conn, subj.plant.id, "period", start, horizon)
    have = set(await store.stated_periods(conn, subj.plant.id, "day", start - timedelta(days=1), horizon))
    issued = []
    for day in sorted({local_day(p, tz) for p in stated}):
        day_start, day_end = local_day_bounds(day, tz)
        if day_end > horizon or day_start in have or day_start < start - timedelta(days=1):
            continue
        got = await issue(conn, ctx, subj, "day", day_start, day_end, await day_builder(conn, ctx, subj, day), now)
        if got is not None:
            issued.append(got)
    return issued


async def restate(
    conn: asyncpg.Connection,
    ctx: Issuing,
    plant_key: str,
    period_start: datetime,
    reason: str,
    *,
    now: datetime,
    details: Mapping[str, Any] | None = None,
) -> list[store.Stored]:
    """Recompute a stated period (and its plant-local day) and issue new revisions where anything changed.

    For corrections and late data alike; runs in the caller's transaction; returns the new revisions."""
    subj = (await subjects(conn, plant_key))[0]
    await store.lock_plant(conn, subj.plant.id)
    prior = await store.latest(conn, subj.plant.id, "period", period_start)
    if prior is None:
        raise IssuingError("unknown_period", f"No statement of plant {plant_key!r} for period {period_start}.")
    periods, _, method = await settle(conn, subj.plant, subj.net, prior.period_start, prior.period_end, ctx.settings)
    numbers = next(p for p in periods if p.start == prior.period_start)
    out = []
    got = await issue(
        conn,
        ctx,
        subj,
        "period",
        numbers.start,
        numbers.end,
        await period_builder(conn, ctx, subj, numbers, method),
        now,
        reason=reason,
        details=details,
    )
    if got is not None:
        out.append(got)
    day = local_day(period_start, subj.plant.timezone)
    day_start, day_end = local_day_bounds(day, subj.plant.timezone)
    if await store.latest(conn, subj.plant.id, "day", day_start) is not None:
        got = await issue(
            conn,
            ctx,
            subj,
            "day",
            day_start,
            day_end,
            await day_builder(conn, ctx, subj, day),
            now,
            reason=reason,
            details=details,
        )
        if got is not None:
            out.append(got)
    return out


async def catch_up(conn: asyncpg.Connection, ctx: Issuing, subj: Subject, now: datetime) -> list[store.Stored]:
    """One issuer step for a plant: restate what late batches changed, then issue what has closed since."""
    await store.lock_plant(conn, subj.plant.id)
    out = await restate_late(conn, ctx, subj, now)
    horizon = now - timedelta(seconds=ctx.settings.late_data_window_s)
    cursor = await store.last_stated_end(conn, subj.plant.id, "period") or await store.first_data(conn, subj.net.id)
    while cursor is not None and cursor < horizon and len(out) < MAX_PERIODS_PER_CALL:
        chunk_end = min(horizon, cursor + timedelta(days=1))
        got = await issue_range(conn, ctx, subj, cursor, chunk_end, now)
        out += got
        cursor = chunk_end if got else await store.next_data(conn, subj.net.id, chunk_end)
    first_day = await store.last_stated_end(conn, subj.plant.id, "day")
    first_period = await store.first_stated(conn, subj.plant.id, "period")
    if first_period is not None:
        out += await issue_days(conn, ctx, subj, first_day or first_period, horizon, now)
    return out


async def restate_late(conn: asyncpg.Connection, ctx: Issuing, subj: Subject, now: datetime) -> list[store.Stored]:
    """Periods touched by ingest batches received since the last look: restated if their numbers or readings
    changed, issued if they had no statement (data for a period that closed without any)."""
    seen = await store.batches_seen_until(conn, subj.plant.id)
    await store.set_batches_seen_until(conn, subj.plant.id, now)
    if seen is None:  # a new installation: history is issued from the readings themselves
        return []
    gap = timedelta(seconds=ctx.settings.max_gap_s)
    horizon = now - timedelta(seconds=ctx.settings.late_data_window_s)
    out: list[store.Stored] = []
    batches = await store.late_batches(conn, [subj.net.id], seen, now, LATE_BATCH_MARGIN)
    touched: dict[datetime, list[asyncpg.Record]] = {}
    for b in batches:
        for start in await store.overlapping(conn, subj.plant.id, "period", b["first_ts"] - gap, b["last_ts"] + gap):
            touched.setdefault(start, []).append(b)
    for start, got in sorted(touched.items()):
        prior = await store.latest(conn, subj.plant.id, "period", start)
        late = sorted({b["id"] for b in got if prior is None or b["received_at"] > prior.issued_at})
        if late:  # only batches received after the statement was issued are late for it
            out += await restate(
                conn, ctx, subj.plant.key, start, "late data", now=now, details={"ingest_batches": late}
            )
    for b in batches:
        if b["first_ts"] < horizon:
            out += await issue_range(conn, ctx, subj, b["first_ts"] - gap, min(b["last_ts"] + gap, horizon), now)
    return out
