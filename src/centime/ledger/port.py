"""The ports the ledger owns: what its consumers need from a database, split per consumer.

Protocols and plain rows only, no I/O. The adapters in ``centime.store`` (SQLite and
PostgreSQL) implement them; the contract suites in ``tests/store`` run against both.

- :class:`LedgerWrite`: the engine's writer, on the ledger's own rows. It opens one
  transaction per group of requests: it reads (and, where several writers may run, locks)
  the state the group names, reserves timestamps, writes the core's changes and commits,
  all or nothing.
- :class:`AuditWrite`: the audit log (``centime.audit``) appending its rows in the same
  transaction; :class:`AuditTip` and the other ``Audit*Row`` tuples are those rows.
- :class:`PlatformWrite` and :data:`Fetch`: the platform's repository interface for its own
  tables, written by write units (``centime.ledger.units``) inside the group's transaction
  and read through :meth:`SnapshotReads.reader` (``Platform.read()``).
- :class:`LedgerStore`: the whole store, as the composition root hands it to the engine.

Platform SQL is written once, in the DB-API ``qmark`` style (``?`` placeholders) that
SQLite binds natively. A store whose driver wants another style translates each distinct
statement once and keeps the translation (``centime.store.dialect``); no adapter rewrites
SQL text per call.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, runtime_checkable

from .core import Changes
from .model import (
    Account,
    AccountBalance,
    AccountFilter,
    CreateTransferStatus,
    PendingState,
    Transfer,
)

__all__ = [
    "AuditBatchRow",
    "AuditHeadRow",
    "AuditKeyRow",
    "AuditNodeRow",
    "AuditTip",
    "AuditWrite",
    "Fetch",
    "LedgerReads",
    "LedgerStore",
    "LedgerWrite",
    "OverlappingTransaction",
    "OverlappingWrites",
    "PlatformWrite",
    "SnapshotReads",
    "StoreTotals",
    "Violation",
    "WriteTransaction",
]


# ------------------------------------------------------------------ the audit log's rows
# Plain rows of the audit tables (store/schema.py); what they mean is centime.audit's business.


class AuditTip(NamedTuple):
    """The newest batch of the audit log: what appending the next batch starts from."""

    seq: int
    tree_size: int
    timestamp_last: int
    batch_hash: bytes
    peaks: bytes


class AuditBatchRow(NamedTuple):
    seq: int
    tree_size: int
    leaf_count: int
    timestamp_first: int
    timestamp_last: int
    root_hash: bytes
    prev_hash: bytes
    state_hash: bytes
    state: bytes
    peaks: bytes
    batch_hash: bytes


class AuditNodeRow(NamedTuple):
    """Consecutive complete-subtree hashes of one tree level, from ``first_index`` on."""

    level: int
    first_index: int
    hashes: bytes


class AuditHeadRow(NamedTuple):
    timestamp: int
    tree_size: int
    root_hash: bytes
    batch_seq: int
    batch_hash: bytes
    key_id: bytes
    signature: bytes


class AuditKeyRow(NamedTuple):
    key_id: bytes
    public_key: bytes
    created_ns: int
    endorsement: bytes  # the previous key's signature over this one (empty for the first)


# A read-only query over one snapshot: ``?`` placeholders, rows as tuples.
Fetch = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


# ------------------------------------------------------------------ the writer's transaction


class LedgerWrite(Protocol):
    """The ledger's rows in one database transaction of the writer. Every read returns
    committed state plus this transaction's own writes; ``lock_*`` reads hold the rows until
    commit."""

    def lock_pending(self, transfer_ids: Collection[int]) -> dict[int, PendingState]: ...

    def due_pending(self, now_ns: int, limit: int) -> list[PendingState]:
        """Pending transfers still pending whose ``expires_at`` is at or before ``now_ns``,
        by expiry time then id, at most ``limit``. Not locked: the engine passes their ids
        to :meth:`lock_pending` (locking in id order keeps writers deadlock-free), and the
        core expires only what is still pending then."""
        ...

    def transfers(self, transfer_ids: Collection[int]) -> dict[int, Transfer]: ...

    def failed(self, transfer_ids: Collection[int]) -> dict[int, CreateTransferStatus]: ...

    def lock_accounts(self, account_ids: Collection[int]) -> dict[int, Account]:
        """Read the accounts, locking them in ascending id order (no deadlock between writers)."""
        ...

    def reserve_timestamps(self, count: int, now_ns: int) -> int:
        """Reserve ``count`` engine timestamps, each greater than every timestamp ever
        reserved before, the first at least ``now_ns``; returns the first."""
        ...

    def write(self, changes: Changes) -> None: ...


class AuditWrite(Protocol):
    """The audit log (centime.audit) appends to its tables in the group's transaction. On
    PostgreSQL these run after ``reserve_timestamps``, under the clock row's lock, so the
    tip read here is the newest and writers append one after another in timestamp order."""

    def audit_tip(self) -> AuditTip | None:
        """The newest audit batch, or None when the log is empty."""
        ...

    def transfers_between(self, low: int, high: int) -> bool:
        """Whether any transfer has a timestamp strictly between ``low`` and ``high``."""
        ...

    def write_audit(self, batch: AuditBatchRow, nodes: Sequence[AuditNodeRow]) -> None: ...

    def write_audit_head(self, head: AuditHeadRow) -> None:
        """Store a signed tree head; one already stored at that timestamp and key is kept."""
        ...

    def write_audit_key(self, key: AuditKeyRow) -> None:
        """Publish a public key; one already published under that id is kept."""
        ...


class PlatformWrite(Protocol):
    """The platform's own tables in the group's transaction, for write units: ``?``
    placeholders. A lost race with another writer raises ``TransientStoreError``."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; the number of rows it changed."""
        ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


class WriteTransaction(LedgerWrite, AuditWrite, PlatformWrite, Protocol):
    """One database transaction of the writer: the ledger's, the audit log's and the
    platform's rows commit together or not at all."""


# ------------------------------------------------------------------ the store


class LedgerReads(Protocol):
    """The ledger's queries; they may run on any thread, concurrently with the writer."""

    def lookup_accounts(self, account_ids: Collection[int]) -> list[Account]: ...

    def lookup_transfers(self, transfer_ids: Collection[int]) -> list[Transfer]: ...

    def pending_states(self, transfer_ids: Collection[int]) -> list[PendingState]: ...

    def get_account_transfers(self, query: AccountFilter) -> list[Transfer]: ...

    def get_account_balances(self, query: AccountFilter) -> list[AccountBalance]: ...

    def balance_at(self, account_id: int, timestamp: int) -> AccountBalance | None:
        """The balances of a HISTORY account as they stood right after ``timestamp``."""
        ...

    def totals(self) -> StoreTotals: ...

    def check(self) -> Iterator[Violation]:
        """Every broken invariant of the whole store, the first found first."""
        ...


class SnapshotReads(Protocol):
    """Read-only queries over one consistent snapshot, on any thread: the platform's reads
    (``Platform.read()``) and the audit log's proofs."""

    def reader(self) -> AbstractContextManager[Fetch]:
        """Read-only queries (``?`` placeholders) over one consistent snapshot of the store."""
        ...

    def audit_reader(self) -> AbstractContextManager[Fetch]:
        """The same as :meth:`reader` (the audit log's name for it)."""
        ...


class LedgerStore(LedgerReads, SnapshotReads, Protocol):
    """A durable home for the ledger: a writer side for the engine and reader sides for
    queries. Queries may run on any thread, concurrently with the writer."""

    def write_transaction(self) -> AbstractContextManager[WriteTransaction]:
        """Begin a transaction; it commits when the block ends and rolls back on an error."""
        ...

    def commit_changes(self, changes: Changes) -> None:
        """Tell the store that ``changes`` committed (a store with caches updates them)."""
        ...

    def close(self) -> None: ...


class OverlappingTransaction(WriteTransaction, Protocol):
    """A write transaction that may overlap other writers' (other processes') until it
    reserves its timestamps: the engine reads and locks what the group names, runs the core
    on provisional timestamps, and only then calls :meth:`reserve_timestamps`, which waits
    for the writers before it to commit; from there to the commit the transaction runs
    alone. Write units run in it only when they declared an
    :class:`~centime.ledger.units.Overlap` (their reads are safe beside other writers);
    every other unit runs in :meth:`LedgerStore.write_transaction`."""

    def provisional_timestamp(self, now_ns: int) -> int:
        """The first timestamp :meth:`reserve_timestamps` would return if no other writer
        committed meanwhile (it returns this or a later one, never an earlier one)."""
        ...

    def read_accounts(self, account_ids: Collection[int]) -> dict[int, Account]:
        """Read the accounts without locking them (an overlapping group's deferred
        accounts: locked later with :meth:`lock_accounts`, centime.ledger.rebase)."""
        ...


@runtime_checkable
class OverlappingWrites(Protocol):
    """A store whose writers in several processes can overlap (PostgreSQL). A store without
    it (SQLite: one writer process) runs every group in :meth:`LedgerStore.write_transaction`."""

    def overlapping_transaction(self) -> AbstractContextManager[OverlappingTransaction]:
        """Begin a transaction that overlaps other overlapping ones until it reserves its
        timestamps; :meth:`LedgerStore.write_transaction` waits for those to end and runs
        alone. It commits when the block ends and rolls back on an error."""
        ...


@dataclass(frozen=True, slots=True)
class StoreTotals:
    """What a store holds, read in one snapshot: how many accounts and transfers, and the
    last engine timestamp handed out (the ledger_clock row: accounts take timestamps too, so
    it may be past the newest transfer's)."""

    accounts: int
    transfers: int
    last_timestamp: int


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken ledger invariant: which one, where, and what was found."""

    invariant: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.invariant}: {self.subject}: {self.detail}"
