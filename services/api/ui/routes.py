"""The dashboard's HTTP edge: sign-in pages, the plant page, its alerts (JSON) and the operator's ack.

Numbers are not computed here: the page's script reads the api's own JSON endpoints (signals, stream, compliance,
aggregates, frequency) with the session cookie, so it shows exactly what partners get from the API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from services.api import deps
from services.api.catalog import Plant, can_read_plant, visible_plants
from services.api.responses import encode
from services.api.ui import service, session
from services.api.ui.days import local_today, parse_day
from shared.auth import Principal
from shared.errors import ApiError
from shared.settlement.periods import local_day_bounds

HERE = Path(__file__).resolve().parent
MAX_FORM_BYTES = 4096
MAX_COMMENT_CHARS = 500
# Scripts, styles, data and form posts only from this origin; no framing. uPlot sets element styles from script,
# which the CSP style-src does not restrict.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # same-origin POSTs keep their Origin header (checked against CSRF)
    "Cache-Control": "no-store",
}


class AckIn(BaseModel):
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)


templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)


def install(app: FastAPI) -> None:
    """Mount the dashboard's pages and static assets on the api app."""
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="ui-static")


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


async def _form(request: Request) -> dict[str, str]:
    """A small url-encoded form body (the sign-in and sign-out forms)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise ApiError(415, "unsupported_media_type", "Post the form as application/x-www-form-urlencoded.")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise ApiError(413, "payload_too_large", f"The form is larger than {MAX_FORM_BYTES} bytes.")
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), max_num_fields=10).items()}


def _require_same_origin(request: Request) -> None:
    if not session.same_origin(request):
        raise ApiError(403, "cross_origin_request", "State-changing requests must come from this site's pages.")


@router.get("/")
async def root() -> RedirectResponse:
    """The dashboard is the api's home page."""
    return _redirect("/ui/")


@router.get("/ui/")
async def home(request: Request) -> Response:
    principal = await session.current_principal(request)
    if principal is None:
        return _redirect("/ui/login")
    plants = visible_plants(principal, await deps.get_catalog(request, refresh=True))
    if plants:
        return _redirect(f"/ui/plants/{sorted(p.key for p in plants)[0]}")
    return _page(request, "empty.html", {"principal": principal, "csrf": _csrf(request)})


@router.get("/ui/login")
async def login_page(request: Request) -> Response:
    if await session.current_principal(request) is not None:
        return _redirect("/ui/")
    return _page(request, "login.html", {"error": None})


@router.post("/ui/login")
async def login(request: Request) -> Response:
    """Exchange an API key for a session cookie; the key itself is never stored or echoed."""
    _require_same_origin(request)
    token = (await _form(request)).get("api_key", "").strip()
    settings = deps.get_settings(request)
    try:
        signed = await service.sign_in(request.app.state.pool, token, settings, datetime.now(UTC))
    except service.SignInError as exc:
        return _page(request, "login.html", {"error": exc.message}, status=exc.status)
    response = _redirect("/ui/")
    session.set_session_cookie(response, signed.session_id, settings)
    return response


@router.post("/ui/logout")
async def logout(request: Request) -> Response:
    _require_same_origin(request)
    session_id = session.session_id_of(request)
    if session_id is not None:
        if not session.csrf_matches(session_id, (await _form(request)).get(session.CSRF_FIELD)):
            raise ApiError(403, "invalid_csrf_token", "The form is stale; reload the page and sign out again.")
        await service.sign_out(request.app.state.pool, session_id)
    response = _redirect("/ui/login")
    session.clear_session_cookie(response, deps.get_settings(request))
    return response


def _csrf(request: Request) -> str:
    session_id = session.session_id_of(request)
    return session.csrf_token(session_id) if session_id else ""


async def _readable_plant(request: Request, principal: Principal, key: str) -> Plant | None:
    catalog = await deps.get_catalog(request, refresh=True)
    plant = catalog.plants.get(key)
    return plant if plant is not None and can_read_plant(principal, plant) else None


@router.get("/ui/plants/{plant}")
async def plant_page(request: Request, plant: str, day: str | None = None) -> Response:
    """One plant: live values, the settlement day, grid frequency and alerts."""
    principal = await session.current_principal(request)
    if principal is None:
        return _redirect("/ui/login")
    found = await _readable_plant(request, principal, plant)
    if found is None:  # unknown and not yours look alike: a partner learns nothing of other plants
        return _page(
            request, "not_found.html", {"principal": principal, "csrf": _csrf(request), "plant": plant}, status=404
        )
    now = datetime.now(UTC)
    chosen = parse_day(day, found.timezone, now) or local_today(found.timezone, now)
    start, end = local_day_bounds(chosen, found.timezone)
    settings = deps.get_settings(request)
    plants = sorted(visible_plants(principal, await deps.get_catalog(request)), key=lambda p: p.key)
    return _page(
        request,
        "plant.html",
        {
            "principal": principal,
            "csrf": _csrf(request),
            "plant": found,
            "plants": plants,
            "can_ack": principal.role in session.ACK_ROLES,
            "day": chosen.isoformat(),
            "today": local_today(found.timezone, now).isoformat(),
            "day_start": start.isoformat().replace("+00:00", "Z"),
            "day_end": end.isoformat().replace("+00:00", "Z"),
            "stale_after_s": settings.ui_stale_after_s,
            "nominal_hz": settings.nominal_frequency_hz,
            "bands_mhz": ",".join(f"{b * 1000:g}" for b in sorted(settings.frequency_bands_hz)),
        },
    )


async def _signed_in(request: Request) -> Principal:
    principal = await session.current_principal(request)
    if principal is None:
        raise ApiError(401, "not_signed_in", "Sign in at /ui/login first.")
    return principal


@router.get("/ui/plants/{plant}/alerts")
async def plant_alerts(request: Request, plant: str) -> Response:
    """Firing, pending and recently resolved alerts of a plant, with their evidence (JSON)."""
    principal = await _signed_in(request)
    if await _readable_plant(request, principal, plant) is None:
        raise ApiError(404, "unknown_plant", f"No plant {plant!r}.", {"plant": plant})
    alerts = await service.alerts_of(
        request.app.state.pool, principal, plant, deps.get_settings(request), datetime.now(UTC)
    )
    return Response(
        encode({"plant": plant, "alerts": alerts}), media_type="application/json", headers={"Cache-Control": "no-store"}
    )


@router.post("/ui/alerts/{alert_id}/ack")
async def ack(request: Request, alert_id: int, body: AckIn | None = None) -> Response:
    """Acknowledge a firing alert (operators): same-origin, with the session's CSRF token in `X-CSRF-Token`."""
    _require_same_origin(request)
    principal = await _signed_in(request)
    session_id = session.session_id_of(request)
    if session_id is None or not session.csrf_matches(session_id, request.headers.get(session.CSRF_HEADER)):
        raise ApiError(403, "invalid_csrf_token", "Reload the page and try again.")
    await service.acknowledge(request.app.state.pool, principal, alert_id, body.comment if body else None)
    return Response(encode({"id": alert_id, "acknowledged_by": principal.name}), media_type="application/json")
