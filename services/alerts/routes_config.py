"""Configuration endpoints: rules, commitments (schedule, exclusions), webhook endpoints and silences.

The HTTP edge only: parse, call `service` (which owns the transactions), render.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from services.alerts import schemas, service
from services.alerts.edge import COMMON_RESPONSES, Db, Id, PlantFilter, PlantPath, out, outs, unique_name
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
from shared.auth import Principal, require_roles
from shared.contracts import Role
from shared.errors import ApiError, error_responses

MANAGE = Depends(require_roles(Role.OPERATOR, Role.ADMIN))
Manager = Annotated[Principal, MANAGE]
router = APIRouter(prefix="/v1", responses=COMMON_RESPONSES)
MAX_SCHEDULE_RANGE = timedelta(days=366)


# --- rules --------------------------------------------------------------------------------------------------------


@router.post("/rules", status_code=201, tags=["rules"], responses=error_responses(400, 409))
async def create_rule(rule: schemas.RuleIn, request: Request, conn: Db, _: Manager) -> RuleOut:
    """Create an alert rule; unknown plants, signals or gateways are rejected naming the field."""
    async with unique_name("rule", rule.name):
        row = await service.create_rule(conn, rule, request.app.state.settings.rules_channel)
    return out(RuleOut, row)


@router.get("/rules", tags=["rules"])
async def list_rules(request: Request, conn: Db, _: Manager) -> list[RuleOut]:
    """Every rule."""
    return outs(RuleOut, await service.list_rules(conn))


@router.get("/rules/{rule_id}", tags=["rules"], responses=error_responses(404))
async def get_rule(rule_id: Id, request: Request, conn: Db, _: Manager) -> RuleOut:
    """One rule."""
    return out(RuleOut, await service.get_rule(conn, rule_id))


@router.put("/rules/{rule_id}", tags=["rules"], responses=error_responses(400, 404, 409))
async def replace_rule(rule_id: Id, rule: schemas.RuleIn, request: Request, conn: Db, _: Manager) -> RuleOut:
    """Replace a rule's definition (its alerts keep their history)."""
    async with unique_name("rule", rule.name):
        row = await service.replace_rule(conn, rule_id, rule, request.app.state.settings.rules_channel)
    return out(RuleOut, row)


@router.delete(
    "/rules/{rule_id}", status_code=204, response_class=Response, tags=["rules"], responses=error_responses(404)
)
async def delete_rule(rule_id: Id, request: Request, conn: Db, _: Manager) -> Response:
    """Delete a rule with its alerts and their history."""
    await service.delete_rule(conn, rule_id, request.app.state.settings.rules_channel)
    return Response(status_code=204)


# --- commitments --------------------------------------------------------------------------------------------------


@router.post("/commitments", status_code=201, tags=["commitments"], responses=error_responses(400))
async def put_commitment(c: schemas.CommitmentIn, request: Request, conn: Db, _: Manager) -> CommitmentOut:
    """Create (or replace, by plant and valid_from) a flat baseload commitment."""
    return out(CommitmentOut, await service.put_commitment(conn, c))


@router.get("/commitments", tags=["commitments"])
async def list_commitments(request: Request, conn: Db, _: Manager, plant: PlantFilter = None) -> list[CommitmentOut]:
    """Commitments, optionally of one plant."""
    return outs(CommitmentOut, await service.list_commitments(conn, plant))


@router.delete(
    "/commitments/{commitment_id}",
    status_code=204,
    response_class=Response,
    tags=["commitments"],
    responses=error_responses(404),
)
async def delete_commitment(commitment_id: Id, request: Request, conn: Db, _: Manager) -> Response:
    """Delete a commitment."""
    await service.delete_commitment(conn, commitment_id)
    return Response(status_code=204)


@router.put("/plants/{plant}/schedule", tags=["commitments"], responses=error_responses(400, 404))
async def put_schedule(
    plant: PlantPath, body: schemas.ScheduleIn, request: Request, conn: Db, _: Manager
) -> ScheduleStored:
    """Per-period overrides of the flat commitment; each period_start must start a settlement period."""
    return ScheduleStored(stored=await service.put_schedule(conn, plant, body.entries))


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
    return outs(ScheduleEntryOut, await service.get_schedule(conn, plant, start, end))


@router.post("/plants/{plant}/exclusions", status_code=201, tags=["commitments"], responses=error_responses(400, 404))
async def add_exclusion(
    plant: PlantPath, body: schemas.ExclusionIn, request: Request, conn: Db, _: Manager
) -> ExclusionOut:
    """A window (planned outage, grid-operator instruction) in which the commitment does not apply."""
    return out(ExclusionOut, await service.add_exclusion(conn, plant, body))


@router.get("/plants/{plant}/exclusions", tags=["commitments"], responses=error_responses(404))
async def list_exclusions(plant: PlantPath, request: Request, conn: Db, _: Manager) -> list[ExclusionOut]:
    """Exclusion windows of a plant."""
    return outs(ExclusionOut, await service.list_exclusions(conn, plant))


@router.delete(
    "/plants/{plant}/exclusions/{exclusion_id}",
    status_code=204,
    response_class=Response,
    tags=["commitments"],
    responses=error_responses(404),
)
async def delete_exclusion(plant: PlantPath, exclusion_id: Id, request: Request, conn: Db, _: Manager) -> Response:
    """Remove an exclusion window."""
    await service.delete_exclusion(conn, plant, exclusion_id)
    return Response(status_code=204)


# --- webhook endpoints --------------------------------------------------------------------------------------------


@router.post("/webhook-endpoints", status_code=201, tags=["webhooks"], responses=error_responses(400, 409))
async def create_endpoint(body: schemas.EndpointIn, request: Request, conn: Db, _: Manager) -> EndpointCreated:
    """Register a receiver. The signing secret (whsec_…) is in this response only."""
    state = request.app.state
    async with unique_name("endpoint", body.name):
        row, secret = await service.create_endpoint(conn, body, state.egress, state.resolver)
    return out(EndpointCreated, row, secret=secret)


@router.get("/webhook-endpoints", tags=["webhooks"])
async def list_endpoints(request: Request, conn: Db, _: Manager) -> list[EndpointOut]:
    """Endpoints (never their secrets)."""
    return outs(EndpointOut, await service.list_endpoints(conn))


@router.get("/webhook-endpoints/{endpoint_id}", tags=["webhooks"], responses=error_responses(404))
async def get_endpoint(endpoint_id: Id, request: Request, conn: Db, _: Manager) -> EndpointOut:
    """One endpoint (without its secret)."""
    return out(EndpointOut, await service.get_endpoint(conn, endpoint_id))


@router.put("/webhook-endpoints/{endpoint_id}", tags=["webhooks"], responses=error_responses(400, 404, 409))
async def replace_endpoint(
    endpoint_id: Id, body: schemas.EndpointIn, request: Request, conn: Db, _: Manager
) -> EndpointOut:
    """Change an endpoint's URL, format or filters; its secret stays."""
    state = request.app.state
    async with unique_name("endpoint", body.name):
        row = await service.replace_endpoint(conn, endpoint_id, body, state.egress, state.resolver)
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
    await service.delete_endpoint(conn, endpoint_id)
    return Response(status_code=204)


# --- silences -----------------------------------------------------------------------------------------------------


@router.post("/silences", status_code=201, tags=["silences"], responses=error_responses(400))
async def create_silence(body: schemas.SilenceIn, request: Request, conn: Db, who: Manager) -> SilenceOut:
    """Mute notifications of alerts whose labels match every matcher, from starts_at (default now) to ends_at."""
    starts_at = body.starts_at or datetime.now(UTC)
    if body.ends_at <= starts_at:
        raise ApiError(422, "invalid_request", "ends_at must be after starts_at.", {"field": "ends_at"})
    return out(SilenceOut, await service.create_silence(conn, body, starts_at, body.created_by or who.name))


@router.get("/silences", tags=["silences"])
async def list_silences(
    request: Request, conn: Db, _: Manager, include_expired: Annotated[bool, Query()] = False
) -> list[SilenceOut]:
    """Active and future silences (and expired ones on request)."""
    return outs(SilenceOut, await service.list_silences(conn, include_expired))


@router.delete("/silences/{silence_id}", tags=["silences"], responses=error_responses(404))
async def expire_silence(silence_id: Id, request: Request, conn: Db, _: Manager) -> SilenceOut:
    """Expire a silence now (it stays listed as expired)."""
    return out(SilenceOut, await service.expire_silence(conn, silence_id))
