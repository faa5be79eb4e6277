"""`baseload alerts ...`: load rules and webhook endpoints from a plant YAML file (its `rules:` and
`webhook_endpoints:` sections), or just check them."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import yaml
from pydantic import TypeAdapter, ValidationError

from services.alerts import config_store as cs
from services.alerts import schemas, store
from services.alerts.settings import Settings
from services.alerts.signing import new_secret
from shared.db import asyncpg_dsn, resolve_database_url

RULES = TypeAdapter(schemas.RuleIn)


class DefinitionError(ValueError):
    """A definition in the file is invalid; the message names the entry and field."""


def parse_file(path: Path) -> tuple[list[Any], list[schemas.EndpointIn]]:
    with open(path, encoding="utf-8") as fh:
        doc = yaml.safe_load(fh) or {}
    rules = [_validated(RULES.validate_python, raw, f"rules[{i}]") for i, raw in enumerate(doc.get("rules") or [])]
    endpoints = [
        _validated(schemas.EndpointIn.model_validate, raw, f"webhook_endpoints[{i}]")
        for i, raw in enumerate(doc.get("webhook_endpoints") or [])
    ]
    return rules, endpoints


def _validated(validate: Any, raw: Any, where: str) -> Any:
    try:
        return validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise DefinitionError(f"{where}.{field}: {first['msg']}") from exc


async def apply(
    conn: asyncpg.Connection, rules: list[Any], endpoints: list[schemas.EndpointIn], rules_channel: str
) -> list[tuple[str, str]]:
    """Upsert rules by name and create missing endpoints; returns (endpoint name, secret) for new endpoints."""
    for i, rule in enumerate(rules):
        try:
            await cs.check_rule_refs(conn, rule)
        except cs.Problem as exc:
            raise DefinitionError(f"rules[{i}].{exc.field}: {exc.message}") from exc
    created = []
    async with conn.transaction():
        for rule in rules:
            await cs.upsert_rule(conn, rule)
        for endpoint in endpoints:
            secret = new_secret()
            if await cs.create_endpoint(conn, endpoint, secret) is not None:
                created.append((endpoint.name, secret))
        await store.notify(conn, rules_channel)
    return created


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="baseload alerts", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("load", "create or update rules (by name) and endpoints"), ("check", "validate only")):
        sub.add_parser(name, help=text).add_argument("file", type=Path)
    args = parser.parse_args(list(argv))
    try:
        rules, endpoints = parse_file(args.file)
    except (OSError, DefinitionError, yaml.YAMLError) as exc:
        print(f"baseload alerts: {exc}", file=sys.stderr)
        return 2
    if args.command == "check":
        print(f"{len(rules)} rules and {len(endpoints)} webhook endpoints are valid")
        return 0
    settings = Settings()
    try:
        created = asyncio.run(_load(settings, rules, endpoints))
    except DefinitionError as exc:
        print(f"baseload alerts: {exc}", file=sys.stderr)
        return 2
    print(f"{len(rules)} rules loaded; {len(created)} new webhook endpoints")
    for name, secret in created:
        print(f"endpoint {name}: signing secret {secret} (shown only once)")
    return 0


async def _load(settings: Settings, rules: list[Any], endpoints: list[schemas.EndpointIn]) -> list[tuple[str, str]]:
    conn = await asyncpg.connect(asyncpg_dsn(resolve_database_url(settings)))
    try:
        await store.init_connection(conn)
        return await apply(conn, rules, endpoints, settings.rules_channel)
    finally:
        await conn.close()
