"""The storage port: what the ledger engine needs from a database, and nothing more.

Two adapters implement it, :mod:`centime.store.sqlite` and :mod:`centime.store.postgres`;
the contract suite in ``tests/store`` runs against both. The engine's writer opens one
:class:`WriteTransaction` per group of requests: it reads (and, where several writers may
run, locks) the state the group names, reserves timestamps, writes the core's changes and
commits, all or nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

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

__all__ = ["LedgerStore", "StoreTotals", "TransientStoreError", "Violation", "WriteTransaction"]


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
