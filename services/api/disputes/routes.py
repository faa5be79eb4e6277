"""HTTP edge of disputes, two-party corrections and partner webhook endpoints (all under /v1/plants/{plant}).

Reading: partner keys of the plant, operator and admin keys. Opening, proposing, approving, rejecting and
registering webhooks: partner keys of the plant only (an operator or admin never acts for a partner).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime

from services.api import deps
from services.api.catalog import Plant
from services.api.disputes import outbox, service
from services.api.disputes.schemas import (
    DELIVERIES_EXAMPLE,
    DISPUTE_EXAMPLE,
    ENDPOINTS_EXAMPLE,
    LIST_EXAMPLE,
    ApprovedOut,
    CommentIn,
    CorrectionIn,
    DeliveriesOut,
    DisputeIn,
    DisputeOut,
    DisputesOut,
    EndpointCreatedOut,
    EndpointsOut,
    PartnerEndpointIn,
    ProposedOut,
    RejectIn,
    ok,
    shaped,
)
from services.api.disputes.workflow import Refusal
from services.api.responses import render
from shared.auth import Principal
from shared.errors import ApiError, error_response, error_responses

router = APIRouter(prefix="/v1/plants/{plant}", tags=["disputes"])
ANY_HUMAN = Depends(deps.bearer_or_session("partner", "operator", "admin"))  # the dashboard's cookie: GETs only
WRITE_ERRORS = (400, 404, 409, 422)  # with 401 and 403
PROPOSED_EXAMPLE = {"correction_id": 1, "dispute": DISPUTE_EXAMPLE}
APPROVED_EXAMPLE = {
    "correction_id": 1,
    "applied": False,
    "approved_by": ["eps"],
    "waiting_for": ["socar"],
    "dispute": DISPUTE_EXAMPLE,
}
CREATED_EXAMPLE = {**ENDPOINTS_EXAMPLE["endpoints"][0], "secret": "whsec_…"}
# Ids are int4 columns: an id out of range is a 422, never a database error.
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


def install(app: FastAPI) -> None:
    """Mount the routes and render workflow refusals in the common envelope."""
    app.include_router(router)

    async def on_refusal(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Refusal)
        return error_response(exc.status, exc.code, exc.message, exc.details)

    app.add_exception_handler(Refusal, on_refusal)


def _partner_only(principal: Principal, action: str) -> None:
    if principal.role != "partner":
        raise ApiError(
            403,
            "partner_key_required",
            f"Only a partner key of the plant can {action}; an {principal.role} key cannot act for a partner.",
            {"role": principal.role},
        )


async def _plant(request: Request, principal: Principal, key: str) -> Plant:
    _, plant = await deps.plant_for(request, principal, key)
    return plant


def _json(payload: msgspec.Struct, status: int = 200) -> Response:
    return Response(msgspec.json.encode(payload), status_code=status, media_type="application/json")


@router.get("/disputes", summary="Disputes of a plant", responses=ok(DisputesOut, LIST_EXAMPLE, 400, 404, 422))
async def list_disputes(
    request: Request,
    plant: str,
    principal: Principal = ANY_HUMAN,
    start: AwareDatetime | None = None,
    end: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """Disputes (newest period first), optionally those of periods starting in [start, end)."""
    found = await _plant(request, principal, plant)
    rows = await service.list_disputes(deps.get_pool(request), found, start, end, limit)
    return render(request, shaped(DisputesOut, {"plant": found.key, "disputes": rows}), None)


@router.post(
    "/disputes",
    status_code=201,
    summary="Open a dispute on a closed settlement period",
    responses=ok(DisputeOut, DISPUTE_EXAMPLE, *WRITE_ERRORS, status=201),
)
async def open_dispute(request: Request, plant: str, body: DisputeIn, principal: Principal = ANY_HUMAN) -> Response:
    """A partner disputes one settlement period: reason, free-text evidence, optional attachment digest."""
    _partner_only(principal, "open a dispute")
    found = await _plant(request, principal, plant)
    pool = deps.get_pool(request)
    dispute_id = await service.open_dispute(pool, found, principal, body, deps.get_settings(request), deps.utcnow())
    return _json(shaped(DisputeOut, await service.dispute_detail(pool, found, dispute_id)), 201)


@router.get(
    "/disputes/{dispute_id}",
    summary="One dispute with every step taken on it",
    responses=ok(DisputeOut, DISPUTE_EXAMPLE, 404, 422),
)
async def get_dispute(request: Request, plant: str, dispute_id: Id, principal: Principal = ANY_HUMAN) -> Response:
    """The dispute, its events (who, when, what), and its corrections with approvals, substitutes and originals."""
    found = await _plant(request, principal, plant)
    detail = await service.dispute_detail(deps.get_pool(request), found, dispute_id)
    return render(request, shaped(DisputeOut, detail), None)


@router.post(
    "/disputes/{dispute_id}/comments",
    status_code=201,
    summary="Comment on a dispute",
    responses=ok(DisputeOut, DISPUTE_EXAMPLE, *WRITE_ERRORS, status=201),
)
async def add_comment(
    request: Request, plant: str, dispute_id: Id, body: CommentIn, principal: Principal = ANY_HUMAN
) -> Response:
    """Partners of the plant, operators and admins may comment; the comment is recorded with its author."""
    found = await _plant(request, principal, plant)
    pool = deps.get_pool(request)
    await service.comment(pool, found, principal, dispute_id, body.text, deps.utcnow())
    return _json(shaped(DisputeOut, await service.dispute_detail(pool, found, dispute_id)), 201)


@router.post(
    "/disputes/{dispute_id}/corrections",
    status_code=201,
    summary="Propose a correction",
    responses=ok(ProposedOut, PROPOSED_EXAMPLE, *WRITE_ERRORS, status=201),
)
async def propose_correction(
    request: Request, plant: str, dispute_id: Id, body: CorrectionIn, principal: Principal = ANY_HUMAN
) -> Response:
    """Substitute readings for an interval of the period (`kind: readings`) or a substitute energy value for the
    period (`kind: energy`). Takes effect only once every partner of the plant has approved it."""
    _partner_only(principal, "propose a correction")
    found = await _plant(request, principal, plant)
    pool = deps.get_pool(request)
    catalog = await deps.get_catalog(request)
    correction_id = await service.propose(
        pool, catalog, found, principal, dispute_id, body, deps.get_settings(request), deps.utcnow()
    )
    detail = await service.dispute_detail(pool, found, dispute_id)
    return _json(shaped(ProposedOut, {"correction_id": correction_id, "dispute": detail}), 201)


@router.post(
    "/disputes/{dispute_id}/corrections/{correction_id}/approve",
    summary="Approve a correction",
    responses=ok(ApprovedOut, APPROVED_EXAMPLE, *WRITE_ERRORS),
)
async def approve_correction(
    request: Request, plant: str, dispute_id: Id, correction_id: Id, principal: Principal = ANY_HUMAN
) -> Response:
    """One partner's approval. The last partner's approval applies the correction and restates the period."""
    _partner_only(principal, "approve a correction")
    found = await _plant(request, principal, plant)
    pool = deps.get_pool(request)
    outcome = await service.approve(
        pool, request.app.state.statements, found, principal, dispute_id, correction_id, deps.utcnow()
    )
    detail = await service.dispute_detail(pool, found, dispute_id)
    return _json(
        shaped(
            ApprovedOut,
            {
                "correction_id": correction_id,
                "applied": outcome.takes_effect,
                "approved_by": list(outcome.approved),
                "waiting_for": list(outcome.waiting_for),
                "dispute": detail,
            },
        )
    )


@router.post(
    "/disputes/{dispute_id}/corrections/{correction_id}/reject",
    summary="Reject or withdraw a correction",
    responses=ok(DisputeOut, DISPUTE_EXAMPLE, *WRITE_ERRORS),
)
async def reject_correction(
    request: Request,
    plant: str,
    dispute_id: Id,
    correction_id: Id,
    body: RejectIn | None = None,
    principal: Principal = ANY_HUMAN,
) -> Response:
    """Either partner ends a pending correction without effect (by its proposer: a withdrawal)."""
    _partner_only(principal, "reject a correction")
    found = await _plant(request, principal, plant)
    pool = deps.get_pool(request)
    await service.reject(pool, found, principal, dispute_id, correction_id, (body or RejectIn()).reason, deps.utcnow())
    return _json(shaped(DisputeOut, await service.dispute_detail(pool, found, dispute_id)))


# --- partner webhook endpoints --------------------------------------------------------------------------------------


@router.post(
    "/webhook-endpoints",
    status_code=201,
    tags=["webhooks"],
    summary="Register a partner webhook endpoint",
    responses=ok(EndpointCreatedOut, CREATED_EXAMPLE, *WRITE_ERRORS, status=201),
)
async def create_endpoint(
    request: Request, plant: str, body: PartnerEndpointIn, principal: Principal = ANY_HUMAN
) -> Response:
    """The partner's own endpoint for this plant's settlement events (statement.restated, dispute and correction
    events), signed with Standard Webhooks; the secret is returned once."""
    _partner_only(principal, "register a partner webhook endpoint")
    found = await _plant(request, principal, plant)
    assert principal.partner is not None
    secret = outbox.new_secret()
    row = await service.register_endpoint(
        deps.get_pool(request), found, principal.partner, body.name, body.url, body.event_types, secret
    )
    if row is None:
        raise ApiError(409, "endpoint_exists", f"An endpoint named {body.name!r} exists.", {"field": "name"})
    return _json(shaped(EndpointCreatedOut, {**dict(row), "secret": secret}), 201)


@router.get(
    "/webhook-endpoints",
    tags=["webhooks"],
    summary="Partner webhook endpoints of a plant",
    responses=ok(EndpointsOut, ENDPOINTS_EXAMPLE, 404),
)
async def list_endpoints(request: Request, plant: str, principal: Principal = ANY_HUMAN) -> Response:
    """A partner key sees its partner's endpoints; operator and admin keys every partner's (never the secrets)."""
    found = await _plant(request, principal, plant)
    partner = principal.partner if principal.role == "partner" else None
    rows = await service.endpoints(deps.get_pool(request), found, partner)
    return render(request, shaped(EndpointsOut, {"plant": found.key, "endpoints": [dict(r) for r in rows]}), None)


@router.delete(
    "/webhook-endpoints/{endpoint_id}",
    status_code=204,
    tags=["webhooks"],
    summary="Remove a partner webhook endpoint",
    responses=error_responses(401, 403, 404, 422),
)
async def delete_endpoint(request: Request, plant: str, endpoint_id: Id, principal: Principal = ANY_HUMAN) -> Response:
    """Only the partner that registered it can remove it."""
    _partner_only(principal, "remove a partner webhook endpoint")
    found = await _plant(request, principal, plant)
    assert principal.partner is not None
    if not await service.remove_endpoint(deps.get_pool(request), found, principal.partner, endpoint_id):
        raise ApiError(
            404,
            "unknown_endpoint",
            f"Partner {principal.partner!r} has no endpoint {endpoint_id} for plant {found.key!r}.",
            {"id": endpoint_id},
        )
    return Response(status_code=204)


@router.get(
    "/webhook-deliveries",
    tags=["webhooks"],
    summary="Delivery log of the partner endpoints of a plant",
    responses=ok(DeliveriesOut, DELIVERIES_EXAMPLE, 404, 422),
)
async def list_deliveries(
    request: Request, plant: str, principal: Principal = ANY_HUMAN, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> Response:
    """What was sent to the partner endpoints (a partner key: its own), with status and attempts, newest first."""
    found = await _plant(request, principal, plant)
    partner = principal.partner if principal.role == "partner" else None
    rows = await service.deliveries(deps.get_pool(request), found, partner, limit)
    return render(request, shaped(DeliveriesOut, {"plant": found.key, "deliveries": [dict(r) for r in rows]}), None)
