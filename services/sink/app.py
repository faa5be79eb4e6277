"""The sink's HTTP app: `POST /` (or any path under /webhooks) receives deliveries; `GET /v1/events` lists the
verified ones (newest last), so a script or a test can see what arrived."""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.sink.describe import describe
from services.sink.settings import Settings
from services.sink.verify import SeenIds, VerificationError, secret_key, verify
from shared.errors import ApiError, error_responses, install_error_handlers

Printer = Callable[[str], None]


def print_line(line: str) -> None:
    print(line, flush=True)


class Receiver:
    """Verify, dedupe, remember and print deliveries. `clock` gives seconds since the epoch."""

    def __init__(
        self, settings: Settings, *, printer: Printer = print_line, clock: Callable[[], float] = time.time
    ) -> None:
        self.key = secret_key(settings.secret.get_secret_value())
        self.tolerance_s, self.printer, self.clock = settings.tolerance_s, printer, clock
        self.seen = SeenIds()
        self.events: deque[dict[str, Any]] = deque(maxlen=settings.keep_events)
        self.rejected = 0

    def receive(self, headers: dict[str, str], body: bytes) -> bool:
        """True for a new delivery, False for a repeat; raises VerificationError for a forged or stale one."""
        now = self.clock()
        try:
            delivery = verify(self.key, headers, body, now, self.tolerance_s)
        except VerificationError as exc:
            self.rejected += 1
            self.printer(f"{_stamp(now)} REJECTED {exc.code}: {exc.message}")
            raise
        if not self.seen.first_time(delivery.msg_id):
            return False
        try:
            payload: Any = json.loads(body)
        except ValueError:
            payload = body.decode(errors="replace")
        self.events.append(
            {
                "webhook_id": delivery.msg_id,
                "webhook_timestamp": delivery.timestamp,
                "received_at": _stamp(now),
                "headers": headers,
                "body": body.decode(errors="replace"),
                "payload": payload,
            }
        )
        self.printer(f"{_stamp(now)} {describe(payload)}")
        return True


def _stamp(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def create_app(settings: Settings | None = None, *, printer: Printer = print_line) -> FastAPI:
    settings = settings or Settings()
    receiver = Receiver(settings, printer=printer)
    app = FastAPI(title="Baseload webhook sink", version="0.1.0")
    app.state.receiver = receiver
    install_error_handlers(app)

    async def deliver(request: Request) -> JSONResponse:
        headers = {k.lower(): v for k, v in request.headers.items() if k.lower().startswith("webhook-")}
        try:
            new = receiver.receive(headers, await request.body())
        except VerificationError as exc:
            raise ApiError(401, exc.code, exc.message) from exc
        return JSONResponse({"received": True, "duplicate": not new})

    for path in ("/", "/webhooks", "/webhooks/{name}"):
        app.add_api_route(
            path,
            deliver,
            methods=["POST"],
            tags=["webhooks"],
            responses=error_responses(401),
            summary="Receive a signed delivery (401 unless the Standard Webhooks signature verifies)",
        )

    @app.get("/v1/events", tags=["webhooks"], summary="Verified deliveries, oldest first")
    async def events() -> dict[str, Any]:
        return {"events": list(receiver.events), "rejected": receiver.rejected}

    @app.get("/healthz", tags=["operations"], summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
