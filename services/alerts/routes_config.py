"""Configuration endpoints: rules, commitments (schedule, exclusions), webhook endpoints and silences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Query, Request, Response

from services.alerts import config_store as cs
from services.alerts import schemas, store
from services.alerts.edge import COMMON_RESPONSES, Db, Id, PlantFilter, PlantPath, not_found, out, outs, unique_name
from services.alerts.egress import EgressRefused, Unresolvable, target_of
from services.alerts.schemas import (
    CommitmentOut,
    EndpointCreated,
    EndpointOut,
    ExclusionOut,
    RuleOut,
    ScheduleEntryOut,
    ScheduleStored,
    SilenceOut,
)
from services.alerts.signing import new_secret
from shared.auth import Principal, require_roles
from shared.contracts import Role
from shared.errors import ApiError, error_responses

MANAGE = Depends(require_roles(Role.OPERATOR, Role.ADMIN))
Manager = Annotated[Principal, MANAGE]
router = APIRouter(prefix="/v1", responses=COMMON_RESPONSES)
MAX_SCHEDULE_RANGE = timedelta(days=366)


def problem(exc: cs.Problem) -> ApiError:
    return ApiError(400, exc.code, exc.message, {"field": exc.field})


async def _checked(conn: Any, rule: schemas.RuleCommon) -> None:
    try:
        await cs.check_rule_refs(conn, rule)
    except cs.Problem as exc:
        raise problem(exc) from exc


# --- rules --------------------------------------------------------------------------------------------------------


@router.post("/rules", status_code=201, tags=["rules"], responses=error_responses(400, 409))
async def create_rule(rule: schemas.RuleIn, request: Request, conn: Db, _: Manager) -> RuleOut:
    """Create an alert rule; unknown plants, signals or gateways are rejected naming the field."""
    async with unique_name("rule", rule.name), conn.transaction():
        await _checked(conn, rule)
        row = await cs.create_rule(conn, rule)
        if row is None:
            raise ApiError(409, "rule_exists", f"A rule named {rule.name!r} exists.", {"field": "name"})
        await store.notify(conn, request.app.state.settings.rules_channel)
    return out(RuleOut, row)


@router.get("/rules", tags=["rules"])
async def list_rules(request: Request, conn: Db, _: Manager) -> list[RuleOut]:
    """Every rule."""
    return outs(RuleOut, await cs.list_rules(conn))


@router.get("/rules/{rule_id}", tags=["rules"], responses=error_responses(404))
async def get_rule(rule_id: Id, request: Request, conn: Db, _: Manager) -> RuleOut:
    """One rule."""
    row = await cs.get_rule(conn, rule_id)
    if row is None:
        raise not_found("rule", rule_id)
    return out(RuleOut, row)


@router.put("/rules/{rule_id}", tags=["rules"], responses=error_responses(400, 404, 409))
async def replace_rule(rule_id: Id, rule: schemas.RuleIn, request: Request, conn: Db, _: Manager) -> RuleOut:
    """Replace a rule's definition (its alerts keep their history)."""
    async with unique_name("rule", rule.name), conn.transaction():
        await _checked(conn, rule)
        row = await cs.update_rule(conn, rule_id, rule)
        if row is None:
            raise not_found("rule", rule_id)
        await store.notify(conn, request.app.state.settings.rules_channel)
    return out(RuleOut, row)


@router.delete(
    "/rules/{rule_id}", status_code=204, response_class=Response, tags=["rules"], responses=error_responses(404)
)
async def delete_rule(rule_id: Id, request: Request, conn: Db, _: Manager) -> Response:
    """Delete a rule with its alerts and their history."""
    async with conn.transaction():
        if not await cs.delete_rule(conn, rule_id):
            raise not_found("rule", rule_id)
        await store.notify(conn, request.app.state.settings.rules_channel)
    return Response(status_code=204)


# --- commitments --------------------------------------------------------------------------------------------------


async def _plant(conn: asyncpg.Connection, key: str, field: str = "plant") -> int:
    pid = await cs.plant_id(conn, key)
    if pid is None:
        raise ApiError(404 if field == "path" else 400, "unknown_plant", f"No plant {key!r}.", {"field": field})
    return pid


@router.post("/commitments", status_code=201, tags=["commitments"], responses=error_responses(400))
async def put_commitment(c: schemas.CommitmentIn, request: Request, conn: Db, _: Manager) -> CommitmentOut:
    """Create (or replace, by plant and valid_from) a flat baseload commitment."""
    pid = await _plant(conn, c.plant)
    return out(CommitmentOut, await cs.upsert_commitment(conn, pid, c))


@router.get("/commitments", tags=["commitments"])
async def list_commitments(request: Request, conn: Db, _: Manager, plant: PlantFilter = None) -> list[CommitmentOut]:
    """Commitments, optionally of one plant."""
    return outs(CommitmentOut, await cs.list_commitments(conn, plant))


@router.delete(
    "/commitments/{commitment_id}",
    status_code=204,
    response_class=Response,
    tags=["commitments"],
    responses=error_responses(404),
)
async def delete_commitment(commitment_id: Id, request: Request, conn: Db, _: Manager) -> Response:
    """Delete a commitment."""
    if not await cs.delete_commitment(conn, commitment_id):
        raise not_found("commitment", commitment_id)
    return Response(status_code=204)


@router.put("/plants/{plant}/schedule", tags=["commitments"], responses=error_responses(400, 404))
async def put_schedule(
    plant: PlantPath, body: schemas.ScheduleIn, request: Request, conn: Db, _: Manager
) -> ScheduleStored:
    """Per-period overrides of the flat commitment; each period_start must start a settlement period."""
    pid = await _plant(conn, plant, "path")
    async with conn.transaction():
        for i, entry in enumerate(body.entries):
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
        return ScheduleStored(stored=await cs.put_schedule(conn, pid, body.entries))


@router.get("/plants/{plant}/schedule", tags=["commitments"], responses=error_responses(404))
async def get_schedule(
    plant: PlantPath,
    request: Request,
    conn: Db,
    _: Manager,
    start: Annotated[schemas.Timestamp | None, Query()] = None,
    end: Annotated[schemas.Timestamp | None, Query()] = None,
) -> list[ScheduleEntryOut]:
    """Schedule overrides in [start, end) (default: today and tomorrow, UTC; at most 366 days)."""
    start = start or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    end = end or start + timedelta(days=2)
    if not start < end <= start + MAX_SCHEDULE_RANGE:
        raise ApiError(422, "invalid_range", "end must be after start, at most 366 days later.", {"field": "end"})
    pid = await _plant(conn, plant, "path")
    return outs(ScheduleEntryOut, await cs.get_schedule(conn, pid, start, end))


@router.post("/plants/{plant}/exclusions", status_code=201, tags=["commitments"], responses=error_responses(400, 404))
async def add_exclusion(
    plant: PlantPath, body: schemas.ExclusionIn, request: Request, conn: Db, _: Manager
) -> ExclusionOut:
    """A window (planned outage, grid-operator instruction) in which the commitment does not apply."""
    pid = await _plant(conn, plant, "path")
    return out(ExclusionOut, await cs.add_exclusion(conn, pid, body))


@router.get("/plants/{plant}/exclusions", tags=["commitments"], responses=error_responses(404))
async def list_exclusions(plant: PlantPath, request: Request, conn: Db, _: Manager) -> list[ExclusionOut]:
    """Exclusion windows of a plant."""
    return outs(ExclusionOut, await cs.list_exclusions(conn, await _plant(conn, plant, "path")))


@router.delete(
    "/plants/{plant}/exclusions/{exclusion_id}",
    status_code=204,
    response_class=Response,
    tags=["commitments"],
    responses=error_responses(404),
)
async def delete_exclusion(plant: PlantPath, exclusion_id: Id, request: Request, conn: Db, _: Manager) -> Response:
    """Remove an exclusion window."""
    if not await cs.delete_exclusion(conn, await _plant(conn, plant, "path"), exclusion_id):
        raise not_found("exclusion", exclusion_id)
    return Response(status_code=204)


# --- webhook endpoints --------------------------------------------------------------------------------------------


async def _allowed_target(request: Request, url: str) -> None:
    """The egress policy at registration (it is applied again at every send)."""
    host, port = target_of(url)
    try:
        await request.app.state.egress.resolve(host, port, request.app.state.resolver)
    except Unresolvable:
        return  # a name that does not resolve yet is checked when a notification is sent
    except EgressRefused as exc:
        raise ApiError(400, "target_not_allowed", str(exc), {"field": "url"}) from exc


@router.post("/webhook-endpoints", status_code=201, tags=["webhooks"], responses=error_responses(400, 409))
async def create_endpoint(body: schemas.EndpointIn, request: Request, conn: Db, _: Manager) -> EndpointCreated:
    """Register a receiver. The signing secret (whsec_…) is in this response only."""
    await _allowed_target(request, body.url)
    secret = new_secret()
    async with unique_name("endpoint", body.name):
        row = await cs.create_endpoint(conn, body, secret)
    if row is None:
        raise ApiError(409, "endpoint_exists", f"An endpoint named {body.name!r} exists.", {"field": "name"})
    return out(EndpointCreated, row, secret=secret)


@router.get("/webhook-endpoints", tags=["webhooks"])
async def list_endpoints(request: Request, conn: Db, _: Manager) -> list[EndpointOut]:
    """Endpoints (never their secrets)."""
    return outs(EndpointOut, await cs.list_endpoints(conn))


@router.get("/webhook-endpoints/{endpoint_id}", tags=["webhooks"], responses=error_responses(404))
async def get_endpoint(endpoint_id: Id, request: Request, conn: Db, _: Manager) -> EndpointOut:
    """One endpoint (without its secret)."""
    row = await cs.get_endpoint(conn, endpoint_id)
    if row is None:
        raise not_found("endpoint", endpoint_id)
    return out(EndpointOut, row)


@router.put("/webhook-endpoints/{endpoint_id}", tags=["webhooks"], responses=error_responses(400, 404, 409))
async def replace_endpoint(
    endpoint_id: Id, body: schemas.EndpointIn, request: Request, conn: Db, _: Manager
) -> EndpointOut:
    """Change an endpoint's URL, format or filters; its secret stays."""
    await _allowed_target(request, body.url)
    async with unique_name("endpoint", body.name):
        row = await cs.update_endpoint(conn, endpoint_id, body)
    if row is None:
        raise not_found("endpoint", endpoint_id)
    return out(EndpointOut, row)


@router.delete(
    "/webhook-endpoints/{endpoint_id}",
    status_code=204,
    response_class=Response,
    tags=["webhooks"],
    responses=error_responses(404),
)
async def delete_endpoint(endpoint_id: Id, request: Request, conn: Db, _: Manager) -> Response:
    """Delete an endpoint and its delivery log."""
    if not await cs.delete_endpoint(conn, endpoint_id):
        raise not_found("endpoint", endpoint_id)
    return Response(status_code=204)


# --- silences -----------------------------------------------------------------------------------------------------


@router.post("/silences", status_code=201, tags=["silences"], responses=error_responses(400))
async def create_silence(body: schemas.SilenceIn, request: Request, conn: Db, who: Manager) -> SilenceOut:
    """Mute notifications of alerts whose labels match every matcher, from starts_at (default now) to ends_at."""
    starts_at = body.starts_at or datetime.now(UTC)
    if body.ends_at <= starts_at:
        raise ApiError(422, "invalid_request", "ends_at must be after starts_at.", {"field": "ends_at"})
    return out(SilenceOut, await cs.create_silence(conn, body, starts_at, body.created_by or who.name))


@router.get("/silences", tags=["silences"])
async def list_silences(
    request: Request, conn: Db, _: Manager, include_expired: Annotated[bool, Query()] = False
) -> list[SilenceOut]:
    """Active and future silences (and expired ones on request)."""
    return outs(SilenceOut, await cs.list_silences(conn, include_expired))


@router.delete("/silences/{silence_id}", tags=["silences"], responses=error_responses(404))
async def expire_silence(silence_id: Id, request: Request, conn: Db, _: Manager) -> SilenceOut:
    """Expire a silence now (it stays listed as expired)."""
    row = await cs.expire_silence(conn, silence_id)
    if row is None:
        raise not_found("silence", silence_id)
    return out(SilenceOut, row)
