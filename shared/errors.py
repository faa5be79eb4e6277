"""One error root and one envelope for every service: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.db import UNAVAILABLE_ERRORS

log = logging.getLogger("baseload.errors")

DATABASE_RETRY_AFTER_S = 2

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    503: "unavailable",
}


class ApiError(Exception):
    """Raise anywhere below a route; rendered as the common envelope with `status`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def database_unavailable() -> ApiError:
    return ApiError(
        503,
        "database_unavailable",
        "The database is unreachable; nothing was stored. Retry later.",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
    )


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the errors an endpoint can return."""
    return {status: {"description": _HTTP_CODES.get(status, "error"), "model": ErrorEnvelope} for status in statuses}


def install_error_handlers(app: FastAPI) -> None:
    """Render every error, ours or the framework's, in the common envelope; never a stack trace."""

    async def on_api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()
        ]
        return error_response(422, "invalid_request", "The request does not match the schema.", {"errors": errors})

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))

    async def on_unavailable(_: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %r", exc)
        err = database_unavailable()
        return error_response(err.status, err.code, err.message, headers=err.headers)

    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "An unexpected error occurred; it has been logged.")

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    for exc_type in UNAVAILABLE_ERRORS:
        app.add_exception_handler(exc_type, on_unavailable)
    app.add_exception_handler(asyncpg.exceptions.PostgresConnectionError, on_unavailable)
    app.add_exception_handler(Exception, on_unexpected)


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = {}


class ErrorEnvelope(BaseModel):
    error: ErrorDetail
