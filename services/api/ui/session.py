"""Dashboard sessions: an API key, posted once, becomes an HttpOnly SameSite=Strict cookie with an expiry.

The cookie carries a random 256-bit session id; the database keeps only its SHA-256 (`ui_sessions`), the key id and
the expiry, so a database dump reveals no usable session. The key's token is never stored, never put in a URL and
never logged. Revoking the key ends every session it opened (the lookup joins `api_keys.revoked_at`).

Cross-site request forgery, defended twice: the cookie is SameSite=Strict (a cross-site request carries no session),
and every state-changing request must come from this origin (`Origin` header, which browsers send on POST) and, once
signed in, carry the session's CSRF token, an HMAC of the session id that scripts of this origin read from the page.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from fastapi import Request, Response

from services.api.settings import Settings
from services.api.ui import store
from shared.auth import Principal
from shared.db import connection
from shared.errors import ApiError

SESSION_COOKIE = "baseload_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
UI_ROLES = ("partner", "operator", "admin")
ACK_ROLES = ("operator", "admin")


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def session_hash(session_id: str) -> bytes:
    # 256 random bits: a fast hash is enough, as for API tokens (shared/auth.py).
    return hashlib.sha256(session_id.encode()).digest()


def csrf_token(session_id: str) -> str:
    """The session's CSRF token: derived, so nothing more is stored, and useless without the session."""
    return hmac.new(session_id.encode(), b"baseload-csrf", hashlib.sha256).hexdigest()


def csrf_matches(session_id: str, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(csrf_token(session_id), presented)


def same_origin(request: Request) -> bool:
    """The request's Origin (or, lacking it, Referer) is this server's own origin."""
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    origin = request.headers.get("origin")
    if origin is not None:
        return origin == own
    referer = request.headers.get("referer")
    return referer is not None and (referer == own or referer.startswith(own + "/"))


def set_session_cookie(response: Response, session_id: str, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=settings.ui_session_ttl_s,
        path="/",
        httponly=True,
        samesite="strict",
        secure=settings.ui_cookie_secure,
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=settings.ui_cookie_secure)


def session_id_of(request: Request) -> str | None:
    value = request.cookies.get(SESSION_COOKIE)
    return value if value and len(value) <= 128 else None


def expiry(settings: Settings, now: datetime) -> datetime:
    return now + timedelta(seconds=settings.ui_session_ttl_s)


async def current_principal(request: Request) -> Principal | None:
    """The signed-in key of this browser, or None (no cookie, unknown or expired session, revoked key)."""
    session_id = session_id_of(request)
    if session_id is None:
        return None
    async with connection(request.app.state.pool) as conn:
        return await store.session_principal(conn, session_hash(session_id), datetime.now(UTC))


async def principal_from_session(request: Request, roles: tuple[str, ...]) -> Principal | None:
    """For the JSON endpoints: the session's principal if it has one of `roles` (403 if not); None without one."""
    principal = await current_principal(request)
    if principal is not None and principal.role not in roles:
        raise ApiError(
            403,
            "forbidden_role",
            f"A {principal.role} key cannot do this.",
            {"role": principal.role, "allowed_roles": list(roles)},
        )
    return principal
