"""Alert and delivery endpoints: list and inspect alerts, ack/unack, the delivery log and manual redelivery."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response

from services.alerts import schemas, service
from services.alerts.edge import COMMON_RESPONSES, BigId, Db, Id, IdFilter, Limit, out, outs
from services.alerts.schemas import AlertDetail, AlertOut, DeliveryDetail, DeliveryOut
from shared.auth import Principal, require_roles
from shared.contracts import AlertState, Role
from shared.errors import error_responses

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
    return outs(AlertOut, await service.list_alerts(conn, state, limit, partner_of(who)))


@router.get("/alerts/{alert_id}", tags=["alerts"], responses=error_responses(404))
async def get_alert(alert_id: Id, request: Request, conn: Db, who: Reader) -> AlertDetail:
    """One alert with every transition and its evidence."""
    row, transitions = await service.alert_with_transitions(conn, alert_id, partner_of(who))
    return out(AlertDetail, row, transitions=[dict(t) for t in transitions])


@router.post("/alerts/{alert_id}/ack", tags=["alerts"], responses=error_responses(400, 404, 409))
async def ack_alert(
    alert_id: Id, request: Request, conn: Db, who: Operator, body: schemas.AckIn | None = None
) -> AlertOut:
    """Acknowledge a firing alert: reminders stop until the incident ends."""
    body = body or schemas.AckIn()
    return out(AlertOut, await service.set_ack(conn, alert_id, body.who or who.name, body.comment))


@router.delete("/alerts/{alert_id}/ack", tags=["alerts"], responses=error_responses(404, 409))
async def unack_alert(alert_id: Id, request: Request, conn: Db, _: Operator) -> AlertOut:
    """Withdraw an acknowledgement: reminders resume."""
    return out(AlertOut, await service.set_ack(conn, alert_id, None, None))


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
        await service.list_deliveries(
            conn, endpoint_id=endpoint_id, alert_id=alert_id, status=status, limit=limit, partner=partner_of(who)
        ),
    )


@router.get("/deliveries/{delivery_id}", tags=["webhooks"], responses=error_responses(404))
async def get_delivery(delivery_id: BigId, request: Request, conn: Db, who: Reader) -> DeliveryDetail:
    """One delivery with every attempt (status code, latency, error)."""
    row, attempts = await service.delivery_with_attempts(conn, delivery_id, partner_of(who))
    return out(DeliveryDetail, row, attempts=[dict(a) for a in attempts])


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_class=Response,
    tags=["webhooks"],
    responses=error_responses(404),
)
async def redeliver(delivery_id: BigId, request: Request, conn: Db, _: Operator) -> Response:
    """Send a delivery again (same webhook-id, so receivers can dedupe)."""
    await service.redeliver(conn, delivery_id, request.app.state.settings.outbox_channel)
    return Response(status_code=202)
