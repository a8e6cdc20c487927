"""Keyset pagination of the platform's listings: newest first, on ``(created_ns, id)``.

Many rows share a ``created_ns`` (every operation of one ledger group gets the group's
clock reading), so the id breaks ties and the pair orders rows totally. A page's cursor is
the pair of its last row; the next page holds the rows strictly after it in that order.
Unlike an offset, a cursor stays right while rows are being added, and each page costs one
index range scan however deep it is. (The API turns cursors into opaque strings.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from centime.limits import LIST_LIMIT_MAX

from .context import Platform
from .ids import valid_id

__all__ = ["Cursor", "Filters", "Page", "bounded_limit", "fetch_by_id", "fetch_page", "given"]

T = TypeVar("T")

Cursor = tuple[int, int]  # (created_ns, id) of the last row of a page
# ``(column, value)``: the column equals the value; ``("(a = ? OR b = ?)", (x, y))``: a
# group given whole, its values bound in order.
Filters = Sequence[tuple[str, Any]]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing; ``next_cursor`` is None on the last page."""

    items: list[T]
    next_cursor: Cursor | None


def bounded_limit(limit: int) -> int:
    """``limit`` within 1..LIST_LIMIT_MAX (a listing always returns something bounded)."""
    if type(limit) is not int:
        return LIST_LIMIT_MAX
    return min(max(limit, 1), LIST_LIMIT_MAX)


def given(**filters: object) -> list[tuple[str, Any]]:
    """The ``column=value`` filters whose value is given (None: that column is not
    filtered on), in the order named: a reader's optional owners."""
    return [(column, value) for column, value in filters.items() if value is not None]


def _where(filters: Filters) -> tuple[list[str], list[Any]]:
    """The SQL conditions and bound values of ``filters``."""
    where: list[str] = []
    params: list[Any] = []
    for clause, value in filters:
        if isinstance(value, tuple):
            where.append(clause)
            params.extend(value)
        else:
            where.append(f"{clause} = ?")
            params.append(value)
    return where, params


def fetch_by_id(
    platform: Platform,
    table: str,
    columns: str,
    row_id: int,
    row_to_item: Callable[[Sequence[Any]], T],
    filters: Filters = (),
) -> T | None:
    """The ``table`` row of id ``row_id`` when it matches every filter (as
    :func:`fetch_page`'s: the owners a caller may see), else None; None too for an id no
    row can have. ``table`` and ``columns`` come from the calling module."""
    if not valid_id(row_id):
        return None
    where, params = _where(filters)
    sql = " AND ".join([f"SELECT {columns} FROM {table} WHERE id = ?", *where])
    with platform.read() as fetch:
        rows = fetch(sql, [row_id, *params])
    return row_to_item(rows[0]) if rows else None


def fetch_page(
    platform: Platform,
    table: str,
    columns: str,
    filters: Filters,
    cursor: Cursor | None,
    limit: int,
    row_to_item: Callable[[Sequence[Any]], T],
) -> Page[T]:
    """The page of ``table`` rows matching every ``(column, value)`` of ``filters`` (and of
    an ``OR`` group given as ``("(a = ? OR b = ?)", (x, y))``), after ``cursor``.

    ``table``, ``columns`` and the filter columns come from the calling module, never from a
    request; values are always bound parameters.
    """
    size = bounded_limit(limit)
    where, params = _where(filters)
    if cursor is not None:
        created_ns, last_id = cursor
        where.append("(created_ns < ? OR (created_ns = ? AND id < ?))")
        params.extend((created_ns, created_ns, last_id))
    # The keyset pair is selected after the caller's columns, for the cursor.
    sql = f"SELECT {columns}, created_ns, id FROM {table}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    # One row more than the page: whether there is a next page, without a count.
    sql += " ORDER BY created_ns DESC, id DESC LIMIT ?"
    params.append(size + 1)
    with platform.read() as fetch:
        rows = fetch(sql, params)
    items = [row_to_item(row[:-2]) for row in rows[:size]]
    next_cursor = None
    if len(rows) > size:
        last = rows[size - 1]
        next_cursor = (int(last[-2]), int(last[-1]))
    return Page(items, next_cursor)
