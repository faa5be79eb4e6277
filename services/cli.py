"""The `baseload` command line: database, migrations, plants, keys, services, retention, the demo, import, export.

Every error is one line on stderr and a non-zero exit; `baseload --debug ...` (or BASELOAD_DEBUG=1) shows the
traceback. Each command imports only what it needs, so `baseload --help` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.contracts import Role

if TYPE_CHECKING:
    from shared.settings import BaseServiceSettings

SERVICES = ("ingest", "api", "alerts")
# Commands whose arguments belong to their own module: `baseload <name> ...` → <module>.main(argv).
DELEGATED = {
    "simulate": ("services.simulator.cli", "run the plant simulator (OPC UA + Modbus servers)"),
    "gateway": ("services.gateway.cli", "run the SCADA gateway bridge (OPC UA / Modbus → ingest)"),
    "alerts": ("services.alerts.cli", "alert rules from a plant file (`alerts load FILE`)"),
    "sink": ("services.sink.cli", "run the local webhook sink that verifies and prints alerts"),
    "demo": ("services.demo", "the whole system in one terminal (what `make run` does)"),
    "import": ("services.tools.importer", "import a historian CSV export through ingest (resumable)"),
    "export": ("services.tools.exporter", "export readings to CSV or Parquet"),
    "statement": ("services.api.statements.cli.statement", "signed statements: issue, verify and recompute offline"),
    "ledger": ("services.api.statements.cli.ledger", "recompute published statements from the database"),
    "keys-signing": ("services.api.statements.cli.signing", "statement signing keys (also `keys signing`)"),
}
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A failure the user can act on; its message is the one line printed."""


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("baseload")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="baseload", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"baseload {version()}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = sub.add_parser("db", help="the embedded PostgreSQL (used when BASELOAD_DATABASE_URL is not set)")
    db.add_argument(
        "action",
        choices=("start", "stop", "status", "url"),
        help="start it (it keeps running), stop it, say whether it runs, or print its URL",
    )

    sub.add_parser("migrate", help="apply database migrations")

    plant = sub.add_parser("plant", help="plant configuration as code")
    plant_sub = plant.add_subparsers(dest="plant_command", required=True, metavar="ACTION")
    plant_load = plant_sub.add_parser("load", help="create or update a plant from a YAML file (idempotent)")
    plant_load.add_argument("file", type=Path, help="the plant file, e.g. deploy/plants/nish.yaml")

    keys = sub.add_parser("keys", help="API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = keys_sub.add_parser("create", help="create a key; the token is printed once")
    create.add_argument("--role", required=True, choices=[str(r) for r in Role], help="what the key may do")
    create.add_argument("--name", required=True, help="a name to recognise the key by (in lists and logs)")
    create.add_argument("--partner", help="for --role partner: the partner whose plants the key may read")
    create.add_argument(
        "--plant",
        action="append",
        default=[],
        metavar="PLANT",
        help="for --role gateway (required, repeatable): a plant whose signals the key may write",
    )
    revoke = keys_sub.add_parser("revoke", help="revoke a key by id, name or token prefix")
    revoke.add_argument("key", help="the key's id, name or token prefix (as `baseload keys list` shows)")
    keys_sub.add_parser("list", help="list keys (never their tokens)")

    retention = sub.add_parser(
        "retention",
        help="drop readings and rollups older than their retention horizons now (BASELOAD_INGEST_*RETENTION_DAYS)",
    )
    retention.add_argument("--dry-run", action="store_true", help="list the readings partitions it would drop")
    compress = sub.add_parser(
        "compress", help="compress every closed day of readings now (what ingest does in the background)"
    )
    compress.add_argument(
        "--after-hours",
        type=float,
        metavar="HOURS",
        help="a UTC day is closed this long after it ends (default BASELOAD_INGEST_COMPRESS_AFTER_HOURS, 48; "
        "at least 1)",
    )

    serve = sub.add_parser("serve", help="run one service")
    serve.add_argument("service", choices=SERVICES, help="which service")
    serve.add_argument("--host", help="address to listen on (default from BASELOAD_<SERVICE>_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default from BASELOAD_<SERVICE>_PORT)")

    for name, (_, summary) in DELEGATED.items():
        sub.add_parser(name, help=f"{summary}; see `baseload {name} --help`", add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv[:1] or os.environ.get("BASELOAD_DEBUG", "") not in ("", "0")
    if argv[:1] == ["--debug"]:
        argv = argv[1:]
    command = argv[0] if argv else "baseload"
    try:
        return _dispatch(argv)
    except KeyboardInterrupt:
        print(file=sys.stderr)  # end the ^C line; no traceback for a user's stop
        return EXIT_INTERRUPTED
    except SystemExit:
        raise
    except Exception as exc:  # the last line of defence: one line, the traceback only on request
        if debug:
            raise
        print(f"baseload {command}: {describe_error(exc)} (run with --debug for the traceback)", file=sys.stderr)
        return 1


def _dispatch(argv: list[str]) -> int:
    if argv[:2] == ["keys", "signing"]:  # API keys are `keys`; statement signing keys are their own module
        argv = ["keys-signing", *argv[2:]]
    if argv and argv[0] in DELEGATED:
        module = importlib.import_module(DELEGATED[argv[0]][0])
        return int(module.main(argv[1:]) or 0)
    args = build_parser().parse_args(argv)
    from shared.settings import BaseServiceSettings

    handlers: dict[str, Callable[[argparse.Namespace, BaseServiceSettings], int]] = {
        "db": _db,
        "migrate": _migrate,
        "plant": _plant,
        "keys": _keys,
        "serve": _serve,
        "retention": _retention,
        "compress": _compress,
    }
    return handlers[args.command](args, BaseServiceSettings())


def describe_error(exc: BaseException) -> str:
    """One line for a user: what failed, in their terms (no Python reprs)."""
    exc = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    if exc.__cause__ is not None and type(exc).__module__.startswith("sqlalchemy"):
        exc = exc.__cause__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    module = type(exc).__module__
    if isinstance(exc, CliError | ValueError | FileNotFoundError):
        return text
    if isinstance(exc, ConnectionRefusedError) or "Connect call failed" in text:
        return (
            "cannot reach the database (connection refused); is it running? Set BASELOAD_DATABASE_URL or run "
            "`baseload db start`"
        )
    if "does not exist" in text and "relation" in text:
        return f"database error: {text}; run `baseload migrate` first"
    if module.startswith(("asyncpg", "sqlalchemy")):
        return f"database error: {text.removeprefix('(sqlalchemy.dialects.postgresql.asyncpg.Error) ')}"
    if isinstance(exc, OSError):
        return text
    return f"{type(exc).__name__}: {text}"


@contextmanager
def database_url(settings: BaseServiceSettings) -> Iterator[str]:
    """The configured database, or the embedded one; an embedded server started only for this command is stopped
    again afterwards (a one-off command never leaves a PostgreSQL running behind the user's back)."""
    from shared.db import resolve_database_url
    from shared.embedded import embedded_status, stop_embedded

    started_here = settings.database_url is None and embedded_status(settings.data_dir) is None
    try:
        yield resolve_database_url(settings)
    finally:
        if started_here:
            stop_embedded(settings.data_dir)


def run_on_connection(settings: BaseServiceSettings, work: Callable[[Any], Any]) -> Any:
    """`await work(conn)` on one connection to the database (see `database_url`)."""
    import asyncio

    import asyncpg

    from shared.db import asyncpg_dsn

    async def run(url: str) -> Any:
        conn = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
        try:
            return await work(conn)
        finally:
            await conn.close()

    with database_url(settings) as url:
        return asyncio.run(run(url))


def _db(args: argparse.Namespace, settings: BaseServiceSettings) -> int:
    from shared.embedded import embedded_status, start_embedded, stop_embedded

    if args.action == "start":
        print(start_embedded(settings.data_dir))
    elif args.action == "stop":
        print("stopped" if stop_embedded(settings.data_dir) else "not running")
    else:
        url = embedded_status(settings.data_dir)
        print(url or "not running")
        return 0 if url else 1
    return 0


def _migrate(_: argparse.Namespace, settings: BaseServiceSettings) -> int:
    from shared.migrate import upgrade

    with database_url(settings) as url:
        upgrade(url)
    print("database is at the latest migration")
    return 0


def _plant(args: argparse.Namespace, settings: BaseServiceSettings) -> int:
    from shared.plants import PlantConfigError, apply_plant, load_plant_file

    try:
        config = load_plant_file(args.file)
    except (OSError, PlantConfigError, ValueError) as exc:
        raise CliError(f"{args.file}: {exc}") from exc
    run_on_connection(settings, lambda conn: apply_plant(conn, config))
    print(f"plant {config.key}: {len(config.signals)} signals, {len(config.commitments)} commitments")
    return 0


def _keys(args: argparse.Namespace, settings: BaseServiceSettings) -> int:
    async def run(conn: Any) -> int:
        if args.keys_command in ("create", "revoke"):
            from shared import auth  # imports the web stack: not for `keys list`
        if args.keys_command == "create":
            principal, token = await auth.create_key(
                conn, role=args.role, name=args.name, partner=args.partner, plants=args.plant
            )
            print(token)
            print(
                f"key {principal.key_id} ({principal.role}) created; the token above is shown only once",
                file=sys.stderr,
            )
        elif args.keys_command == "revoke":
            revoked = await auth.revoke_key(conn, args.key)
            print(f"revoked {revoked} key(s)")
            return 0 if revoked else 1
        else:
            for row in await conn.fetch(
                """SELECT k.id, k.name, k.role, k.partner, k.token_prefix, k.revoked_at,
                          (SELECT string_agg(p.key, ',' ORDER BY p.key) FROM api_key_plants AS kp
                           JOIN plants AS p ON p.id = kp.plant_id WHERE kp.api_key_id = k.id) AS plants
                   FROM api_keys AS k ORDER BY k.id"""
            ):
                state = "revoked" if row["revoked_at"] else "active"
                print(
                    f"{row['id']:>4}  {row['role']:<8} {row['name']:<24} {row['partner'] or '-':<10} "
                    f"{row['plants'] or '-':<12} {row['token_prefix']}…  {state}"
                )
        return 0

    try:
        return int(run_on_connection(settings, run))
    except ValueError as exc:
        print(f"baseload keys: {exc}", file=sys.stderr)
        return 2


def _retention(args: argparse.Namespace, _: BaseServiceSettings) -> int:
    from datetime import UTC, datetime

    from services.ingest.retention_job import apply_retention
    from services.ingest.settings import Settings

    settings = Settings()
    report = run_on_connection(
        settings, lambda conn: apply_retention(conn, settings, datetime.now(UTC), dry_run=args.dry_run)
    )
    if not report.ran:
        raise CliError("another retention run holds the lock; try again when it has finished")
    horizons = report.horizons
    print(f"readings horizon {horizons.readings:%Y-%m-%d %H:%M} UTC (whole days before it are dropped)")
    for table, horizon in horizons.rollups.items():
        print(f"{table} horizon {f'{horizon:%Y-%m-%d %H:%M} UTC' if horizon else 'none (kept forever)'}")
    verb = "would drop" if args.dry_run else "dropped"
    days = ", ".join(f"{p.day:%Y-%m-%d}" for p in report.partitions) or "none"
    print(f"{verb} {len(report.partitions)} readings partitions: {days}")
    blocks = report.blocks
    print(f"{verb} {blocks.blocks} compressed blocks ({blocks.readings} readings); {report.bytes_freed / 1e6:.1f} MB")
    if not args.dry_run:
        print("rollup rows deleted: " + ", ".join(f"{t} {n}" for t, n in report.rollup_rows.items()))
    if report.skipped:
        print(f"{report.skipped} units were locked and are left for the next run", file=sys.stderr)
    return 0


def _compress(args: argparse.Namespace, settings: BaseServiceSettings) -> int:
    """Compress every closed day at once, with a progress bar on stderr and a summary line on stdout."""
    from datetime import timedelta

    from tqdm import tqdm

    from services.ingest import blocks, compaction
    from services.ingest.settings import Settings as IngestSettings
    from shared.history.spans import MIN_COMPRESS_AFTER

    ingest = IngestSettings()
    hours = ingest.compress_after_hours if args.after_hours is None else args.after_hours
    after = timedelta(hours=hours)
    if after < MIN_COMPRESS_AFTER:
        raise CliError(f"--after-hours must be at least {MIN_COMPRESS_AFTER.total_seconds() / 3600:g}")

    async def run(conn: Any) -> compaction.CompressionRun:
        days = await compaction.closed_days(conn, after)
        total = await blocks.estimated_rows(conn, days)
        with tqdm(total=total or None, unit=" readings", unit_scale=True, desc="compress", file=sys.stderr) as bar:
            return await compaction.compress_closed(
                conn, after, lock_timeout_ms=ingest.compress_lock_timeout_ms, on_progress=bar.update
            )

    done = run_on_connection(settings, run)
    rate = done.readings / done.seconds if done.seconds else 0.0
    print(
        f"compressed {done.days} day(s): {done.readings:,} readings into {done.blocks:,} blocks "
        f"({done.payload_bytes / max(done.readings, 1):.2f} B/reading) in {done.seconds:.1f} s ({rate:,.0f}/s); "
        f"dropped {done.dropped} partition(s)"
    )
    if done.deferred:
        print(f"busy, retry later: {', '.join(str(d) for d in done.deferred)}", file=sys.stderr)
        return 1
    return 0


def _serve(args: argparse.Namespace, _: BaseServiceSettings) -> int:
    import uvicorn

    settings_module = importlib.import_module(f"services.{args.service}.settings")
    app_module = importlib.import_module(f"services.{args.service}.app")
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = settings_module.Settings(**overrides)
    app = app_module.create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        loop="uvloop",
        http="httptools",
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
