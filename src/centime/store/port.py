"""The storage port: what the ledger engine needs from a database, and nothing more.

Two adapters implement it, :mod:`centime.store.sqlite` and :mod:`centime.store.postgres`;
the contract suite in ``tests/store`` runs against both. The engine's writer opens one
:class:`WriteTransaction` per group of requests: it reads (and, where several writers may
run, locks) the state the group names, reserves timestamps, writes the core's changes and
commits, all or nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from centime.ledger.core import Changes
from centime.ledger.model import (
    Account,
    AccountBalance,
    AccountFilter,
    CreateTransferStatus,
    PendingState,
    Transfer,
)

from .errors import TransientStoreError

__all__ = [
    "AuditBatchRow",
    "AuditFetch",
    "AuditHeadRow",
    "AuditKeyRow",
    "AuditNodeRow",
    "AuditTip",
    "LedgerStore",
    "StoreTotals",
    "TransientStoreError",
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


# A read-only query that both stores run: ``?`` placeholders, rows as tuples.
AuditFetch = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


class WriteTransaction(Protocol):
    """One database transaction of the writer. Every read returns committed state plus this
    transaction's own writes; ``lock_*`` reads hold the rows until commit."""

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

    # The platform's own tables, for write units (centime.ledger.units): ``?`` placeholders.

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; the number of rows it changed."""
        ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    # The audit log (centime.audit) appends to its tables in the group's transaction. On
    # PostgreSQL these run after ``reserve_timestamps``, under the clock row's lock, so the
    # tip read here is the newest and writers append one after another in timestamp order.

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


class LedgerStore(Protocol):
    """A durable home for the ledger: a writer side for the engine and a reader side for
    queries. Queries may run on any thread, concurrently with the writer."""

    def write_transaction(self) -> AbstractContextManager[WriteTransaction]:
        """Begin a transaction; it commits when the block ends and rolls back on an error."""
        ...

    def commit_changes(self, changes: Changes) -> None:
        """Tell the store that ``changes`` committed (a store with caches updates them)."""
        ...

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

    def reader(self) -> AbstractContextManager[AuditFetch]:
        """Read-only queries (``?`` placeholders) over one consistent snapshot of the store,
        on any thread: the audit log's proofs and the platform's reads."""
        ...

    def audit_reader(self) -> AbstractContextManager[AuditFetch]:
        """The same as :meth:`reader` (the audit log's name for it)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class StoreTotals:
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
