"""The column kinds the schema (store/schema.py) and the migrations declare again and again,
each built in one place.

Most of the schema is integer columns (ids, amounts in an asset's scale, engine times in
ns) and short strings; a table lists runs of them. These builders make one column or a run
of columns of one kind, in the order given (the order of a CREATE TABLE), and emit exactly
the DDL that the ``sa.Column`` calls they stand for emit.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

__all__ = [
    "ROW_KEY",
    "amounts",
    "bigints",
    "binaries",
    "drop_tables",
    "key",
    "money",
    "newest_first",
    "status",
    "strings",
    "where",
]

# SQLite: the key is the table's rowid (INTEGER PRIMARY KEY), one B-tree instead of a table
# plus a primary-key index; elsewhere a BIGINT key.
ROW_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def key(name: str = "id", kind: Any = sa.BigInteger, **options: Any) -> sa.Column[Any]:
    """A primary-key column; an integer one is never filled in by the database (the platform
    makes its ids), so no sequence or identity is created for it."""
    options.setdefault("autoincrement", False)
    return sa.Column(name, kind, primary_key=True, **options)


def bigints(*names: str, nullable: bool = False) -> list[sa.Column[Any]]:
    """BIGINT columns: ids of other rows, amounts, times in ns, counts."""
    return [sa.Column(name, sa.BigInteger, nullable=nullable) for name in names]


def money(*names: str) -> list[sa.Column[Any]]:
    """An asset's code, then amounts in that asset's scale (integers, never fractions)."""
    return [sa.Column("asset", sa.String(12), nullable=False), *bigints(*names)]


def amounts(*names: str) -> list[sa.Column[Any]]:
    """Amounts that start at zero (added to an existing table, or filled in later)."""
    return [sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in names]


def strings(length: int, *names: str, nullable: bool = False) -> list[sa.Column[Any]]:
    """VARCHAR(length) columns."""
    return [sa.Column(name, sa.String(length), nullable=nullable) for name in names]


def status() -> sa.Column[Any]:
    """A record's status column: one short word of a few, never null (VARCHAR(16))."""
    return sa.Column("status", sa.String(16), nullable=False)


def binaries(*names: str) -> list[sa.Column[Any]]:
    """BLOB / BYTEA columns: hashes, keys, signatures."""
    return [sa.Column(name, sa.LargeBinary, nullable=False) for name in names]


def where(condition: str) -> dict[str, Any]:
    """A partial index's options: only the rows where ``condition`` holds, on both dialects
    (the rows most of a table has, left out, cost the index nothing)."""
    clause = sa.text(condition)
    return {"sqlite_where": clause, "postgresql_where": clause}


def newest_first(table: str, *owners: str, prefix: str | None = None) -> None:
    """In a migration: for each owner, the index ``<prefix>_by_<owner>`` (the prefix is the
    table's name unless given) on (``<owner>_id``, ``created_ns``), in that order: the one an
    owner's rows are listed by, newest first."""
    from alembic import op  # only a running migration has the operations' context

    for owner in owners:
        op.create_index(f"{prefix or table}_by_{owner}", table, [f"{owner}_id", "created_ns"])


def drop_tables(*names: str) -> None:
    """In a migration: drop ``names`` in that order (dependents first)."""
    from alembic import op  # only a running migration has the operations' context

    for name in names:
        op.drop_table(name)
