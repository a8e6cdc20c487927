"""The ledger's shell: group commit, timestamps, pending expiry and queries.

Callers on any thread submit batches; one writer thread drains a bounded queue, merges the
requests that arrived together (up to ``GROUP_EVENTS_MAX`` events, waiting at most
``GROUP_WAIT_MAX_S`` for more), loads what they name, applies them with the pure core and
commits them in one database transaction. Only then does each caller get its own statuses:
an answer means durable. The cost of a commit (an fsync) is paid once per group, not once
per payment, and a hot account is read and written once per group.
"""

from __future__ import annotations

import gc
import logging
import queue
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from centime.clock import Clock, SystemClock
from centime.limits import (
    BATCH_EVENTS_MAX,
    COMMIT_WAIT_MAX_S,
    EXPIRY_INTERVAL_S,
    EXPIRY_SWEEP_MAX,
    GROUP_EVENTS_MAX,
    GROUP_RETRIES_MAX,
    GROUP_WAIT_MAX_S,
    OVERLAP_RACES_MAX,
    QUERY_LIMIT_MAX,
    WRITER_QUEUE_REQUESTS_MAX,
)

from .core import TIMESTAMP_MAX, BatchApplier, Changes, LedgerView
from .errors import OverlapLostError, TransientStoreError
from .model import (
    Account,
    AccountBalance,
    AccountFilter,
    CreateAccountStatus,
    CreateTransferStatus,
    PendingState,
    Transfer,
)
from .port import OverlappingTransaction, OverlappingWrites
from .rebase import bounds_hold, rebased
from .shift import expiry_decision_may_change, shifted
from .units import GroupLoader, Overlap, UnitContext, WriteUnit, event_names, valid_id

if TYPE_CHECKING:
    from .port import AuditWrite, LedgerStore

__all__ = ["AuditHook", "BatchTooLargeError", "Ledger", "LedgerBusyError", "LedgerClosedError"]

T = TypeVar("T")

log = logging.getLogger("centime.ledger")


class BatchTooLargeError(ValueError):
    """A batch above ``BATCH_EVENTS_MAX`` events; refused whole, nothing applied."""


class LedgerClosedError(RuntimeError):
    """The ledger was closed; nothing more is accepted."""


class LedgerBusyError(RuntimeError):
    """The writer's queue is full: the request was not queued (back-pressure)."""


@dataclass(slots=True)
class _Request:
    kind: str  # "accounts", "transfers", "unit", or "sweep" (only an expiry sweep)
    events: Sequence[Any]
    future: Future[Any] = field(default_factory=Future)
    unit: WriteUnit[Any] | None = None
    events_max: int = 0  # a unit's declared bound on the ledger events it submits
    overlap: Overlap | None = None  # a unit's leave to overlap other processes' groups

    @property
    def size(self) -> int:
        """The timestamps (and group room) the request takes."""
        return self.events_max if self.kind == "unit" else len(self.events)


class _RunAloneError(Exception):
    """An overlapping group must run again alone among the writers: what it read unlocked
    changed in a way it cannot move its changes over, or one of its units raised (answered
    only from a run that read everything locked)."""


class _UnitFailedError(Exception):
    """A unit raised: the group rolls back and runs again without it."""

    def __init__(self, request: _Request, error: BaseException) -> None:
        super().__init__(str(error))
        self.request = request
        self.error = error


_STOP: Final = object()


class AuditHook(Protocol):
    """The tamper-evident log (``centime.audit.AuditLog``), called inside each group's
    transaction so that the log and the ledger commit together or not at all."""

    def append(self, txn: AuditWrite, changes: Changes, timestamps: range, now_ns: int) -> None: ...

    def idle(self, txn: AuditWrite, now_ns: int) -> None: ...


class Ledger:
    """The ledger engine over a store. Thread-safe; start it, submit batches, close it.

    >>> ledger = Ledger(SqliteStore.open("ledger.db"))   # doctest: +SKIP
    >>> ledger.create_accounts([Account(1, "USD", code=1)])  # doctest: +SKIP
    [<CreateAccountStatus.CREATED: 'created'>]
    """

    def __init__(
        self,
        store: LedgerStore,
        clock: Clock | None = None,
        *,
        group_events_max: int = GROUP_EVENTS_MAX,
        group_wait_s: float = GROUP_WAIT_MAX_S,
        queue_requests_max: int = WRITER_QUEUE_REQUESTS_MAX,
        expiry_interval_s: float = EXPIRY_INTERVAL_S,
        audit: AuditHook | None = None,
    ) -> None:
        self.store = store
        # Groups of plain batches overlap other processes' on such a store (PostgreSQL).
        self._overlapping = _overlapping_writes(store)
        self.clock = clock or SystemClock()
        # None: no audit log. The composition root decides (centime.audit.audit_from_env):
        # the engine does not depend on the audit package.
        self.audit = audit
        self._group_events_max = group_events_max
        self._group_wait_s = group_wait_s
        self._expiry_interval_s = expiry_interval_s
        self._queue: queue.Queue[_Request | object] = queue.Queue(queue_requests_max)
        self._carry: _Request | None = None
        self._closed = threading.Event()
        self._writer = threading.Thread(target=self._run, name="centime-ledger-writer")
        self._writer.daemon = True
        self._writer.start()

    # ----------------------------------------------------------------- writes

    def create_accounts(self, batch: Sequence[Account]) -> list[CreateAccountStatus]:
        """Create accounts; one status per event, in order, once the batch is durable."""
        return self.submit("accounts", batch).result(COMMIT_WAIT_MAX_S)

    def create_transfers(self, batch: Sequence[Transfer]) -> list[CreateTransferStatus]:
        """Create transfers; one status per event, in order, once the batch is durable."""
        return self.submit("transfers", batch).result(COMMIT_WAIT_MAX_S)

    def submit(self, kind: str, batch: Sequence[Any]) -> Future[list[Any]]:
        """Queue a batch for the writer and return the future of its statuses (for async
        callers: ``await asyncio.wrap_future(ledger.submit(...))``)."""
        if kind not in ("accounts", "transfers"):
            raise ValueError(f"unknown batch kind {kind!r}")
        if len(batch) > BATCH_EVENTS_MAX:
            raise BatchTooLargeError(
                f"a batch holds at most {BATCH_EVENTS_MAX} events, got {len(batch)}"
            )
        request = _Request(kind, list(batch))
        if not request.events:
            request.future.set_result([])
            return request.future
        if self._closed.is_set():
            raise LedgerClosedError("the ledger is closed")
        self._queue.put(request, timeout=COMMIT_WAIT_MAX_S)
        return request.future

    def run(self, unit: WriteUnit[T], events_max: int, overlap: Overlap | None = None) -> T:
        """Run ``unit`` in the writer, inside a group's transaction, and return its result
        once that transaction committed (see :mod:`centime.ledger.units`). ``events_max``
        bounds the ledger events it may submit. An exception in the unit rolls back its
        work only and is raised here."""
        future = self.submit_unit(unit, events_max, overlap=overlap)
        return future.result(COMMIT_WAIT_MAX_S)  # type: ignore[no-any-return]

    def submit_unit(
        self,
        unit: WriteUnit[Any],
        events_max: int,
        *,
        wait: bool = True,
        overlap: Overlap | None = None,
    ) -> Future[Any]:
        """Queue a unit and return the future of its result (for async callers). With
        ``wait=False`` a full queue raises :class:`LedgerBusyError` at once instead of
        waiting for room (an event loop must never block). ``overlap``: the unit's leave to
        run beside other processes' groups (:class:`~centime.ledger.units.Overlap`; only a
        store with overlapping writers uses it)."""
        if type(events_max) is not int or not 0 <= events_max <= BATCH_EVENTS_MAX:
            raise BatchTooLargeError(
                f"a unit submits at most {BATCH_EVENTS_MAX} events, declared {events_max}"
            )
        if self._closed.is_set():
            raise LedgerClosedError("the ledger is closed")
        request = _Request("unit", [], unit=unit, events_max=events_max, overlap=overlap)
        try:
            self._queue.put(request, block=wait, timeout=COMMIT_WAIT_MAX_S if wait else None)
        except queue.Full:
            raise LedgerBusyError(
                f"the writer's queue is full ({self._queue.maxsize} requests)"
            ) from None
        return request.future

    def expire_due(self) -> None:
        """Run an expiry sweep now and wait for it (the writer also runs one every second)."""
        if self._closed.is_set():
            raise LedgerClosedError("the ledger is closed")
        request = _Request("sweep", [])
        self._queue.put(request, timeout=COMMIT_WAIT_MAX_S)
        request.future.result(COMMIT_WAIT_MAX_S)

    def close(self) -> None:
        """Finish what was queued, stop the writer and close the store."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._queue.put(_STOP)
        self._writer.join()
        self.store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- reads

    def lookup_accounts(self, ids: Sequence[int]) -> list[Account]:
        return self.store.lookup_accounts(_bounded_ids(ids))

    def lookup_transfers(self, ids: Sequence[int]) -> list[Transfer]:
        return self.store.lookup_transfers(_bounded_ids(ids))

    def pending_states(self, ids: Sequence[int]) -> list[PendingState]:
        return self.store.pending_states(_bounded_ids(ids))

    def get_account_transfers(self, query: AccountFilter) -> list[Transfer]:
        bounded = _bounded_filter(query)
        return self.store.get_account_transfers(bounded) if bounded else []

    def get_account_balances(self, query: AccountFilter) -> list[AccountBalance]:
        bounded = _bounded_filter(query)
        return self.store.get_account_balances(bounded) if bounded else []

    def balance_at(self, account_id: int, timestamp: int) -> AccountBalance | None:
        if not valid_id(account_id) or type(timestamp) is not int or timestamp < 0:
            return None
        return self.store.balance_at(account_id, min(timestamp, TIMESTAMP_MAX))

    # ----------------------------------------------------------------- the writer

    def _run(self) -> None:
        while True:
            group = self._collect_group()
            if group is None:
                return
            # Paused for the whole group, write and answers included, not only the core: by
            # the time the collector may run again the group's records are freed, so the
            # allocation count it runs on is back near zero. Pausing only the core left ~113
            # collections (130-160 ms) per 100,000 transfers at batch 8189; this leaves none.
            with _gc_paused():
                self._commit_group(group)

    def _collect_group(self) -> list[_Request] | None:
        """Wait for a request (or the expiry interval), then take whatever else arrives
        within the group wait, up to the group's event limit; on a store whose groups
        overlap, only requests that overlap like the first (:func:`_overlaps`)."""
        first = self._carry
        self._carry = None
        if first is None:
            try:
                item = self._queue.get(timeout=self._expiry_interval_s)
            except queue.Empty:
                return []  # an idle tick: the group is just an expiry sweep
            if not isinstance(item, _Request):
                return None  # _STOP
            first = item
        group: list[_Request] = [first]
        size = first.size
        deadline = time.monotonic() + self._group_wait_s
        while size < self._group_events_max:
            remaining = deadline - time.monotonic()
            try:
                if remaining > 0:
                    item = self._queue.get(timeout=remaining)
                else:
                    item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                self._queue.put(_STOP)  # finish this group, stop at the next collect
                break
            request: _Request = item  # type: ignore[assignment]
            if size + request.size > self._group_events_max or (
                self._overlapping is not None and _overlaps(request) != _overlaps(first)
            ):
                # Too large, or (PostgreSQL) a unit that runs alone among units that would
                # overlap other processes' groups, or the other way round: the next group.
                # One such unit would make the whole group run alone, holding every other
                # writer off (a worker's tick beside a batch of 8,189 payments).
                self._carry = request
                break
            group.append(request)
            size += request.size
        return group

    def _commit_group(self, group: list[_Request]) -> None:
        try:
            results, changes = self._apply_group_with_retries(group)
        except BaseException as error:  # the whole group failed: nothing was committed
            log.exception("ledger group of %d requests failed", len(group))
            for request in group:
                if not request.future.done():
                    request.future.set_exception(error)
            return
        self.store.commit_changes(changes)
        for request, result in zip(group, results, strict=True):
            request.future.set_result(result)

    def _apply_group_with_retries(self, group: list[_Request]) -> tuple[list[list[Any]], Changes]:
        """Apply the group; when another writer won a race, start again from a fresh read
        (the core is pure, so a retry is simply a new run on the new state). A unit that
        raised is answered with its error and the group runs again without it."""
        attempt = 0
        alone = False
        while True:
            try:
                return self._apply_group(group, alone)
            except _RunAloneError:
                alone = True
                continue
            except _UnitFailedError as failed:
                failed.request.future.set_exception(failed.error)
                index = group.index(failed.request)
                group[index] = _Request("sweep", [])  # keeps the answers aligned
                continue
            except TransientStoreError as lost:
                if isinstance(lost, OverlapLostError) and not alone:
                    alone = True
                    continue
                attempt += 1
                if attempt == GROUP_RETRIES_MAX:
                    raise
                if attempt >= OVERLAP_RACES_MAX:
                    alone = True  # an overlapping group that keeps losing runs alone
                log.info("ledger group lost a race with another writer; retrying")
                time.sleep(0.001 * attempt)

    def _apply_group(
        self, group: list[_Request], alone: bool = False
    ) -> tuple[list[list[Any]], Changes]:
        """One transaction: expire what is due, then apply each request in arrival order.

        A group of plain batches on a store whose writers overlap (PostgreSQL) reserves its
        timestamps after the core (:meth:`_apply_overlapping`). Any other group reserves
        them before anything is locked or read, in a transaction that runs alone among the
        writers: a unit may lock accounts it only learns about from what it read, in any
        order, and its read-check-write of the platform's tables must not interleave with
        another writer's.
        """
        overlapping = self._overlapping
        if (
            overlapping is not None
            and not alone
            and all(r.kind != "unit" or r.overlap is not None for r in group)
        ):
            return self._apply_overlapping(overlapping, group)
        with self.store.write_transaction() as txn:
            now_ns = self.clock.now_ns()
            due = txn.due_pending(now_ns, EXPIRY_SWEEP_MAX)
            count = len(due) + sum(r.size for r in group)
            if count == 0 and not any(r.kind == "unit" for r in group):
                if self.audit is not None:
                    self.audit.idle(txn, now_ns)
                return [[] for _ in group], Changes()
            # At least one timestamp even for units that submit no event: that locks the
            # clock, so a unit's read-check-write of its own rows runs alone.
            count = max(count, 1)
            timestamp = txn.reserve_timestamps(count, now_ns)
            loader = GroupLoader(txn)
            applier = BatchApplier(_load_view(loader, group, due))
            results = _apply_requests(loader, applier, group, due, timestamp, now_ns)
            changes = applier.changes()
            if self.audit is not None:  # after reserve_timestamps: under the clock lock
                self.audit.append(txn, changes, range(timestamp, timestamp + count), now_ns)
            txn.write(changes)
        return results, changes

    def _apply_overlapping(
        self, store: OverlappingWrites, group: list[_Request]
    ) -> tuple[list[list[Any]], Changes]:
        """A group of plain batches and of units that declared an
        :class:`~centime.ledger.units.Overlap`, overlapping other processes' groups until it
        reserves its timestamps. It locks what it names (pending transfers, then accounts,
        each in id order, the units' declared accounts with the batches'), runs the core and
        the units on the timestamps the store would hand out if nobody committed meanwhile,
        runs the units' end checks, locks the units' deferred accounts (in id order) and
        moves its changes onto them as they are now (centime.ledger.rebase), then reserves
        the real timestamps (the clock row's lock, held to the commit, waits for the writers
        before it) and shifts the changes to them. The locked rows cannot change before the
        commit; what it read as absent, the store checks again under the clock's lock. When
        the deferred accounts changed in a way the changes cannot be moved over, or a unit
        raised, the group runs again alone (:class:`_RunAloneError`)."""
        lock_first: set[int] = set()
        deferred: set[int] = set()
        for request in group:
            if request.overlap is not None:
                lock_first |= request.overlap.lock_accounts
                deferred |= request.overlap.deferred_accounts
        deferred -= lock_first
        has_units = any(r.kind == "unit" for r in group)
        with store.overlapping_transaction() as txn:
            now_ns = self.clock.now_ns()
            due = txn.due_pending(now_ns, EXPIRY_SWEEP_MAX)
            count = len(due) + sum(r.size for r in group)
            if count == 0 and not has_units:
                if self.audit is not None:
                    self.audit.idle(txn, now_ns)
                return [[] for _ in group], Changes()
            count = max(count, 1)
            loader = GroupLoader(txn, deferred, txn.read_accounts, lock_first)
            view = _load_view(loader, group, due, lock_first)
            # The units' clock is read once the accounts they declared are locked: a unit
            # that waited for another process's group then sees a time after that group's
            # (a mandate's day, a promotion's expiry; docs/ledger.md).
            now_ns = max(now_ns, self.clock.now_ns())
            provisional = txn.provisional_timestamp(now_ns)
            applier = BatchApplier(view)
            try:
                results = _apply_requests(
                    loader, applier, group, due, provisional, now_ns, overlapping=True
                )
            except _UnitFailedError as failed:
                raise _RunAloneError(str(failed)) from failed
            for check in loader.at_end:
                check()
            changes = applier.changes()
            if loader.deferred_read:
                changes = _rebased_onto_current(txn, loader, group, results, changes)
            timestamp = txn.reserve_timestamps(count, now_ns)
            pending = loader.pending_states.values()
            if expiry_decision_may_change(pending, provisional, timestamp, count):
                raise TransientStoreError("a pending transfer expired while the group waited")
            changes = shifted(changes, timestamp - provisional)
            for write in loader.after_timestamps:
                write(timestamp)
            if self.audit is not None:  # after reserve_timestamps: under the clock lock
                self.audit.append(txn, changes, range(timestamp, timestamp + count), now_ns)
            txn.write(changes)
        return results, changes


_APPLIED: Final = (CreateTransferStatus.CREATED, CreateTransferStatus.EXISTS)


def _rebased_onto_current(
    txn: OverlappingTransaction,
    loader: GroupLoader,
    group: list[_Request],
    results: list[Any],
    changes: Changes,
) -> Changes:
    """Lock the deferred accounts the group read (ids ascending) and move its changes onto
    them as they are now: when what its units decided on their balances still holds
    (``bounds_hold``) and the core would decide every event the same (``rebased``);
    otherwise the group runs again alone."""
    read = loader.deferred_read
    current = txn.lock_accounts(sorted(read))
    if not bounds_hold(loader.bounds, read, current):
        raise _RunAloneError("a deferred balance a unit decided on moved out of its bound")
    if all(current.get(i) == account for i, account in read.items()):
        return changes  # nobody wrote to them meanwhile
    refused = loader.refused or any(
        status not in _APPLIED
        for request, statuses in zip(group, results, strict=True)
        if request.kind == "transfers"
        for status in statuses
    )
    moved = rebased(changes, read, current, refused=refused)
    if moved is None:
        raise _RunAloneError("a deferred account changed beyond a rebase")
    return moved


def _overlaps(request: _Request) -> bool:
    """Whether ``request`` may run in a group that overlaps other processes' groups."""
    return request.kind != "unit" or request.overlap is not None


def _overlapping_writes(store: LedgerStore) -> OverlappingWrites | None:
    """The store, when its class has overlapping transactions. A wrapper that forwards
    attributes through ``__getattr__`` (a test's) wraps ``write_transaction`` alone: its
    groups keep to that."""
    if isinstance(store, OverlappingWrites) and hasattr(type(store), "overlapping_transaction"):
        return store
    return None


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while the writer handles a group.

    The core creates a record per transfer and one per changed account, and none of them
    forms a cycle; left on, the collector would scan the growing heap dozens of times per
    8189-event group (a fifth of the core's time, measured when it made three records per
    transfer). Reference counting still frees everything as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _apply_requests(
    loader: GroupLoader,
    applier: BatchApplier,
    group: list[_Request],
    due: list[PendingState],
    timestamp: int,
    now_ns: int,
    *,
    overlapping: bool = False,
) -> list[Any]:
    """Expire what is due, then apply each request in arrival order, each with its own
    consecutive timestamps (a unit's unused ones are left as a gap)."""
    group_timestamp = timestamp
    timestamp += applier.expire(due, timestamp)
    results: list[Any] = []
    for request in group:
        if request.kind == "accounts":
            results.append(applier.create_accounts(request.events, timestamp))
        elif request.kind == "transfers":
            results.append(applier.create_transfers(request.events, timestamp))
        elif request.kind == "unit" and request.unit is not None:
            context = UnitContext(
                loader,
                applier,
                timestamp,
                request.events_max,
                now_ns,
                group_timestamp,
                overlapping=overlapping,
            )
            try:
                results.append(request.unit(context))
            except TransientStoreError:
                raise
            except Exception as error:
                log.warning("a write unit raised; its group runs again without it")
                raise _UnitFailedError(request, error) from error
        else:
            results.append([])
        timestamp += request.size
    return results


def _load_view(
    loader: GroupLoader,
    requests: list[_Request],
    due: list[PendingState],
    accounts_first: Collection[int] = (),
) -> LedgerView:
    """Read (and lock) everything the group's plain batches name, and ``accounts_first``
    (the accounts overlapping units declared), in the lock order pending -> accounts.
    Units load what else they name as they go."""
    transfer_ids: set[int] = set()
    pending_ids: set[int] = {state.transfer_id for state in due}
    account_ids: set[int] = set(accounts_first)
    for request in requests:
        if request.kind not in ("accounts", "transfers"):
            continue
        transfers, pending, accounts = event_names(request.kind, request.events)
        transfer_ids.update(transfers)
        pending_ids.update(pending)
        account_ids.update(accounts)
    return loader.view(transfer_ids, pending_ids, account_ids, valid=True)


def _bounded_filter(query: AccountFilter) -> AccountFilter | None:
    """The query with every value within what a store column holds, or None when no record
    can match it (an impossible id, an empty range): such a query finds nothing."""
    values = (query.account_id, query.limit, query.timestamp_min, query.timestamp_max)
    if any(type(v) is not int for v in values) or not valid_id(query.account_id):
        return None
    if query.limit <= 0 or query.timestamp_min > TIMESTAMP_MAX or query.timestamp_max < 0:
        return None
    return replace(
        query,
        limit=min(query.limit, QUERY_LIMIT_MAX),
        timestamp_min=max(query.timestamp_min, 0),
        timestamp_max=min(query.timestamp_max, TIMESTAMP_MAX),
    )


def _bounded_ids(ids: Sequence[int]) -> list[int]:
    if len(ids) > QUERY_LIMIT_MAX:
        raise BatchTooLargeError(f"look up at most {QUERY_LIMIT_MAX} ids at once")
    return [i for i in ids if valid_id(i)]
