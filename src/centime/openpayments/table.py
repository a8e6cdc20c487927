"""An Open Payments table is its row dataclass: the columns are the fields, in order.

The SELECT and INSERT texts, a row's values and a row read back all come from that one
list (each module used to keep a column string, a placeholder count and a field-by-field
tuple in step by hand)."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from centime.ledger.port import Fetch

__all__ = ["by_id", "columns", "from_row", "insert_sql", "values"]

R = TypeVar("R")


def columns(row_type: type) -> str:
    """The table's column list: ``row_type``'s fields, in order."""
    return ", ".join(field.name for field in dataclasses.fields(row_type))


def insert_sql(table: str, row_type: type) -> str:
    """The INSERT of one row of ``row_type`` into ``table`` (``values`` gives its values)."""
    marks = ", ".join("?" * len(dataclasses.fields(row_type)))
    return f"INSERT INTO {table} ({columns(row_type)}) VALUES ({marks})"


def values(row: Any) -> tuple[Any, ...]:
    """A row's values in the order of ``columns``."""
    return dataclasses.astuple(row)


def _flags(row_type: type) -> tuple[bool, ...]:
    return tuple(field.type in ("bool", bool) for field in dataclasses.fields(row_type))


def from_row(row_type: type[R], row: tuple[Any, ...]) -> R:
    """A row of ``columns(row_type)`` as ``row_type`` (the stores answer a bool as 0/1)."""
    flags = _flags(row_type)
    return row_type(
        *(bool(value) if flag else value for flag, value in zip(flags, row, strict=True))
    )


def by_id(fetch: Fetch, table: str, row_type: type[R], row_id: str) -> R | None:
    """The row of ``table`` whose ``id`` is ``row_id``, if any."""
    rows = fetch(f"SELECT {columns(row_type)} FROM {table} WHERE id = ?", (row_id,))
    return from_row(row_type, rows[0]) if rows else None
