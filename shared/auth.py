"""API keys: opaque bearer tokens, stored only as SHA-256 hashes, with a role and (for partners) a partner."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
from fastapi import Request

from shared.contracts import Role
from shared.errors import ApiError

TOKEN_PREFIX = "bl_"
ROLES: tuple[str, ...] = tuple(Role)  # the contract is shared.contracts.Role


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: int
    name: str
    role: str
    partner: str | None


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    # Tokens carry 256 bits of randomness, so a fast hash is enough; no salt or KDF needed.
    return hashlib.sha256(token.encode()).digest()


def token_from_headers(authorization: str | None) -> str | None:
    """`Bearer <t>` or `Token <t>` (InfluxDB clients) → the token."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    return None


async def create_key(
    conn: asyncpg.Connection | asyncpg.Pool, *, role: str, name: str, partner: str | None = None
) -> tuple[Principal, str]:
    """Create a key; the token is returned once and never stored."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if role == "partner" and not partner:
        raise ValueError("a partner key needs --partner")
    token = new_token()
    key_id = await conn.fetchval(
        "INSERT INTO api_keys (name, role, partner, token_hash, token_prefix) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        name,
        role,
        partner,
        hash_token(token),
        token[:10],
    )
    return Principal(key_id, name, role, partner), token


async def revoke_key(conn: asyncpg.Connection | asyncpg.Pool, key: str) -> int:
    """Revoke by id, name or token prefix; returns how many keys were revoked."""
    result = await conn.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE revoked_at IS NULL"
        " AND (id::text = $1 OR name = $1 OR token_prefix = $1)",
        key,
    )
    return int(result.split()[-1])


async def lookup(conn: asyncpg.Connection | asyncpg.Pool, token: str) -> Principal | None:
    row = await conn.fetchrow(
        "SELECT id, name, role, partner FROM api_keys WHERE token_hash = $1 AND revoked_at IS NULL",
        hash_token(token),
    )
    return Principal(row["id"], row["name"], row["role"], row["partner"]) if row else None


async def authenticate(pool: asyncpg.Pool, token: str | None, roles: tuple[str, ...]) -> Principal:
    """The key's principal if it exists, is not revoked and has one of `roles`; else 401/403."""
    if token is None:
        raise ApiError(
            401, "missing_credentials", "Send an API key as 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = await lookup(pool, token)
    if principal is None:
        raise ApiError(401, "invalid_credentials", "The API key is unknown or revoked.",
                       headers={"WWW-Authenticate": "Bearer"})
    if principal.role not in roles:
        raise ApiError(
            403, "forbidden_role", f"A {principal.role} key cannot do this.",
            {"role": principal.role, "allowed_roles": list(roles)},
        )
    return principal


def require_roles(*roles: str) -> Callable[[Request], Awaitable[Principal]]:
    """FastAPI dependency: authenticate the bearer token against `request.app.state.pool`."""

    async def dependency(request: Request) -> Principal:
        token = token_from_headers(request.headers.get("authorization"))
        return await authenticate(request.app.state.pool, token, roles)

    return dependency
