"""Pages of a wallet's incoming or outgoing payments: newest first, by ``(created_ns, id)``
(two resources made in the same nanosecond still page correctly). A cursor is the last
item's ``<created_ns>.<id>``; a malformed one is refused by :func:`parse_cursor`."""

from __future__ import annotations

import re
from typing import Any, Final, TypeVar

from centime.platform.context import Platform

from .addresses import Wallet, valid_uuid
from .table import columns, from_row

__all__ = ["Cursor", "cursor_of", "list_wallet_page", "parse_cursor"]

T = TypeVar("T")
Cursor = tuple[int, str]
_CURSOR: Final = re.compile(r"([0-9]{1,20})\.(.{36})")


def cursor_of(created_ns: int, resource_id: str) -> str:
    return f"{created_ns}.{resource_id}"


def parse_cursor(text: str) -> Cursor | None:
    match = _CURSOR.fullmatch(text)
    if match is None or not valid_uuid(match.group(2)):
        return None
    return int(match.group(1)), match.group(2)


def list_wallet_page(
    platform: Platform,
    table: str,
    row_type: type[T],
    wallet: Wallet,
    client: str | None,
    cursor: Cursor | None,
    first: int,
) -> list[T]:
    """At most ``first`` + 1 rows of ``table`` for the wallet (``client`` given: only its
    own) after ``cursor``; the extra row says there is a next page."""
    sql = f"SELECT {columns(row_type)} FROM {table}"
    sql += " WHERE party_kind = ? AND party_id = ? AND asset = ?"
    params: list[Any] = [wallet.kind, wallet.party_id, wallet.asset]
    if client is not None:
        sql += " AND client = ?"
        params.append(client)
    if cursor is not None:
        sql += " AND (created_ns < ? OR (created_ns = ? AND id < ?))"
        params += [cursor[0], cursor[0], cursor[1]]
    sql += " ORDER BY created_ns DESC, id DESC LIMIT ?"
    params.append(first + 1)
    with platform.read() as fetch:
        rows = fetch(sql, tuple(params))
    return [from_row(row_type, row) for row in rows]
