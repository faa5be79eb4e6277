"""Alert and delivery endpoints: list and inspect alerts, ack/unack, the delivery log and manual redelivery."""

from __future__ import annotations

from typing import Annotated, Literal

import asyncpg
from fastapi import APIRouter, Depends, Request, Response

from services.alerts import config_store as cs
from services.alerts import schemas, store
from services.alerts.edge import COMMON_RESPONSES, BigId, Db, Id, IdFilter, Limit, not_found, out, outs
from services.alerts.schemas import AlertDetail, AlertOut, DeliveryDetail, DeliveryOut
from shared.auth import Principal, require_roles
from shared.contracts import AlertState, Role
from shared.errors import ApiError, error_responses

Operator = Annotated[Principal, Depends(require_roles(Role.OPERATOR, Role.ADMIN))]
# Partner keys read (never change) the alerts, transitions and deliveries of plants their partner is party to.
Reader = Annotated[Principal, Depends(require_roles(Role.PARTNER, Role.OPERATOR, Role.ADMIN))]


def partner_of(principal: Principal) -> str | None:
    """The partner whose plants bound what this key reads; None for operator and admin keys (everything)."""
    return principal.partner if principal.role == Role.PARTNER else None


router = APIRouter(prefix="/v1", responses=COMMON_RESPONSES)


@router.get("/alerts", tags=["alerts"])
async def list_alerts(
    request: Request, conn: Db, who: Reader, state: AlertState | None = None, limit: Limit = 100
) -> list[AlertOut]:
    """Alerts, newest first, optionally in one state (a partner key: those of its partner's plants)."""
    return outs(AlertOut, await cs.list_alerts(conn, state, limit, partner_of(who)))


@router.get("/alerts/{alert_id}", tags=["alerts"], responses=error_responses(404))
async def get_alert(alert_id: Id, request: Request, conn: Db, who: Reader) -> AlertDetail:
    """One alert with every transition and its evidence."""
    row = await cs.get_alert(conn, alert_id, partner_of(who))
    if row is None:
        raise not_found("alert", alert_id)
    return out(AlertDetail, row, transitions=[dict(t) for t in await cs.transitions(conn, alert_id)])


@router.post("/alerts/{alert_id}/ack", tags=["alerts"], responses=error_responses(400, 404, 409))
async def ack_alert(
    alert_id: Id, request: Request, conn: Db, who: Operator, body: schemas.AckIn | None = None
) -> AlertOut:
    """Acknowledge a firing alert: reminders stop until the incident ends."""
    body = body or schemas.AckIn()
    await _set_ack(conn, alert_id, body.who or who.name, body.comment)
    return await _alert(conn, alert_id)


@router.delete("/alerts/{alert_id}/ack", tags=["alerts"], responses=error_responses(404, 409))
async def unack_alert(alert_id: Id, request: Request, conn: Db, _: Operator) -> AlertOut:
    """Withdraw an acknowledgement: reminders resume."""
    await _set_ack(conn, alert_id, None, None)
    return await _alert(conn, alert_id)


async def _alert(conn: asyncpg.Connection, alert_id: int) -> AlertOut:
    row = await cs.get_alert(conn, alert_id)
    if row is None:  # deleted with its rule since the ack
        raise not_found("alert", alert_id)
    return out(AlertOut, row)


async def _set_ack(conn: asyncpg.Connection, alert_id: int, who: str | None, comment: str | None) -> None:
    async with conn.transaction():
        if await cs.get_alert(conn, alert_id) is None:
            raise not_found("alert", alert_id)
        if not await cs.set_ack(conn, alert_id, who, comment):
            raise ApiError(409, "alert_not_firing", "Only a firing alert can be acknowledged.", {"id": alert_id})


@router.get("/deliveries", tags=["webhooks"])
async def list_deliveries(
    request: Request,
    conn: Db,
    who: Reader,
    endpoint_id: IdFilter = None,
    alert_id: IdFilter = None,
    status: Literal["pending", "delivered", "dead"] | None = None,
    limit: Limit = 100,
) -> list[DeliveryOut]:
    """The delivery log: one row per notification and endpoint, newest first (a partner key: those of alerts it
    may read and those to its own endpoints)."""
    return outs(
        DeliveryOut,
        await cs.list_deliveries(
            conn, endpoint_id=endpoint_id, alert_id=alert_id, status=status, limit=limit, partner=partner_of(who)
        ),
    )


@router.get("/deliveries/{delivery_id}", tags=["webhooks"], responses=error_responses(404))
async def get_delivery(delivery_id: BigId, request: Request, conn: Db, who: Reader) -> DeliveryDetail:
    """One delivery with every attempt (status code, latency, error)."""
    row = await cs.get_delivery(conn, delivery_id, partner_of(who))
    if row is None:
        raise not_found("delivery", delivery_id)
    return out(DeliveryDetail, row, attempts=[dict(a) for a in await cs.attempts(conn, delivery_id)])


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_class=Response,
    tags=["webhooks"],
    responses=error_responses(404),
)
async def redeliver(delivery_id: BigId, request: Request, conn: Db, _: Operator) -> Response:
    """Send a delivery again (same webhook-id, so receivers can dedupe)."""
    async with conn.transaction():
        if not await cs.redeliver(conn, delivery_id):
            raise not_found("delivery", delivery_id)
        await store.notify(conn, request.app.state.settings.outbox_channel)
    return Response(status_code=202)
