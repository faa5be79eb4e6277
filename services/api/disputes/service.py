"""Disputes and two-party corrections: one transaction per request; the rules are in `workflow`.

A correction takes effect when the last partner of the plant approves: in that same transaction its status becomes
`applied`, the period is restated (`restatement.restate_period`) and the plant's partner endpoints get events.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.api.catalog import Catalog, Plant, Signal
from services.api.disputes import outbox, restatement, store, workflow
from services.api.disputes.schemas import (
    CorrectionIn,
    DisputeIn,
    EnergyCorrectionIn,
    ReadingsCorrectionIn,
)
from services.api.disputes.workflow import Period, Refusal
from services.api.settings import Settings
from services.api.statements.service import Issuing
from shared.auth import Principal
from shared.db import transaction
from shared.quality import UNCERTAIN_SUBSTITUTE_VALUE, severity


def _iso(ts: datetime) -> str:
    return ts.isoformat()


async def _period(conn: asyncpg.Connection, plant: Plant, start: datetime, settings: Settings, now: datetime) -> Period:
    start = workflow.check_time(start, "period_start")  # before the commitment lookup reads it
    period_s = await store.period_length_s(conn, plant.id, start, settings.settlement_period_s)
    return workflow.settlement_period(start, period_s, now, settings.late_data_window_s)


async def _dispute(conn: asyncpg.Connection, plant: Plant, dispute_id: int, *, lock: bool = False) -> asyncpg.Record:
    row = await store.get_dispute(conn, plant.id, dispute_id, lock=lock)
    if row is None:
        raise Refusal(404, "unknown_dispute", f"Plant {plant.key!r} has no dispute {dispute_id}.", {"id": dispute_id})
    return row


async def open_dispute(
    pool: asyncpg.Pool, plant: Plant, who: Principal, body: DisputeIn, settings: Settings, now: datetime
) -> int:
    workflow.check_digest(body.attachment_digest)
    async with transaction(pool) as conn:
        period = await _period(conn, plant, body.period_start, settings, now)
        dispute_id = await store.insert_dispute(
            conn,
            plant_id=plant.id,
            start=period.start,
            end=period.end,
            reason=body.reason,
            evidence=body.evidence,
            digest=body.attachment_digest,
            who=who,
            at=now,
        )
        await store.record_event(
            conn, dispute_id, kind=workflow.OPENED, who=who, at=now, detail={"reason": body.reason}
        )
        await outbox.enqueue_plant_event(
            conn,
            plant.id,
            "dispute.opened",
            {
                "plant": plant.key,
                "dispute_id": dispute_id,
                "period_start": _iso(period.start),
                "period_end": _iso(period.end),
                "reason": body.reason,
                "by": who.partner,
            },
            at=now,
        )
    return dispute_id


async def comment(pool: asyncpg.Pool, plant: Plant, who: Principal, dispute_id: int, text: str, now: datetime) -> None:
    async with transaction(pool) as conn:
        await _dispute(conn, plant, dispute_id)
        await store.record_event(conn, dispute_id, kind=workflow.COMMENTED, who=who, at=now, detail={"text": text})
        await outbox.enqueue_plant_event(
            conn,
            plant.id,
            "dispute.commented",
            {"plant": plant.key, "dispute_id": dispute_id, "by": who.partner or who.role},
            at=now,
        )


def _signal(catalog: Catalog, plant: Plant, key: str | None) -> Signal:
    if key is None:
        found = catalog.signals_of(plant, ("net_output",))
        if not found:
            raise Refusal(404, "unknown_signal", f"Plant {plant.key!r} has no net_output signal.", {"field": "signal"})
        return found[0]
    signal = catalog.signals.get(key)
    if signal is None or signal.plant_id != plant.id:
        raise Refusal(404, "unknown_signal", f"Plant {plant.key!r} has no signal {key!r}.", {"field": "signal"})
    return signal


def _checked(
    body: CorrectionIn, period: Period, catalog: Catalog, plant: Plant, settings: Settings
) -> tuple[workflow.Pending, list[store.SubstituteReading]]:
    """The correction's span for the overlap check, and its substitute readings (readings kind)."""
    if isinstance(body, EnergyCorrectionIn):
        net = _signal(catalog, plant, None)
        workflow.check_energy(body.energy_mwh, period, (net.min_value, net.max_value))
        return workflow.Pending(0, workflow.ENERGY, None, period.start, period.end), []
    assert isinstance(body, ReadingsCorrectionIn)
    signal = _signal(catalog, plant, body.signal)
    workflow.check_interval(period, body.start, body.end)
    times = [r.ts for r in body.readings]
    workflow.check_substitutes(
        times,
        [r.value for r in body.readings],
        body.start,
        body.end,
        (signal.min_value, signal.max_value),
        settings.dispute_max_substitutes,
    )
    subs = [store.SubstituteReading(r.ts, r.value, UNCERTAIN_SUBSTITUTE_VALUE) for r in body.readings]
    return workflow.Pending(0, workflow.READINGS, signal.id, body.start, body.end), subs


async def propose(
    pool: asyncpg.Pool,
    catalog: Catalog,
    plant: Plant,
    who: Principal,
    dispute_id: int,
    body: CorrectionIn,
    settings: Settings,
    now: datetime,
) -> int:
    async with transaction(pool) as conn:
        dispute = await _dispute(conn, plant, dispute_id)
        period = Period(dispute["period_start"], dispute["period_end"])
        span, subs = _checked(body, period, catalog, plant, settings)
        await store.lock_plant_corrections(conn, plant.id)  # the overlap check and the insert, one at a time
        clash = workflow.conflicting(span, await store.pending_in(conn, plant.id, span.starts_at, span.ends_at))
        if clash is not None:
            raise Refusal(
                409,
                "correction_overlaps",
                f"Pending correction {clash.id} already covers part of this interval; approve or reject it first.",
                {"correction_id": clash.id},
            )
        energy = body.energy_mwh if isinstance(body, EnergyCorrectionIn) else None
        correction_id = await store.insert_correction(
            conn,
            dispute_id=dispute_id,
            plant_id=plant.id,
            kind=span.kind,
            signal_id=span.signal_id,
            starts_at=span.starts_at,
            ends_at=span.ends_at,
            energy_mwh=energy,
            note=body.note,
            who=who,
            at=now,
        )
        if subs:
            await store.insert_substitutes(conn, correction_id, subs)
        detail = {
            "kind": span.kind,
            "starts_at": _iso(span.starts_at),
            "ends_at": _iso(span.ends_at),
            "energy_mwh": energy,
            "substitutes": len(subs),
            "note": body.note,
        }
        await store.record_event(
            conn, dispute_id, kind=workflow.PROPOSED, who=who, at=now, correction_id=correction_id, detail=detail
        )
        await outbox.enqueue_plant_event(
            conn,
            plant.id,
            "correction.proposed",
            {"plant": plant.key, "dispute_id": dispute_id, "correction_id": correction_id, **detail},
            at=now,
        )
    return correction_id


async def approve(
    pool: asyncpg.Pool,
    statements: Issuing,
    plant: Plant,
    who: Principal,
    dispute_id: int,
    correction_id: int,
    now: datetime,
) -> workflow.Approval:
    """Record one partner's approval; the last one makes the correction take effect and restates the period."""
    assert who.partner is not None
    async with transaction(pool) as conn:
        dispute = await _dispute(conn, plant, dispute_id)
        row = await _locked_correction(conn, plant, dispute_id, correction_id)
        approved = [r["partner"] for r in await store.approvals_of(conn, [correction_id])]
        outcome = workflow.approve(plant.partners, approved, who.partner, row["status"])
        await store.insert_approval(conn, correction_id, who, now)
        await store.record_event(
            conn,
            dispute_id,
            kind=workflow.APPROVED,
            who=who,
            at=now,
            correction_id=correction_id,
            detail={"waiting_for": list(outcome.waiting_for)},
        )
        event = {
            "plant": plant.key,
            "dispute_id": dispute_id,
            "correction_id": correction_id,
            "period_start": _iso(dispute["period_start"]),
            "period_end": _iso(dispute["period_end"]),
            "approved_by": list(outcome.approved),
            "waiting_for": list(outcome.waiting_for),
        }
        await outbox.enqueue_plant_event(conn, plant.id, "correction.approved", event, at=now)
        if outcome.takes_effect:
            await _take_effect(conn, statements, plant, who, dispute, row, now, event)
    return outcome


async def _take_effect(
    conn: asyncpg.Connection,
    statements: Issuing,
    plant: Plant,
    who: Principal,
    dispute: asyncpg.Record,
    row: asyncpg.Record,
    now: datetime,
    event: dict[str, Any],
) -> None:
    await store.decide(conn, row["id"], workflow.APPLIED_STATUS, now)
    await store.set_dispute_status(conn, dispute["id"], "corrected")
    revisions = await restatement.restate_period(
        conn,
        statements,
        plant.key,
        dispute["period_start"],
        now=now,
        reason=f"correction {row['id']} of dispute {dispute['id']} approved by {', '.join(event['approved_by'])}",
        details={"dispute_id": dispute["id"], "correction_id": row["id"], "kind": row["kind"]},
    )
    await store.record_event(
        conn,
        dispute["id"],
        kind=workflow.APPLIED,
        who=who,
        at=now,
        correction_id=row["id"],
        detail={"restated_revisions": revisions},
    )
    await outbox.enqueue_plant_event(
        conn, plant.id, "correction.applied", {**event, "restated_revisions": revisions}, at=now
    )


async def _locked_correction(
    conn: asyncpg.Connection, plant: Plant, dispute_id: int, correction_id: int
) -> asyncpg.Record:
    row = await store.lock_correction(conn, dispute_id, correction_id)
    if row is None:
        raise Refusal(
            404,
            "unknown_correction",
            f"Dispute {dispute_id} of plant {plant.key!r} has no correction {correction_id}.",
            {"id": correction_id},
        )
    return row


async def reject(
    pool: asyncpg.Pool, plant: Plant, who: Principal, dispute_id: int, correction_id: int, reason: str, now: datetime
) -> None:
    """Either partner (the proposer's included: a withdrawal) ends a pending correction without effect."""
    async with transaction(pool) as conn:
        await _dispute(conn, plant, dispute_id)
        row = await _locked_correction(conn, plant, dispute_id, correction_id)
        workflow.reject(row["status"])
        await store.decide(conn, correction_id, workflow.REJECTED_STATUS, now)
        await store.record_event(
            conn,
            dispute_id,
            kind=workflow.REJECTED,
            who=who,
            at=now,
            correction_id=correction_id,
            detail={"reason": reason},
        )
        await outbox.enqueue_plant_event(
            conn,
            plant.id,
            "correction.rejected",
            {
                "plant": plant.key,
                "dispute_id": dispute_id,
                "correction_id": correction_id,
                "by": who.partner,
                "reason": reason,
            },
            at=now,
        )


# --- reading -------------------------------------------------------------------------------------------------------


def _dispute_row(plant: Plant, r: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": r["id"],
        "plant": plant.key,
        "period_start": r["period_start"],
        "period_end": r["period_end"],
        "status": r["status"],
        "reason": r["reason"],
        "evidence": r["evidence"],
        "attachment_digest": r["attachment_digest"],
        "opened_by": r["opened_by"],
        "opened_by_partner": r["opened_by_partner"],
        "created_at": r["created_at"],
    }


async def list_disputes(
    pool: asyncpg.Pool, plant: Plant, start: datetime | None, end: datetime | None, limit: int
) -> list[dict[str, Any]]:
    start = None if start is None else workflow.check_time(start, "start")
    end = None if end is None else workflow.check_time(end, "end")
    async with transaction(pool, readonly=True) as conn:
        rows = await store.list_disputes(conn, plant.id, start=start, end=end, limit=limit)
    return [
        {**_dispute_row(plant, r), "pending_corrections": r["pending_corrections"], "updated_at": r["updated_at"]}
        for r in rows
    ]


def _reading(r: Any) -> dict[str, Any]:
    return {"ts": r.ts, "value": r.value, "quality": r.quality, "severity": severity(r.quality)}


async def dispute_detail(pool: asyncpg.Pool, plant: Plant, dispute_id: int) -> dict[str, Any]:
    """The dispute, every step taken on it, and each correction with its approvals, substitutes and originals."""
    async with transaction(pool, isolation="repeatable_read", readonly=True) as conn:
        dispute = await _dispute(conn, plant, dispute_id)
        events = await store.events_of(conn, dispute_id)
        corrections = await store.corrections_of(conn, dispute_id)
        ids = [c["id"] for c in corrections]
        approvals = await store.approvals_of(conn, ids)
        substitutes = await store.substitutes_of(conn, ids)
        originals = {
            c["id"]: await store.original_readings(conn, c["signal_id"], c["starts_at"], c["ends_at"])
            for c in corrections
            if c["kind"] == workflow.READINGS
        }
    return {
        **_dispute_row(plant, dispute),
        "events": [{**dict(e), "detail": json.loads(e["detail"])} for e in events],
        "corrections": [_correction(plant, c, approvals, substitutes, originals) for c in corrections],
    }


def _correction(
    plant: Plant,
    c: asyncpg.Record,
    approvals: Sequence[asyncpg.Record],
    substitutes: dict[int, list[store.SubstituteReading]],
    originals: dict[int, list[store.SubstituteReading]],
) -> dict[str, Any]:
    mine = [a for a in approvals if a["correction_id"] == c["id"]]
    approved = {a["partner"] for a in mine}
    waiting = sorted(set(plant.partners) - approved) if c["status"] == workflow.PENDING else []
    out = {
        k: c[k]
        for k in (
            "id",
            "kind",
            "signal",
            "starts_at",
            "ends_at",
            "energy_mwh",
            "note",
            "status",
            "proposed_by",
            "proposed_by_partner",
            "proposed_at",
            "decided_at",
        )
    }
    out["approvals"] = [{"partner": a["partner"], "by": a["approved_by"], "at": a["at"]} for a in mine]
    out["waiting_for"] = waiting
    if c["kind"] == workflow.READINGS:
        out["substitutes"] = [_reading(r) for r in substitutes.get(c["id"], [])]
        out["original_readings"] = [_reading(r) for r in originals.get(c["id"], [])]
    return out


# --- partner webhook endpoints: each request one transaction, like the rest ---------------------------------------


async def register_endpoint(
    pool: asyncpg.Pool, plant: Plant, partner: str, name: str, url: str, event_types: Sequence[str], secret: str
) -> asyncpg.Record | None:
    """The new endpoint, or None if the name is taken."""
    async with transaction(pool) as conn:
        return await outbox.create_endpoint(
            conn, plant_id=plant.id, partner=partner, name=name, url=url, event_types=event_types, secret=secret
        )


async def remove_endpoint(pool: asyncpg.Pool, plant: Plant, partner: str, endpoint_id: int) -> bool:
    async with transaction(pool) as conn:
        return await outbox.delete_endpoint(conn, plant.id, partner, endpoint_id)


async def endpoints(pool: asyncpg.Pool, plant: Plant, partner: str | None) -> list[asyncpg.Record]:
    async with transaction(pool, readonly=True) as conn:
        return await outbox.list_endpoints(conn, plant.id, partner)


async def deliveries(pool: asyncpg.Pool, plant: Plant, partner: str | None, limit: int) -> list[asyncpg.Record]:
    async with transaction(pool, readonly=True) as conn:
        return await outbox.deliveries(conn, plant.id, partner, limit)
