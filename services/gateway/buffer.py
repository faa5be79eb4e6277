"""Store-and-forward: every reading is written to a local on-disk queue first, and leaves it only once delivered.

This is the gateway's own queue on its own disk (SQLite in WAL mode), not a telemetry store: the telemetry store is
PostgreSQL. Readings are replayed oldest first (by insertion id). The queue is bounded: when full, the oldest
readings are dropped and counted, because a gateway that stops reading its devices is worse than one that loses
the far end of a very long outage.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from services.gateway.readings import Reading, format_ts, parse_ts

SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    signal TEXT NOT NULL, ts TEXT NOT NULL, value REAL NOT NULL, quality INTEGER NOT NULL,
    enqueued_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    signal TEXT NOT NULL, ts TEXT NOT NULL, value REAL NOT NULL, quality INTEGER NOT NULL,
    reason TEXT NOT NULL, failed_at REAL NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Queued:
    id: int
    reading: Reading
    enqueued_at: float


@dataclass(frozen=True, slots=True)
class BufferStats:
    depth: int
    oldest_enqueued_at: float | None
    oldest_ts: str | None
    dead_letters: int


class DiskBuffer:
    def __init__(self, path: Path, max_readings: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_readings = max_readings
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a crash of this process; only power loss can cost the last commits.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        # Kept in memory: count(*) scans the table, and the depth is read on every wake-up.
        self._depth = int(self._db.execute("SELECT count(*) FROM pending").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def append(self, readings: Iterable[Reading], now: float) -> int:
        """Queue readings in one transaction; returns how many old readings were dropped to stay in bounds."""
        rows = [(r.signal, format_ts(r.ts), r.value, r.quality, now) for r in readings]
        if not rows:
            return 0
        with self._transaction():
            self._db.executemany(
                "INSERT INTO pending (signal, ts, value, quality, enqueued_at) VALUES (?, ?, ?, ?, ?)", rows
            )
            excess = max(self._depth + len(rows) - self.max_readings, 0)
            if excess:
                self._db.execute("DELETE FROM pending WHERE id IN (SELECT id FROM pending ORDER BY id LIMIT ?)",
                                 (excess,))
        self._depth += len(rows) - excess
        return excess

    def peek(self, limit: int) -> list[Queued]:
        """The oldest `limit` queued readings, oldest first."""
        rows = self._db.execute(
            "SELECT id, signal, ts, value, quality, enqueued_at FROM pending ORDER BY id LIMIT ?", (limit,)
        ).fetchall()
        return [Queued(r[0], Reading(r[1], parse_ts(r[2]), r[3], r[4]), r[5]) for r in rows]

    def ack(self, ids: Sequence[int]) -> None:
        """Delivered: forget them."""
        with self._transaction():
            removed = self._delete(ids)
        self._depth -= removed

    def dead_letter(self, ids: Sequence[int], reason: str, now: float) -> None:
        """Move a batch that ingest will never accept out of the queue, keeping it (and why) for an operator."""
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO dead_letters (id, signal, ts, value, quality, reason, failed_at)"
                " SELECT id, signal, ts, value, quality, ?, ? FROM pending WHERE id = ?",
                [(reason, now, i) for i in ids],
            )
            removed = self._delete(ids)
        self._depth -= removed

    def requeue_dead_letters(self, now: float) -> int:
        """Put every dead letter back at the end of the queue (after the cause is fixed); returns how many."""
        with self._transaction():
            cursor = self._db.execute(
                "INSERT INTO pending (signal, ts, value, quality, enqueued_at)"
                " SELECT signal, ts, value, quality, ? FROM dead_letters ORDER BY id", (now,)
            )
            self._db.execute("DELETE FROM dead_letters")
        self._depth += cursor.rowcount
        return cursor.rowcount

    def depth(self) -> int:
        return self._depth

    def _delete(self, ids: Sequence[int]) -> int:
        before = self._db.total_changes
        self._db.executemany("DELETE FROM pending WHERE id = ?", [(i,) for i in ids])
        return self._db.total_changes - before

    def stats(self) -> BufferStats:
        oldest = self._db.execute("SELECT enqueued_at, ts FROM pending ORDER BY id LIMIT 1").fetchone()
        dead = int(self._db.execute("SELECT count(*) FROM dead_letters").fetchone()[0])
        return BufferStats(self.depth(), oldest[0] if oldest else None, oldest[1] if oldest else None, dead)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
