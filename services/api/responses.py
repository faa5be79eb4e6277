"""Rendering: JSON (msgspec) or CSV by `Accept`, with ETag and Cache-Control for closed periods."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
from fastapi import Request, Response

from services.api.csvout import to_csv

_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Table:
    """The rows a CSV response carries (mappings or response-model Structs), and their columns in order (from the
    row model: `services.api.schemas.columns`)."""

    rows: Iterable[Mapping[str, Any] | msgspec.Struct]
    columns: Sequence[str]


def wants_csv(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


def is_closed(end: datetime, now: datetime, late_data_window_s: int) -> bool:
    """A range is closed (its numbers no longer change) once late data can no longer arrive for it."""
    return end <= now - timedelta(seconds=late_data_window_s)


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def render(
    request: Request,
    payload: msgspec.Struct | Mapping[str, Any],
    table: Table | None,
    *,
    closed: bool = False,
    max_age_s: int = 300,
) -> Response:
    """JSON by default, CSV when asked (and the endpoint has a table); conditional GET for closed ranges."""
    headers: dict[str, str] = {"Vary": "Accept, Authorization"}
    if table is not None and wants_csv(request):
        body, media = to_csv(table.rows, table.columns), "text/csv; charset=utf-8"
        method = payload.get("method") if isinstance(payload, Mapping) else getattr(payload, "method", None)
        if method is not None:
            headers["X-Baseload-Method"] = json.dumps(method, default=str, ensure_ascii=True)
    else:
        body, media = _encoder.encode(payload), "application/json"
    if not closed:
        headers["Cache-Control"] = "no-cache"
        return Response(body, media_type=media, headers=headers)
    etag = etag_of(body)
    headers.update({"ETag": etag, "Cache-Control": f"private, max-age={max_age_s}"})
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media, headers=headers)


def encode(payload: Any) -> bytes:
    return _encoder.encode(payload)
