"""The embedded store: one SQLite file in WAL mode with ``synchronous=FULL``.

An acknowledged batch has been fsynced to the write-ahead log, so it survives a crash and a
power cut. There is one writer (the engine's writer thread owns the write connection, as in
Datasette); readers use connections of their own, one per thread, and see the last committed
state without blocking the writer.

Because only the writer changes accounts, it keeps the accounts it has seen in a bounded
cache and skips reading them back on the hot path; the cache is updated only after a
commit succeeded, so a failed transaction cannot leave it ahead of the file.
"""

from __future__ import annotations

import fcntl
import json
import operator
import os
import sqlite3
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from centime.ledger.core import Changes
from centime.ledger.model import (
    Account,
    AccountFilter,
    CreateTransferStatus,
    PendingState,
    Transfer,
)
from centime.ledger.port import (
    AuditBatchRow,
    AuditNodeRow,
    Fetch,
    Violation,
)
from centime.ledger.records import untrack_records

from . import rows
from .checks import check_account_tables, check_ledger
from .migrate import upgrade
from .reads import SqlLedgerReads, SqlWriteTransaction, range_params, shared_statements, snapshot

__all__ = ["CONNECTION_PRAGMAS", "SqliteStore", "SqliteWriterBusyError"]


class SqliteWriterBusyError(RuntimeError):
    """Another store holds this SQLite file's writer lock."""


WAL_CHECKPOINT_PAGES: Final = 100_000
ACCOUNT_CACHE_MAX: Final = 1_048_576

# Every connection's (the naive baseline of `centime bench ledger` uses them too).
CONNECTION_PRAGMAS: Final = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = OFF",
    "PRAGMA busy_timeout = 10000",
)
# The writer keeps its working set in memory. Readers get a smaller cache and sort on disk:
# `ledger check` groups every transfer by account, and an in-memory sorter took 1.5 GiB at
# 10 million transfers.
_WRITER_PRAGMAS: Final = (
    "PRAGMA temp_store = MEMORY",
    "PRAGMA cache_size = -262144",  # 256 MiB of page cache
    # Checkpoint the WAL into the database every 100,000 pages (400 MiB) instead of 1,000. A
    # group of 8189 transfers between random accounts dirties thousands of index pages, so
    # at 1,000 every commit checkpointed, and a page updated by ten groups was written back
    # ten times. Measured over 1M transfers: 46,082/s against 35,272/s, the last ten groups
    # 45,492/s against 28,646/s. Readers find recent pages through the WAL index either way.
    f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}",
)
_READER_PRAGMAS: Final = (
    "PRAGMA temp_store = FILE",
    "PRAGMA cache_size = -65536",  # 64 MiB
    "PRAGMA query_only = ON",
)

# One JSON array parameter instead of thousands of '?': json_each unpacks it inside SQLite.
_IDS = "(SELECT value FROM json_each(?))"
# The writer's lookups of a group's ids as a join: 0.49 ms instead of 1.18 ms for 8189 ids
# (IN builds a temporary index of the list first). Duplicate ids give duplicate rows, which
# the dicts built from them absorb.
_JOIN_IDS = "json_each(?) AS wanted JOIN"
# The shared statements: SQLite runs ``?`` style as it is.
_SQL: Final = shared_statements(f"IN {_IDS}", str)


# Hot-path rows are bound as exact tuples, copied from the NamedTuples with map(tuple, ...):
# sqlite3 (CPython 3.11) binds a tuple subclass through the generic sequence protocol, which
# measured 10% slower for the transfers INSERT (51 vs 46 ms per 8189 rows) and 45% slower for
# the accounts UPDATE (16.4 vs 11.4 ms per 8000 accounts) than the copy plus exact binding.
#
# An account's balances and flags, from the whole Account tuple (field n is ?n, see
# rows.ACCOUNT_COLUMNS; ?2, ?3 and ?5 go unused): no parameter tuple is built in Python per
# account. The timestamp is fixed at creation, so matching it too costs nothing measurable and
# catches an account row that is not the one the writer read (the row count is checked).
_UPDATE_ACCOUNT: Final = (
    "UPDATE accounts SET flags = ?4, debits_pending = ?6, debits_posted = ?7,"
    " credits_pending = ?8, credits_posted = ?9 WHERE id = ?1 AND timestamp = ?10"
)

# The per-account "indexes" of transfers (migration 0019): two WITHOUT ROWID tables keyed on
# (account_id, timestamp), filled once per group by one INSERT ... SELECT each from the group's
# new transfers, whose timestamps are above every earlier one's: the entries go in inside
# SQLite, without the per-row index maintenance of the transfers INSERT (10.5-10.7 against
# about 14 ms of CPU a group of 8189; sorted first, 11.9-13.6 ms; docs/benchmarks.md).
# Should a transfer below ``first`` ever be entered twice, the primary key fails the group.
_INDEX_NEW_TRANSFERS: Final = tuple(
    f"INSERT INTO transfer_{side}s (account_id, timestamp)"
    f" SELECT {side}_account_id, timestamp FROM transfers WHERE timestamp >= ?"
    for side in ("debit", "credit")
)
_SIDE_TABLE: Final = {
    "debit_account_id": "transfer_debits",
    "credit_account_id": "transfer_credits",
}
_TIMESTAMP: Final = operator.itemgetter(rows.TRANSFER_COLUMNS.split(", ").index("timestamp"))


def _connect(path: str, *, readonly: bool = False) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in (*CONNECTION_PRAGMAS, *(_READER_PRAGMAS if readonly else _WRITER_PRAGMAS)):
        connection.execute(pragma)
    return connection


def _qualified(table: str, columns: str) -> str:
    """``a, b`` -> ``t.a, t.b`` (json_each has columns named id and timestamp too)."""
    return ", ".join(f"{table}.{column.strip()}" for column in columns.split(","))


def _json_ids(ids: Iterable[int]) -> str:
    return json.dumps(list(ids))


class _SqliteWrite(SqlWriteTransaction):
    """The writer's transaction (see :class:`centime.ledger.port.WriteTransaction`)."""

    _sql = _SQL
    _cursor: sqlite3.Cursor

    def __init__(self, store: SqliteStore, cursor: sqlite3.Cursor) -> None:
        self._store = store
        self._cursor = cursor
        # The last id set made into JSON, and its JSON: a plain batch asks for the same
        # 8189 transfer ids twice (existing transfers, then failed ids), and building the
        # JSON takes as long as the query.
        self._json_of: tuple[frozenset[int], str] | None = None

    def _by_ids(self, sql: str, ids: Collection[int]) -> list[tuple[Any, ...]]:
        """The rows ``sql`` selects for ``ids`` (its one parameter: their JSON list)."""
        if not ids:
            return []
        last = self._json_of
        if last is not None and last[0] == ids:
            text = last[1]
        else:
            text = _json_ids(ids)
            self._json_of = (frozenset(ids), text)  # a copy: the caller's may change
        return self._cursor.execute(sql, (text,)).fetchall()

    def lock_pending(self, transfer_ids: Collection[int]) -> dict[int, PendingState]:
        # The single writer holds the database's write lock for the whole transaction.
        found = self._by_ids(
            f"SELECT {rows.PENDING_COLUMNS} FROM pending_transfers WHERE transfer_id IN {_IDS}",
            transfer_ids,
        )
        return {row[0]: rows.pending(row) for row in found}

    def transfers(self, transfer_ids: Collection[int]) -> dict[int, Transfer]:
        found = self._by_ids(
            f"SELECT {_qualified('t', rows.TRANSFER_COLUMNS)}"
            f" FROM {_JOIN_IDS} transfers AS t ON t.id = wanted.value",
            transfer_ids,
        )
        return {row[0]: rows.transfer(row) for row in found}

    def failed(self, transfer_ids: Collection[int]) -> dict[int, CreateTransferStatus]:
        found = self._by_ids(
            f"SELECT f.id, f.status FROM {_JOIN_IDS} failed_transfers AS f ON f.id = wanted.value",
            transfer_ids,
        )
        return {tid: rows.transfer_status(status) for tid, status in found}

    def lock_accounts(self, account_ids: Collection[int]) -> dict[int, Account]:
        cache = self._store._account_cache
        get = cache.get
        found = {aid: account for aid in account_ids if (account := get(aid)) is not None}
        # Usually every one is cached (a second pass over 8000 ids cost a millisecond).
        missing = (
            [aid for aid in account_ids if aid not in found]
            if len(found) < len(account_ids)
            else []
        )
        for row in self._by_ids(
            f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts WHERE id IN {_IDS}", missing
        ):
            found[row[0]] = rows.account(row)
        return found

    def reserve_timestamps(self, count: int, now_ns: int) -> int:
        first = max(now_ns, self._store._last_timestamp + 1)
        last = first + count - 1
        self._cursor.execute("UPDATE ledger_clock SET timestamp = ? WHERE id = 1", (last,))
        self._reserved_last = last
        return first

    def write(self, changes: Changes) -> None:
        cursor = self._cursor
        if changes.accounts_created:
            cursor.executemany(
                f"INSERT INTO accounts ({rows.ACCOUNT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                changes.accounts_created,
            )
        if changes.accounts:
            cursor.executemany(_UPDATE_ACCOUNT, map(tuple, changes.accounts.values()))
            if cursor.rowcount != len(changes.accounts):
                raise RuntimeError(
                    f"updated {cursor.rowcount} accounts of {len(changes.accounts)}:"
                    " an account vanished or its timestamp changed"
                )
        if changes.transfers:
            cursor.executemany(
                f"INSERT INTO transfers ({rows.TRANSFER_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                map(tuple, changes.transfers),
            )
            first = min(map(_TIMESTAMP, changes.transfers))
            for sql in _INDEX_NEW_TRANSFERS:
                cursor.execute(sql, (first,))
        if changes.pending:
            cursor.executemany(
                f"INSERT OR REPLACE INTO pending_transfers ({rows.PENDING_COLUMNS})"
                " VALUES (?,?,?,?)",
                rows.pending_rows(changes.pending.values()),
            )
        if changes.failed:
            cursor.executemany(
                "INSERT INTO failed_transfers (id, status, timestamp) VALUES (?,?,?)",
                rows.failed_rows(changes),
            )
        if changes.balances:
            cursor.executemany(
                f"INSERT INTO account_balances ({rows.BALANCE_COLUMNS}) VALUES (?,?,?,?,?,?)",
                changes.balances,
            )

    # ----------------------------------------------------------------- audit log

    def write_audit(self, batch: AuditBatchRow, nodes: Sequence[AuditNodeRow]) -> None:
        self._cursor.execute(
            f"INSERT INTO audit_batches ({rows.AUDIT_BATCH_COLUMNS})"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            batch,
        )
        self._cursor.executemany(
            "INSERT INTO audit_nodes (level, first_index, hashes) VALUES (?,?,?)", nodes
        )

    # The platform's own tables (centime.ledger.units), in the same transaction: their
    # ``?`` style is SQLite's own, so the text runs as it is.

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        self._cursor.execute(sql, tuple(params))
        return self._cursor.rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._cursor.executemany(sql, rows)

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._cursor.execute(sql, tuple(params)).fetchall()


class SqliteStore(SqlLedgerReads):
    """The ledger in one SQLite file. ``SqliteStore.open(path)`` migrates it to the newest
    schema first."""

    _sql = _SQL

    def __init__(self, path: str) -> None:
        self.path = path
        self._writer = _connect(path)
        self._writer_lock = threading.Lock()
        self._writer_claim: int | None = None  # the lock file's descriptor, once claimed
        self._readers = threading.local()
        self._reader_connections: list[sqlite3.Connection] = []
        self._account_cache: dict[int, Account] = {}
        row = self._writer.execute("SELECT timestamp FROM ledger_clock WHERE id = 1").fetchone()
        self._last_timestamp: int = row[0]

    @classmethod
    def open(cls, path: str | Path) -> SqliteStore:
        path = str(path)
        upgrade(f"sqlite:///{path}")
        return cls(path)

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    # ----------------------------------------------------------------- writer

    @contextmanager
    def write_transaction(self) -> Iterator[_SqliteWrite]:
        with self._writer_lock:
            self._claim_writer()
            cursor = self._writer.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            transaction = _SqliteWrite(self, cursor)
            try:
                yield transaction
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")
            reserved = getattr(transaction, "_reserved_last", None)
            if reserved is not None:
                self._last_timestamp = reserved

    def claim_writer(self) -> None:
        """Become the file's writer now (SqliteWriterBusyError if another store is): a
        command checks this before it starts, rather than failing at its first write."""
        with self._writer_lock:
            self._claim_writer()

    def _claim_writer(self) -> None:
        """Become the one writer of this file, or fail loudly.

        The account cache and the clock are only right while nothing else writes the file:
        a second writer (another process, or another store on the same file) would have its
        balance updates silently overwritten. So the first write takes an exclusive lock on
        ``<file>.writer-lock`` for the life of the store; stores that only read (``ledger
        check``, ``audit verify`` beside a running server) never take it. The OS releases
        it when the process dies, so a crash never leaves the ledger locked.
        """
        if self._writer_claim is not None:
            return
        descriptor = os.open(f"{self.path}.writer-lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise SqliteWriterBusyError(
                f"another store is writing {self.path}: SQLite has one writer; use "
                "PostgreSQL for several writer processes"
            ) from None
        self._writer_claim = descriptor
        # Whatever was read before the claim may be stale.
        self._account_cache.clear()
        row = self._writer.execute("SELECT timestamp FROM ledger_clock WHERE id = 1").fetchone()
        self._last_timestamp = row[0]

    def commit_changes(self, changes: Changes) -> None:
        cache = self._account_cache
        for account in changes.accounts_created:
            cache[account.id] = account
        cache.update(changes.accounts)
        # The cached records live on past the group: out of the garbage collector's sight,
        # they are not traversed again by every collection (centime.ledger.records).
        untrack_records(changes.accounts.values())
        untrack_records(changes.accounts_created)
        if len(cache) > ACCOUNT_CACHE_MAX:
            # Evict the oldest half; a miss costs only a read.
            for account_id in list(cache)[: len(cache) // 2]:
                del cache[account_id]

    # ----------------------------------------------------------------- readers

    def _reader(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._readers, "connection", None)
        if connection is None:
            connection = _connect(self.path, readonly=True)
            self._readers.connection = connection
            self._reader_connections.append(connection)
        return connection

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._reader().execute(sql, params).fetchall()

    def _ids(self, ids: Iterable[int]) -> str:
        return _json_ids(ids)

    def get_account_transfers(self, query: AccountFilter) -> list[Transfer]:
        # The account's timestamps from transfer_debits / transfer_credits (one ordered
        # range scan each, merged and cut at the limit), then their rows by rowid.
        sides = [
            f"SELECT timestamp FROM {_SIDE_TABLE[column]} WHERE account_id = ?1"
            " AND timestamp >= ?2 AND timestamp <= ?3"
            for column in self._history_sides(query)
        ]
        if not sides:
            return []
        order = "DESC" if query.reversed else "ASC"
        sql = (
            f"SELECT {_qualified('t', rows.TRANSFER_COLUMNS)}"
            f" FROM ({' UNION '.join(sides)} ORDER BY timestamp {order} LIMIT ?4) AS mine"
            f" JOIN transfers AS t ON t.timestamp = mine.timestamp ORDER BY t.timestamp {order}"
        )
        return [rows.transfer(row) for row in self._fetch(sql, range_params(query))]

    def check(self) -> Iterator[Violation]:
        """Every broken invariant, read from one WAL snapshot (a read transaction), so that
        the writer committing meanwhile cannot make totals and transfers disagree."""
        connection = self._reader()

        def fetch(sql: str) -> list[tuple[Any, ...]]:
            try:
                return connection.execute(sql).fetchall()
            except sqlite3.OperationalError as error:
                if "overflow" in str(error):
                    raise OverflowError(str(error)) from error
                raise

        connection.execute("BEGIN")
        try:
            yield from check_ledger(fetch)
            yield from check_account_tables(fetch)
        finally:
            connection.execute("COMMIT")

    @contextmanager
    def reader(self) -> Iterator[Fetch]:
        """Queries in one read transaction of this thread's reader: one WAL snapshot."""
        with snapshot(self._reader(), "BEGIN", "ROLLBACK", str) as fetch:
            yield fetch

    audit_reader = reader

    def close(self) -> None:
        with self._writer_lock:
            self._writer.close()
            if self._writer_claim is not None:
                os.close(self._writer_claim)  # releases the lock
                self._writer_claim = None
        for connection in self._reader_connections:
            connection.close()
        self._reader_connections.clear()
