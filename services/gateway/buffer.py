"""Store-and-forward: every reading is written to a local on-disk queue first, and leaves it only once delivered.

This is the gateway's own queue on its own disk (SQLite in WAL mode), not a telemetry store: the telemetry store is
PostgreSQL. Readings are replayed oldest first (by insertion id). The queue is bounded: when full, the oldest
readings are dropped and counted, because a gateway that stops reading its devices is worse than one that loses
the far end of a very long outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ParamSpec, TypeVar

from services.gateway.readings import Reading, format_ts, parse_ts

P = ParamSpec("P")
T = TypeVar("T")

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
    """The queue on disk. Methods are blocking and thread-safe (one lock); the event loop calls them through
    `off_loop`, which runs them on the buffer's own thread. `stats()` and `depth()` are kept in memory: no query."""

    def __init__(self, path: Path, max_readings: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_readings = max_readings
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-buffer")
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a crash of this process; only power loss can cost the last commits.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        depth = int(self._db.execute("SELECT count(*) FROM pending").fetchone()[0])
        dead = int(self._db.execute("SELECT count(*) FROM dead_letters").fetchone()[0])
        # One immutable snapshot, replaced whole after each write, so a reader on another thread never sees a
        # depth from one write and an oldest reading from another.
        self._stats = BufferStats(depth, *self._head(), dead)

    async def off_loop(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking method of this buffer on its own thread, so the event loop keeps serving."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        with self._lock:
            self._db.close()

    def append(self, readings: Iterable[Reading], now: float) -> int:
        """Queue readings in one transaction; returns how many old readings were dropped to stay in bounds."""
        rows = [(r.signal, format_ts(r.ts), r.value, r.quality, now) for r in readings]
        if not rows:
            return 0
        with self._transaction() as was:
            self._db.executemany(
                "INSERT INTO pending (signal, ts, value, quality, enqueued_at) VALUES (?, ?, ?, ?, ?)", rows
            )
            excess = max(was.depth + len(rows) - self.max_readings, 0)
            if excess:
                self._db.execute(
                    "DELETE FROM pending WHERE id IN (SELECT id FROM pending ORDER BY id LIMIT ?)", (excess,)
                )
            head = self._head() if excess or was.depth == 0 else (was.oldest_enqueued_at, was.oldest_ts)
            self._stats = replace(
                was, depth=was.depth + len(rows) - excess, oldest_enqueued_at=head[0], oldest_ts=head[1]
            )
        return excess

    def peek(self, limit: int) -> list[Queued]:
        """The oldest `limit` queued readings, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, signal, ts, value, quality, enqueued_at FROM pending ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        return [Queued(r[0], Reading(r[1], parse_ts(r[2]), r[3], r[4]), r[5]) for r in rows]

    def ack(self, ids: Sequence[int]) -> None:
        """Delivered: forget them."""
        with self._transaction() as was:
            removed = self._delete(ids)
            self._stats = BufferStats(was.depth - removed, *self._head(), was.dead_letters)

    def dead_letter(self, ids: Sequence[int], reason: str, now: float) -> None:
        """Move a batch that ingest will never accept out of the queue, keeping it (and why) for an operator."""
        with self._transaction() as was:
            self._db.executemany(
                "INSERT OR REPLACE INTO dead_letters (id, signal, ts, value, quality, reason, failed_at)"
                " SELECT id, signal, ts, value, quality, ?, ? FROM pending WHERE id = ?",
                [(reason, now, i) for i in ids],
            )
            removed = self._delete(ids)
            # Ids are never reused (AUTOINCREMENT), so every row moved is a new dead letter.
            self._stats = BufferStats(was.depth - removed, *self._head(), was.dead_letters + removed)

    def requeue_dead_letters(self, now: float) -> int:
        """Put every dead letter back at the end of the queue (after the cause is fixed); returns how many."""
        with self._transaction() as was:
            cursor = self._db.execute(
                "INSERT INTO pending (signal, ts, value, quality, enqueued_at)"
                " SELECT signal, ts, value, quality, ? FROM dead_letters ORDER BY id",
                (now,),
            )
            self._db.execute("DELETE FROM dead_letters")
            self._stats = BufferStats(was.depth + cursor.rowcount, *self._head(), 0)
        return cursor.rowcount

    def depth(self) -> int:
        return self._stats.depth

    def stats(self) -> BufferStats:
        """Depth, oldest reading and dead letters, as of the last write (from memory)."""
        return self._stats

    def _head(self) -> tuple[float | None, str | None]:
        """The oldest queued reading's (enqueued_at, ts): one primary-key lookup, made only by writes."""
        oldest = self._db.execute("SELECT enqueued_at, ts FROM pending ORDER BY id LIMIT 1").fetchone()
        return (oldest[0], oldest[1]) if oldest else (None, None)

    def _delete(self, ids: Sequence[int]) -> int:
        before = self._db.total_changes
        self._db.executemany("DELETE FROM pending WHERE id = ?", [(i,) for i in ids])
        return self._db.total_changes - before

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[BufferStats]:
        """Hold the lock for one write transaction; yields the stats before it (replaced only on commit)."""
        with self._lock:
            before = self._stats
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield before
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self._stats = before
                raise
