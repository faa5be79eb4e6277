"""Ingest HTTP: JSON batches on /v1/readings and InfluxDB line protocol on /write and /api/v2/write."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import msgspec
from fastapi import FastAPI, Request, Response

from services.ingest import store
from services.ingest.lines import IGNORED_STRINGS_HEADER, decode_lines
from services.ingest.metrics import IngestMetrics
from services.ingest.schemas import BatchDoc, BatchIn, LooseBatchIn, ReadingIn, RejectionOut, WriteReply, WriteReplyDoc
from services.ingest.settings import Settings
from services.ingest.signalmaps import SignalMaps
from services.ingest.validation import (
    INVALID_QUALITY,
    INVALID_READING,
    INVALID_TIMESTAMP,
    INVALID_VALUE,
    NON_FINITE_VALUE,
    Rejection,
)
from services.ingest.writer import BatchResult, Idempotency, Ingestor, Item, run_maintenance
from shared.auth import Principal, authenticate, token_from_headers
from shared.db import create_pool, resolve_database_url
from shared.errors import ApiError, error_responses, install_error_handlers
from shared.http import add_operational_routes

WRITE_ROLES = ("gateway", "admin")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_json_encoder = msgspec.json.Encoder()
_batch_decoder = msgspec.json.Decoder(BatchIn)
_loose_decoder = msgspec.json.Decoder(LooseBatchIn)
_reading_decoder = msgspec.json.Decoder(ReadingIn)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = IngestMetrics.create()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.gc_gen0_threshold:
            _, gen1, gen2 = gc.get_threshold()
            gc.set_threshold(settings.gc_gen0_threshold, gen1, gen2)
        url = await asyncio.to_thread(resolve_database_url, settings)
        pool = await create_pool(url, max_size=settings.max_concurrent_writes + 1,
                                 timeout=settings.db_connect_timeout_s, init=store.prepare_connection)
        app.state.pool = pool
        app.state.ingestor = Ingestor(pool, settings, metrics)
        maintenance = asyncio.create_task(run_maintenance(app.state.ingestor))
        try:
            yield
        finally:
            maintenance.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await maintenance
            await pool.close()

    app = FastAPI(title="Baseload ingest", version="1", lifespan=lifespan,
                  description="The SCADA gateways' write path: durable, exactly-once, per-reading errors.")
    install_error_handlers(app)
    add_operational_routes(app, metrics.registry)
    _add_json_route(app, settings)
    _add_line_protocol_routes(app, settings)
    return app


def _add_json_route(app: FastAPI, settings: Settings) -> None:
    @app.post(
        "/v1/readings",
        tags=["ingest"],
        summary="Store a batch of readings",
        response_model=WriteReplyDoc,
        responses=error_responses(400, 401, 403, 413, 415, 422, 503),
        openapi_extra={"requestBody": {"required": True, "content": {
            "application/json": {"schema": BatchDoc.model_json_schema()}}}},
    )
    async def post_readings(request: Request) -> Response:
        """Each bad reading is rejected on its own; the rest are stored, once, before the reply."""
        ingestor: Ingestor = request.app.state.ingestor
        principal = await _principal(request, token_from_headers(request.headers.get("authorization")))
        async with ingestor.gate.admit():
            body = await _read_body(request, settings)
            idem = Idempotency.of(request.headers.get("idempotency-key"), request.url.path, body)
            if (stored := await ingestor.replay(principal, idem)) is not None:
                return _respond(stored)
            items, decode_rejections = _decode_json(body, settings.max_readings_per_request)
            _, response = await ingestor.write(principal, items, datetime.now(UTC), fmt="json", idem=idem,
                                               render=lambda r: _json_reply(r, decode_rejections))
        ingestor.metrics.count(principal.name, 0, 0, len(decode_rejections))
        ingestor.metrics.requests.labels("json", "200").inc()
        assert response is not None
        return _respond(response)


def _add_line_protocol_routes(app: FastAPI, settings: Settings) -> None:
    signal_maps = SignalMaps()

    async def write_lines(request: Request, token: str | None, precision: str, database: str | None) -> Response:
        ingestor: Ingestor = request.app.state.ingestor
        principal = await _principal(request, token)
        async with ingestor.gate.admit():
            body = await _read_body(request, settings)
            idem = Idempotency.of(request.headers.get("idempotency-key"), request.url.path, body)
            if (stored := await ingestor.replay(principal, idem)) is not None:
                return _respond(stored)
            signal_map = await signal_maps.for_request(request.app.state.pool, principal.name, database)
            now = datetime.now(UTC)
            lines = decode_lines(body, precision, now, settings.max_readings_per_request, signal_map)
            _, response = await ingestor.write(principal, lines.items, now, fmt="line", idem=idem,
                                               render=lines.reply)
        assert response is not None
        ingestor.metrics.count(principal.name, 0, 0, len(lines.errors))
        ingestor.metrics.requests.labels("line", str(response.status_code)).inc()
        headers = {IGNORED_STRINGS_HEADER: str(lines.strings)} if lines.strings else None
        return _respond(response, headers)

    @app.post("/write", tags=["influxdb"], status_code=204, summary="InfluxDB v1 write (line protocol)",
              responses=error_responses(400, 401, 403, 413, 503))
    async def write_v1(request: Request, db: str | None = None, precision: str = "ns", u: str | None = None,
                       p: str | None = None) -> Response:
        """Token as `p`, as `Authorization: Token [user:]token`, or as the password of Basic auth; `db` naming a
        plant selects that plant's signal map (line_protocol in its plant file)."""
        return await write_lines(request, p or _influx_token(request), precision, db)

    @app.post("/api/v2/write", tags=["influxdb"], status_code=204, summary="InfluxDB v2 write (line protocol)",
              responses=error_responses(400, 401, 403, 413, 503))
    async def write_v2(request: Request, org: str | None = None, bucket: str | None = None,
                       precision: str = "ns") -> Response:
        """`Authorization: Token <token>`; `bucket` naming a plant selects that plant's signal map; `org` is
        ignored."""
        return await write_lines(request, _influx_token(request), precision, bucket)

    @app.api_route("/ping", methods=["GET", "HEAD"], tags=["influxdb"], status_code=204,
                   summary="InfluxDB client liveness probe")
    async def ping() -> Response:
        return Response(status_code=204, headers={"X-Influxdb-Version": "baseload-1"})


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


async def _read_body(request: Request, settings: Settings) -> bytes:
    """The request body, gzip-decoded, never larger than `max_body_bytes`."""
    limit = settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise ApiError(415, "unsupported_encoding", f"Content-Encoding {encoding!r} is not supported; use gzip.")
    decoder = zlib.decompressobj(wbits=31)
    try:
        out = decoder.decompress(body, limit + 1)
    except zlib.error as exc:
        raise ApiError(400, "invalid_gzip", f"The gzip body does not decode: {exc}.") from None
    if len(out) > limit or decoder.unconsumed_tail:
        raise _too_large(limit)
    if not decoder.eof:
        raise ApiError(400, "invalid_gzip", "The gzip body is truncated.")
    return out


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"The body exceeds {limit} bytes (after decompression).",
                    {"max_body_bytes": limit})


def _decode_json(body: bytes, max_readings: int) -> tuple[list[Item], list[Rejection]]:
    """Typed decode (fast); if some reading is malformed, decode loosely and reject those readings alone."""
    try:
        batch = _batch_decoder.decode(body)
        readings: list[Any] = batch.readings
        _check_count(len(readings), max_readings)
        return [(i, r.signal, r.ts, r.value, r.quality) for i, r in enumerate(readings)], []
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError as exc:
        raise ApiError(400, "invalid_json", f"The body is not valid JSON: {exc}.") from None
    try:
        loose = _loose_decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise ApiError(422, "invalid_batch", f'Expected {{"readings": [...]}}: {exc}.') from None
    _check_count(len(loose.readings), max_readings)
    items: list[Item] = []
    rejected: list[Rejection] = []
    for index, raw in enumerate(loose.readings):
        try:
            r = _reading_decoder.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            rejected.append(Rejection(index, _code_for(str(exc)), str(exc)))
            continue
        items.append((index, r.signal, r.ts, r.value, r.quality))
    return items, rejected


def _code_for(message: str) -> str:
    """Map msgspec's error (e.g. "Expected `float`, got `str` - at `$.value`") to a rejection code."""
    if message.startswith("Number out of range") and message.endswith("`$.value`"):
        return NON_FINITE_VALUE  # e.g. 1e999: valid JSON, but no finite float64
    for path, code in (("`$.ts`", INVALID_TIMESTAMP), ("`$.value`", INVALID_VALUE), ("`$.quality`", INVALID_QUALITY)):
        if message.endswith(path):
            return code
    return INVALID_READING


def _check_count(count: int, max_readings: int) -> None:
    if count > max_readings:
        raise ApiError(413, "too_many_readings", f"{count} readings in one request; the limit is {max_readings}.",
                       {"count": count, "max_readings_per_request": max_readings})


def _json_reply(result: BatchResult, decode_rejections: list[Rejection]) -> store.StoredResponse:
    rejected = sorted([*decode_rejections, *result.rejected], key=lambda r: r.index)
    reply = WriteReply(result.accepted, result.duplicates, [RejectionOut(r.index, r.code, r.message) for r in rejected])
    return store.StoredResponse(b"", 200, "application/json", _json_encoder.encode(reply))


def _respond(stored: store.StoredResponse, headers: dict[str, str] | None = None) -> Response:
    headers = {**(headers or {}), "Idempotent-Replayed": "true"} if stored.replayed else headers
    return Response(stored.body or None, status_code=stored.status_code, media_type=stored.content_type,
                    headers=headers)

