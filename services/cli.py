"""The `baseload` command line: database, migrations, plants, keys, services and the demo."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

import asyncpg

from shared import auth
from shared.db import asyncpg_dsn, resolve_database_url
from shared.embedded import embedded_status, start_embedded, stop_embedded
from shared.migrate import upgrade
from shared.plants import PlantConfigError, apply_plant, load_plant_file
from shared.settings import BaseServiceSettings

SERVICES = ("ingest", "api", "alerts")
# Commands whose arguments belong to their own module: `baseload <name> ...` → services.<module>.cli.main(argv).
DELEGATED = {
    "simulate": "services.simulator.cli",
    "gateway": "services.gateway.cli",
    "alerts": "services.alerts.cli",
    "sink": "services.sink.cli",
    "demo": "services.demo",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="baseload", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="the embedded PostgreSQL (used when no DATABASE_URL is set)")
    db.add_argument("action", choices=("start", "stop", "status", "url"))

    sub.add_parser("migrate", help="apply database migrations")

    plant = sub.add_parser("plant", help="plant configuration as code")
    plant_sub = plant.add_subparsers(dest="plant_command", required=True)
    plant_load = plant_sub.add_parser("load", help="create or update a plant from a YAML file (idempotent)")
    plant_load.add_argument("file", type=Path)

    keys = sub.add_parser("keys", help="API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a key; the token is printed once")
    create.add_argument("--role", required=True, choices=auth.ROLES)
    create.add_argument("--name", required=True)
    create.add_argument("--partner")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by id, name or token prefix")
    revoke.add_argument("key")
    keys_sub.add_parser("list", help="list keys (never their tokens)")

    serve = sub.add_parser("serve", help="run one service")
    serve.add_argument("service", choices=SERVICES)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)

    for name in DELEGATED:
        sub.add_parser(name, help=f"see `baseload {name} --help`", add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in DELEGATED:
        return _delegate(argv[0], argv[1:])
    args = build_parser().parse_args(argv)
    settings = BaseServiceSettings()
    handler = {
        "db": _db, "migrate": _migrate, "plant": _plant, "keys": _keys, "serve": _serve,
    }[args.command]
    return handler(args, settings)


def _delegate(name: str, argv: list[str]) -> int:
    try:
        module = importlib.import_module(DELEGATED[name])
    except ModuleNotFoundError:
        print(f"baseload {name}: not available in this build", file=sys.stderr)
        return 2
    return int(module.main(argv) or 0)


def _db(args: argparse.Namespace, settings: BaseServiceSettings) -> int:
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
    upgrade(resolve_database_url(settings))
    print("database is at the latest migration")
    return 0


def _plant(args: argparse.Namespace, settings: BaseServiceSettings) -> int:
    try:
        config = load_plant_file(args.file)
    except (OSError, PlantConfigError, ValueError) as exc:
        print(f"baseload plant load: {exc}", file=sys.stderr)
        return 2

    async def run() -> int:
        conn = await asyncpg.connect(asyncpg_dsn(resolve_database_url(settings)))
        try:
            return await apply_plant(conn, config)
        finally:
            await conn.close()

    asyncio.run(run())
    print(f"plant {config.key}: {len(config.signals)} signals, {len(config.commitments)} commitments")
    return 0


def _keys(args: argparse.Namespace, settings: BaseServiceSettings) -> int:
    async def run() -> int:
        conn = await asyncpg.connect(asyncpg_dsn(resolve_database_url(settings)))
        try:
            if args.keys_command == "create":
                principal, token = await auth.create_key(conn, role=args.role, name=args.name, partner=args.partner)
                print(token)
                print(f"key {principal.key_id} ({principal.role}) created; the token above is shown only once",
                      file=sys.stderr)
            elif args.keys_command == "revoke":
                revoked = await auth.revoke_key(conn, args.key)
                print(f"revoked {revoked} key(s)")
                return 0 if revoked else 1
            else:
                for row in await conn.fetch(
                    "SELECT id, name, role, partner, token_prefix, created_at, revoked_at FROM api_keys ORDER BY id"
                ):
                    state = "revoked" if row["revoked_at"] else "active"
                    print(f"{row['id']:>4}  {row['role']:<8} {row['name']:<24} {row['partner'] or '-':<10} "
                          f"{row['token_prefix']}…  {state}")
            return 0
        finally:
            await conn.close()

    try:
        return asyncio.run(run())
    except ValueError as exc:
        print(f"baseload keys: {exc}", file=sys.stderr)
        return 2


def _serve(args: argparse.Namespace, _: BaseServiceSettings) -> int:
    import uvicorn

    settings_module = importlib.import_module(f"services.{args.service}.settings")
    app_module = importlib.import_module(f"services.{args.service}.app")
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = settings_module.Settings(**overrides)
    app = app_module.create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level,
                loop="uvloop", http="httptools", access_log=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
