"""The line-protocol signal maps in force, read from the database and kept for a few seconds."""

from __future__ import annotations

import logging
import time
from types import MappingProxyType

import asyncpg

from services.ingest import store
from shared.auth import Principal
from shared.signalmap import DEFAULT_MAP, SignalMap, TemplateError

log = logging.getLogger("baseload.ingest")
REFRESH_S = 5.0


class SignalMaps:
    """Chooses a request's map: its gateway key's; else that of the plant named as `db`/`bucket`; else, for a key
    scoped to one plant, that plant's; else the default `{measurement}.{field}`."""

    def __init__(self, refresh_s: float = REFRESH_S) -> None:
        self.refresh_s = refresh_s
        self._maps: dict[str, SignalMap] = {}
        self._plant_maps: dict[int, SignalMap] = {}
        self._loaded_at = float("-inf")

    async def for_request(self, pool: asyncpg.Pool, principal: Principal, database: str | None) -> SignalMap:
        if time.monotonic() - self._loaded_at > self.refresh_s:
            self._maps, self._plant_maps = _compile(await store.load_signal_maps(pool))
            self._loaded_at = time.monotonic()
        chosen = self._maps.get(f"key:{principal.name}")
        if chosen is None and database:
            chosen = self._maps.get(f"plant:{database}")
        if chosen is None and principal.plant_ids is not None and len(principal.plant_ids) == 1:
            chosen = self._plant_maps.get(next(iter(principal.plant_ids)))
        return chosen or DEFAULT_MAP


def _compile(
    rows: dict[str, tuple[int, list[str], dict[str, str]]],
) -> tuple[dict[str, SignalMap], dict[int, SignalMap]]:
    maps, plant_maps = {}, {}
    for scope, (plant_id, templates, aliases) in rows.items():
        try:
            maps[scope] = SignalMap(tuple(templates), MappingProxyType(aliases))
        except TemplateError as exc:  # plant files are checked on load; this is a row edited by hand
            log.warning("line-protocol map %s ignored: %s", scope, exc)
            continue
        if scope.startswith("plant:"):
            plant_maps[plant_id] = maps[scope]
    return maps, plant_maps
