"""Results of closed buckets, kept in memory and dropped when ingest reports readings touching them.

Used only while the change listener is connected (`enabled`); a reconnect clears everything, since
notifications may have been missed. A per-signal generation counter stops a query that raced with an
invalidation from storing what it read before the change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from shared.contracts import ContractError, decode_readings_changed

# A change can alter the buckets around it: holds reach up to max_gap_s (≤ 60 s) and minutes are whole.
INVALIDATION_MARGIN = timedelta(minutes=3)


class BucketCache:
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.enabled = False
        self.entries = 0
        self.hits = 0
        self.misses = 0
        self._data: dict[int, dict[Hashable, dict[datetime, Any]]] = {}
        self._generation: defaultdict[int, int] = defaultdict(int)
        self._epoch = 0  # advanced by clear(): a generation read before it never matches after it

    @property
    def usable(self) -> bool:
        return self.enabled and self.max_entries > 0

    def generation(self, signal_id: int) -> tuple[int, int]:
        return self._epoch, self._generation[signal_id]

    def lookup(self, signal_id: int, variant: Hashable, starts: Sequence[datetime]) -> dict[datetime, Any] | None:
        """All of `starts` for this signal and variant, or None if any is missing."""
        stored = self._data.get(signal_id, {}).get(variant)
        if stored is None or any(s not in stored for s in starts):
            self.misses += 1
            return None
        self.hits += 1
        return {s: stored[s] for s in starts}

    def store(
        self, signal_id: int, variant: Hashable, generation: tuple[int, int], values: Mapping[datetime, Any]
    ) -> None:
        """Keep `values` unless the signal changed (or the cache was cleared) since `generation` was read."""
        if not self.usable or generation != self.generation(signal_id):
            return
        if self.entries + len(values) > self.max_entries:
            self.clear()
        stored = self._data.setdefault(signal_id, {}).setdefault(variant, {})
        before = len(stored)
        stored.update(values)
        self.entries += len(stored) - before

    def invalidate(self, signal_ids: Iterable[int], start: datetime, end: datetime) -> None:
        """Drop the buckets of these signals that overlap [start, end] widened by the margin."""
        lo, hi = start - INVALIDATION_MARGIN, end + INVALIDATION_MARGIN
        for sid in signal_ids:
            self._generation[sid] += 1
            for variant, stored in self._data.get(sid, {}).items():
                width = variant_width(variant)
                stale = [s for s in stored if s < hi and s + width > lo]
                for s in stale:
                    del stored[s]
                self.entries -= len(stale)

    def clear(self) -> None:
        """Forget everything; queries in flight (for any signal, cached or not) will not store what they read."""
        self._epoch += 1
        self._data.clear()
        self.entries = 0

    def on_notification(self, payload: str) -> None:
        """A `READINGS_CHANNEL` payload (shared.contracts.ReadingsChanged)."""
        try:
            changed = decode_readings_changed(payload)
        except ContractError:
            self.clear()  # an unreadable change could touch anything
            return
        self.invalidate(changed.signal_ids, changed.start, changed.end)


def variant_width(variant: Hashable) -> timedelta:
    """Variants are tuples whose first element is the bucket width in seconds."""
    assert isinstance(variant, tuple)
    return timedelta(seconds=variant[0])
