"""Pieces shared by the alerts HTTP routes: bounded path and query types, errors, and the documented responses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

import asyncpg
from fastapi import Depends, Path, Query, Request
from pydantic import BaseModel

from shared.db import connection
from shared.errors import ApiError, error_responses

M = TypeVar("M", bound=BaseModel)
INT4_MAX, INT8_MAX = 2**31 - 1, 2**63 - 1
KEY_PATTERN = r"^[A-Za-z0-9_.:-]+$"

# Ids are bounded by their column type, so an out-of-range id is a 422 (never a database error).
Id = Annotated[int, Path(ge=1, le=INT4_MAX, description="Positive 32-bit id.")]
BigId = Annotated[int, Path(ge=1, le=INT8_MAX, description="Positive 64-bit id.")]
IdFilter = Annotated[int | None, Query(ge=1, le=INT4_MAX)]
PlantPath = Annotated[str, Path(min_length=1, max_length=200, pattern=KEY_PATTERN, description="Plant key.")]
PlantFilter = Annotated[str | None, Query(min_length=1, max_length=200, pattern=KEY_PATTERN)]
Limit = Annotated[int, Query(ge=1, le=1000)]

# What any operation can answer: no or a bad key, a wrong role, a request that does not match the schema, the
# database away. Each route adds its own (400, 404, 409).
COMMON_RESPONSES = error_responses(401, 403, 422, 503)


async def request_connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
    """One pooled connection per request; store functions take it (never the pool), `service` owns transactions."""
    async with connection(request.app.state.pool) as conn:
        yield conn


Db = Annotated[asyncpg.Connection, Depends(request_connection)]


Row = asyncpg.Record | Mapping[str, Any]


def out(model: type[M], record: Row, **extra: Any) -> M:
    """A database row (plus `extra` fields) as the endpoint's response model: only the fields the model names."""
    return model.model_validate({**dict(record), **extra})


def outs(model: type[M], records: Iterable[Row]) -> list[M]:
    return [out(model, r) for r in records]


def not_found(what: str, ident: object) -> ApiError:
    return ApiError(404, f"unknown_{what}", f"No {what} {ident}.", {"id": ident})


@asynccontextmanager
async def unique_name(what: str, name: str) -> AsyncIterator[None]:
    """Map a unique violation (a concurrent create, or a rename onto a taken name) to 409, once, at the edge."""
    try:
        yield
    except asyncpg.UniqueViolationError as exc:
        raise ApiError(409, f"{what}_exists", f"A {what} named {name!r} exists.", {"field": "name"}) from exc
