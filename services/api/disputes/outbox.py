"""Partner-owned webhook endpoints and plant events through the shared webhook outbox.

An event is written as one outbox row per enabled partner endpoint of the plant, in the caller's transaction; the
alerts service's dispatcher signs (Standard Webhooks) and sends it after commit, with its retries and delivery log.
Body: {"type": <event type>, "timestamp": <ISO 8601>, "data": {...}}.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec

# The alerts dispatcher LISTENs here (services/alerts/settings.py outbox_channel); NOTIFY is delivered at commit.
OUTBOX_CHANNEL = "baseload_alerts_outbox"
EVENT_TYPES = (
    "statement.restated",
    "dispute.opened",
    "dispute.commented",
    "correction.proposed",
    "correction.approved",
    "correction.applied",
    "correction.rejected",
)
ENDPOINT_COLUMNS = "e.id, e.name, e.url, e.partner, p.key AS plant, e.event_types, e.enabled, e.created_at"


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def event_body(event_type: str, data: Mapping[str, Any], at: datetime) -> str:
    return msgspec.json.encode({"type": event_type, "timestamp": at.astimezone(UTC), "data": data}).decode()


async def enqueue_plant_event(
    conn: asyncpg.Connection, plant_id: int, event_type: str, data: Mapping[str, Any], *, at: datetime | None = None
) -> int:
    """Queue `event_type` for every enabled endpoint a partner of the plant registered for it; returns how many."""
    endpoints = await conn.fetch(
        """SELECT e.id FROM webhook_endpoints e JOIN plant_partners pp ON pp.plant_id = e.plant_id
                                                                     AND pp.partner = e.partner
           WHERE e.plant_id = $1 AND e.enabled AND (cardinality(e.event_types) = 0 OR $2 = ANY(e.event_types))
           ORDER BY e.id""",
        plant_id,
        event_type,
    )
    if not endpoints:
        return 0
    body = event_body(event_type, data, at or datetime.now(UTC))
    await conn.executemany(
        "INSERT INTO webhook_outbox (endpoint_id, alert_id, event_type, webhook_id, body)"
        " VALUES ($1, NULL, $2, $3, $4)",
        [(r["id"], event_type, "msg_" + secrets.token_hex(16), body) for r in endpoints],
    )
    await conn.execute("SELECT pg_notify($1, '')", OUTBOX_CHANNEL)
    return len(endpoints)


async def create_endpoint(
    conn: asyncpg.Connection,
    *,
    plant_id: int,
    partner: str,
    name: str,
    url: str,
    event_types: Sequence[str],
    secret: str,
) -> asyncpg.Record | None:
    """None if the name is taken (endpoint names are unique across the alerts service's endpoints too)."""
    return await conn.fetchrow(
        f"""WITH e AS (INSERT INTO webhook_endpoints (name, url, secret, partner, plant_id, event_types)
                       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING RETURNING *)
            SELECT {ENDPOINT_COLUMNS} FROM e JOIN plants p ON p.id = e.plant_id""",
        name,
        url,
        secret,
        partner,
        plant_id,
        list(event_types),
    )


async def list_endpoints(conn: asyncpg.Connection, plant_id: int, partner: str | None) -> list[asyncpg.Record]:
    """Partner endpoints of a plant: one partner's, or (partner None) every partner's."""
    return await conn.fetch(
        f"""SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints e JOIN plants p ON p.id = e.plant_id
            WHERE e.plant_id = $1 AND ($2::text IS NULL OR e.partner = $2) ORDER BY e.id""",
        plant_id,
        partner,
    )


async def delete_endpoint(conn: asyncpg.Connection, plant_id: int, partner: str, endpoint_id: int) -> bool:
    deleted = await conn.fetchval(
        "DELETE FROM webhook_endpoints WHERE id = $1 AND plant_id = $2 AND partner = $3 RETURNING id",
        endpoint_id,
        plant_id,
        partner,
    )
    return deleted is not None


async def deliveries(conn: asyncpg.Connection, plant_id: int, partner: str | None, limit: int) -> list[asyncpg.Record]:
    """The delivery log of the plant's partner endpoints (one partner's, or every partner's), newest first."""
    return await conn.fetch(
        """SELECT o.id, o.endpoint_id, e.name AS endpoint, e.partner, o.event_type, o.webhook_id, o.status,
                  o.attempts, o.created_at, o.delivered_at, o.last_error
           FROM webhook_outbox o JOIN webhook_endpoints e ON e.id = o.endpoint_id
           WHERE e.plant_id = $1 AND ($2::text IS NULL OR e.partner = $2) ORDER BY o.id DESC LIMIT $3""",
        plant_id,
        partner,
        limit,
    )
