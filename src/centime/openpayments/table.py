"""An Open Payments table is its row dataclass: the columns are the fields, in order.

The SELECT and INSERT texts, a row's values and a row read back all come from that one
list (each module used to keep a column string, a placeholder count and a field-by-field
tuple in step by hand)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from centime.ledger.port import Fetch
from centime.ledger.units import UnitContext
from centime.platform.context import Platform

from .addresses import Wallet
from .listing import Cursor

__all__ = [
    "WalletResource",
    "WalletTable",
    "by_id",
    "columns",
    "from_row",
    "insert",
    "insert_sql",
    "read_by_id",
    "values",
]

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class WalletResource:
    """The first columns of every wallet's resource table (incoming payments, quotes,
    outgoing payments): its id and the wallet it belongs to, which the listings and the
    access checks read the same way for all three."""

    id: str
    party_kind: str
    party_id: int
    asset: str

    @property
    def wallet(self) -> Wallet:
        return Wallet(self.party_kind, self.party_id, self.asset)


def columns(row_type: type) -> str:
    """The table's column list: ``row_type``'s fields, in order."""
    return ", ".join(field.name for field in dataclasses.fields(row_type))


def insert_sql(table: str, row_type: type) -> str:
    """The INSERT of one row of ``row_type`` into ``table`` (``values`` gives its values)."""
    marks = ", ".join("?" * len(dataclasses.fields(row_type)))
    return f"INSERT INTO {table} ({columns(row_type)}) VALUES ({marks})"


def insert(ctx: UnitContext, table: str, row: Any) -> None:
    """Insert ``row`` (a row dataclass) into ``table`` in the unit's transaction."""
    ctx.execute(insert_sql(table, type(row)), values(row))


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


def read_by_id(platform: Platform, table: str, row_type: type[R], row_id: str) -> R | None:
    """``by_id`` outside a unit, in a read transaction of its own (the GET of a resource)."""
    with platform.read() as fetch:
        return by_id(fetch, table, row_type, row_id)


W = TypeVar("W", bound=WalletResource)


@dataclass(frozen=True, slots=True)
class WalletTable(Generic[W]):
    """A table of wallet resources and its row type: the reads and the insert that incoming
    payments, quotes and outgoing payments all answer the same way, written once."""

    name: str
    row_type: type[W]

    def load(self, ctx: UnitContext, row_id: str) -> W | None:
        """The row ``row_id`` as the unit's transaction sees it."""
        return by_id(ctx.fetch, self.name, self.row_type, row_id)

    def get(self, platform: Platform, row_id: str) -> W | None:
        """The row ``row_id``, read in a transaction of its own (the GET of a resource)."""
        return read_by_id(platform, self.name, self.row_type, row_id)

    def insert(self, ctx: UnitContext, row: W) -> None:
        insert(ctx, self.name, row)

    def page(
        self,
        platform: Platform,
        wallet: Wallet,
        client: str | None,
        cursor: Cursor | None,
        first: int,
    ) -> list[W]:
        """At most ``first`` + 1 rows of the wallet (``client`` given: only its own), newest
        first by ``(created_ns, id)``, after ``cursor``; the extra row says there is a next
        page (two resources made in the same nanosecond still page correctly)."""
        sql = f"SELECT {columns(self.row_type)} FROM {self.name}"
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
        return [from_row(self.row_type, row) for row in rows]
