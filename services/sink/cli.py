"""`baseload sink`: a local webhook receiver that verifies Standard Webhooks signatures and prints each alert."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="baseload sink", description=__doc__)
    p.add_argument("--host", help="bind address (default 127.0.0.1, env BASELOAD_SINK_HOST)")
    p.add_argument("--port", type=int, help="port (default 9000, env BASELOAD_SINK_PORT)")
    p.add_argument("--secret", help="the endpoint's signing secret whsec_… (env BASELOAD_SINK_SECRET)")
    p.add_argument(
        "--tolerance",
        type=float,
        dest="tolerance_s",
        help="refuse webhook-timestamps further from now, seconds (default 300)",
    )
    return p


def main(argv: Sequence[str]) -> int:
    import uvicorn

    from services.sink.app import create_app
    from services.sink.settings import Settings

    args = build_parser().parse_args(list(argv))
    overrides = {k: v for k, v in vars(args).items() if v is not None}
    try:
        settings = Settings(**overrides)
        app = create_app(settings)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"baseload sink: {problems} (the secret comes from --secret or BASELOAD_SINK_SECRET)", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"baseload sink: {exc}", file=sys.stderr)
        return 2
    print(f"webhook sink on http://{settings.host}:{settings.port}/ (verified deliveries: GET /v1/events)", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level, access_log=False)
    return 0
