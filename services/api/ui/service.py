"""The dashboard's transactions: sign in, sign out, list a plant's alerts, acknowledge one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from services.api.settings import Settings
from services.api.ui import session, store
from shared import alert_acks, auth
from shared.auth import Principal
from shared.db import connection, transaction
from shared.errors import ApiError


class SignInError(Exception):
    """Why a key may not sign in; shown on the sign-in page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class SignedIn:
    session_id: str
    principal: Principal


async def sign_in(pool: asyncpg.Pool, token: str, settings: Settings, now: datetime) -> SignedIn:
    """Check the key and open a session for it (expired sessions are swept at the same time)."""
    async with transaction(pool) as conn:
        principal = await auth.lookup(conn, token) if token.startswith(auth.TOKEN_PREFIX) else None
        if principal is None:
            raise SignInError(401, "That API key is unknown or revoked.")
        if principal.role not in session.UI_ROLES:
            raise SignInError(403, f"A {principal.role} key cannot sign in to the dashboard.")
        session_id = session.new_session_id()
        await store.delete_expired_sessions(conn, now)
        await store.create_session(
            conn, session.session_hash(session_id), principal.key_id, session.expiry(settings, now)
        )
    return SignedIn(session_id, principal)


async def sign_out(pool: asyncpg.Pool, session_id: str) -> None:
    async with transaction(pool) as conn:
        await store.delete_session(conn, session.session_hash(session_id))


async def alerts_of(
    pool: asyncpg.Pool, principal: Principal, plant: str, settings: Settings, now: datetime
) -> list[store.AlertView]:
    """A plant's alerts; operators also see alerts tied to no plant (e.g. a silent gateway)."""
    async with connection(pool) as conn:
        return await store.plant_alerts(
            conn,
            plant,
            with_unlabelled=principal.role in session.ACK_ROLES,
            resolved_since=now - timedelta(hours=settings.ui_recent_alerts_h),
        )


async def acknowledge(pool: asyncpg.Pool, principal: Principal, alert_id: int, comment: str | None) -> None:
    """Acknowledge as the signed-in operator, through the write the alerts service makes (shared/alert_acks.py).

    Why not call the alerts service's HTTP API: the session holds no token to call it with (only the key id), and
    a service-to-service credential would let the api act as any operator. Why not import services/alerts: no
    service imports another. The shared function is the alerts service's own ack write, so the row ends up exactly
    as `POST /v1/alerts/{id}/ack` leaves it, and the evaluator (which owns every other transition) honours it.
    """
    if principal.role not in session.ACK_ROLES:
        raise ApiError(
            403,
            "forbidden_role",
            f"A {principal.role} key cannot acknowledge alerts.",
            {"role": principal.role, "allowed_roles": list(session.ACK_ROLES)},
        )
    async with transaction(pool) as conn:
        outcome = await alert_acks.acknowledge(conn, alert_id, principal.name, comment)
    if outcome == "unknown_alert":
        raise ApiError(404, "unknown_alert", f"No alert {alert_id}.", {"id": alert_id})
    if outcome == "not_firing":
        raise ApiError(409, "alert_not_firing", "Only a firing alert can be acknowledged.", {"id": alert_id})
