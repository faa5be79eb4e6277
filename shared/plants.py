"""Plant configuration as code: parse a plant YAML file and apply it to the database idempotently."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import yaml

from shared.durations import parse_duration
from shared.signalmap import SignalMap, TemplateError, parse_signal_map


class PlantConfigError(ValueError):
    """The plant file is not valid; the message names the field."""


@dataclass(frozen=True, slots=True)
class SignalConfig:
    key: str
    kind: str
    unit: str
    min_value: float
    max_value: float
    description: str = ""


@dataclass(frozen=True, slots=True)
class CommitmentConfig:
    valid_from: datetime
    committed_mw: float
    valid_to: datetime | None = None
    tolerance_mw: float | None = None
    tolerance_pct: float | None = None
    settlement_period_s: int = 900


@dataclass(frozen=True, slots=True)
class PlantConfig:
    key: str
    name: str
    capacity_mw: float
    timezone: str
    partners: tuple[str, ...]
    signals: tuple[SignalConfig, ...]
    commitments: tuple[CommitmentConfig, ...] = ()
    # Line-protocol signal maps by scope: "plant:<key>" (requests naming the plant as db/bucket), "key:<gateway key>".
    signal_maps: tuple[tuple[str, SignalMap], ...] = ()


def load_plant_file(path: Path | str) -> PlantConfig:
    """Parse and validate a plant YAML file."""
    with open(path, encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    if not isinstance(doc, dict) or not isinstance(doc.get("plant"), dict):
        raise PlantConfigError("plant: a mapping with key, name and capacity_mw is required")
    return parse_plant(doc)


def parse_plant(doc: dict[str, Any]) -> PlantConfig:
    plant = doc["plant"]
    signals = tuple(_signal(i, s) for i, s in enumerate(doc.get("signals") or []))
    keys = [s.key for s in signals]
    if len(set(keys)) != len(keys):
        raise PlantConfigError("signals: keys must be unique")
    key = _required(plant, "key", "plant", str)
    return PlantConfig(
        key=key,
        name=_required(plant, "name", "plant", str),
        capacity_mw=float(_required(plant, "capacity_mw", "plant", (int, float))),
        timezone=str(plant.get("timezone", "Europe/Belgrade")),
        partners=tuple(str(p) for p in plant.get("partners") or ()),
        signals=signals,
        commitments=tuple(_commitment(i, c) for i, c in enumerate(doc.get("commitments") or [])),
        signal_maps=_signal_maps(key, doc.get("line_protocol")),
    )


def _signal_maps(plant_key: str, raw: Any) -> tuple[tuple[str, SignalMap], ...]:
    """`line_protocol: {templates, map, gateways: {<key name>: {templates, map}}}` → maps by scope."""
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise PlantConfigError("line_protocol: a mapping with templates, map and/or gateways is expected")
    gateways = raw.get("gateways") or {}
    if not isinstance(gateways, dict):
        raise PlantConfigError("line_protocol.gateways: a mapping of gateway key name → {templates, map}")
    try:
        maps = []
        own = {k: v for k, v in raw.items() if k != "gateways"}
        if own:
            maps.append((f"plant:{plant_key}", parse_signal_map(own, "line_protocol")))
        for name, spec in gateways.items():
            maps.append((f"key:{name}", parse_signal_map(spec, f"line_protocol.gateways.{name}")))
    except TemplateError as exc:
        raise PlantConfigError(str(exc)) from None
    return tuple(maps)


def _required(obj: dict[str, Any], name: str, where: str, kind: type | tuple[type, ...]) -> Any:
    value = obj.get(name)
    if value is None or not isinstance(value, kind):
        raise PlantConfigError(f"{where}.{name}: required")
    return value


def _signal(index: int, raw: dict[str, Any]) -> SignalConfig:
    where = f"signals[{index}]"
    lo = float(_required(raw, "min", where, (int, float)))
    hi = float(_required(raw, "max", where, (int, float)))
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise PlantConfigError(f"{where}: min must be below max")
    return SignalConfig(
        key=_required(raw, "key", where, str),
        kind=_required(raw, "kind", where, str),
        unit=_required(raw, "unit", where, str),
        min_value=lo,
        max_value=hi,
        description=str(raw.get("description", "")),
    )


def _timestamp(value: Any, where: str) -> datetime:
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise PlantConfigError(f"{where}: needs a UTC offset")
    return parsed


def _commitment(index: int, raw: dict[str, Any]) -> CommitmentConfig:
    where = f"commitments[{index}]"
    tol_mw, tol_pct = raw.get("tolerance_mw"), raw.get("tolerance_pct")
    if (tol_mw is None) == (tol_pct is None):
        raise PlantConfigError(f"{where}: give exactly one of tolerance_mw or tolerance_pct")
    period = parse_duration(str(raw.get("settlement_period", "15m")))
    return CommitmentConfig(
        valid_from=_timestamp(_required(raw, "valid_from", where, (str, datetime)), f"{where}.valid_from"),
        valid_to=_timestamp(raw["valid_to"], f"{where}.valid_to") if raw.get("valid_to") else None,
        committed_mw=float(_required(raw, "committed_mw", where, (int, float))),
        tolerance_mw=float(tol_mw) if tol_mw is not None else None,
        tolerance_pct=float(tol_pct) if tol_pct is not None else None,
        settlement_period_s=int(period.total_seconds()),
    )


async def apply_plant(conn: asyncpg.Connection, config: PlantConfig) -> int:
    """Create or update the plant, its partners, signals and commitments; returns the plant id.

    Idempotent: applying the same file twice changes nothing. Signals are never deleted (their readings stay).
    """
    async with conn.transaction():
        plant_id: int = await conn.fetchval(
            """INSERT INTO plants (key, name, capacity_mw, timezone) VALUES ($1, $2, $3, $4)
               ON CONFLICT (key) DO UPDATE SET name = excluded.name, capacity_mw = excluded.capacity_mw,
                   timezone = excluded.timezone
               RETURNING id""",
            config.key,
            config.name,
            config.capacity_mw,
            config.timezone,
        )
        await conn.execute(
            "DELETE FROM plant_partners WHERE plant_id = $1 AND partner <> ALL($2::text[])",
            plant_id,
            list(config.partners),
        )
        await conn.executemany(
            "INSERT INTO plant_partners (plant_id, partner) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            [(plant_id, p) for p in config.partners],
        )
        await conn.executemany(
            """INSERT INTO signals (key, plant_id, kind, unit, min_value, max_value, description)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (key) DO UPDATE SET plant_id = excluded.plant_id, kind = excluded.kind,
                   unit = excluded.unit, min_value = excluded.min_value, max_value = excluded.max_value,
                   description = excluded.description""",
            [(s.key, plant_id, s.kind, s.unit, s.min_value, s.max_value, s.description) for s in config.signals],
        )
        await conn.executemany(
            """INSERT INTO commitments (plant_id, valid_from, valid_to, committed_mw, tolerance_mw, tolerance_pct,
                   settlement_period_s, note)
               VALUES ($1, $2, $3, $4, $5, $6, $7, 'plant file')
               ON CONFLICT (plant_id, valid_from) DO UPDATE SET valid_to = excluded.valid_to,
                   committed_mw = excluded.committed_mw, tolerance_mw = excluded.tolerance_mw,
                   tolerance_pct = excluded.tolerance_pct, settlement_period_s = excluded.settlement_period_s""",
            [
                (
                    plant_id,
                    c.valid_from,
                    c.valid_to,
                    c.committed_mw,
                    c.tolerance_mw,
                    c.tolerance_pct,
                    c.settlement_period_s,
                )
                for c in config.commitments
            ],
        )
        await _apply_signal_maps(conn, plant_id, config.signal_maps)
    return plant_id


async def _apply_signal_maps(conn: asyncpg.Connection, plant_id: int, maps: tuple[tuple[str, SignalMap], ...]) -> None:
    """The plant's line-protocol maps become exactly those of its file (a scope moves if another plant had it)."""
    scopes = [scope for scope, _ in maps]
    await conn.execute(
        "DELETE FROM line_protocol_maps WHERE plant_id = $1 AND scope <> ALL($2::text[])", plant_id, scopes
    )
    await conn.executemany(
        """INSERT INTO line_protocol_maps (scope, plant_id, templates, aliases) VALUES ($1, $2, $3, $4::jsonb)
           ON CONFLICT (scope) DO UPDATE SET plant_id = excluded.plant_id, templates = excluded.templates,
               aliases = excluded.aliases""",
        [(scope, plant_id, list(m.templates), json.dumps(dict(m.aliases))) for scope, m in maps],
    )
