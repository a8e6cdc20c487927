"""The naive ledger the benchmark compares the engine with: one database transaction per
transfer, written directly on the drivers (sqlite3, psycopg 3).

It is meant as a fair baseline, the way a competent developer would write a ledger without
batching, not a strawman: the same tables and indexes (the schema comes from the same
migration), prepared statements (sqlite3's statement cache; psycopg's ``prepare=True``), the
accounts read with one statement (locked ``FOR UPDATE`` in id order on PostgreSQL), the
wallet limit checked in Python, relative ``UPDATE``s of both balances, one ``INSERT`` (and on
SQLite one per side into the per-account tables of migration 0019, as the engine fills), and
the same durability: WAL with ``synchronous=FULL`` on SQLite, the server's default
``synchronous_commit=on`` on PostgreSQL. Every transaction advances the ledger clock row, as
the engine's do, so timestamps are unique and the ledger check holds afterwards.

It handles plain transfers only (no pending, linked or balancing ones: the benchmark makes
none), and answers ``exists`` for a duplicate id without comparing its fields.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import Any, Final, NamedTuple, Protocol

from centime.ledger import AccountFlags, CreateTransferStatus, Transfer
from centime.limits import AMOUNT_MAX
from centime.store.dialect import pyformat
from centime.store.sqlite import CONNECTION_PRAGMAS

__all__ = ["NaiveLedger", "decide", "open_naive"]

S = CreateTransferStatus

# The engine's SQLite store's connection settings (store/sqlite.py), durability above all,
# and its writer's page cache; not the writer's WAL checkpoint interval, which came after
# this baseline was first measured.
SQLITE_PRAGMAS: Final = (
    *CONNECTION_PRAGMAS,
    "PRAGMA temp_store = MEMORY",
    "PRAGMA cache_size = -262144",
)

_DMNEC: Final = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
_CMNED: Final = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)
_CLOSED: Final = int(AccountFlags.CLOSED)


class _Statements(NamedTuple):
    """The statements of one naive transaction, in the driver's placeholder style."""

    failed: str
    accounts: str
    clock: str
    debit: str
    credit: str
    insert: str
    failed_insert: str


_SQLITE_SQL: Final = _Statements(
    failed="SELECT 1 FROM failed_transfers WHERE id = ?",
    accounts=(
        "SELECT id, asset, flags, debits_pending, debits_posted, credits_pending,"
        " credits_posted FROM accounts WHERE id IN (?, ?) ORDER BY id"
    ),
    clock=(
        "UPDATE ledger_clock SET timestamp = max(timestamp + 1, ?) WHERE id = 1 RETURNING timestamp"
    ),
    debit="UPDATE accounts SET debits_posted = debits_posted + ? WHERE id = ?",
    credit="UPDATE accounts SET credits_posted = credits_posted + ? WHERE id = ?",
    insert=(
        "INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, asset, code,"
        " flags, pending_id, timeout_s, user_data, timestamp) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
    ),
    failed_insert="INSERT INTO failed_transfers (id, status, timestamp) VALUES (?,?,?)",
)

# PostgreSQL: the same statements translated once to psycopg's '%s' style, as the engine's
# store translates the platform's (store/dialect.py); both account rows locked in id order,
# and GREATEST where SQLite says max.
_POSTGRES_SQL: Final = _Statements(
    *map(
        pyformat,
        _SQLITE_SQL._replace(
            accounts=_SQLITE_SQL.accounts + " FOR UPDATE",
            clock=(
                "UPDATE ledger_clock SET timestamp = GREATEST(timestamp + 1, ?) WHERE id = 1"
                " RETURNING timestamp"
            ),
        ),
    )
)


class _Balances(NamedTuple):
    id: int
    asset: str
    flags: int
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int


class NaiveLedger(Protocol):
    def create_transfer(self, transfer: Transfer) -> CreateTransferStatus:
        """Apply one transfer in a transaction of its own; durable when it returns."""
        ...

    def close(self) -> None: ...


def open_naive(url: str) -> NaiveLedger:
    """A naive ledger over the (already migrated) database that ``url`` names."""
    if url.startswith(("postgresql://", "postgres://")):
        return _NaivePostgres(url)
    return _NaiveSqlite(url.removeprefix("sqlite:///"))


def decide(transfer: Transfer, debit: _Balances | None, credit: _Balances | None) -> S:
    """The status of a plain transfer against its two accounts, in the engine's order."""
    if debit is None:
        return S.DEBIT_ACCOUNT_NOT_FOUND
    if credit is None:
        return S.CREDIT_ACCOUNT_NOT_FOUND
    if debit.asset != credit.asset:
        return S.ACCOUNTS_MUST_HAVE_THE_SAME_ASSET
    if transfer.asset != debit.asset:
        return S.TRANSFER_MUST_HAVE_THE_SAME_ASSET_AS_ACCOUNTS
    if debit.flags & _CLOSED:
        return S.DEBIT_ACCOUNT_ALREADY_CLOSED
    if credit.flags & _CLOSED:
        return S.CREDIT_ACCOUNT_ALREADY_CLOSED
    amount = transfer.amount
    if debit.debits_posted + amount > AMOUNT_MAX:
        return S.OVERFLOWS_DEBITS_POSTED
    if credit.credits_posted + amount > AMOUNT_MAX:
        return S.OVERFLOWS_CREDITS_POSTED
    if debit.flags & _DMNEC and (
        debit.debits_pending + debit.debits_posted + amount > debit.credits_posted
    ):
        return S.EXCEEDS_CREDITS
    if credit.flags & _CMNED and (
        credit.credits_pending + credit.credits_posted + amount > credit.debits_posted
    ):
        return S.EXCEEDS_DEBITS
    return S.CREATED


def _check_plain(transfer: Transfer) -> None:
    """The naive ledger is a baseline for plain transfers; refuse anything else loudly."""
    if transfer.flags or transfer.pending_id or transfer.timeout_s or transfer.timestamp:
        raise ValueError("the naive ledger applies plain transfers only")
    if transfer.id <= 0 or transfer.amount <= 0:
        raise ValueError("the naive ledger needs a positive id and amount")
    if transfer.debit_account_id == transfer.credit_account_id:
        raise ValueError("the naive ledger needs two different accounts")


class _NaiveBase:
    """One transaction per transfer; the adapters supply the driver calls."""

    _sql: _Statements
    _begin_sql = "BEGIN"
    # Per-account entries the store keeps beside the transfer row (SQLite: the tables of
    # migration 0019, one row each for the debit and the credit side; PostgreSQL indexes).
    _entry_sql: tuple[str, ...] = ()
    _connection: Any
    _cursor: Any

    def create_transfer(self, transfer: Transfer) -> CreateTransferStatus:
        _check_plain(transfer)
        self._begin()
        try:
            status = self._apply(transfer)
        except Exception as error:
            self._rollback()
            if self._is_duplicate(error):
                return S.EXISTS
            raise
        self._commit()
        return status

    def _apply(self, t: Transfer) -> CreateTransferStatus:
        sql = self._sql
        if self._rows(sql.failed, (t.id,)):
            return S.ID_ALREADY_FAILED
        found = {
            row[0]: _Balances(*row)
            for row in self._rows(sql.accounts, (t.debit_account_id, t.credit_account_id))
        }
        status = decide(t, found.get(t.debit_account_id), found.get(t.credit_account_id))
        timestamp: int = self._rows(sql.clock, (time.time_ns(),))[0][0]
        if status is not S.CREATED:
            self._execute(sql.failed_insert, (t.id, status.value, timestamp))
            return status
        self._execute(sql.debit, (t.amount, t.debit_account_id))
        self._execute(sql.credit, (t.amount, t.credit_account_id))
        self._execute(
            sql.insert,
            (
                t.id,
                t.debit_account_id,
                t.credit_account_id,
                t.amount,
                t.asset,
                t.code,
                0,
                0,
                0,
                t.user_data,
                timestamp,
            ),
        )
        for entry, account_id in zip(
            self._entry_sql, (t.debit_account_id, t.credit_account_id), strict=False
        ):
            self._execute(entry, (account_id, timestamp))
        return S.CREATED

    def _begin(self) -> None:
        self._cursor.execute(self._begin_sql)

    def _commit(self) -> None:
        self._cursor.execute("COMMIT")

    def _rollback(self) -> None:
        self._cursor.execute("ROLLBACK")

    def close(self) -> None:
        self._connection.close()

    def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _execute(self, sql: str, params: Sequence[Any]) -> None:
        raise NotImplementedError

    def _is_duplicate(self, error: Exception) -> bool:
        raise NotImplementedError


class _NaiveSqlite(_NaiveBase):
    _sql = _SQLITE_SQL
    # IMMEDIATE: take the write lock up front, as a writer that reads-then-writes must.
    _begin_sql = "BEGIN IMMEDIATE"
    _entry_sql = tuple(
        f"INSERT INTO transfer_{side}s (account_id, timestamp) VALUES (?, ?)"
        for side in ("debit", "credit")
    )

    def __init__(self, path: str) -> None:
        # sqlite3 keeps the prepared statements of the last 128 distinct SQL texts.
        self._connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for pragma in SQLITE_PRAGMAS:
            self._connection.execute(pragma)
        self._cursor = self._connection.cursor()

    def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self._cursor.execute(sql, params).fetchall()
        return rows

    def _execute(self, sql: str, params: Sequence[Any]) -> None:
        self._cursor.execute(sql, params)

    def _is_duplicate(self, error: Exception) -> bool:
        return isinstance(error, sqlite3.IntegrityError) and "UNIQUE" in str(error)


class _NaivePostgres(_NaiveBase):
    _sql = _POSTGRES_SQL

    def __init__(self, url: str) -> None:
        import psycopg

        self._connection = psycopg.connect(url, autocommit=True)
        self._cursor = self._connection.cursor()
        self._unique_violation: type[Exception] = psycopg.errors.UniqueViolation

    def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        self._cursor.execute(_query(sql), params, prepare=True)
        rows: list[tuple[Any, ...]] = self._cursor.fetchall()
        return rows

    def _execute(self, sql: str, params: Sequence[Any]) -> None:
        self._cursor.execute(_query(sql), params, prepare=True)

    def _is_duplicate(self, error: Exception) -> bool:
        return isinstance(error, self._unique_violation)


def _query(sql: str) -> Any:
    """psycopg types a query as a LiteralString, which a derived constant is not; the texts
    are this module's constants, never user input."""
    return sql
