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
from dataclasses import dataclass
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
from .rebase import AvailableBound

if TYPE_CHECKING:
    from .port import WriteTransaction

__all__ = [
    "GroupLoader",
    "Overlap",
    "UnitContext",
    "UnitEventsExceededError",
    "WriteUnit",
    "event_names",
    "valid_id",
]

T = TypeVar("T")
_CREATED = CreateTransferStatus.CREATED
_EXISTS = CreateTransferStatus.EXISTS
WriteUnit = Callable[["UnitContext"], T]


@dataclass(frozen=True, slots=True)
class Overlap:
    """A write unit's declaration that its group may overlap other writer processes'
    groups (PostgreSQL), and what it touches.

    Declaring it is the unit's promise that what it reads of the platform's tables stays
    true beside other writers: rows it checks and writes are guarded by a row lock it takes
    (here: ``lock_accounts``, locked in id order with the group's others before any unit
    runs), by a key that refuses a second insert (the store then runs the group again), or
    are checked again at the end (:meth:`UnitContext.at_end`). ``deferred_accounts``: accounts
    the unit moves money through whose balances it reads, if at all, through
    :meth:`UnitContext.deferred_accounts`, stating the range its decisions hold for (a
    payment's payers, merchant and fee revenue accounts); an overlapping group reads them
    unlocked and locks them only before its timestamps (centime.ledger.rebase). A unit that
    declares nothing runs alone.
    """

    lock_accounts: frozenset[int] = frozenset()
    deferred_accounts: frozenset[int] = frozenset()


class UnitEventsExceededError(RuntimeError):
    """A unit submitted more ledger events than it declared (a bug in the unit)."""


class DeferredAccountReadError(RuntimeError):
    """A unit read the balance of an account it declared deferred (a bug in the unit)."""


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


def _without(ids: set[int], known: set[int]) -> set[int]:
    """``ids`` less ``known``, in place. A group's first view knows nothing yet, and a set
    difference builds a new set even then (0.4 ms for a group's 8189 transfer ids)."""
    if known:
        ids -= known
    return ids


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
    calls, out of that order: harmless in a group that runs alone among the writers (on
    PostgreSQL it holds the writers' lock exclusively and the clock row's lock before it
    locks anything), so no other writer holds any of these rows meanwhile. A group that
    overlaps other processes' (units that declared an :class:`Overlap`) locks the units'
    declared accounts with the batches' in one call first, so its units' own calls find
    them loaded; an account locked later out of order can only make two such groups
    deadlock, which PostgreSQL breaks and the engine retries. ``deferred`` accounts are
    read without a lock (``read_unlocked``) and kept as read in ``deferred_read``; in such a
    group the accounts of the pending transfers it loads (to expire or resolve them) join
    them, but for ``lock_first`` (locked early in every group that names them).
    """

    def __init__(
        self,
        txn: WriteTransaction,
        deferred: Collection[int] = (),
        read_unlocked: Callable[[Collection[int]], dict[int, Account]] | None = None,
        lock_first: Collection[int] = (),
    ) -> None:
        self.txn = txn
        self._lock_first = frozenset(lock_first)  # locked before any unit runs, never deferred
        self._read_unlocked = read_unlocked
        self._accounts: set[int] = set()
        self._transfers: set[int] = set()
        self._pending: set[int] = set()
        # Accounts read without a lock (an overlapping group's deferred accounts), as read;
        # locked again before the timestamps (Ledger._apply_overlapping).
        self.deferred = frozenset(deferred)
        self.deferred_read: dict[int, Account] = {}
        # What units decided on deferred balances holds for (UnitContext.deferred_accounts).
        self.bounds: list[AvailableBound] = []
        # A unit's transfer was refused (centime.ledger.rebase: a refusal may have read an
        # account the group cannot move its changes over).
        self.refused = False
        self.pending_states: dict[int, PendingState] = {}  # every one loaded (locked)
        # Shared by the units of one run of the group (see UnitContext.group_state).
        self.group_state: dict[Any, Any] = {}
        self.at_end: list[Callable[[], None]] = []
        self.after_timestamps: list[Callable[[int], None]] = []

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
            transfer_new = _without(set(transfer_ids), self._transfers)
            pending_new = _without(set(pending_ids), self._pending)
            account_new = set(account_ids)
        else:
            transfer_new = _without(_valid_ids(transfer_ids), self._transfers)
            pending_new = _without(_valid_ids(pending_ids), self._pending)
            account_new = _valid_ids(account_ids)
        txn = self.txn
        pending = txn.lock_pending(sorted(pending_new)) if pending_new else {}
        self.pending_states.update(pending)
        wanted = _without(
            transfer_new | pending_new if pending_new else set(transfer_new), self._transfers
        )
        transfers = txn.transfers(wanted) if wanted else {}
        failed = txn.failed(transfer_new) if transfer_new else {}
        pending_accounts: set[int] = set()
        for p in transfers.values():
            if p.id in pending_new:
                pending_accounts.add(p.debit_account_id)
                pending_accounts.add(p.credit_account_id)
        account_new |= pending_accounts
        account_new -= self._accounts
        if self._read_unlocked is not None and pending_accounts:
            # An overlapping group defers the accounts of the pending transfers it resolves
            # (a due expiry on a payer's wallet): locked here, early, they could be locked
            # late in another overlapping group that defers them, and the two would wait
            # on each other (docs/ledger.md, the lock order). Resolving moves their pending
            # fields, so the rebase refuses them once they moved: the group runs alone.
            self.deferred |= pending_accounts & account_new - self._lock_first
        deferred = account_new & self.deferred
        if deferred and self._read_unlocked is not None:
            account_new -= deferred
            unlocked = self._read_unlocked(sorted(deferred))
            self.deferred_read.update(unlocked)
            self._accounts |= deferred
        else:
            unlocked = {}
        accounts = txn.lock_accounts(sorted(account_new)) if account_new else {}
        if unlocked:
            accounts = {**accounts, **unlocked}
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
        overlapping: bool = False,
    ) -> None:
        self._loader = loader
        self._applier = applier
        self._timestamp = timestamp_first
        self._events_left = events_max
        self.now_ns = now_ns
        # The group's first reserved ledger timestamp (provisional in a group that overlaps
        # other processes': write such rows through after_timestamps): the same for every
        # unit of the group, and greater than that of every group committed before (the
        # clock row is locked from the reservation until the commit). Rows that readers
        # must see in commit order (the outbox) are ordered by it; ``now_ns`` (the clock's
        # reading) is not unique across groups.
        self.group_timestamp = timestamp_first if group_timestamp is None else group_timestamp
        # True when the group overlaps other writer processes' (PostgreSQL, units that
        # declared an Overlap): its timestamps are provisional until the end, and what the
        # unit reads unlocked may change before it commits.
        self.overlapping = overlapping
        # Index in the loader's bounds of the bound this unit stated for each account.
        self._bound_at: dict[int, int] = {}

    @property
    def group_state(self) -> dict[Any, Any]:
        """A dict the units of one run of the group share (new for every run)."""
        return self._loader.group_state

    def at_end(self, check: Callable[[], None]) -> None:
        """Run ``check`` once every unit of the group has run, before its timestamps are
        reserved (in an overlapping group; at once otherwise). It may lock rows, check what
        the unit read and write; raising ``TransientStoreError`` runs the group again."""
        if self.overlapping:
            self._loader.at_end.append(check)
        else:
            check()

    def after_timestamps(self, write: Callable[[int], None]) -> None:
        """Call ``write`` with the group's first timestamp (``group_timestamp``) once it is
        reserved: at once, unless the group overlaps others (its timestamps are then known
        only at its end, after every unit ran)."""
        if self.overlapping:
            self._loader.after_timestamps.append(write)
        else:
            write(self.group_timestamp)

    # ----------------------------------------------------------------- the ledger

    def accounts(self, account_ids: Collection[int]) -> dict[int, Account]:
        """The accounts that exist among ``account_ids``, as this group left them (locked)."""
        if self._loader.deferred.intersection(account_ids):
            raise DeferredAccountReadError(
                "a unit read the balance of an account it declared deferred"
            )
        self._applier.load(self._loader.view((), (), account_ids))
        return _existing(account_ids, self._applier.account)

    def deferred_accounts(self, account_ids: Collection[int]) -> dict[int, Account]:
        """The accounts that exist among ``account_ids``, as this group left them, deferred
        ones included: read without a lock in a group that overlaps other processes', so
        another writer may change them before the commit. Each deferred one is then bound
        to exactly the ``available`` seen (the group runs again alone if it moved at all);
        :meth:`bound_available` widens that to the range the unit's decisions hold for."""
        self._applier.load(self._loader.view((), (), account_ids))
        found = _existing(account_ids, self._applier.account)
        loader = self._loader
        if self.overlapping:
            for account_id, account in found.items():
                if account_id in loader.deferred_read:
                    seen = account.available
                    self._bound_at[account_id] = len(loader.bounds)
                    loader.bounds.append(AvailableBound(account_id, seen, seen, seen))
        return found

    def bound_available(self, account_id: int, low: int | None, high: int | None) -> None:
        """The unit's decisions hold while the ``available`` of ``account_id`` (read by
        :meth:`deferred_accounts`) lies in ``low..high`` (None: unbounded), as it saw it.
        Nothing to do for an account read locked."""
        index = self._bound_at.get(account_id)
        if index is None:
            return
        bound = self._loader.bounds[index]
        if (low is not None and bound.seen < low) or (high is not None and bound.seen > high):
            raise ValueError(f"the available seen, {bound.seen}, lies outside {low}..{high}")
        self._loader.bounds[index] = bound._replace(low=low, high=high)

    def existing_accounts(self, account_ids: Collection[int]) -> set[int]:
        """Which of ``account_ids`` exist (committed or created earlier in the group). Unlike
        :meth:`accounts` it shows no balance, so a deferred account stays deferred."""
        self._applier.load(self._loader.view((), (), account_ids))
        return set(_existing(account_ids, self._applier.account))

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
        statuses = self._applier.create_transfers(events, self._take(len(events)))
        if any(s is not _CREATED and s is not _EXISTS for s in statuses):
            self._loader.refused = True
        return statuses

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
