"""Statements over HTTP: list (as of a time), all revisions of one period, the published keys, verification."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response

from services.api import deps
from services.api.buckets import parse_choice, parse_range, parse_time
from services.api.openapi import documented
from services.api.responses import Table, render
from services.api.schemas import columns
from services.api.statements import service, store
from services.api.statements.numbers import settle
from services.api.statements.schemas import (
    KEYS_EXAMPLE,
    REVISIONS_EXAMPLE,
    STATEMENTS_EXAMPLE,
    VERIFIED_EXAMPLE,
    RevisionsOut,
    SigningKeysOut,
    StatementEntry,
    StatementRow,
    StatementsOut,
    VerifiedOut,
)
from shared.auth import Principal
from shared.db import connection
from shared.errors import ApiError
from shared.ledger.canonical import timestamp
from shared.ledger.signing import VerificationError, unverified_payload, verify

router = APIRouter(prefix="/v1", tags=["statements"])

KINDS = ("period", "day", "all")
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)
MAX_JWS_BYTES = 65536
COLUMNS = columns(StatementRow)


def _bounded(value: datetime, name: str) -> datetime:
    """Times outside 1970–2200 name no settlement period (and would overflow period arithmetic): 400."""
    if not EARLIEST <= value < LATEST:
        raise ApiError(
            400,
            "time_out_of_range",
            f"`{name}` must be between 1970 and 2200.",
            {"parameter": name, "value": timestamp(value)},
        )
    return value


def _entry(s: store.Stored) -> StatementEntry:
    """The same bytes for every reader: nothing here depends on who asks."""
    return StatementEntry(
        kind=s.kind,
        period_start=timestamp(s.period_start),
        period_end=timestamp(s.period_end),
        revision=s.revision,
        sequence=s.sequence,
        issued_at=timestamp(s.issued_at),
        kid=s.kid,
        hash=s.hash,
        previous=s.previous,
        reason=s.reason,
        jws=s.jws,
        payload=unverified_payload(s.jws),
    )


def _row(entry: StatementEntry) -> dict[str, Any]:
    """The CSV row: the payload's fields, then the entry's over them."""
    fields = {k: getattr(entry, k) for k in COLUMNS if k in entry.__struct_fields__}
    return {**{k: entry.payload[k] for k in COLUMNS if k in entry.payload}, **fields}


@router.get(
    "/plants/{plant}/statements",
    summary="Signed statements of a plant (latest revision, or as of a time)",
    responses=documented(StatementsOut, 400, 404, csv=COLUMNS, example=STATEMENTS_EXAMPLE),
)
async def list_statements(
    request: Request,
    plant: str,
    start: str | None = None,
    end: str | None = None,
    as_of: str | None = None,
    kind: str | None = None,
    principal: Principal = deps.READ,
) -> Response:
    """Per period (and plant-local day) starting in [start, end): the newest revision issued at or before `as_of`
    (default: now). Each entry carries the compact JWS; `payload` is its decoded payload, for convenience."""
    _, found = await deps.plant_for(request, principal, plant)
    lo, hi = parse_range(start, end)
    at = parse_time(as_of, "as_of") if as_of else None
    for name, value in (("start", lo), ("end", hi), ("as_of", at)):
        if value is not None:
            _bounded(value, name)
    chosen = parse_choice(kind or "all", KINDS, "kind")
    kinds = ("period", "day") if chosen == "all" else (chosen,)
    async with connection(deps.get_pool(request)) as conn:
        got = await store.as_of(conn, found.id, lo, hi, at, kinds)
    entries = [_entry(s) for s in got]
    body = StatementsOut(
        plant=found.key,
        start=timestamp(lo),
        end=timestamp(hi),
        as_of=timestamp(at) if at else None,
        statements=entries,
    )
    return render(request, body, Table([_row(e) for e in entries], COLUMNS))


@router.get(
    "/plants/{plant}/statements/{period_start}",
    summary="Every revision of one period's statement",
    responses=documented(RevisionsOut, 400, 404, 409, csv=COLUMNS, example=REVISIONS_EXAMPLE),
)
async def period_statements(
    request: Request, plant: str, period_start: str, kind: str | None = None, principal: Principal = deps.READ
) -> Response:
    """All revisions, newest first. 404 `unknown_period` if no period starts then; 409 `period_not_closed` before
    the period end plus the late-data window; 404 `no_statement` for a closed period without data."""
    settings = deps.get_settings(request)
    _, found = await deps.plant_for(request, principal, plant)
    start = _bounded(parse_time(period_start, "period_start"), "period_start")
    chosen = parse_choice(kind or "period", ("period", "day"), "kind")
    async with connection(deps.get_pool(request)) as conn:
        got = await store.revisions(conn, found.id, chosen, start)
        if not got:
            await _explain_missing(conn, found.key, chosen, start, settings)
    entries = [_entry(s) for s in got]
    body = RevisionsOut(plant=found.key, kind=chosen, period_start=timestamp(start), revisions=entries)
    return render(request, body, Table([_row(e) for e in entries], COLUMNS))


async def _explain_missing(conn: Any, plant_key: str, kind: str, start: datetime, settings: Any) -> None:
    found = await service.subjects(conn, plant_key)
    if not found:
        raise ApiError(404, "unknown_period", f"Plant {plant_key!r} has no net-output signal to settle.")
    subj = found[0]
    if kind == "day":
        bounds = service.local_day_bounds(service.local_day(start, subj.plant.timezone), subj.plant.timezone)
    else:
        periods, _, _ = await settle(conn, subj.plant, subj.net, start, start + timedelta(seconds=1), settings)
        bounds = (periods[0].start, periods[0].end)
    if bounds[0] != start:
        raise ApiError(
            404,
            "unknown_period",
            f"No {kind} starts at {timestamp(start)}.",
            {"period_start": timestamp(start), "containing_period_start": timestamp(bounds[0])},
        )
    closes_at = bounds[1] + timedelta(seconds=settings.late_data_window_s)
    if closes_at > deps.utcnow():
        raise ApiError(
            409,
            "period_not_closed",
            f"The {kind} closes at {timestamp(closes_at)} (end plus the late-data window); no statement yet.",
            {"closes_at": timestamp(closes_at)},
        )
    raise ApiError(
        404,
        "no_statement",
        f"No statement for the {kind} starting {timestamp(start)}: it had no data, "
        "or the issuer has not reached it yet.",
        {"period_start": timestamp(start)},
    )


@router.get(
    "/plants/{plant}/signing-keys",
    summary="The public keys that sign statements (JWKS)",
    responses=documented(SigningKeysOut, 404, example=KEYS_EXAMPLE),
)
async def signing_keys(request: Request, plant: str, principal: Principal = deps.READ) -> Response:
    """Every key that ever signed, current and rotated-out alike (RFC 7517 JWK Set)."""
    await deps.plant_for(request, principal, plant)
    async with connection(deps.get_pool(request)) as conn:
        keys = await store.published_keys(conn)
    return render(request, SigningKeysOut(keys=keys), None)


@router.post(
    "/plants/{plant}/statements/verify",
    summary="Check a statement's signature and whether it is current",
    responses=documented(VerifiedOut, 400, 404, 422, example=VERIFIED_EXAMPLE),
)
async def verify_statement(request: Request, plant: str, principal: Principal = deps.READ) -> Response:
    """Body: the compact JWS (text/plain). 422 `unknown_signing_key`, `bad_signature`, `malformed_statement`."""
    _, found = await deps.plant_for(request, principal, plant)
    body = await request.body()
    if len(body) > MAX_JWS_BYTES:
        raise ApiError(413, "payload_too_large", f"A statement is at most {MAX_JWS_BYTES} bytes.")
    token = body.decode("ascii", "replace").strip()
    pool = deps.get_pool(request)
    async with connection(pool) as conn:
        keys = await store.published_keys(conn)
    try:
        payload = verify(token, {"keys": keys})
    except VerificationError as exc:
        raise ApiError(422, exc.code, exc.message) from exc
    if payload.get("plant") != found.key:
        raise ApiError(422, "wrong_plant", f"The statement is about plant {payload.get('plant')!r}.")
    async with connection(pool) as conn:
        start = parse_time(payload["period_start"], "period_start")
        newest = await store.latest(conn, found.id, payload["kind"], start)
    current = newest is not None and newest.revision == payload["revision"]
    return render(
        request,
        VerifiedOut(valid=True, current=current, latest_revision=newest.revision if newest else None, payload=payload),
        None,
    )
