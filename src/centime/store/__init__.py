"""Storage: the adapters of the ledger's ports (``centime.ledger.port``). ``open_store(url)`` is
the one way to get a store.

- ``sqlite:///path/to/ledger.db`` (or a bare path): the embedded default;
- ``postgresql://user@host:port/db``: the production store (psycopg 3).

Both migrate the database to the newest schema when opened.
"""

from __future__ import annotations

from centime.ledger.errors import TransientStoreError
from centime.ledger.port import LedgerStore, StoreTotals, Violation, WriteTransaction

__all__ = [
    "DEFAULT_DATABASE_URL",
    "LedgerStore",
    "StoreTotals",
    "TransientStoreError",
    "Violation",
    "WriteTransaction",
    "open_store",
]

DEFAULT_DATABASE_URL = "sqlite:///centime.db"


def open_store(url: str) -> LedgerStore:
    """Open (and migrate) the store that ``url`` names."""
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        return PostgresStore.open(url)
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
    elif "://" in url:
        raise ValueError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")
    else:
        path = url
    from .sqlite import SqliteStore

    return SqliteStore.open(path)
