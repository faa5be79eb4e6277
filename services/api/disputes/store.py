"""All SQL of disputes, corrections, the substitution overlay and partner webhook endpoints.

Functions take an asyncpg `Connection` inside the caller's transaction; only the service commits.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.api.disputes.workflow import Pending
from shared.auth import Principal
from shared.history.reader import readings_between
from shared.quality import from_db, to_db
from shared.settlement.corrections import EnergyOverride, Substitution

# pg_advisory_xact_lock(namespace, plant_id): serialises proposals on one plant (the overlap check and the insert).
LOCK_NAMESPACE = 0x44495350  # "DISP"


@dataclass(frozen=True, slots=True)
class SubstituteReading:
    ts: datetime
    value: float
    quality: int  # uint32 OPC UA StatusCode


async def period_length_s(conn: asyncpg.Connection, plant_id: int, ts: datetime, default_s: int) -> int:
    """The settlement period of the commitment in force at `ts` (the latest valid_from wins), else the default."""
    found = await conn.fetchval(
        """SELECT settlement_period_s FROM commitments WHERE plant_id = $1 AND valid_from <= $2
           AND (valid_to IS NULL OR valid_to > $2) ORDER BY valid_from DESC LIMIT 1""",
        plant_id,
        ts,
    )
    return int(found) if found is not None else default_s


async def lock_plant_corrections(conn: asyncpg.Connection, plant_id: int) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", LOCK_NAMESPACE, plant_id)


# --- disputes and their events --------------------------------------------------------------------------------------


async def insert_dispute(
    conn: asyncpg.Connection,
    *,
    plant_id: int,
    start: datetime,
    end: datetime,
    reason: str,
    evidence: str,
    digest: str | None,
    who: Principal,
    at: datetime,
) -> int:
    return await conn.fetchval(
        """INSERT INTO disputes (plant_id, period_start, period_end, reason, evidence, attachment_digest, opened_by,
                                 opened_by_partner, opened_by_key_id, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id""",
        plant_id,
        start,
        end,
        reason,
        evidence,
        digest,
        who.name,
        who.partner,
        who.key_id,
        at,
    )


async def record_event(
    conn: asyncpg.Connection,
    dispute_id: int,
    *,
    kind: str,
    who: Principal,
    at: datetime,
    correction_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO dispute_events (dispute_id, at, kind, actor, actor_role, actor_partner, actor_key_id,
                                       correction_id, detail)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        dispute_id,
        at,
        kind,
        who.name,
        who.role,
        who.partner,
        who.key_id,
        correction_id,
        json.dumps(detail or {}, default=str),
    )


DISPUTE_COLUMNS = """d.id, d.period_start, d.period_end, d.status, d.reason, d.evidence, d.attachment_digest,
    d.opened_by, d.opened_by_partner, d.created_at"""


async def list_disputes(
    conn: asyncpg.Connection, plant_id: int, *, start: datetime | None, end: datetime | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {DISPUTE_COLUMNS},
                   (SELECT count(*) FROM corrections c WHERE c.dispute_id = d.id AND c.status = 'pending')
                       AS pending_corrections,
                   (SELECT max(at) FROM dispute_events e WHERE e.dispute_id = d.id) AS updated_at
            FROM disputes d WHERE d.plant_id = $1 AND ($2::timestamptz IS NULL OR d.period_start >= $2)
              AND ($3::timestamptz IS NULL OR d.period_start < $3)
            ORDER BY d.period_start DESC, d.id DESC LIMIT $4""",
        plant_id,
        start,
        end,
        limit,
    )


async def get_dispute(
    conn: asyncpg.Connection, plant_id: int, dispute_id: int, *, lock: bool = False
) -> asyncpg.Record | None:
    suffix = " FOR UPDATE" if lock else ""
    return await conn.fetchrow(
        f"SELECT {DISPUTE_COLUMNS} FROM disputes d WHERE d.plant_id = $1 AND d.id = $2" + suffix, plant_id, dispute_id
    )


async def set_dispute_status(conn: asyncpg.Connection, dispute_id: int, status: str) -> None:
    await conn.execute("UPDATE disputes SET status = $2 WHERE id = $1", dispute_id, status)


async def events_of(conn: asyncpg.Connection, dispute_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, at, kind, actor, actor_role, actor_partner, correction_id, detail FROM dispute_events
           WHERE dispute_id = $1 ORDER BY id""",
        dispute_id,
    )


# --- corrections ---------------------------------------------------------------------------------------------------

CORRECTION_COLUMNS = """c.id, c.dispute_id, c.kind, s.key AS signal, c.signal_id, c.starts_at, c.ends_at,
    c.energy_mwh, c.note, c.status, c.proposed_by, c.proposed_by_partner, c.proposed_at, c.decided_at"""


async def pending_in(conn: asyncpg.Connection, plant_id: int, start: datetime, end: datetime) -> list[Pending]:
    rows = await conn.fetch(
        """SELECT id, kind, signal_id, starts_at, ends_at FROM corrections
           WHERE plant_id = $1 AND status = 'pending' AND starts_at < $3 AND ends_at > $2 ORDER BY id""",
        plant_id,
        start,
        end,
    )
    return [Pending(r["id"], r["kind"], r["signal_id"], r["starts_at"], r["ends_at"]) for r in rows]


async def insert_correction(
    conn: asyncpg.Connection,
    *,
    dispute_id: int,
    plant_id: int,
    kind: str,
    signal_id: int | None,
    starts_at: datetime,
    ends_at: datetime,
    energy_mwh: float | None,
    note: str,
    who: Principal,
    at: datetime,
) -> int:
    return await conn.fetchval(
        """INSERT INTO corrections (dispute_id, plant_id, kind, signal_id, starts_at, ends_at, energy_mwh, note,
                                    proposed_by, proposed_by_partner, proposed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id""",
        dispute_id,
        plant_id,
        kind,
        signal_id,
        starts_at,
        ends_at,
        energy_mwh,
        note,
        who.name,
        who.partner,
        at,
    )


async def insert_substitutes(
    conn: asyncpg.Connection, correction_id: int, readings: Sequence[SubstituteReading]
) -> None:
    await conn.copy_records_to_table(
        "reading_substitutions",
        columns=["correction_id", "ts", "value", "quality"],
        records=[(correction_id, r.ts, r.value, to_db(r.quality)) for r in readings],
    )


async def lock_correction(conn: asyncpg.Connection, dispute_id: int, correction_id: int) -> asyncpg.Record | None:
    """The correction row, locked until commit: concurrent approvals of one correction run one after the other."""
    return await conn.fetchrow(
        f"""SELECT {CORRECTION_COLUMNS} FROM corrections c LEFT JOIN signals s ON s.id = c.signal_id
            WHERE c.dispute_id = $1 AND c.id = $2 FOR UPDATE OF c""",
        dispute_id,
        correction_id,
    )


async def approvals_of(conn: asyncpg.Connection, correction_ids: Sequence[int]) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT correction_id, partner, approved_by, at FROM correction_approvals
           WHERE correction_id = ANY($1::int4[]) ORDER BY at, partner""",
        list(correction_ids),
    )


async def insert_approval(conn: asyncpg.Connection, correction_id: int, who: Principal, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO correction_approvals (correction_id, partner, approved_by, key_id, at)"
        " VALUES ($1, $2, $3, $4, $5)",
        correction_id,
        who.partner,
        who.name,
        who.key_id,
        at,
    )


async def decide(conn: asyncpg.Connection, correction_id: int, status: str, at: datetime) -> None:
    await conn.execute("UPDATE corrections SET status = $2, decided_at = $3 WHERE id = $1", correction_id, status, at)


async def corrections_of(conn: asyncpg.Connection, dispute_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {CORRECTION_COLUMNS} FROM corrections c LEFT JOIN signals s ON s.id = c.signal_id
            WHERE c.dispute_id = $1 ORDER BY c.id""",
        dispute_id,
    )


async def substitutes_of(conn: asyncpg.Connection, correction_ids: Sequence[int]) -> dict[int, list[SubstituteReading]]:
    rows = await conn.fetch(
        """SELECT correction_id, ts, value, quality FROM reading_substitutions
           WHERE correction_id = ANY($1::int4[]) ORDER BY correction_id, ts""",
        list(correction_ids),
    )
    out: dict[int, list[SubstituteReading]] = {}
    for r in rows:
        out.setdefault(r["correction_id"], []).append(SubstituteReading(r["ts"], r["value"], from_db(r["quality"])))
    return out


async def original_readings(
    conn: asyncpg.Connection, signal_id: int, start: datetime, end: datetime, limit: int = 10_000
) -> list[SubstituteReading]:
    """The stored (original) readings a substitution replaces, as they are: corrections never change them."""
    got = await readings_between(conn, [signal_id], start, end, limit=limit)
    return [SubstituteReading(ts, value, from_db(quality)) for ts, value, quality in got[signal_id].rows()]


async def applied_corrections(
    conn: asyncpg.Connection, plant_id: int, signal_id: int, start: datetime, end: datetime
) -> list[Substitution[SubstituteReading] | EnergyOverride]:
    """Applied corrections touching [start, end) in the order they took effect: substitutions of `signal_id` and
    substitute energy values (those are of the plant's net output)."""
    rows = await conn.fetch(
        """SELECT id, kind, signal_id, starts_at, ends_at, energy_mwh FROM corrections
           WHERE plant_id = $1 AND status = 'applied' AND starts_at < $4 AND ends_at > $3
             AND (kind = 'energy' OR signal_id = $2)
           ORDER BY decided_at, id""",
        plant_id,
        signal_id,
        start,
        end,
    )
    substitutes = await substitutes_of(conn, [r["id"] for r in rows if r["kind"] == "readings"]) if rows else {}
    return [
        EnergyOverride(r["starts_at"], r["ends_at"], r["energy_mwh"])
        if r["kind"] == "energy"
        else Substitution(r["signal_id"], r["starts_at"], r["ends_at"], tuple(substitutes.get(r["id"], ())))
        for r in rows
    ]


async def raw_readings(
    conn: asyncpg.Connection, signal_id: int, start: datetime, end: datetime
) -> list[tuple[datetime, float, int]]:
    """Every reading (all qualities) in [start, end), plus the two before and the one after: the engine's context."""
    return (await readings_between(conn, [signal_id], start, end, before=2, after=1))[signal_id].rows()
