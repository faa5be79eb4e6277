"""The line-protocol signal maps in force, read from the database and kept for a few seconds."""

from __future__ import annotations

import logging
import time
from types import MappingProxyType

import asyncpg

from services.ingest import store
from shared.signalmap import DEFAULT_MAP, SignalMap, TemplateError

log = logging.getLogger("baseload.ingest")
REFRESH_S = 5.0


class SignalMaps:
    """Chooses a request's map: its gateway key's, else the plant's named as `db`/`bucket`, else the default."""

    def __init__(self, refresh_s: float = REFRESH_S) -> None:
        self.refresh_s = refresh_s
        self._maps: dict[str, SignalMap] = {}
        self._loaded_at = float("-inf")

    async def for_request(self, pool: asyncpg.Pool, key_name: str, database: str | None) -> SignalMap:
        if time.monotonic() - self._loaded_at > self.refresh_s:
            self._maps = _compile(await store.load_signal_maps(pool))
            self._loaded_at = time.monotonic()
        chosen = self._maps.get(f"key:{key_name}")
        if chosen is None and database:
            chosen = self._maps.get(f"plant:{database}")
        return chosen or DEFAULT_MAP


def _compile(rows: dict[str, tuple[list[str], dict[str, str]]]) -> dict[str, SignalMap]:
    maps = {}
    for scope, (templates, aliases) in rows.items():
        try:
            maps[scope] = SignalMap(tuple(templates), MappingProxyType(aliases))
        except TemplateError as exc:  # plant files are checked on load; this is a row edited by hand
            log.warning("line-protocol map %s ignored: %s", scope, exc)
    return maps
