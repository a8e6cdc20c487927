"""The ledger shell (``centime.ledger.engine.Ledger``) against both stores.

Group commit, batch limits, garbage input, all-failing batches, engine timestamps (also across
a restart with a clock that went backwards), pending expiry with a fake clock (on demand, by
the writer's own sweep, and deterministically), all through the public API.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from centime.clock import FakeClock
from centime.ledger.engine import BatchTooLargeError, Ledger
from centime.ledger.model import (
    AMOUNT_POST_FULL,
    Account,
    AccountFilter,
    PendingStatus,
    Transfer,
)
from centime.limits import BATCH_EVENTS_MAX, QUERY_LIMIT_MAX
from centime.store import LedgerStore, open_store

from ..flags import DMNEC, HISTORY, LINKED, NS, PENDING, POST, START_NS, VOID, A, S

SOURCE = 1  # no limits: funds everything
MERCHANT = 2  # no limits
EMPTY_WALLET = 3  # DMNEC, never funded
FEE = 4  # HISTORY

StoreFactory = Callable[[], LedgerStore]


def acct(account_id: int, flags: int = 0) -> Account:
    return Account(id=account_id, asset="USD", code=1, flags=flags)


def tr(transfer_id: int, dr: int, cr: int, amount: int, **fields: Any) -> Transfer:
    base: dict[str, Any] = {"asset": "USD", "code": 1}
    base.update(fields)
    return Transfer(
        id=transfer_id, debit_account_id=dr, credit_account_id=cr, amount=amount, **base
    )


def balances(account: Account) -> tuple[int, int, int, int]:
    return (
        account.debits_pending,
        account.debits_posted,
        account.credits_pending,
        account.credits_posted,
    )


def snapshot_balances(ledger: Ledger, ids: list[int]) -> dict[int, tuple[int, int, int, int]]:
    return {a.id: balances(a) for a in ledger.lookup_accounts(ids)}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START_NS)


@pytest.fixture
def ledger(store_factory: StoreFactory, clock: FakeClock) -> Iterator[Ledger]:
    # A long expiry interval: no idle sweep runs unless a test asks for one.
    engine = Ledger(store_factory(), clock, expiry_interval_s=3600)
    try:
        yield engine
    finally:
        engine.close()


def _base_accounts(ledger: Ledger) -> None:
    statuses = ledger.create_accounts(
        [acct(SOURCE), acct(MERCHANT), acct(EMPTY_WALLET, DMNEC), acct(FEE, HISTORY)]
    )
    assert statuses == [A.CREATED] * 4


# --------------------------------------------------------------------- group commit


class _CountingTransaction:
    """Delegates to a store transaction; records how many events each group reserved."""

    def __init__(self, inner: Any, sizes: list[int]) -> None:
        self._inner = inner
        self._sizes = sizes

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def reserve_timestamps(self, count: int, now_ns: int) -> int:
        self._sizes.append(count)
        first: int = self._inner.reserve_timestamps(count, now_ns)
        return first


class _GatedStore:
    """A store whose write transactions wait at a gate, so a test can fill the writer's
    queue before the writer collects its next group (no timing involved)."""

    def __init__(self, inner: LedgerStore) -> None:
        self._inner = inner
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.group_sizes: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @contextmanager
    def write_transaction(self) -> Iterator[Any]:
        self.entered.set()
        if not self.gate.wait(timeout=60):
            raise RuntimeError("gate never opened")
        with self._inner.write_transaction() as txn:
            yield _CountingTransaction(txn, self.group_sizes)


def _submit_while_writer_held(
    ledger: Ledger, store: _GatedStore, requests: list[list[Transfer]]
) -> list[list[Any]]:
    """Hold the writer inside the transaction of a blocker request, submit each request from a
    thread of its own, and let the writer go only once all of them are queued: the next group
    it collects is then fixed, whatever the scheduling. ``store.group_sizes`` ends up holding
    the blocker's group (1) and the groups that followed."""
    store.gate.clear()
    store.entered.clear()
    blocker = ledger.submit("transfers", [tr(10**12, SOURCE, MERCHANT, 1)])
    assert store.entered.wait(timeout=30)
    store.group_sizes.clear()

    queued = threading.Semaphore(0)
    results: dict[int, list[Any]] = {}
    errors: list[BaseException] = []

    def client(index: int) -> None:
        try:
            future = ledger.submit("transfers", requests[index])
            queued.release()
            results[index] = future.result(timeout=60)
        except BaseException as error:  # reported by the main thread
            errors.append(error)
            queued.release()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for _ in threads:
        assert queued.acquire(timeout=30)
    store.gate.set()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert blocker.result(timeout=60) == [S.CREATED]
    return [results[i] for i in range(len(requests))]


def test_group_commit_merges_requests_and_answers_each_caller(
    store_factory: StoreFactory, clock: FakeClock
) -> None:
    store = _GatedStore(store_factory())
    ledger = Ledger(store, clock, expiry_interval_s=3600)  # type: ignore[arg-type]
    try:
        _base_accounts(ledger)
        setup = ledger.create_transfers(
            [
                tr(100, SOURCE, MERCHANT, 50),  # resubmitted below: exists
                tr(101, EMPTY_WALLET, MERCHANT, 5),  # exceeds_credits: id stays failed
                tr(102, SOURCE, MERCHANT, 40, flags=PENDING),  # posted below
                tr(103, SOURCE, MERCHANT, 30, flags=PENDING),  # posted now, voided below
                tr(104, 0, 0, 30, pending_id=103, flags=POST),
            ]
        )
        assert setup == [S.CREATED, S.EXCEEDS_CREDITS, S.CREATED, S.CREATED, S.CREATED]
        before = snapshot_balances(ledger, [SOURCE, MERCHANT, EMPTY_WALLET, FEE])

        # One request per thread, each with a different expected answer.
        cases: list[tuple[Transfer, S]] = [
            (tr(200, SOURCE, MERCHANT, 7), S.CREATED),
            (tr(201, SOURCE, FEE, 11), S.CREATED),
            (tr(202, EMPTY_WALLET, MERCHANT, 1), S.EXCEEDS_CREDITS),
            (tr(203, SOURCE, SOURCE, 1), S.ACCOUNTS_MUST_BE_DIFFERENT),
            (tr(204, 999, MERCHANT, 1), S.DEBIT_ACCOUNT_NOT_FOUND),
            (tr(205, SOURCE, 999, 1), S.CREDIT_ACCOUNT_NOT_FOUND),
            (tr(206, SOURCE, MERCHANT, 0), S.AMOUNT_MUST_NOT_BE_ZERO),
            (tr(-207, SOURCE, MERCHANT, 1), S.MALFORMED),
            (tr(100, SOURCE, MERCHANT, 50), S.EXISTS),
            (tr(100, SOURCE, MERCHANT, 51), S.EXISTS_WITH_DIFFERENT_AMOUNT),
            (tr(101, EMPTY_WALLET, MERCHANT, 5), S.ID_ALREADY_FAILED),
            (tr(208, SOURCE, MERCHANT, 9, flags=PENDING), S.CREATED),
            (tr(209, 0, 0, 25, pending_id=102, flags=POST), S.CREATED),
            (tr(210, 0, 0, 0, pending_id=103, flags=VOID), S.PENDING_TRANSFER_ALREADY_POSTED),
            (tr(211, SOURCE, MERCHANT, 1, flags=LINKED), S.LINKED_EVENT_CHAIN_OPEN),
            (tr(212, SOURCE, MERCHANT, 1, timestamp=5), S.TIMESTAMP_MUST_BE_ZERO),
        ]
        assert len(cases) == 16

        results = _submit_while_writer_held(ledger, store, [[event] for event, _ in cases])

        # The blocker's group, then one group holding all 16 requests.
        assert store.group_sizes == [1, 16]
        assert results == [[expected] for _, expected in cases]

        after = snapshot_balances(ledger, [SOURCE, MERCHANT, EMPTY_WALLET, FEE])
        # 1 (blocker) + 7 + 11 posted, 9 pending, and 25 of the 40 reserve posted (the
        # remaining 15 released).
        assert after[SOURCE] == (
            before[SOURCE][0] + 9 - 40,
            before[SOURCE][1] + 1 + 7 + 11 + 25,
            0,
            0,
        )
        assert after[MERCHANT] == (0, 0, before[MERCHANT][2] + 9 - 40, before[MERCHANT][3] + 33)
        assert after[FEE] == (0, 0, 0, 11)
        assert after[EMPTY_WALLET] == (0, 0, 0, 0)
        created = [cases[i][0].id for i in (0, 1, 11, 12)]
        assert [t.id for t in ledger.lookup_transfers(created)] == created
        assert ledger.lookup_transfers([202, 203, 204, 205, 206, 210, 211, 212]) == []
        # A single timestamp per event of the group, unique and in arrival order.
        stamps = [t.timestamp for t in ledger.lookup_transfers([10**12, *created])]
        assert stamps == sorted(stamps)
        assert len(set(stamps)) == len(stamps)
    finally:
        ledger.close()


def test_same_new_id_twice_in_one_group(store_factory: StoreFactory, clock: FakeClock) -> None:
    store = _GatedStore(store_factory())
    with Ledger(store, clock, expiry_interval_s=3600) as ledger:  # type: ignore[arg-type]
        _base_accounts(ledger)
        same = tr(300, SOURCE, MERCHANT, 8)
        other_amount = tr(300, SOURCE, MERCHANT, 9)
        results = _submit_while_writer_held(
            ledger, store, [[same], [same], [tr(301, SOURCE, FEE, 2)], [other_amount]]
        )
        assert store.group_sizes == [1, 4]
        answers = sorted(r[0].value for r in (results[0], results[1], results[3]))
        # Whichever arrived first created it; the others compare against it.
        if results[3] == [S.CREATED]:
            assert answers == ["created", *["exists_with_different_amount"] * 2]
        else:
            assert answers == sorted(["created", "exists", "exists_with_different_amount"])
        assert results[2] == [S.CREATED]
        (stored,) = ledger.lookup_transfers([300])
        # The blocker's 1, the stored 300 (8 or 9), and 301's 2.
        assert balances(ledger.lookup_accounts([SOURCE])[0]) == (0, 1 + stored.amount + 2, 0, 0)
        assert ledger.store.totals().transfers == 3  # 300, 301 and the blocker


def test_group_never_exceeds_its_event_limit(store_factory: StoreFactory, clock: FakeClock) -> None:
    store = _GatedStore(store_factory())
    with Ledger(store, clock, expiry_interval_s=3600, group_events_max=10) as ledger:  # type: ignore[arg-type]
        _base_accounts(ledger)
        requests = [[tr(400 + 10 * r + k, SOURCE, MERCHANT, 1) for k in range(4)] for r in range(3)]
        results = _submit_while_writer_held(ledger, store, requests)
        assert results == [[S.CREATED] * 4] * 3
        # 4 + 4 fit in a group of 10; the third request is carried to the next group.
        assert store.group_sizes == [1, 8, 4]
        assert ledger.store.totals().transfers == 13


THREADS = 16
PER_THREAD = 40


def _thread_plan(index: int) -> tuple[int, int, list[Transfer]]:
    """Thread ``index``: its own DMNEC wallet, its funding, and its transfers in order.

    Every tenth event re-sends the one before it (``exists`` or ``id_already_failed``)."""
    wallet = 100 + index
    funding = 900 + 37 * index
    events: list[Transfer] = []
    for k in range(PER_THREAD):
        if k % 10 == 9:
            events.append(events[-1])
            continue
        amount = (k * 7 + index * 3) % 50 + 1
        events.append(tr(10_000 * (index + 1) + k, wallet, MERCHANT, amount))
    return wallet, funding, events


def _expected_thread(index: int) -> tuple[list[S], int]:
    """An independent model of one thread's answers: (statuses, what its wallet paid)."""
    _, funding, events = _thread_plan(index)
    remaining = funding
    statuses: list[S] = []
    for k, event in enumerate(events):
        if k % 10 == 9:
            statuses.append(S.EXISTS if statuses[-1] is S.CREATED else S.ID_ALREADY_FAILED)
        elif event.amount <= remaining:
            remaining -= event.amount
            statuses.append(S.CREATED)
        else:
            statuses.append(S.EXCEEDS_CREDITS)
    return statuses, funding - remaining


def _setup_threads_ledger(ledger: Ledger) -> None:
    accounts = [acct(SOURCE), acct(MERCHANT)]
    accounts += [acct(_thread_plan(i)[0], DMNEC) for i in range(THREADS)]
    assert ledger.create_accounts(accounts) == [A.CREATED] * len(accounts)
    funding = [
        tr(1_000 + i, SOURCE, _thread_plan(i)[0], _thread_plan(i)[1]) for i in range(THREADS)
    ]
    assert ledger.create_transfers(funding) == [S.CREATED] * THREADS


def test_concurrent_single_transfers_equal_sequential_application(
    ledger: Ledger, tmp_path: Path
) -> None:
    _setup_threads_ledger(ledger)
    results: dict[int, list[S]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def client(index: int) -> None:
        try:
            _, _, events = _thread_plan(index)
            start.wait(timeout=30)
            answers = []
            for event in events:
                answer = ledger.create_transfers([event])
                answers.append(answer[0])
            results[index] = answers
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors

    # Sequential application of the same requests, one after another, on a fresh ledger.
    reference = Ledger(open_store(str(tmp_path / "sequential.db")), FakeClock(START_NS))
    try:
        _setup_threads_ledger(reference)
        sequential = {
            i: [reference.create_transfers([e])[0] for e in _thread_plan(i)[2]]
            for i in range(THREADS)
        }
        account_ids = [SOURCE, MERCHANT] + [_thread_plan(i)[0] for i in range(THREADS)]
        expected_balances = snapshot_balances(reference, account_ids)
    finally:
        reference.close()

    paid_total = 0
    some_refused = False
    for index in range(THREADS):
        statuses, paid = _expected_thread(index)
        assert results[index] == statuses, f"thread {index}"
        assert sequential[index] == statuses, f"thread {index} (sequential)"
        some_refused |= S.EXCEEDS_CREDITS in statuses
        wallet, funding, _ = _thread_plan(index)
        assert snapshot_balances(ledger, [wallet])[wallet] == (0, paid, 0, funding)
        paid_total += paid
    assert some_refused  # the plan exercises refusals, not only successes
    assert snapshot_balances(ledger, [MERCHANT])[MERCHANT] == (0, 0, 0, paid_total)
    assert snapshot_balances(ledger, account_ids) == expected_balances
    assert not list(ledger.store.check())


# --------------------------------------------------------------------- batch limits


def test_batch_above_the_limit_is_refused_whole(ledger: Ledger) -> None:
    _base_accounts(ledger)
    before = ledger.store.totals()
    too_many = [tr(1 + i, SOURCE, MERCHANT, 1) for i in range(BATCH_EVENTS_MAX + 1)]
    with pytest.raises(BatchTooLargeError):
        ledger.create_transfers(too_many)
    with pytest.raises(BatchTooLargeError):
        ledger.submit("transfers", too_many)
    with pytest.raises(BatchTooLargeError):
        ledger.create_accounts([acct(1_000 + i) for i in range(BATCH_EVENTS_MAX + 1)])
    with pytest.raises(BatchTooLargeError):
        ledger.lookup_transfers(list(range(1, QUERY_LIMIT_MAX + 2)))
    assert ledger.store.totals() == before
    assert ledger.lookup_transfers([1, BATCH_EVENTS_MAX + 1]) == []
    assert ledger.lookup_accounts([1_000]) == []
    assert snapshot_balances(ledger, [SOURCE])[SOURCE] == (0, 0, 0, 0)

    # Exactly at the limit: accepted, every event applied.
    at_limit = too_many[:BATCH_EVENTS_MAX]
    assert ledger.create_transfers(at_limit) == [S.CREATED] * BATCH_EVENTS_MAX
    assert ledger.store.totals().transfers == BATCH_EVENTS_MAX
    assert snapshot_balances(ledger, [SOURCE])[SOURCE] == (0, BATCH_EVENTS_MAX, 0, 0)


def test_empty_batch_answers_nothing_and_changes_nothing(ledger: Ledger) -> None:
    _base_accounts(ledger)
    before = ledger.store.totals()
    assert ledger.create_transfers([]) == []
    assert ledger.create_accounts([]) == []
    assert ledger.submit("transfers", []).result(timeout=5) == []
    assert ledger.store.totals() == before


# --------------------------------------------------------------------- garbage


def _garbage_transfers() -> list[Any]:
    """Events that are not well-formed transfers. Where an event carries a usable id, it is
    500 + its index, so the test can show afterwards that no id was burnt."""

    def t(index: int, **fields: Any) -> Transfer:
        values: dict[str, Any] = {
            "id": 500 + index,
            "debit_account_id": SOURCE,
            "credit_account_id": MERCHANT,
            "amount": 10,
            "asset": "USD",
            "code": 1,
        }
        values.update(fields)
        return Transfer(**values)

    valid = t(0)
    return [
        None,
        {},
        {"id": 501, "debit_account_id": SOURCE, "credit_account_id": MERCHANT, "amount": 1},
        1.5,
        True,
        7,
        "tr_1",
        b"\x00",
        [],
        (),
        tuple(valid),
        list(valid),
        acct(502),
        t(3, id=-1),
        t(4, id=2**63),
        t(5, id=2**64),
        t(6, id=True),
        t(7, id=5.0),
        t(8, id="508"),
        t(9, amount=-5),
        t(10, amount=2**63),
        t(11, amount=2**200),
        t(12, amount=1.5),
        t(13, amount=True),
        t(14, amount="10"),
        t(15, amount=None),
        t(16, asset=None),
        t(17, asset="X" * 13),
        t(18, asset=b"USD"),
        t(19, code=-1),
        t(20, code=2**31),
        t(21, code=1.0),
        t(22, flags=-2),  # negative, linked bit clear (see the test of -1 below)
        t(23, flags=1.0),
        t(24, flags=True),
        t(25, flags="1"),
        t(26, pending_id=-1),
        t(27, pending_id=2**64),
        t(28, timeout_s=-1),
        t(29, timeout_s=2**40),
        t(30, user_data=-1),
        t(31, user_data=2**63),
        t(32, timestamp=1.5),
        t(33, timestamp=None),
        t(34, debit_account_id=-1),
        t(35, credit_account_id=2**64),
        t(36, debit_account_id=float(SOURCE)),
        t(37, flags=PENDING, timeout_s=0.5),
    ]


def test_garbage_transfers_are_malformed_and_change_nothing(ledger: Ledger) -> None:
    _base_accounts(ledger)
    assert ledger.create_transfers([tr(1, SOURCE, MERCHANT, 100)]) == [S.CREATED]
    ids = [SOURCE, MERCHANT, EMPTY_WALLET, FEE]
    before = snapshot_balances(ledger, ids)
    totals_before = ledger.store.totals()

    garbage = _garbage_transfers()
    statuses = ledger.create_transfers(garbage)
    assert statuses == [S.MALFORMED] * len(garbage)
    # Each alone, too (a batch of one is not special-cased).
    for event in garbage:
        assert ledger.create_transfers([event]) == [S.MALFORMED], repr(event)
    # Mixed with valid events: only the garbage is refused.
    mixed = [tr(2, SOURCE, MERCHANT, 5), None, garbage[12], tr(3, SOURCE, MERCHANT, 6)]
    assert ledger.create_transfers(mixed) == [S.CREATED, S.MALFORMED, S.MALFORMED, S.CREATED]

    totals = ledger.store.totals()
    assert totals.transfers == totals_before.transfers + 2
    after = snapshot_balances(ledger, ids)
    assert after[SOURCE] == (0, before[SOURCE][1] + 11, 0, 0)
    assert after[MERCHANT] == (0, 0, 0, before[MERCHANT][3] + 11)
    assert after[FEE] == before[FEE]
    # No garbage event burnt its id: the same ids, well-formed, are created now.
    retry = [tr(500 + i, SOURCE, MERCHANT, 1) for i in range(38)]
    assert ledger.create_transfers(retry) == [S.CREATED] * len(retry)


def test_negative_flags_with_the_linked_bit_create_nothing(ledger: Ledger) -> None:
    # -1 is malformed, but its lowest bit reads as "linked": whether the engine answers
    # malformed or linked_event_chain_open, nothing may be applied.
    _base_accounts(ledger)
    event = tr(40, SOURCE, MERCHANT, 5, flags=-1)
    (status,) = ledger.create_transfers([event])
    assert status in (S.MALFORMED, S.LINKED_EVENT_CHAIN_OPEN)
    assert ledger.lookup_transfers([40]) == []
    assert ledger.store.totals().transfers == 0
    assert ledger.create_transfers([tr(40, SOURCE, MERCHANT, 5)]) == [S.CREATED]


def test_lookups_ignore_ids_that_cannot_exist(ledger: Ledger) -> None:
    _base_accounts(ledger)
    assert ledger.create_transfers([tr(1, SOURCE, MERCHANT, 5)]) == [S.CREATED]
    garbage: list[Any] = [None, -1, 0, 2**63, 2**64, "1", 1.0, True, [], 1]
    assert [t.id for t in ledger.lookup_transfers(garbage)] == [1]
    assert [a.id for a in ledger.lookup_accounts([*garbage[:-1], FEE])] == [FEE]
    assert [s.transfer_id for s in ledger.pending_states(garbage)] == []


def test_queries_with_out_of_range_values_find_nothing(ledger: Ledger) -> None:
    # A query for an id or a time no record can have finds nothing, on every store: the same
    # answer as a lookup of such an id (above), not an exception of one database driver.
    _base_accounts(ledger)
    assert ledger.create_accounts([acct(20, HISTORY)]) == [A.CREATED]
    assert ledger.create_transfers([tr(1, SOURCE, 20, 5)]) == [S.CREATED]
    for query in (
        AccountFilter(account_id=2**64, limit=10),
        AccountFilter(account_id=20, limit=10, timestamp_min=2**64),
    ):
        assert ledger.get_account_transfers(query) == []
        assert ledger.get_account_balances(query) == []
    assert len(ledger.get_account_transfers(AccountFilter(20, 10, timestamp_max=2**64))) == 1
    assert ledger.balance_at(2**64, START_NS) is None
    latest = ledger.balance_at(20, 2**64)
    assert latest is not None
    assert latest.credits_posted == 5


def test_garbage_accounts_are_malformed_and_change_nothing(ledger: Ledger) -> None:
    _base_accounts(ledger)
    before = ledger.store.totals()

    def a(**fields: Any) -> Account:
        values: dict[str, Any] = {"id": 700, "asset": "USD", "code": 1}
        values.update(fields)
        return Account(**values)

    garbage: list[Any] = [
        None,
        {},
        {"id": 700, "asset": "USD", "code": 1},
        1.5,
        False,
        700,
        "acct_700",
        tuple(a()),
        tr(700, SOURCE, MERCHANT, 1),
        a(id=-1),
        a(id=2**64),
        a(id=700.0),
        a(id=True),
        a(asset=None),
        a(asset="X" * 13),
        a(code=-1),
        a(code=1.5),
        a(code=2**31),
        a(flags=1.0),
        a(flags=-2),
        a(user_data=-1),
        a(user_data=2**63),
        a(debits_posted=1.5),
        a(credits_pending=None),
        a(timestamp="0"),
    ]
    assert ledger.create_accounts(garbage) == [A.MALFORMED] * len(garbage)
    assert ledger.store.totals().accounts == before.accounts
    assert ledger.lookup_accounts([700]) == []
    assert ledger.create_accounts([a()]) == [A.CREATED]


def test_garbage_inside_a_chain_fails_the_chain(ledger: Ledger) -> None:
    _base_accounts(ledger)
    chain = [
        tr(10, SOURCE, MERCHANT, 5, flags=LINKED),
        tr(11, SOURCE, MERCHANT, 1.5, flags=LINKED),
        tr(12, SOURCE, MERCHANT, 5),
    ]
    assert ledger.create_transfers(chain) == [
        S.LINKED_EVENT_FAILED,
        S.MALFORMED,
        S.LINKED_EVENT_FAILED,
    ]
    assert ledger.lookup_transfers([10, 11, 12]) == []
    assert snapshot_balances(ledger, [SOURCE])[SOURCE] == (0, 0, 0, 0)


# --------------------------------------------------------------------- all-failing batch


def test_batch_where_every_event_fails_commits_nothing_partial(ledger: Ledger) -> None:
    _base_accounts(ledger)
    assert ledger.create_accounts([acct(20, DMNEC)]) == [A.CREATED]
    assert ledger.create_transfers([tr(1, SOURCE, 20, 100)]) == [S.CREATED]
    ids = [SOURCE, MERCHANT, EMPTY_WALLET, FEE, 20]
    before = snapshot_balances(ledger, ids)
    count_before = ledger.store.totals().transfers

    batch = [
        tr(30, EMPTY_WALLET, MERCHANT, 1),  # exceeds_credits (transient: recorded)
        tr(31, 999, MERCHANT, 1),  # debit_account_not_found (transient: recorded)
        tr(32, SOURCE, SOURCE, 1),  # accounts_must_be_different (not recorded)
        # A chain whose first two events would succeed alone and whose third fails.
        tr(33, 20, MERCHANT, 60, flags=LINKED),
        tr(34, SOURCE, FEE, 7, flags=LINKED),
        tr(35, 20, MERCHANT, 60),  # exceeds_credits once 33 applied (recorded)
        tr(36, 0, 0, 0, pending_id=999, flags=POST),  # pending_transfer_not_found
        tr(37, SOURCE, MERCHANT, 1, flags=LINKED),  # chain left open
    ]
    assert ledger.create_transfers(batch) == [
        S.EXCEEDS_CREDITS,
        S.DEBIT_ACCOUNT_NOT_FOUND,
        S.ACCOUNTS_MUST_BE_DIFFERENT,
        S.LINKED_EVENT_FAILED,
        S.LINKED_EVENT_FAILED,
        S.EXCEEDS_CREDITS,
        S.PENDING_TRANSFER_NOT_FOUND,
        S.LINKED_EVENT_CHAIN_OPEN,
    ]
    assert snapshot_balances(ledger, ids) == before
    assert ledger.store.totals().transfers == count_before
    assert ledger.lookup_transfers([e.id for e in batch]) == []
    assert ledger.get_account_balances(AccountFilter(account_id=FEE, limit=100)) == []

    # The failed ids of transient failures stay failed...
    for event in (batch[0], batch[1], batch[5], batch[6]):
        assert ledger.create_transfers([event]) == [S.ID_ALREADY_FAILED]
    # ...while the others were not recorded: the same ids, now valid, are created.
    fresh = [
        tr(32, SOURCE, MERCHANT, 1),
        tr(33, SOURCE, MERCHANT, 1),
        tr(34, SOURCE, FEE, 1),
        tr(37, SOURCE, MERCHANT, 1),
    ]
    assert ledger.create_transfers(fresh) == [S.CREATED] * 4


# --------------------------------------------------------------------- timestamps


def _all_timestamps(ledger: Ledger, account_ids: list[int], transfer_ids: list[int]) -> list[int]:
    stamps = [a.timestamp for a in ledger.lookup_accounts(account_ids)]
    stamps += [t.timestamp for t in ledger.lookup_transfers(transfer_ids)]
    # A post or void resolves its pending transfer at its own timestamp: no extra one.
    resolved = [s.timestamp for s in ledger.pending_states(transfer_ids) if s.timestamp]
    assert set(resolved) <= set(stamps)
    return stamps


def test_timestamps_unique_and_increasing_across_batches_and_restart(
    store_factory: StoreFactory, clock: FakeClock
) -> None:
    account_ids = [SOURCE, MERCHANT, EMPTY_WALLET, FEE]
    ledger = Ledger(store_factory(), clock, expiry_interval_s=3600)
    try:
        _base_accounts(ledger)
        order: list[int] = []  # transfer ids in the order they were applied
        for batch_index in range(5):  # the fake clock stands still: the engine still advances
            batch = [tr(100 * batch_index + k + 1, SOURCE, MERCHANT, 1) for k in range(7)]
            assert ledger.create_transfers(batch) == [S.CREATED] * 7
            order += [t.id for t in batch]
        assert ledger.create_transfers([tr(900, SOURCE, MERCHANT, 5, flags=PENDING)]) == [S.CREATED]
        assert ledger.create_transfers([tr(901, 0, 0, 5, pending_id=900, flags=POST)]) == [
            S.CREATED
        ]
        order += [900, 901]
        first_run = [t.timestamp for t in ledger.lookup_transfers(order)]
        assert len(first_run) == len(order)
        assert all(a < b for a, b in itertools.pairwise(first_run))
        accounts = [a.timestamp for a in ledger.lookup_accounts(account_ids)]
        assert max(accounts) < first_run[0]
        assert first_run[0] >= START_NS
        everything = _all_timestamps(ledger, account_ids, order)
        assert len(set(everything)) == len(everything)
        last_before = ledger.store.totals().last_timestamp
        assert last_before == max(everything)
    finally:
        ledger.close()

    # Restart with a clock an hour EARLIER than the timestamps already handed out.
    earlier = FakeClock(START_NS - 3600 * NS)
    ledger = Ledger(store_factory(), earlier, expiry_interval_s=3600)
    try:
        for batch_index in range(3):
            batch = [tr(10_000 + 100 * batch_index + k, SOURCE, MERCHANT, 1) for k in range(4)]
            assert ledger.create_transfers(batch) == [S.CREATED] * 4
            order += [t.id for t in batch]
        assert ledger.create_accounts([acct(50)]) == [A.CREATED]
        second = [t.timestamp for t in ledger.lookup_transfers(order)]
        assert len(second) == len(order)
        assert all(a < b for a, b in itertools.pairwise(second))
        assert second[len(first_run)] > last_before
        assert ledger.lookup_accounts([50])[0].timestamp > second[-1]
        everything = _all_timestamps(ledger, [*account_ids, 50], order)
        assert len(set(everything)) == len(everything)
        last_before = ledger.store.totals().last_timestamp
    finally:
        ledger.close()

    # Restart with a clock far ahead: the first new timestamp is at least the clock's time.
    later_ns = START_NS + 10**6 * NS
    ledger = Ledger(store_factory(), FakeClock(later_ns), expiry_interval_s=3600)
    try:
        assert ledger.create_transfers([tr(20_000, SOURCE, MERCHANT, 1)]) == [S.CREATED]
        (record,) = ledger.lookup_transfers([20_000])
        assert record.timestamp >= later_ns
        assert record.timestamp > last_before
    finally:
        ledger.close()


# --------------------------------------------------------------------- expiry


def test_expiry_releases_the_reserve_with_its_own_timestamp(
    ledger: Ledger, clock: FakeClock
) -> None:
    _base_accounts(ledger)
    assert ledger.create_accounts([acct(20, DMNEC | HISTORY)]) == [A.CREATED]
    assert ledger.create_transfers([tr(1, SOURCE, 20, 1_000)]) == [S.CREATED]
    assert ledger.create_transfers([tr(10, 20, MERCHANT, 300, flags=PENDING, timeout_s=10)]) == [
        S.CREATED
    ]
    (pending,) = ledger.lookup_transfers([10])
    (state,) = ledger.pending_states([10])
    assert state.status is PendingStatus.PENDING
    assert state.expires_at == pending.timestamp + 10 * NS
    assert balances(ledger.lookup_accounts([20])[0]) == (300, 0, 0, 1_000)

    # One nanosecond before the deadline: nothing expires.
    clock.advance(ns=state.expires_at - 1 - clock.now_ns())
    ledger.expire_due()
    assert ledger.pending_states([10])[0].status is PendingStatus.PENDING
    assert balances(ledger.lookup_accounts([20])[0]) == (300, 0, 0, 1_000)

    # At the deadline it does.
    clock.advance(ns=1)
    ledger.expire_due()
    (expired,) = ledger.pending_states([10])
    assert expired.status is PendingStatus.EXPIRED
    assert expired.expires_at == state.expires_at
    assert expired.timestamp > pending.timestamp
    assert expired.timestamp >= state.expires_at  # taken from the engine clock, not before it
    assert balances(ledger.lookup_accounts([20])[0]) == (0, 0, 0, 1_000)
    assert balances(ledger.lookup_accounts([MERCHANT])[0]) == (0, 0, 0, 0)
    # The history of the HISTORY account has a row at the expiry's own timestamp.
    history = ledger.get_account_balances(AccountFilter(account_id=20, limit=100))
    assert [(b.timestamp, b.debits_pending) for b in history][-2:] == [
        (pending.timestamp, 300),
        (expired.timestamp, 0),
    ]

    # Resolving it now fails; the expiry's timestamp is unique.
    post = tr(11, 0, 0, 300, pending_id=10, flags=POST)
    void = tr(12, 0, 0, 0, pending_id=10, flags=VOID)
    assert ledger.create_transfers([post]) == [S.PENDING_TRANSFER_EXPIRED]
    assert ledger.create_transfers([void]) == [S.PENDING_TRANSFER_EXPIRED]
    assert ledger.create_transfers([tr(13, SOURCE, MERCHANT, 1)]) == [S.CREATED]
    stamps = [t.timestamp for t in ledger.lookup_transfers([1, 10, 13])]
    assert expired.timestamp not in stamps
    assert stamps[-1] > expired.timestamp
    assert ledger.lookup_transfers([11, 12]) == []
    assert balances(ledger.lookup_accounts([20])[0]) == (0, 0, 0, 1_000)
    assert not list(ledger.store.check())


def test_post_after_the_deadline_but_before_any_sweep_is_expired(
    ledger: Ledger, clock: FakeClock
) -> None:
    _base_accounts(ledger)
    assert ledger.create_transfers([tr(10, SOURCE, MERCHANT, 50, flags=PENDING, timeout_s=1)]) == [
        S.CREATED
    ]
    clock.advance(2)
    assert ledger.create_transfers([tr(11, 0, 0, AMOUNT_POST_FULL, pending_id=10, flags=POST)]) == [
        S.PENDING_TRANSFER_EXPIRED
    ]
    assert ledger.pending_states([10])[0].status is PendingStatus.EXPIRED
    assert balances(ledger.lookup_accounts([SOURCE])[0]) == (0, 0, 0, 0)
    assert ledger.lookup_transfers([11]) == []


def test_expiry_order_follows_the_deadlines(ledger: Ledger, clock: FakeClock) -> None:
    _base_accounts(ledger)
    timeouts = [5, 3, 4, 1, 2]
    batch = [
        tr(60 - i, SOURCE, MERCHANT, 10 + i, flags=PENDING, timeout_s=timeout)
        for i, timeout in enumerate(timeouts)
    ]
    batch.append(tr(70, SOURCE, MERCHANT, 99, flags=PENDING, timeout_s=3600))
    assert ledger.create_transfers(batch) == [S.CREATED] * 6
    ids = [t.id for t in batch]
    clock.advance(6)
    ledger.expire_due()
    states = {s.transfer_id: s for s in ledger.pending_states(ids)}
    assert states[70].status is PendingStatus.PENDING
    expired = sorted((states[i] for i in ids[:5]), key=lambda s: s.timestamp)
    assert all(s.status is PendingStatus.EXPIRED for s in expired)
    assert [s.expires_at for s in expired] == sorted(s.expires_at for s in expired)
    stamps = [s.timestamp for s in expired]
    assert stamps == list(range(stamps[0], stamps[0] + 5))  # one timestamp each, in one sweep
    assert balances(ledger.lookup_accounts([SOURCE])[0]) == (99, 0, 0, 0)


def _expiry_scenario(ledger: Ledger, clock: FakeClock) -> dict[str, Any]:
    """A fixed sequence of requests and clock moves; returns everything observable."""
    accounts = [acct(SOURCE), acct(MERCHANT, HISTORY), acct(20, DMNEC | HISTORY)]
    assert ledger.create_accounts(accounts) == [A.CREATED] * 3
    answers: list[list[S]] = []
    answers.append(ledger.create_transfers([tr(1, SOURCE, 20, 10_000)]))
    pendings = [
        tr(100 + i, 20, MERCHANT, 100 + i, flags=PENDING, timeout_s=timeout)
        for i, timeout in enumerate([5, 3, 4, 1, 2, 1, 100])
    ]
    answers.append(ledger.create_transfers(pendings))
    clock.advance(2)
    ledger.expire_due()
    answers.append(ledger.create_transfers([tr(200, 0, 0, 50, pending_id=102, flags=POST)]))
    answers.append(ledger.create_transfers([tr(201, 0, 0, 0, pending_id=101, flags=VOID)]))
    clock.advance(3, ns=1_000_000)
    # No explicit sweep: the group of this request expires what is due first.
    answers.append(ledger.create_transfers([tr(202, 20, MERCHANT, 7)]))
    answers.append(ledger.create_transfers([tr(203, 0, 0, 0, pending_id=100, flags=VOID)]))
    clock.advance(50)
    ledger.expire_due()
    ids = [1, *(p.id for p in pendings), 200, 201, 202, 203]
    return {
        "answers": answers,
        "transfers": ledger.lookup_transfers(ids),
        "pending": ledger.pending_states(ids),
        "accounts": ledger.lookup_accounts([SOURCE, MERCHANT, 20]),
        "history": [
            ledger.get_account_balances(AccountFilter(account_id=a, limit=1_000))
            for a in (MERCHANT, 20)
        ],
        "totals": ledger.store.totals(),
    }


def test_expiry_is_deterministic_with_a_fake_clock(
    store_factory: StoreFactory, tmp_path: Path
) -> None:
    runs = []
    for store in (store_factory(), open_store(str(tmp_path / "second.db"))):
        clock = FakeClock(START_NS)
        with Ledger(store, clock, expiry_interval_s=3600) as ledger:
            runs.append(_expiry_scenario(ledger, clock))
    first, second = runs
    assert first == second
    states = {s.transfer_id: s.status for s in first["pending"]}
    assert states == {
        100: PendingStatus.EXPIRED,
        101: PendingStatus.VOIDED,
        102: PendingStatus.POSTED,
        103: PendingStatus.EXPIRED,
        104: PendingStatus.EXPIRED,
        105: PendingStatus.EXPIRED,
        106: PendingStatus.PENDING,
    }
    assert first["answers"][-1] == [S.PENDING_TRANSFER_EXPIRED]


def test_writer_sweeps_expired_reserves_on_its_own(
    store_factory: StoreFactory, clock: FakeClock
) -> None:
    with Ledger(store_factory(), clock, expiry_interval_s=0.02) as ledger:
        _base_accounts(ledger)
        assert ledger.create_transfers(
            [tr(10, SOURCE, MERCHANT, 40, flags=PENDING, timeout_s=1)]
        ) == [S.CREATED]
        assert ledger.pending_states([10])[0].status is PendingStatus.PENDING
        clock.advance(2)
        # Nothing is called: only the writer's idle sweep can expire it. Poll generously.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if ledger.pending_states([10])[0].status is PendingStatus.EXPIRED:
                break
            time.sleep(0.01)
        assert ledger.pending_states([10])[0].status is PendingStatus.EXPIRED
        assert balances(ledger.lookup_accounts([SOURCE])[0]) == (0, 0, 0, 0)
        assert balances(ledger.lookup_accounts([MERCHANT])[0]) == (0, 0, 0, 0)
