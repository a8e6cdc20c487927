"""Write units: a caller's function run by the ledger's writer inside a group's transaction.

A business operation (a payment, a refund, a top-up) is more than a chain of transfers: it
reads balances to decide the legs, records the payment, stores the idempotent response.
Run by the writer (Datasette's ``execute_write_fn``), all of it commits in the group's one
database transaction with the ledger's changes, or none of it does. Units in a group run one
after another, so what a unit reads cannot change under it before it writes.

A unit must be a function of what it reads (the writer re-runs it when the group is retried
after losing a race) and must not block on anything but the context.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from centime.limits import ID_MAX

from .core import BatchApplier, LedgerView, transfer_names
from .model import (
    Account,
    CreateAccountStatus,
    CreateTransferStatus,
    PendingState,
    Transfer,
)

if TYPE_CHECKING:
    from .port import WriteTransaction

__all__ = [
    "GroupLoader",
    "UnitContext",
    "UnitEventsExceededError",
    "WriteUnit",
    "event_names",
    "valid_id",
]

T = TypeVar("T")
WriteUnit = Callable[["UnitContext"], T]


class UnitEventsExceededError(RuntimeError):
    """A unit submitted more ledger events than it declared (a bug in the unit)."""


def valid_id(value: object) -> bool:
    """An id a ledger or platform record can have: an int in 1..ID_MAX (no bool, no
    garbage; such a value names nothing)."""
    return type(value) is int and 0 < value <= ID_MAX


def _valid_ids(ids: Iterable[int]) -> set[int]:
    """The ids that pass :func:`valid_id`, inlined: a call per id cost 1.4% of a group."""
    return {i for i in ids if type(i) is int and 0 < i <= ID_MAX}


def _existing(ids: Iterable[int], lookup: Callable[[int], T | None]) -> dict[int, T]:
    """What ``lookup`` finds of ``ids``, by id (those it does not find are left out)."""
    found = {}
    for key in ids:
        value = lookup(key)
        if value is not None:
            found[key] = value
    return found


def event_names(kind: str, events: Sequence[Any]) -> tuple[set[int], set[int], set[int]]:
    """The valid transfer, pending and account ids (:func:`valid_id`) a batch of events
    names. Garbage fields name nothing (type() first: a malformed field may be unhashable);
    the core reports them."""
    if kind == "accounts":
        return set(), set(), _valid_ids([getattr(a, "id", 0) for a in events])
    # One compiled pass over the events: this runs over every event of every plain batch,
    # 8189 at a time.
    return transfer_names(events)


class GroupLoader:
    """Reads (and locks) stored state into the group's applier, each name once.

    Within one call, pending before accounts, each in id order. A unit may load in several
    calls, out of that order: harmless, since a group with units runs alone among the
    writers (on PostgreSQL it holds the writers' lock exclusively and the clock row's lock
    before it locks anything), so no other writer holds any of these rows meanwhile.
    """

    def __init__(self, txn: WriteTransaction) -> None:
        self.txn = txn
        self._accounts: set[int] = set()
        self._transfers: set[int] = set()
        self._pending: set[int] = set()

    def view(
        self,
        transfer_ids: Iterable[int],
        pending_ids: Iterable[int],
        account_ids: Iterable[int],
        *,
        valid: bool = False,
    ) -> LedgerView:
        """The stored state of the names not loaded before (invalid ids are skipped; with
        ``valid``, the caller passes sets of valid ids only, as :func:`event_names` makes)."""
        if valid:
            transfer_new = set(transfer_ids) - self._transfers
            pending_new = set(pending_ids) - self._pending
            account_new = set(account_ids)
        else:
            transfer_new = _valid_ids(transfer_ids) - self._transfers
            pending_new = _valid_ids(pending_ids) - self._pending
            account_new = _valid_ids(account_ids)
        txn = self.txn
        pending = txn.lock_pending(sorted(pending_new)) if pending_new else {}
        wanted = (transfer_new | pending_new) - self._transfers
        transfers = txn.transfers(wanted) if wanted else {}
        failed = txn.failed(transfer_new) if transfer_new else {}
        for p in transfers.values():
            if p.id in pending_new:
                account_new.add(p.debit_account_id)
                account_new.add(p.credit_account_id)
        account_new -= self._accounts
        accounts = txn.lock_accounts(sorted(account_new)) if account_new else {}
        self._transfers |= wanted
        self._pending |= pending_new
        self._accounts |= account_new
        return LedgerView(accounts, transfers, pending, failed)

    def view_for_events(self, kind: str, events: Sequence[Any]) -> LedgerView:
        """The stored state a batch of events names."""
        return self.view(*event_names(kind, events), valid=True)


class UnitContext:
    """What a write unit may do: read the ledger's working state, apply events, and read
    and write the platform's own tables, all in the group's transaction.

    SQL uses ``?`` placeholders on both stores.
    """

    def __init__(
        self,
        loader: GroupLoader,
        applier: BatchApplier,
        timestamp_first: int,
        events_max: int,
        now_ns: int,
        group_timestamp: int | None = None,
    ) -> None:
        self._loader = loader
        self._applier = applier
        self._timestamp = timestamp_first
        self._events_left = events_max
        self.now_ns = now_ns
        # The group's first reserved ledger timestamp: the same for every unit of the group,
        # and greater than that of every group committed before (the clock row is locked
        # from the reservation until the commit). Rows that readers must see in commit
        # order (the outbox) are ordered by it; ``now_ns`` (the clock's reading) is not
        # unique across groups.
        self.group_timestamp = timestamp_first if group_timestamp is None else group_timestamp

    # ----------------------------------------------------------------- the ledger

    def accounts(self, account_ids: Collection[int]) -> dict[int, Account]:
        """The accounts that exist among ``account_ids``, as this group left them (locked)."""
        self._applier.load(self._loader.view((), (), account_ids))
        return _existing(account_ids, self._applier.account)

    def transfers(self, transfer_ids: Collection[int]) -> dict[int, Transfer]:
        """The transfers that exist among ``transfer_ids`` (committed or earlier in the group)."""
        self._applier.load(self._loader.view(transfer_ids, (), ()))
        return _existing(transfer_ids, self._applier.transfer)

    def pending_state(self, transfer_id: int) -> PendingState | None:
        self._applier.load(self._loader.view((), (transfer_id,), ()))
        return self._applier.pending_state(transfer_id)

    def create_accounts(self, events: Sequence[Account]) -> list[CreateAccountStatus]:
        self._applier.load(self._loader.view_for_events("accounts", events))
        return self._applier.create_accounts(events, self._take(len(events)))

    def create_transfers(self, events: Sequence[Transfer]) -> list[CreateTransferStatus]:
        self._applier.load(self._loader.view_for_events("transfers", events))
        return self._applier.create_transfers(events, self._take(len(events)))

    def _take(self, count: int) -> int:
        if count > self._events_left:
            raise UnitEventsExceededError(
                f"the unit declared {self._events_left} more events, submitted {count}"
            )
        first = self._timestamp
        self._timestamp += count
        self._events_left -= count
        return first

    # ----------------------------------------------------------------- platform tables

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; returns the number of rows it changed."""
        return self._loader.txn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._loader.txn.executemany(sql, rows)

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._loader.txn.fetch(sql, params)
