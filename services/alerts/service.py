"""The alerts service's use cases: each owns its transaction (if it needs one) on the request's connection.

Routes parse, call one function here and render; the SQL is in `config_store` and `store`, which take the
Connection and never open a transaction. A refusal is an ApiError in the one envelope; a unique violation escapes
to the route's `edge.unique_name`, which maps it to 409 once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from services.alerts import config_store as cs
from services.alerts import schemas, store
from services.alerts.edge import not_found
from services.alerts.egress import EgressPolicy, EgressRefused, Resolver, Unresolvable, target_of
from services.alerts.signing import new_secret
from shared.errors import ApiError

Conn = asyncpg.Connection
Record = asyncpg.Record

# --- alerts and deliveries ------------------------------------------------------------------------------------------


async def list_alerts(conn: Conn, state: str | None, limit: int, partner: str | None) -> list[Record]:
    return await cs.list_alerts(conn, state, limit, partner)


async def alert_with_transitions(conn: Conn, alert_id: int, partner: str | None) -> tuple[Record, list[Record]]:
    row = await cs.get_alert(conn, alert_id, partner)
    if row is None:
        raise not_found("alert", alert_id)
    return row, await cs.transitions(conn, alert_id)


async def set_ack(conn: Conn, alert_id: int, who: str | None, comment: str | None) -> Record:
    """Acknowledge (who set) or withdraw the acknowledgement (who None) of a firing alert; the alert after it."""
    async with conn.transaction():
        if await cs.get_alert(conn, alert_id) is None:
            raise not_found("alert", alert_id)
        if not await cs.set_ack(conn, alert_id, who, comment):
            raise ApiError(409, "alert_not_firing", "Only a firing alert can be acknowledged.", {"id": alert_id})
    row = await cs.get_alert(conn, alert_id)
    if row is None:  # deleted with its rule since the ack
        raise not_found("alert", alert_id)
    return row


async def list_deliveries(
    conn: Conn, *, endpoint_id: int | None, alert_id: int | None, status: str | None, limit: int, partner: str | None
) -> list[Record]:
    return await cs.list_deliveries(
        conn, endpoint_id=endpoint_id, alert_id=alert_id, status=status, limit=limit, partner=partner
    )


async def delivery_with_attempts(conn: Conn, delivery_id: int, partner: str | None) -> tuple[Record, list[Record]]:
    row = await cs.get_delivery(conn, delivery_id, partner)
    if row is None:
        raise not_found("delivery", delivery_id)
    return row, await cs.attempts(conn, delivery_id)


async def redeliver(conn: Conn, delivery_id: int, outbox_channel: str) -> None:
    """Queue a delivery again and wake the dispatcher, in one transaction."""
    async with conn.transaction():
        if not await cs.redeliver(conn, delivery_id):
            raise not_found("delivery", delivery_id)
        await store.notify(conn, outbox_channel)


# --- rules ----------------------------------------------------------------------------------------------------------


async def _checked(conn: Conn, rule: schemas.RuleCommon) -> None:
    try:
        await cs.check_rule_refs(conn, rule)
    except cs.Problem as exc:
        raise ApiError(400, exc.code, exc.message, {"field": exc.field}) from exc


async def create_rule(conn: Conn, rule: schemas.RuleIn, rules_channel: str) -> Record:
    """Check the rule's references, insert it and wake the evaluator, in one transaction."""
    async with conn.transaction():
        await _checked(conn, rule)
        row = await cs.create_rule(conn, rule)
        if row is None:
            raise ApiError(409, "rule_exists", f"A rule named {rule.name!r} exists.", {"field": "name"})
        await store.notify(conn, rules_channel)
    return row


async def list_rules(conn: Conn) -> list[Record]:
    return await cs.list_rules(conn)


async def get_rule(conn: Conn, rule_id: int) -> Record:
    row = await cs.get_rule(conn, rule_id)
    if row is None:
        raise not_found("rule", rule_id)
    return row


async def replace_rule(conn: Conn, rule_id: int, rule: schemas.RuleIn, rules_channel: str) -> Record:
    async with conn.transaction():
        await _checked(conn, rule)
        row = await cs.update_rule(conn, rule_id, rule)
        if row is None:
            raise not_found("rule", rule_id)
        await store.notify(conn, rules_channel)
    return row


async def delete_rule(conn: Conn, rule_id: int, rules_channel: str) -> None:
    async with conn.transaction():
        if not await cs.delete_rule(conn, rule_id):
            raise not_found("rule", rule_id)
        await store.notify(conn, rules_channel)


# --- commitments ----------------------------------------------------------------------------------------------------


async def plant(conn: Conn, key: str, field: str = "plant") -> int:
    """The plant's id; unknown is 404 when the plant is in the path, 400 naming the field when in the body."""
    pid = await cs.plant_id(conn, key)
    if pid is None:
        raise ApiError(404 if field == "path" else 400, "unknown_plant", f"No plant {key!r}.", {"field": field})
    return pid


async def put_commitment(conn: Conn, c: schemas.CommitmentIn) -> Record:
    return await cs.upsert_commitment(conn, await plant(conn, c.plant), c)


async def list_commitments(conn: Conn, plant_key: str | None) -> list[Record]:
    return await cs.list_commitments(conn, plant_key)


async def delete_commitment(conn: Conn, commitment_id: int) -> None:
    if not await cs.delete_commitment(conn, commitment_id):
        raise not_found("commitment", commitment_id)


async def put_schedule(conn: Conn, plant_key: str, entries: Sequence[schemas.ScheduleEntry]) -> int:
    """Store per-period overrides, all or none; each must start a settlement period of the commitment in force."""
    pid = await plant(conn, plant_key, "path")
    async with conn.transaction():
        for i, entry in enumerate(entries):
            period_s = await cs.period_at(conn, pid, entry.period_start)
            field = f"entries[{i}].period_start"
            if period_s is None:
                raise ApiError(400, "no_commitment", "No commitment is in force at this period.", {"field": field})
            if entry.period_start.timestamp() % period_s:
                raise ApiError(
                    400,
                    "unaligned_period",
                    f"Not the start of a {period_s} s settlement period (UTC).",
                    {"field": field},
                )
        return await cs.put_schedule(conn, pid, entries)


async def get_schedule(conn: Conn, plant_key: str, start: datetime, end: datetime) -> list[Record]:
    return await cs.get_schedule(conn, await plant(conn, plant_key, "path"), start, end)


async def add_exclusion(conn: Conn, plant_key: str, body: schemas.ExclusionIn) -> Record:
    return await cs.add_exclusion(conn, await plant(conn, plant_key, "path"), body)


async def list_exclusions(conn: Conn, plant_key: str) -> list[Record]:
    return await cs.list_exclusions(conn, await plant(conn, plant_key, "path"))


async def delete_exclusion(conn: Conn, plant_key: str, exclusion_id: int) -> None:
    if not await cs.delete_exclusion(conn, await plant(conn, plant_key, "path"), exclusion_id):
        raise not_found("exclusion", exclusion_id)


# --- webhook endpoints ----------------------------------------------------------------------------------------------


async def allowed_target(egress: EgressPolicy, resolver: Resolver, url: str) -> None:
    """The egress policy at registration (it is applied again at every send)."""
    host, port = target_of(url)
    try:
        await egress.resolve(host, port, resolver)
    except Unresolvable:
        return  # a name that does not resolve yet is checked when a notification is sent
    except EgressRefused as exc:
        raise ApiError(400, "target_not_allowed", str(exc), {"field": "url"}) from exc


async def create_endpoint(
    conn: Conn, body: schemas.EndpointIn, egress: EgressPolicy, resolver: Resolver
) -> tuple[Record, str]:
    """Register a receiver with a new signing secret; the row and the secret (shown once)."""
    await allowed_target(egress, resolver, body.url)
    secret = new_secret()
    row = await cs.create_endpoint(conn, body, secret)
    if row is None:
        raise ApiError(409, "endpoint_exists", f"An endpoint named {body.name!r} exists.", {"field": "name"})
    return row, secret


async def list_endpoints(conn: Conn) -> list[Record]:
    return await cs.list_endpoints(conn)


async def get_endpoint(conn: Conn, endpoint_id: int) -> Record:
    row = await cs.get_endpoint(conn, endpoint_id)
    if row is None:
        raise not_found("endpoint", endpoint_id)
    return row


async def replace_endpoint(
    conn: Conn, endpoint_id: int, body: schemas.EndpointIn, egress: EgressPolicy, resolver: Resolver
) -> Record:
    await allowed_target(egress, resolver, body.url)
    row = await cs.update_endpoint(conn, endpoint_id, body)
    if row is None:
        raise not_found("endpoint", endpoint_id)
    return row


async def delete_endpoint(conn: Conn, endpoint_id: int) -> None:
    if not await cs.delete_endpoint(conn, endpoint_id):
        raise not_found("endpoint", endpoint_id)


# --- silences -------------------------------------------------------------------------------------------------------


async def create_silence(conn: Conn, body: schemas.SilenceIn, starts_at: datetime, created_by: str) -> Record:
    return await cs.create_silence(conn, body, starts_at, created_by)


async def list_silences(conn: Conn, include_expired: bool) -> list[Record]:
    return await cs.list_silences(conn, include_expired)


async def expire_silence(conn: Conn, silence_id: int) -> Record:
    row = await cs.expire_silence(conn, silence_id)
    if row is None:
        raise not_found("silence", silence_id)
    return row
