"""The production store: PostgreSQL through psycopg 3, with several writer processes.

Every engine group is one database transaction. Writers in different processes coordinate
through locks taken in one fixed order, so they wait for each other rather than deadlock
(but see the exception below):

0. the writers' advisory lock, at BEGIN: shared by the engine's groups of plain batches
   and of write units that declared an ``Overlap`` (``overlapping_transaction``), exclusive
   for every other write transaction (``write_transaction``: groups with other write
   units, the audit log's keys), which so runs alone among the writers;
1. ``pending_transfers`` rows the group resolves or expires, ids ascending (``lock_pending``);
2. ``accounts`` rows the group touches, ids ascending (``lock_accounts``; an overlapping
   group's units' declared accounts among them, the promotions accounts, which no group
   defers);
3. rows an overlapping group's units lock as they run (a promotion code), then those of their
   end checks (a merchant's month volume, then the mandates charged, ids ascending), then
   their deferred ``accounts`` (a payment's payers, merchant and fee revenue, and the
   accounts of the pending transfers the group resolves or expires), ids ascending (read
   unlocked before: ``read_accounts``; centime.ledger.rebase);
4. the single ``ledger_clock`` row (``reserve_timestamps``), held until commit.

An overlapping group locks its rows (1, 2), runs the core and its units on provisional
timestamps, locks 3, and only then takes the clock (4), shifts its changes to the timestamps
it got and writes them: groups of several processes overlap everything but the window from
3 (or 4) to the commit. An account one overlapping group locks in 2 and another in 3 can
make the two deadlock: a plain batch of the ledger's API naming a payer's wallet while a
payment group defers it (the platform's overlapping units name none at 2 but the
promotions accounts), as can a unit that locks rows out of this order; the server breaks
it after ``deadlock_timeout`` and the engine retries. A transaction that runs alone takes
the clock first (reserving before it reads), and a write unit may then lock rows in any
order, after reading what names them: no other writer holds any.

The clock row makes the end of each writing transaction run alone, in timestamp order:
engine timestamps are unique across processes and commit in the order they were handed
out, and once a transaction holds the clock every writer before it has committed. What a
group read under a row lock is current until it commits. What it read without a lock as
*absent* (a transfer id, a failed id, an account id) is re-validated: when the clock has
moved since the transaction began, ``reserve_timestamps`` checks that it is still absent and
raises :class:`~centime.ledger.errors.TransientStoreError` otherwise; the engine then runs
the group again on fresh state. (Transfers and failed ids that exist never change; the
expiry sweep's list of due transfers is read unlocked too, and the core expires only what
is still pending when locked.) A unique violation, a deadlock or a serialization failure
that gets through anyway becomes a ``TransientStoreError`` too.

There is no account cache: other processes change accounts. Queries run on a small,
bounded pool of autocommit connections, from any thread, without blocking the writer.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from operator import attrgetter
from typing import Any, Final

import psycopg
from psycopg import errors
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from centime.ledger.core import Changes
from centime.ledger.errors import TransientStoreError
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
from centime.limits import (
    POSTGRES_CONNECT_TIMEOUT_S,
    POSTGRES_READER_CONNECTIONS_MAX,
    POSTGRES_READER_WAIT_MAX_S,
)

from . import rows
from .checks import check_ledger
from .dialect import pyformat
from .migrate import upgrade
from .reads import SqlLedgerReads, SqlWriteTransaction, range_params, shared_statements, snapshot

__all__ = ["PostgresStore"]

# The shared statements; a list of ids is one int8[] parameter (see _array).
_SQL: Final = shared_statements("= ANY(?::int8[])", pyformat)

# Unique constraints whose violation means that another writer created the same id first
# (PostgreSQL's default names for the constraints of store/schema.py). Any other unique
# violation (a timestamp, a balance row) would be a bug, and stays an error.
# The platform's keys that units overlapping other processes' rely on (an Overlap's
# promise: a second insert of the same key is refused, and the group runs again, finding
# the first) are such races too.
_RACE_CONSTRAINTS: Final = frozenset(
    {
        "transfers_id_key",
        "accounts_pkey",
        "failed_transfers_pkey",
        "payments_pkey",
        "idempotency_keys_pkey",
        "merchant_volumes_pkey",
        "promo_redemptions_pkey",
        "outbox_events_pkey",
        "job_leases_pkey",
    }
)

# The PostgreSQL types of rows.*_COLUMNS, in their order, for binary COPY.
_COPY_TYPES: Final = {
    "accounts": ["int8", "text", "int4", "int4", "int8", "int8", "int8", "int8", "int8", "int8"],
    "transfers": ["int8"] * 4 + ["text", "int4", "int4", "int8", "int4", "int8", "int8"],
    "account_balances": ["int8", "int8", "int8", "int8", "int8", "int8"],
    "audit_nodes": ["int4", "int8", "bytea"],
}

# A platform insert of at least this many rows goes as one text COPY (_PostgresWrite.executemany).
COPY_ROWS_MIN: Final = 16
_PLAIN_INSERT: Final = re.compile(r"INSERT INTO (\w+) \(([\w, ]+)\) VALUES \(([?, ]+)\)")

_SNAPSHOT_BEGIN: Final = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"

# The writers' lock (a transaction-level advisory lock, released at commit or rollback):
# shared by overlapping transactions, exclusive for every other write transaction. The key
# is a class of this application's own (centime.app's id lanes use another) and the
# schema's name: advisory locks are database-wide, and ledgers in two schemas of one
# database (two deployments, or tests running side by side) must never wait for each
# other. A single key once let a paused writer of one schema stall another's requests.
_WRITERS_LOCK_CLASS: Final = 0x6C656467  # "ledg"
_WRITERS_LOCK_KEY: Final = "hashtext(coalesce(current_schema(), ''))"


def _begin(lock_function: str) -> str:
    """BEGIN, the writers' lock, then the clock: three statements in one round trip."""
    return (
        f"BEGIN; SELECT {lock_function}({_WRITERS_LOCK_CLASS}, {_WRITERS_LOCK_KEY});"
        " SELECT timestamp FROM ledger_clock WHERE id = 1"
    )


_BEGIN_ALONE: Final = _begin("pg_advisory_xact_lock")
_BEGIN_OVERLAPPING: Final = _begin("pg_advisory_xact_lock_shared")

Cursor = psycopg.Cursor[TupleRow]
Connection = psycopg.Connection[TupleRow]


def _connect(url: str) -> Connection:
    return psycopg.connect(url, autocommit=True, connect_timeout=POSTGRES_CONNECT_TIMEOUT_S)


def _connect_writer(url: str) -> Connection:
    """A connection whose commits are durable when acknowledged, whatever the server's
    default: ``synchronous_commit = off`` would acknowledge before the WAL is flushed."""
    connection = _connect(url)
    row = connection.execute("SHOW synchronous_commit").fetchone()
    if row is None or row[0] == "off":
        connection.execute("SET synchronous_commit = on")
    return connection


def _lost_race(error: BaseException) -> bool:
    """True when ``error`` means the transaction lost a race and running it again is safe."""
    if isinstance(error, errors.DeadlockDetected | errors.SerializationFailure):
        return True
    if isinstance(error, errors.UniqueViolation):
        return error.diag.constraint_name in _RACE_CONSTRAINTS
    return False


class _PostgresWrite(SqlWriteTransaction):
    """The writer's transaction (see :class:`centime.ledger.port.WriteTransaction`)."""

    _sql = _SQL
    _cursor: Cursor

    def __init__(self, cursor: Cursor, clock_at_begin: int) -> None:
        self._cursor = cursor
        self._clock_at_begin = clock_at_begin
        # Ids this transaction read as absent, without a lock (see the module's docstring).
        self._absent_transfers: set[int] = set()
        self._absent_failed: set[int] = set()
        self._absent_accounts: set[int] = set()

    def _by_ids(self, sql: str, ids: Collection[int]) -> list[TupleRow]:
        """The rows ``sql`` selects for ``ids`` (its one parameter: their int8 array)."""
        if not ids:
            return []
        self._cursor.execute(sql, (_array(ids),))
        return self._cursor.fetchall()

    def lock_pending(self, transfer_ids: Collection[int]) -> dict[int, PendingState]:
        found = self._by_ids(
            f"SELECT {rows.PENDING_COLUMNS} FROM pending_transfers"
            " WHERE transfer_id = ANY(%s::int8[]) ORDER BY transfer_id FOR UPDATE",
            sorted(transfer_ids),
        )
        return {row[0]: rows.pending(row) for row in found}

    def transfers(self, transfer_ids: Collection[int]) -> dict[int, Transfer]:
        selected = self._by_ids(
            f"SELECT {rows.TRANSFER_COLUMNS} FROM transfers WHERE id = ANY(%s::int8[])",
            transfer_ids,
        )
        found = {row[0]: rows.transfer(row) for row in selected}
        self._absent_transfers.update(tid for tid in transfer_ids if tid not in found)
        return found

    def failed(self, transfer_ids: Collection[int]) -> dict[int, CreateTransferStatus]:
        selected = self._by_ids(
            "SELECT id, status FROM failed_transfers WHERE id = ANY(%s::int8[])", transfer_ids
        )
        found = {tid: rows.transfer_status(status) for tid, status in selected}
        self._absent_failed.update(tid for tid in transfer_ids if tid not in found)
        return found

    def lock_accounts(self, account_ids: Collection[int]) -> dict[int, Account]:
        selected = self._by_ids(
            f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts"
            " WHERE id = ANY(%s::int8[]) ORDER BY id FOR UPDATE",
            sorted(account_ids),
        )
        found = {row[0]: rows.account(row) for row in selected}
        self._absent_accounts.update(aid for aid in account_ids if aid not in found)
        return found

    def read_accounts(self, account_ids: Collection[int]) -> dict[int, Account]:
        selected = self._by_ids(
            f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts WHERE id = ANY(%s::int8[])",
            account_ids,
        )
        found = {row[0]: rows.account(row) for row in selected}
        self._absent_accounts.update(aid for aid in account_ids if aid not in found)
        return found

    def provisional_timestamp(self, now_ns: int) -> int:
        """What :meth:`reserve_timestamps` returns if nobody commits before it (the clock
        as this transaction began: no lock)."""
        return max(now_ns, self._clock_at_begin + 1)

    def reserve_timestamps(self, count: int, now_ns: int) -> int:
        if count <= 0:
            raise ValueError(f"reserve at least one timestamp, not {count}")
        # Fast path: nobody committed since this transaction began, so what it read as
        # absent is still absent. Locks the clock row either way (until commit).
        last = self._advance_clock(count, now_ns, expected=self._clock_at_begin)
        if last is None:
            last = self._advance_clock(count, now_ns, expected=None)
            if last is None:
                raise RuntimeError("the ledger_clock row is missing: the schema is damaged")
            self._check_still_absent()
        return last - count + 1

    def _advance_clock(self, count: int, now_ns: int, expected: int | None) -> int | None:
        sql = (
            "UPDATE ledger_clock SET timestamp = GREATEST(%(now)s::int8, timestamp + 1)"
            " + %(count)s::int8 - 1 WHERE id = 1"
        )
        if expected is not None:
            sql += " AND timestamp = %(expected)s::int8"
        self._cursor.execute(
            sql + " RETURNING timestamp", {"now": now_ns, "count": count, "expected": expected}
        )
        row = self._cursor.fetchone()
        return None if row is None else int(row[0])

    def _check_still_absent(self) -> None:
        """Under the clock lock every earlier writer has committed: if one of them created a
        row this transaction read as absent, the group must run again on fresh state."""
        if not (self._absent_transfers or self._absent_failed or self._absent_accounts):
            return
        self._cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM transfers WHERE id = ANY(%s::int8[]))"
            " OR EXISTS (SELECT 1 FROM failed_transfers WHERE id = ANY(%s::int8[]))"
            " OR EXISTS (SELECT 1 FROM accounts WHERE id = ANY(%s::int8[]))",
            (
                _array(self._absent_transfers),
                _array(self._absent_failed),
                _array(self._absent_accounts),
            ),
        )
        row = self._cursor.fetchone()
        if row is None or row[0]:
            raise TransientStoreError("another writer created a row this group read as absent")

    def write(self, changes: Changes) -> None:
        cursor = self._cursor
        if changes.accounts_created:
            _copy(cursor, "accounts", rows.ACCOUNT_COLUMNS, changes.accounts_created, "id")
        if changes.accounts:
            _update_accounts(cursor, changes.accounts.values())
        if changes.transfers:
            # Sorted by id: writers insert into the unique id index in one order.
            _copy(cursor, "transfers", rows.TRANSFER_COLUMNS, changes.transfers, "id")
        if changes.pending:
            _upsert_pending(cursor, [changes.pending[tid] for tid in sorted(changes.pending)])
        if changes.failed:
            _insert_failed(cursor, changes)
        if changes.balances:
            order = ("account_id", "timestamp")
            _copy(cursor, "account_balances", rows.BALANCE_COLUMNS, changes.balances, *order)

    # ----------------------------------------------------------------- audit log

    def write_audit(self, batch: AuditBatchRow, nodes: Sequence[AuditNodeRow]) -> None:
        # Binary parameters and binary COPY: the hashes and the state record go as they are
        # (as text they would travel hex-escaped, twice their size, and be parsed).
        self._cursor.execute(
            f"INSERT INTO audit_batches ({rows.AUDIT_BATCH_COLUMNS})"
            " VALUES (%b,%b,%b,%b,%b,%b,%b,%b,%b,%b,%b)",
            batch,
        )
        if nodes:
            _copy(self._cursor, "audit_nodes", "level, first_index, hashes", nodes)

    # The platform's own tables (centime.ledger.units), in the same transaction, in ``?``
    # style translated once per statement (store/dialect.py). A lost race there (a deadlock
    # between writers that lock in different orders) is a lost race of the group, retried by
    # the engine.

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with _races_transient():
            self._cursor.execute(pyformat(sql), tuple(params))
        return self._cursor.rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run ``sql`` once per row. A plain insert of many rows (a batch's payments and
        risk decisions: ``INSERT INTO t (columns) VALUES (?, ...)``, nothing else) goes as
        one text ``COPY`` instead, five times faster than the rows' pipelined statements
        for 8,189 rows (measured; the group holds its payers' locks meanwhile), the same
        rows with the same defaults, and all or none of them as before: a duplicate key
        fails the COPY with the same error (a lost race)."""
        many = list(rows)
        insert = _plain_insert(sql) if len(many) >= COPY_ROWS_MIN else None
        with _races_transient():
            if insert is None:
                self._cursor.executemany(pyformat(sql), many)
                return
            with self._cursor.copy(f"COPY {insert[0]} ({insert[1]}) FROM STDIN") as copy:
                for row in many:
                    copy.write_row(row)

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with _races_transient():
            self._cursor.execute(pyformat(sql), tuple(params))
            return self._cursor.fetchall()


@lru_cache(maxsize=256)
def _plain_insert(sql: str) -> tuple[str, str] | None:
    """(table, columns) of ``INSERT INTO table (columns) VALUES (?, ...)`` with one
    placeholder per column and nothing else; None for any other statement."""
    match = _PLAIN_INSERT.fullmatch(sql)
    if match is None:
        return None
    table, columns, marks = match.groups()
    if len(columns.split(",")) != marks.count("?"):
        return None
    return table, columns


@contextmanager
def _races_transient() -> Iterator[None]:
    try:
        yield
    except errors.Error as error:
        if _lost_race(error):
            raise TransientStoreError(f"lost a race with another writer: {error}") from error
        raise


def _copy(
    cursor: Cursor, table: str, columns: str, records: Iterable[Sequence[Any]], *order: str
) -> None:
    """Bulk insert with binary COPY (the column types are those of store/schema.py), in the
    order of the records' attributes ``order`` when given."""
    if order:
        records = sorted(records, key=attrgetter(*order))
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(_COPY_TYPES[table])
        for record in records:
            copy.write_row(record)


def _array(values: Iterable[int]) -> str:
    """An integer array parameter as PostgreSQL's array text (``{1,2,3}``), cast to int8[] or
    int4[] in the statement: three times faster than adapting a list element by element.
    ``int.__repr__`` raises on anything but an int, so nothing else can slip in."""
    return "{" + ",".join(map(int.__repr__, values)) + "}"


def _columns(records: Sequence[Sequence[Any]], kinds: str) -> list[Any]:
    """Rows to one parameter per column for an ``unnest`` statement: ``kinds`` has an ``i``
    for an integer column (sent as array text) and a ``t`` for a text column (a list)."""
    columns: list[Sequence[Any]] = (
        list(zip(*records, strict=True)) if records else [() for _ in kinds]
    )
    return [
        _array(column) if kind == "i" else list(column)
        for column, kind in zip(columns, kinds, strict=True)
    ]


def _update_accounts(cursor: Cursor, accounts: Iterable[Account]) -> None:
    """Every changed account's final state in one statement (a hot account once per group)."""
    records = sorted(rows.account_balance_rows(accounts), key=lambda record: record[5])
    cursor.execute(
        "UPDATE accounts AS a SET debits_pending = v.dp, debits_posted = v.dpo,"
        " credits_pending = v.cp, credits_posted = v.cpo, flags = v.flags"
        " FROM unnest(%s::int8[], %s::int8[], %s::int8[], %s::int8[], %s::int4[], %s::int8[])"
        " AS v(dp, dpo, cp, cpo, flags, id) WHERE a.id = v.id",
        _columns(records, "iiiiii"),
    )
    if cursor.rowcount != len(records):
        raise RuntimeError(
            f"updated {cursor.rowcount} accounts of {len(records)}: an account vanished"
        )


def _upsert_pending(cursor: Cursor, states: Sequence[PendingState]) -> None:
    cursor.execute(
        f"INSERT INTO pending_transfers ({rows.PENDING_COLUMNS})"
        " SELECT * FROM unnest(%s::int8[], %s::text[], %s::int8[], %s::int8[])"
        " ON CONFLICT (transfer_id) DO UPDATE SET status = EXCLUDED.status,"
        " expires_at = EXCLUDED.expires_at, timestamp = EXCLUDED.timestamp",
        _columns(rows.pending_rows(states), "itii"),
    )


def _insert_failed(cursor: Cursor, changes: Changes) -> None:
    records = sorted(rows.failed_rows(changes), key=lambda record: record[0])
    cursor.execute(
        "INSERT INTO failed_transfers (id, status, timestamp)"
        " SELECT * FROM unnest(%s::int8[], %s::text[], %s::int8[])",
        _columns(records, "iti"),
    )


class PostgresStore(SqlLedgerReads):
    """The ledger in a PostgreSQL database (the schema named by the URL's search_path, if
    any). ``PostgresStore.open(url)`` migrates it to the newest schema first."""

    _sql = _SQL

    def __init__(self, url: str) -> None:
        self.url = url
        self._closed = False
        self._writer_lock = threading.Lock()
        self._writer: Connection | None = _connect_writer(url)
        self._readers: ConnectionPool[Connection] = ConnectionPool(
            url,
            min_size=1,
            max_size=POSTGRES_READER_CONNECTIONS_MAX,
            kwargs={"autocommit": True, "connect_timeout": POSTGRES_CONNECT_TIMEOUT_S},
            timeout=POSTGRES_READER_WAIT_MAX_S,
            name="centime-readers",
            open=True,
        )

    @classmethod
    def open(cls, url: str) -> PostgresStore:
        """Migrate the database to the newest schema (processes that start together migrate
        one at a time: see ``migrate.upgrade``), then connect."""
        upgrade(url)
        return cls(url)

    # ----------------------------------------------------------------- writer

    def write_transaction(self) -> AbstractContextManager[_PostgresWrite]:
        """A transaction that runs alone among the writers of the database (it waits for
        the overlapping ones to end, and they for it)."""
        return self._transaction(_BEGIN_ALONE)

    def overlapping_transaction(self) -> AbstractContextManager[_PostgresWrite]:
        """A transaction that overlaps other overlapping ones until it reserves its
        timestamps (see :class:`centime.ledger.port.OverlappingWrites`)."""
        return self._transaction(_BEGIN_OVERLAPPING)

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[_PostgresWrite]:
        with self._writer_lock:
            connection = self._writer_connection()
            try:
                cursor = connection.cursor()
                # One round trip: BEGIN, the writers' lock, then the clock as this
                # transaction first sees it (its own statement: a snapshot taken after the
                # lock was granted).
                cursor.execute(begin)
                cursor.nextset()
                cursor.nextset()
                clock = cursor.fetchone()
                if clock is None:
                    raise RuntimeError("the ledger_clock row is missing: the schema is damaged")
                yield _PostgresWrite(cursor, int(clock[0]))
                cursor.execute("COMMIT")
                if cursor.statusmessage != "COMMIT":  # the server ends a failed one with ROLLBACK
                    raise RuntimeError(f"the transaction did not commit: {cursor.statusmessage}")
            except BaseException as error:
                self._rollback(connection)
                if _lost_race(error):
                    message = f"lost a race with another writer: {error}"
                    raise TransientStoreError(message) from error
                raise

    def _writer_connection(self) -> Connection:
        if self._closed:
            raise RuntimeError("the store is closed")
        connection = self._writer
        if connection is None or connection.closed or connection.broken:
            if connection is not None:
                connection.close()
            connection = self._writer = _connect_writer(self.url)
        return connection

    def _rollback(self, connection: Connection) -> None:
        try:
            connection.execute("ROLLBACK")
        except psycopg.Error:
            # The connection is gone; the server rolls the transaction back by itself. The
            # next transaction connects anew.
            connection.close()

    def commit_changes(self, changes: Changes) -> None:
        """Nothing to do: there is no cache, since other processes write too."""

    # ----------------------------------------------------------------- readers

    def _fetch(
        self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> list[TupleRow]:
        with self._readers.connection() as connection:
            return connection.execute(sql, params).fetchall()

    def _ids(self, ids: Iterable[int]) -> str:
        return _array(ids)

    def get_account_transfers(self, query: AccountFilter) -> list[Transfer]:
        sides = self._history_sides(query)
        if not sides:
            return []
        order = "DESC" if query.reversed else "ASC"
        # One index-ordered scan per side (an OR would scan by timestamp and filter), each
        # cut at the limit, then merged; UNION drops a transfer that both sides found.
        selects = [
            f"(SELECT {rows.TRANSFER_COLUMNS} FROM transfers WHERE {side} = %(account)s"
            f" AND timestamp >= %(low)s AND timestamp <= %(high)s"
            f" ORDER BY timestamp {order} LIMIT %(limit)s)"
            for side in sides
        ]
        sql = (
            f"SELECT {rows.TRANSFER_COLUMNS} FROM ({' UNION '.join(selects)}) AS t"
            f" ORDER BY timestamp {order} LIMIT %(limit)s"
        )
        account, low, high, limit = range_params(query)
        params = {"account": account, "low": low, "high": high, "limit": limit}
        return [rows.transfer(row) for row in self._fetch(sql, params)]

    def check(self) -> Iterator[Violation]:
        """Every broken invariant, read from one snapshot (REPEATABLE READ), so that writers
        running meanwhile cannot make the totals and the transfers disagree."""
        with self._readers.connection() as connection:
            connection.execute(_SNAPSHOT_BEGIN)
            try:

                def fetch(sql: str) -> list[TupleRow]:
                    return connection.execute(sql).fetchall()

                yield from check_ledger(fetch)
            finally:
                connection.execute("ROLLBACK")

    @contextmanager
    def reader(self) -> Iterator[Fetch]:
        """Queries over one snapshot (REPEATABLE READ, read only), in ``?`` style."""
        with (
            self._readers.connection() as connection,
            snapshot(connection, _SNAPSHOT_BEGIN, "ROLLBACK", pyformat) as fetch,
        ):
            yield fetch

    audit_reader = reader

    def close(self) -> None:
        with self._writer_lock:
            self._closed = True
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        self._readers.close()
