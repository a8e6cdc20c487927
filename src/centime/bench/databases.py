"""Fresh, throw-away databases for the benchmark: a temp SQLite file or a PostgreSQL schema.

Every measurement starts from an empty, migrated database of its own, so runs do not see each
other's rows, and nothing is left behind: the temp directory is removed and the schema dropped.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_POSTGRES_URL",
    "STORES",
    "fresh_database",
    "fsync_ms_p50",
    "postgres_unavailable",
    "redacted",
]

DEFAULT_POSTGRES_URL: Final = "postgresql://postgres@127.0.0.1:5432/test"
STORES: Final = ("sqlite", "postgres")
CONNECT_TIMEOUT_S: Final = 3
FSYNC_PROBES: Final = 50
FSYNC_PROBE_BYTES: Final = 4096


def redacted(url: str) -> str:
    """``url`` without its user and password, fit to print."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def postgres_unavailable(url: str) -> str | None:
    """Why the PostgreSQL part cannot run (no adapter yet, no server), or None when it can."""
    try:
        from centime.store import postgres  # noqa: F401
    except ImportError as error:
        return f"the PostgreSQL store adapter is not available: {error}"
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S):
            return None
    except Exception as error:  # any failure to connect means: skip, and say why
        return f"PostgreSQL not reachable at {redacted(url)}: {error}".strip()


def fsync_ms_p50() -> float:
    """The median time of a 4 KiB write + fsync in the temp directory, in ms: what one
    durable commit costs at least on this disk, and so what bounds the naive ledger's rate
    (about 1000 / this, per writer). It varies with what else on the machine is syncing."""
    with tempfile.TemporaryDirectory(prefix="centime-bench-") as directory:
        path = os.path.join(directory, "probe")
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            samples = []
            for _ in range(FSYNC_PROBES):
                os.write(descriptor, b"\0" * FSYNC_PROBE_BYTES)
                began = time.perf_counter()
                os.fsync(descriptor)
                samples.append(time.perf_counter() - began)
        finally:
            os.close(descriptor)
    return statistics.median(samples) * 1000.0


@contextmanager
def fresh_database(store: str, postgres_url: str) -> Iterator[str]:
    """The URL of a new, empty database of kind ``store``, removed when the block ends."""
    if store == "sqlite":
        with tempfile.TemporaryDirectory(prefix="centime-bench-") as directory:
            yield f"sqlite:///{directory}/ledger.db"
    elif store == "postgres":
        with _fresh_schema(postgres_url) as url:
            yield url
    else:
        raise ValueError(f"unknown store {store!r}: use one of {', '.join(STORES)}")


@contextmanager
def _fresh_schema(url: str) -> Iterator[str]:
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
