"""What the SQLite and PostgreSQL stores share: the ledger's queries and the audit log's
idempotent inserts, written once.

The statements are written in ``?`` style around the one thing the dialects spell apart,
how a statement takes a list of ids (one parameter either way); each adapter builds its set
once, when its module is imported (:func:`shared_statements`), and inherits the methods that
run them from :class:`SqlLedgerReads` and :class:`SqlWriteTransaction`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, Final, NamedTuple, Protocol, TypeVar

from centime.ledger.model import Account, AccountBalance, AccountFilter, PendingState, Transfer
from centime.ledger.port import AuditHeadRow, AuditKeyRow, AuditTip, Fetch, StoreTotals
from centime.limits import QUERY_LIMIT_MAX

from . import rows

__all__ = [
    "TIMESTAMP_MAX",
    "SharedStatements",
    "SqlLedgerReads",
    "SqlWriteTransaction",
    "in_order",
    "range_params",
    "shared_statements",
    "snapshot",
]

TIMESTAMP_MAX: Final = 2**63 - 1

T = TypeVar("T")


class SharedStatements(NamedTuple):
    """The shared statements in one adapter's placeholder style."""

    accounts: str
    transfers: str
    pending: str
    balances_ascending: str
    balances_descending: str
    balance_at: str
    audit_tip: str
    transfers_between: str
    due_pending: str
    insert_audit_head: str
    insert_audit_key: str


def shared_statements(ids: str, translate: Callable[[str], str]) -> SharedStatements:
    """The shared statements, where ``ids`` is the dialect's "is one of the ids in the list
    parameter" (in ``?`` style) and ``translate`` turns ``?`` style into its own."""
    balances = (
        f"SELECT {rows.BALANCE_COLUMNS} FROM account_balances WHERE account_id = ?"
        " AND timestamp >= ? AND timestamp <= ? ORDER BY timestamp {order} LIMIT ?"
    )
    return SharedStatements(
        *map(
            translate,
            (
                f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts WHERE id {ids}",
                f"SELECT {rows.TRANSFER_COLUMNS} FROM transfers WHERE id {ids}",
                f"SELECT {rows.PENDING_COLUMNS} FROM pending_transfers WHERE transfer_id {ids}",
                balances.format(order="ASC"),
                balances.format(order="DESC"),
                f"SELECT {rows.BALANCE_COLUMNS} FROM account_balances"
                " WHERE account_id = ? AND timestamp <= ? ORDER BY timestamp DESC LIMIT 1",
                f"SELECT {rows.AUDIT_TIP_COLUMNS} FROM audit_batches ORDER BY seq DESC LIMIT 1",
                "SELECT EXISTS (SELECT 1 FROM transfers WHERE timestamp > ? AND timestamp < ?)",
                f"SELECT {rows.PENDING_COLUMNS} FROM pending_transfers"
                " WHERE status = 'pending' AND expires_at > 0 AND expires_at <= ?"
                " ORDER BY expires_at, transfer_id LIMIT ?",
                # A head or key already stored is left as it is.
                f"INSERT INTO audit_heads ({rows.AUDIT_HEAD_COLUMNS}) VALUES (?,?,?,?,?,?,?)"
                " ON CONFLICT DO NOTHING",
                f"INSERT INTO audit_keys ({rows.AUDIT_KEY_COLUMNS}) VALUES (?,?,?,?)"
                " ON CONFLICT DO NOTHING",
            ),
        )
    )


def in_order(ids: Iterable[int], found: Iterable[Any], convert: Callable[[Any], T]) -> list[T]:
    """The rows found (keyed by their first column), converted, in the order of ``ids``;
    the ids not found are left out."""
    by_id = {row[0]: convert(row) for row in found}
    return [by_id[i] for i in ids if i in by_id]


def range_params(query: AccountFilter) -> tuple[int, int, int, int]:
    """(account, lowest timestamp, highest timestamp, limit) of a history query."""
    return (
        query.account_id,
        query.timestamp_min,
        query.timestamp_max or TIMESTAMP_MAX,
        min(query.limit, QUERY_LIMIT_MAX),
    )


class SqlLedgerReads:
    """The ledger's id lookups and balance history, for an adapter that supplies its
    statements, a read and the encoding of an id list parameter."""

    _sql: ClassVar[SharedStatements]

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        raise NotImplementedError

    def _ids(self, ids: Iterable[int]) -> str:
        raise NotImplementedError

    def lookup_accounts(self, account_ids: Collection[int]) -> list[Account]:
        return self._lookup(self._sql.accounts, account_ids, rows.account)

    def lookup_transfers(self, transfer_ids: Collection[int]) -> list[Transfer]:
        return self._lookup(self._sql.transfers, transfer_ids, rows.transfer)

    def pending_states(self, transfer_ids: Collection[int]) -> list[PendingState]:
        return self._lookup(self._sql.pending, transfer_ids, rows.pending)

    def _lookup(self, sql: str, ids: Collection[int], convert: Callable[[Any], T]) -> list[T]:
        if not ids:
            return []
        return in_order(ids, self._fetch(sql, (self._ids(ids),)), convert)

    def totals(self) -> StoreTotals:
        # One statement: the three figures from one snapshot.
        found = self._fetch(
            "SELECT (SELECT COUNT(*) FROM accounts), (SELECT COUNT(*) FROM transfers),"
            " (SELECT timestamp FROM ledger_clock WHERE id = 1)",
            (),
        )
        accounts, transfers, clock = found[0]
        return StoreTotals(int(accounts), int(transfers), int(clock))

    def get_account_balances(self, query: AccountFilter) -> list[AccountBalance]:
        if query.limit <= 0:
            return []
        reads = self._sql
        sql = reads.balances_descending if query.reversed else reads.balances_ascending
        return [rows.balance(row) for row in self._fetch(sql, range_params(query))]

    def balance_at(self, account_id: int, timestamp: int) -> AccountBalance | None:
        found = self._fetch(self._sql.balance_at, (account_id, timestamp))
        return rows.balance(found[0]) if found else None

    @staticmethod
    def _history_sides(query: AccountFilter) -> list[str]:
        """The transfers' columns a history query (``get_account_transfers``) matches the
        account in: the debit side, the credit side or both; none when it asks for no rows."""
        if query.limit <= 0:
            return []
        sides = (("debit_account_id", query.debits), ("credit_account_id", query.credits))
        return [column for column, wanted in sides if wanted]


class Cursor(Protocol):
    """What the shared write-side reads need of a DB-API cursor (sqlite3's, psycopg's)."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> Any: ...


class SqlWriteTransaction:
    """What the writer's transaction does alike on both dialects: read the expiry sweep's
    due transfers, and read and write the audit log (``AuditWrite``)."""

    _cursor: Cursor
    _sql: ClassVar[SharedStatements]

    def due_pending(self, now_ns: int, limit: int) -> list[PendingState]:
        """Pending transfers due at ``now_ns``, by expiry time then id; locked by
        ``lock_pending``, not here.

        Locking them here, in expiry order and before ``lock_pending``, would break
        PostgreSQL's lock order (centime.store.postgres): a writer could hold a due row while
        it waits for a lower id that another writer holds while that one waits for the due
        row. (``SKIP LOCKED`` does not prevent that cycle; a ``SKIP LOCKED`` probe in a
        savepoint rolled back would, but every ``ROLLBACK TO`` makes psycopg drop its
        prepared statements.) The engine passes these ids to ``lock_pending``, which locks
        them in id order and re-reads their status; the core expires only what is still
        pending then. When two writers sweep the same rows, the second waits for the first
        and then skips them.
        """
        if limit <= 0:
            return []
        self._cursor.execute(self._sql.due_pending, (now_ns, limit))
        return [rows.pending(row) for row in self._cursor.fetchall()]

    def audit_tip(self) -> AuditTip | None:
        self._cursor.execute(self._sql.audit_tip)
        row = self._cursor.fetchone()
        return None if row is None else AuditTip(*row)

    def transfers_between(self, low: int, high: int) -> bool:
        self._cursor.execute(self._sql.transfers_between, (low, high))
        row = self._cursor.fetchone()
        return bool(row and row[0])

    def write_audit_head(self, head: AuditHeadRow) -> None:
        self._cursor.execute(self._sql.insert_audit_head, head)

    def write_audit_key(self, key: AuditKeyRow) -> None:
        self._cursor.execute(self._sql.insert_audit_key, key)


class Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...


@contextmanager
def snapshot(
    connection: Connection, begin: str, end: str, translate: Callable[[str], str]
) -> Iterator[Fetch]:
    """``Fetch`` over the transaction that ``begin`` opens on ``connection`` and ``end``
    closes; ``translate`` turns a ``?`` statement into the driver's style."""
    connection.execute(begin)
    try:

        def fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
            found: list[tuple[Any, ...]] = connection.execute(
                translate(sql), tuple(params)
            ).fetchall()
            return found

        yield fetch
    finally:
        connection.execute(end)
