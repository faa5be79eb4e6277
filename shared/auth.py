"""API keys: opaque bearer tokens, stored only as SHA-256 hashes, with a role, a partner (partner keys) and the
plants they may write (gateway keys)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from fastapi import Request

from shared.contracts import Role
from shared.db import connection
from shared.errors import ApiError

TOKEN_PREFIX = "bl_"
ROLES: tuple[str, ...] = tuple(Role)  # the contract is shared.contracts.Role


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: int
    name: str
    role: str
    partner: str | None
    plant_ids: frozenset[int] | None = None  # a gateway key's plants; None: not scoped to plants

    def may_write(self, plant_id: int) -> bool:
        return self.plant_ids is None or plant_id in self.plant_ids


class InvalidKey(ValueError):
    """A key that must not be created; the message is one line for the command line."""


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
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    role: str,
    name: str,
    partner: str | None = None,
    plants: Sequence[str] = (),
) -> tuple[Principal, str]:
    """Create a key; the token is returned once and never stored.

    A partner key needs a partner that some plant names; a gateway key needs the plants it may write (at least
    one); neither option applies to any other role."""
    async with _connection(conn) as c, c.transaction():
        plant_ids = await _check_new_key(c, role, partner, plants)
        token = new_token()
        key_id = await c.fetchval(
            "INSERT INTO api_keys (name, role, partner, token_hash, token_prefix) VALUES ($1, $2, $3, $4, $5)"
            " RETURNING id",
            name,
            role,
            partner,
            hash_token(token),
            token[:10],
        )
        await c.executemany(
            "INSERT INTO api_key_plants (api_key_id, plant_id) VALUES ($1, $2)",
            [(key_id, plant_id) for plant_id in plant_ids],
        )
    scope = frozenset(plant_ids) if role == Role.GATEWAY else None
    return Principal(key_id, name, role, partner, scope), token


async def _check_new_key(conn: asyncpg.Connection, role: str, partner: str | None, plants: Sequence[str]) -> list[int]:
    """The plant ids of a valid new key; `InvalidKey` naming the problem otherwise."""
    if role not in ROLES:
        raise InvalidKey(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if role == Role.PARTNER:
        known = [r["partner"] for r in await conn.fetch("SELECT DISTINCT partner FROM plant_partners ORDER BY 1")]
        if not partner:
            raise InvalidKey("a partner key needs --partner")
        if partner not in known:
            raise InvalidKey(f"no plant names partner {partner!r}; known partners: {', '.join(known) or 'none'}")
    elif partner:
        raise InvalidKey(f"--partner applies to partner keys only, not to a {role} key")
    if role != Role.GATEWAY:
        if plants:
            raise InvalidKey(f"--plant applies to gateway keys only, not to a {role} key")
        return []
    if not plants:
        raise InvalidKey("a gateway key needs --plant (repeat it for a gateway that writes several plants)")
    rows = await conn.fetch("SELECT key, id FROM plants WHERE key = ANY($1::text[])", list(plants))
    found = {r["key"]: r["id"] for r in rows}
    unknown = [p for p in plants if p not in found]
    if unknown:
        raise InvalidKey(f"no plant {', '.join(map(repr, unknown))}; load it first with `baseload plant load`")
    return sorted(set(found.values()))


@asynccontextmanager
async def _connection(conn: asyncpg.Connection | asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    if isinstance(conn, asyncpg.Pool):
        async with connection(conn) as acquired:
            yield acquired
    else:
        yield conn


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
        """SELECT k.id, k.name, k.role, k.partner,
                  CASE WHEN k.role = 'gateway' THEN
                      ARRAY(SELECT plant_id FROM api_key_plants WHERE api_key_id = k.id) END AS plant_ids
           FROM api_keys AS k WHERE k.token_hash = $1 AND k.revoked_at IS NULL""",
        hash_token(token),
    )
    if row is None:
        return None
    plant_ids = None if row["plant_ids"] is None else frozenset(row["plant_ids"])
    return Principal(row["id"], row["name"], row["role"], row["partner"], plant_ids)


async def is_active(conn: asyncpg.Connection | asyncpg.Pool, key_id: int) -> bool:
    """The key exists and is not revoked (long-lived requests, e.g. event streams, check it again)."""
    return bool(await conn.fetchval("SELECT revoked_at IS NULL FROM api_keys WHERE id = $1", key_id))


async def authenticate(pool: asyncpg.Pool, token: str | None, roles: tuple[str, ...]) -> Principal:
    """The key's principal if it exists, is not revoked and has one of `roles`; else 401/403."""
    if token is None:
        raise ApiError(
            401,
            "missing_credentials",
            "Send an API key as 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = await lookup(pool, token)
    if principal is None:
        raise ApiError(
            401, "invalid_credentials", "The API key is unknown or revoked.", headers={"WWW-Authenticate": "Bearer"}
        )
    if principal.role not in roles:
        raise ApiError(
            403,
            "forbidden_role",
            f"A {principal.role} key cannot do this.",
            {"role": principal.role, "allowed_roles": list(roles)},
        )
    return principal


def require_roles(*roles: str) -> Callable[[Request], Awaitable[Principal]]:
    """FastAPI dependency: authenticate the bearer token against `request.app.state.pool`."""

    async def dependency(request: Request) -> Principal:
        token = token_from_headers(request.headers.get("authorization"))
        return await authenticate(request.app.state.pool, token, roles)

    return dependency
