"""SQL for configuration: rules, commitments (with schedule and exclusions), webhook endpoints, silences, acks
and the delivery log as read through the API. Functions never commit; the request edge does."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.alerts import schemas
from shared import alert_acks
from shared.db import one

Conn = asyncpg.Connection  # never a pool: the caller's transaction decides what commits


class Problem(ValueError):
    """A definition refers to something that does not exist; `field` names where."""

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(message)
        self.code, self.field, self.message = code, field, message


# --- rules --------------------------------------------------------------------------------------------------------


async def check_rule_refs(conn: Conn, rule: schemas.RuleCommon) -> None:
    """Raise Problem if the rule names an unknown plant, signal or gateway."""
    params = rule.stored_params()
    if params.get("plant") and not await conn.fetchval("SELECT 1 FROM plants WHERE key = $1", params["plant"]):
        raise Problem("unknown_plant", "params.plant", f"no plant {params['plant']!r}")
    for role in ("signal", "frequency_signal"):
        key = params.get(role)
        if key and not await conn.fetchval("SELECT 1 FROM signals WHERE key = $1", key):
            raise Problem("unknown_signal", f"params.{role}", f"no signal {key!r}")
    gateway = params.get("gateway")
    if gateway and not await conn.fetchval(
        "SELECT 1 FROM api_keys WHERE name = $1 AND role = 'gateway' AND revoked_at IS NULL", gateway
    ):
        raise Problem("unknown_gateway", "params.gateway", f"no active gateway key named {gateway!r}")


def _rule_values(rule: schemas.RuleCommon) -> tuple[Any, ...]:
    return (
        rule.name,
        rule.kind,
        rule.severity,
        dict(rule.labels),
        rule.stored_params(),
        rule.for_,
        rule.keep_firing_for,
        rule.repeat_interval,
        rule.enabled,
    )


async def upsert_rule(conn: Conn, rule: schemas.RuleCommon) -> asyncpg.Record:
    """Create the rule, or replace the one with the same name."""
    return one(
        await conn.fetchrow(
            """INSERT INTO alert_rules (name, kind, severity, labels, params, for_s, keep_firing_for_s,
               repeat_interval_s, enabled) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, severity = excluded.severity,
               labels = excluded.labels, params = excluded.params, for_s = excluded.for_s,
               keep_firing_for_s = excluded.keep_firing_for_s, repeat_interval_s = excluded.repeat_interval_s,
               enabled = excluded.enabled, updated_at = now(), last_error = NULL, last_error_at = NULL
           RETURNING *""",
            *_rule_values(rule),
        )
    )


async def create_rule(conn: Conn, rule: schemas.RuleCommon) -> asyncpg.Record | None:
    """None if the name is taken."""
    return await conn.fetchrow(
        """INSERT INTO alert_rules (name, kind, severity, labels, params, for_s, keep_firing_for_s,
               repeat_interval_s, enabled) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (name) DO NOTHING RETURNING *""",
        *_rule_values(rule),
    )


async def update_rule(conn: Conn, rule_id: int, rule: schemas.RuleCommon) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """UPDATE alert_rules SET name = $2, kind = $3, severity = $4, labels = $5, params = $6, for_s = $7,
               keep_firing_for_s = $8, repeat_interval_s = $9, enabled = $10, updated_at = now(),
               last_error = NULL, last_error_at = NULL
           WHERE id = $1 RETURNING *""",
        rule_id,
        *_rule_values(rule),
    )


async def list_rules(conn: Conn) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM alert_rules ORDER BY id")


async def get_rule(conn: Conn, rule_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM alert_rules WHERE id = $1", rule_id)


async def delete_rule(conn: Conn, rule_id: int) -> bool:
    return await conn.fetchval("DELETE FROM alert_rules WHERE id = $1 RETURNING id", rule_id) is not None


# --- commitments --------------------------------------------------------------------------------------------------

COMMITMENT_COLUMNS = """c.id, p.key AS plant, c.valid_from, c.valid_to, c.committed_mw, c.tolerance_mw,
    c.tolerance_pct, c.settlement_period_s, c.note"""


async def plant_id(conn: Conn, key: str) -> int | None:
    return await conn.fetchval("SELECT id FROM plants WHERE key = $1", key)


async def upsert_commitment(conn: Conn, pid: int, c: schemas.CommitmentIn) -> asyncpg.Record:
    row_id = await conn.fetchval(
        """INSERT INTO commitments (plant_id, valid_from, valid_to, committed_mw, tolerance_mw, tolerance_pct,
               settlement_period_s, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (plant_id, valid_from) DO UPDATE SET valid_to = excluded.valid_to,
               committed_mw = excluded.committed_mw, tolerance_mw = excluded.tolerance_mw,
               tolerance_pct = excluded.tolerance_pct, settlement_period_s = excluded.settlement_period_s,
               note = excluded.note
           RETURNING id""",
        pid,
        c.valid_from,
        c.valid_to,
        c.committed_mw,
        c.tolerance_mw,
        c.tolerance_pct,
        int(c.settlement_period),
        c.note,
    )
    return one(
        await conn.fetchrow(
            f"SELECT {COMMITMENT_COLUMNS} FROM commitments c JOIN plants p ON p.id = c.plant_id WHERE c.id = $1", row_id
        )
    )


async def list_commitments(conn: Conn, plant: str | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {COMMITMENT_COLUMNS} FROM commitments c JOIN plants p ON p.id = c.plant_id"
        " WHERE $1::text IS NULL OR p.key = $1 ORDER BY p.key, c.valid_from",
        plant,
    )


async def delete_commitment(conn: Conn, commitment_id: int) -> bool:
    return await conn.fetchval("DELETE FROM commitments WHERE id = $1 RETURNING id", commitment_id) is not None


async def period_at(conn: Conn, pid: int, ts: datetime) -> int | None:
    """The settlement period length of the commitment in force at `ts`."""
    return await conn.fetchval(
        """SELECT settlement_period_s FROM commitments WHERE plant_id = $1 AND valid_from <= $2
           AND (valid_to IS NULL OR $2 < valid_to) ORDER BY valid_from DESC LIMIT 1""",
        pid,
        ts,
    )


async def put_schedule(conn: Conn, pid: int, entries: Sequence[schemas.ScheduleEntry]) -> int:
    await conn.executemany(
        """INSERT INTO commitment_schedule (plant_id, period_start, committed_mw) VALUES ($1, $2, $3)
           ON CONFLICT (plant_id, period_start) DO UPDATE SET committed_mw = excluded.committed_mw""",
        [(pid, e.period_start, e.committed_mw) for e in entries],
    )
    return len(entries)


async def get_schedule(conn: Conn, pid: int, start: datetime, end: datetime) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT period_start, committed_mw FROM commitment_schedule WHERE plant_id = $1"
        " AND period_start >= $2 AND period_start < $3 ORDER BY period_start",
        pid,
        start,
        end,
    )


async def add_exclusion(conn: Conn, pid: int, e: schemas.ExclusionIn) -> asyncpg.Record:
    return one(
        await conn.fetchrow(
            "INSERT INTO commitment_exclusions (plant_id, starts_at, ends_at, reason) VALUES ($1, $2, $3, $4)"
            " RETURNING id, starts_at, ends_at, reason",
            pid,
            e.starts_at,
            e.ends_at,
            e.reason,
        )
    )


async def list_exclusions(conn: Conn, pid: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, starts_at, ends_at, reason FROM commitment_exclusions WHERE plant_id = $1 ORDER BY starts_at", pid
    )


async def delete_exclusion(conn: Conn, pid: int, exclusion_id: int) -> bool:
    return (
        await conn.fetchval(
            "DELETE FROM commitment_exclusions WHERE plant_id = $1 AND id = $2 RETURNING id", pid, exclusion_id
        )
        is not None
    )


# --- endpoints ----------------------------------------------------------------------------------------------------

ENDPOINT_COLUMNS = "id, name, url, format, severities, label_filters AS labels, options, enabled, created_at"


async def create_endpoint(conn: Conn, e: schemas.EndpointIn, secret: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""INSERT INTO webhook_endpoints (name, url, secret, format, severities, label_filters, options, enabled)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name) DO NOTHING RETURNING {ENDPOINT_COLUMNS}""",
        e.name,
        e.url,
        secret,
        e.format,
        list(e.severities),
        dict(e.labels),
        dict(e.options),
        e.enabled,
    )


async def update_endpoint(conn: Conn, endpoint_id: int, e: schemas.EndpointIn) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""UPDATE webhook_endpoints SET name = $2, url = $3, format = $4, severities = $5, label_filters = $6,
                options = $7, enabled = $8 WHERE id = $1 RETURNING {ENDPOINT_COLUMNS}""",
        endpoint_id,
        e.name,
        e.url,
        e.format,
        list(e.severities),
        dict(e.labels),
        dict(e.options),
        e.enabled,
    )


async def list_endpoints(conn: Conn) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY id")


async def get_endpoint(conn: Conn, endpoint_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1", endpoint_id)


async def delete_endpoint(conn: Conn, endpoint_id: int) -> bool:
    return await conn.fetchval("DELETE FROM webhook_endpoints WHERE id = $1 RETURNING id", endpoint_id) is not None


# --- silences -----------------------------------------------------------------------------------------------------

SILENCE_COLUMNS = "id, matchers, starts_at, ends_at, created_by, comment, created_at"


async def create_silence(conn: Conn, s: schemas.SilenceIn, starts_at: datetime, created_by: str) -> asyncpg.Record:
    return one(
        await conn.fetchrow(
            f"""INSERT INTO alert_silences (matchers, starts_at, ends_at, created_by, comment)
            VALUES ($1, $2, $3, $4, $5) RETURNING {SILENCE_COLUMNS}""",
            [m.model_dump() for m in s.matchers],
            starts_at,
            s.ends_at,
            created_by,
            s.comment,
        )
    )


async def list_silences(conn: Conn, include_expired: bool) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {SILENCE_COLUMNS} FROM alert_silences WHERE $1 OR ends_at > now() ORDER BY id", include_expired
    )


async def expire_silence(conn: Conn, silence_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"UPDATE alert_silences SET ends_at = greatest(starts_at + interval '1 microsecond', least(ends_at, now()))"
        f" WHERE id = $1 RETURNING {SILENCE_COLUMNS}",
        silence_id,
    )


# --- alerts, acks, deliveries -------------------------------------------------------------------------------------

ALERT_COLUMNS = """a.id, a.rule_id, r.name AS rule, r.kind, r.severity, a.fingerprint, a.labels, a.state,
    a.pending_since, a.firing_since, a.resolved_at, a.last_notified_at, a.incident, a.acked_by, a.acked_at,
    a.ack_comment, a.value, a.evidence, a.evaluated_at"""


# Partner keys read the alerts of plants their partner is party to: a rule's plant is params.plant, else the plant
# of params.signal (as the evaluator resolves it). `$P` is the partner, or NULL for operator and admin keys.
RULE_PLANT = """coalesce((SELECT p.id FROM plants p WHERE p.key = r.params->>'plant'),
                          (SELECT s.plant_id FROM signals s WHERE s.key = r.params->>'signal'))"""
PARTNER_SEES_RULE = f"""($P::text IS NULL
    OR {RULE_PLANT} IN (SELECT plant_id FROM plant_partners WHERE partner = $P))"""


def _for_partner(sql: str, n: int) -> str:
    return sql.replace("$P", f"${n}")


async def list_alerts(conn: Conn, state: str | None, limit: int, partner: str | None = None) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {ALERT_COLUMNS} FROM alerts a JOIN alert_rules r ON r.id = a.rule_id"
        f" WHERE ($1::text IS NULL OR a.state = $1) AND {_for_partner(PARTNER_SEES_RULE, 3)}"
        " ORDER BY a.id DESC LIMIT $2",
        state,
        limit,
        partner,
    )


async def get_alert(conn: Conn, alert_id: int, partner: str | None = None) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {ALERT_COLUMNS} FROM alerts a JOIN alert_rules r ON r.id = a.rule_id WHERE a.id = $1"
        f" AND {_for_partner(PARTNER_SEES_RULE, 2)}",
        alert_id,
        partner,
    )


async def transitions(conn: Conn, alert_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT at, from_state, to_state, evidence FROM alert_transitions WHERE alert_id = $1 ORDER BY id", alert_id
    )


async def set_ack(conn: Conn, alert_id: int, who: str | None, comment: str | None) -> bool:
    """Acknowledge (who set) or unacknowledge (who None) a firing alert; False if it is not firing. The statement
    is the one the dashboard's acknowledgement runs too (shared/alert_acks.py)."""
    return await alert_acks.set_ack(conn, alert_id, who, comment)


DELIVERY_COLUMNS = """o.id, o.endpoint_id, e.name AS endpoint, o.alert_id, o.event_type, o.webhook_id, o.status,
    o.attempts, o.next_attempt_at, o.created_at, o.delivered_at, o.last_error"""


# A partner sees the deliveries of alerts it may read, and those to its own endpoints (settlement events).
PARTNER_SEES_DELIVERY = f"""($P::text IS NULL OR e.partner = $P OR EXISTS (
    SELECT 1 FROM alerts a JOIN alert_rules r ON r.id = a.rule_id WHERE a.id = o.alert_id AND {PARTNER_SEES_RULE}))"""


async def list_deliveries(
    conn: Conn,
    *,
    endpoint_id: int | None,
    alert_id: int | None,
    status: str | None,
    limit: int,
    partner: str | None = None,
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {DELIVERY_COLUMNS} FROM webhook_outbox o JOIN webhook_endpoints e ON e.id = o.endpoint_id
            WHERE ($1::int IS NULL OR o.endpoint_id = $1) AND ($2::int IS NULL OR o.alert_id = $2)
              AND ($3::text IS NULL OR o.status = $3) AND {_for_partner(PARTNER_SEES_DELIVERY, 5)}
            ORDER BY o.id DESC LIMIT $4""",
        endpoint_id,
        alert_id,
        status,
        limit,
        partner,
    )


async def get_delivery(conn: Conn, delivery_id: int, partner: str | None = None) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {DELIVERY_COLUMNS} FROM webhook_outbox o JOIN webhook_endpoints e"
        f" ON e.id = o.endpoint_id WHERE o.id = $1 AND {_for_partner(PARTNER_SEES_DELIVERY, 2)}",
        delivery_id,
        partner,
    )


async def attempts(conn: Conn, delivery_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT attempt, at, status_code, latency_ms, error FROM webhook_attempts WHERE outbox_id = $1 ORDER BY id",
        delivery_id,
    )


async def redeliver(conn: Conn, delivery_id: int) -> bool:
    """Queue a delivery again (same webhook-id, a fresh attempt schedule)."""
    return (
        await conn.fetchval(
            "UPDATE webhook_outbox SET status = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL"
            " WHERE id = $1 RETURNING id",
            delivery_id,
        )
        is not None
    )
