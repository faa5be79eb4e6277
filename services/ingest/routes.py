"""Ingest's HTTP edge: JSON batches on /v1/readings and InfluxDB line protocol on /write and /api/v2/write.

Parse and authenticate here, write through the service (services/ingest/service.py owns the transaction), render
the reply."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import msgspec
from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from services.ingest import decoding, store
from services.ingest.lines import IGNORED_STRINGS_HEADER, decode_lines
from services.ingest.schemas import BatchDoc, RejectionOut, WriteReply, WriteReplyDoc
from services.ingest.service import BatchResult, Idempotency, Ingestor
from services.ingest.settings import Settings
from services.ingest.signalmaps import SignalMaps
from shared.auth import Principal, authenticate, token_from_headers
from shared.contracts import Role
from shared.errors import ApiError, error_response, error_responses

WRITE_ROLES = (Role.GATEWAY, Role.ADMIN)
_json_encoder = msgspec.json.Encoder()


def install_routes(app: FastAPI, settings: Settings) -> None:
    """The write routes, the body errors' handler and the OpenAPI document that describes the JSON batch."""
    app.add_exception_handler(decoding.BodyError, _body_error)
    _add_json_route(app, settings)
    _add_line_protocol_routes(app, settings)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]


async def _body_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, decoding.BodyError)
    return error_response(exc.status, exc.code, exc.message, exc.details)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated document, plus the JSON batch's schema (the route reads its body itself, with msgspec)."""
    if app.openapi_schema is None:
        document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        batch = BatchDoc.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(batch.pop("$defs", {}))
        schemas["BatchDoc"] = batch
        app.openapi_schema = document
    return app.openapi_schema


def _add_json_route(app: FastAPI, settings: Settings) -> None:
    @app.post(
        "/v1/readings",
        tags=["ingest"],
        summary="Store a batch of readings",
        response_model=WriteReplyDoc,
        responses=error_responses(400, 401, 403, 408, 413, 415, 422, 503),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BatchDoc"}}},
            }
        },
    )
    async def post_readings(request: Request) -> Response:
        """Each bad reading is rejected on its own; the rest are stored, once, before the reply."""
        ingestor: Ingestor = request.app.state.ingestor
        principal = await _principal(request, token_from_headers(request.headers.get("authorization")))
        body = await _read_body(request, settings, ingestor)
        async with ingestor.gate.admit():
            idem = Idempotency.of(request.headers.get("idempotency-key"), request.url.path, body)
            if (earlier := await ingestor.replay(principal, idem)) is None:
                items, decode_rejections = decoding.decode_batch(body, settings.max_readings_per_request)
                earlier = await ingestor.write(
                    principal, items, datetime.now(UTC), fmt="json", idem=idem, prior=decode_rejections
                )
        ingestor.metrics.requests.labels("json", "200").inc()
        return _respond(earlier) if isinstance(earlier, store.StoredResponse) else _json_reply(earlier)


def _add_line_protocol_routes(app: FastAPI, settings: Settings) -> None:
    signal_maps = SignalMaps()

    async def write_lines(request: Request, token: str | None, precision: str, database: str | None) -> Response:
        ingestor: Ingestor = request.app.state.ingestor
        principal = await _principal(request, token)
        body = await _read_body(request, settings, ingestor)
        async with ingestor.gate.admit():
            idem = Idempotency.of(request.headers.get("idempotency-key"), request.url.path, body)
            signal_map = await signal_maps.for_request(request.app.state.pool, principal, database)
            now = datetime.now(UTC)
            # Decoded before any replay too: the reply names lines, and a replay's body is the same.
            lines = decode_lines(body, precision, now, settings.max_readings_per_request, signal_map)
            if (earlier := await ingestor.replay(principal, idem)) is None:
                earlier = await ingestor.write(principal, lines.items, now, fmt="line", idem=idem)
                ingestor.metrics.count(principal.name, 0, 0, len(lines.errors))
        headers = {IGNORED_STRINGS_HEADER: str(lines.strings)} if lines.strings else None
        if isinstance(earlier, store.StoredResponse):
            response = _respond(earlier, headers)
        else:
            response = _respond(replace(lines.reply(earlier), replayed=earlier.replayed), headers)
        ingestor.metrics.requests.labels("line", str(response.status_code)).inc()
        return response

    @app.post(
        "/write",
        tags=["influxdb"],
        status_code=204,
        summary="InfluxDB v1 write (line protocol)",
        responses=error_responses(400, 401, 403, 408, 413, 415, 422, 503),
    )
    async def write_v1(
        request: Request, db: str | None = None, precision: str = "ns", u: str | None = None, p: str | None = None
    ) -> Response:
        """Token as `p`, as `Authorization: Token [user:]token`, or as the password of Basic auth; `db` naming a
        plant selects that plant's signal map (line_protocol in its plant file)."""
        return await write_lines(request, p or _influx_token(request), precision, db)

    @app.post(
        "/api/v2/write",
        tags=["influxdb"],
        status_code=204,
        summary="InfluxDB v2 write (line protocol)",
        responses=error_responses(400, 401, 403, 408, 413, 415, 422, 503),
    )
    async def write_v2(
        request: Request, org: str | None = None, bucket: str | None = None, precision: str = "ns"
    ) -> Response:
        """`Authorization: Token <token>`; `bucket` naming a plant selects that plant's signal map; `org` is
        ignored."""
        return await write_lines(request, _influx_token(request), precision, bucket)

    async def ping() -> Response:
        """InfluxDB clients probe this before writing."""
        return Response(status_code=204, headers={"X-Influxdb-Version": "baseload-1"})

    # GET and HEAD as two routes: one route with both methods gives both one OpenAPI operation id (a warning).
    app.add_api_route(
        "/ping",
        ping,
        methods=["GET"],
        tags=["influxdb"],
        status_code=204,
        summary="InfluxDB client liveness probe",
        operation_id="influxdb_ping",
    )
    app.add_api_route("/ping", ping, methods=["HEAD"], include_in_schema=False, status_code=204)


async def _principal(request: Request, token: str | None) -> Principal:
    return await authenticate(request.app.state.pool, token, WRITE_ROLES)


def _influx_token(request: Request) -> str | None:
    """Basic auth's password, or `Token <t>`; `Token user:password` (InfluxDB 1.8's compatibility form) → the
    password part, as Telegraf's influxdb_v2 output sends it with `token = "user:password"`."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        with contextlib.suppress(ValueError):
            return base64.b64decode(header[6:]).decode().partition(":")[2] or None
        return None
    token = token_from_headers(header)
    if token is not None and header.lstrip().lower().startswith("token ") and ":" in token:
        return token.partition(":")[2] or None
    return token


async def _read_body(request: Request, settings: Settings, ingestor: Ingestor) -> bytes:
    """The request body, gzip-decoded, never larger than `max_body_bytes`, read before any write slot is held.

    A body must arrive within `body_timeout_s`, or after that at `body_min_rate_bytes_s` on average: a client
    that trickles is answered 408 and its connection closed, so slow uploads cannot hold the gate."""
    limit = settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise decoding.too_large(limit)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity", "gzip"):
        raise ApiError(415, "unsupported_encoding", f"Content-Encoding {encoding!r} is not supported; use gzip.")
    async with ingestor.gate.reading():
        body = await _receive(request, settings)
    return decoding.gunzip(body, limit) if encoding == "gzip" else body


async def _receive(request: Request, settings: Settings) -> bytes:
    loop = asyncio.get_running_loop()
    started = loop.time()
    chunks: list[bytes] = []
    size, limit = 0, settings.max_body_bytes
    stream = request.stream().__aiter__()
    while True:
        # The time by which more bytes must have come: the grace period, then the minimum average rate.
        due = started + settings.body_timeout_s + size / settings.body_min_rate_bytes_s
        try:
            async with asyncio.timeout_at(due):
                chunk = await anext(stream)
        except StopAsyncIteration:
            return b"".join(chunks)
        except TimeoutError:
            raise ApiError(
                408,
                "body_timeout",
                f"The body did not arrive in time ({size} bytes in "
                f"{loop.time() - started:.1f} s; allowed: {settings.body_timeout_s:g} s, then "
                f"{settings.body_min_rate_bytes_s} bytes/s).",
                {"received_bytes": size},
                headers={"Connection": "close"},
            ) from None
        size += len(chunk)
        if size > limit:
            raise decoding.too_large(limit)
        chunks.append(chunk)


def _json_reply(result: BatchResult) -> Response:
    reply = WriteReply(
        result.accepted, result.duplicates, [RejectionOut(r.index, r.code, r.message) for r in result.rejected]
    )
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    return Response(_json_encoder.encode(reply), media_type="application/json", headers=headers)


def _respond(stored: store.StoredResponse, headers: dict[str, str] | None = None) -> Response:
    headers = {**(headers or {}), "Idempotent-Replayed": "true"} if stored.replayed else headers
    return Response(
        stored.body or None, status_code=stored.status_code, media_type=stored.content_type, headers=headers
    )
