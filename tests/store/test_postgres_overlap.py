"""Groups of two writers on one PostgreSQL schema overlap until they reserve timestamps.

A group of plain batches locks what it names and runs the core on provisional timestamps;
only then does it take the clock row (waiting for the writers before it) and shift its
changes to the timestamps it got. These tests stop one writer at that point, make the other
commit meanwhile, and check the ledger afterwards: balances equal the sums of the transfers,
no update is lost, timestamps are unique and increase in commit order. Each writer is a
``Ledger`` on a store of its own (its own connections), as two processes would have.

Every test takes the ``postgres_url`` fixture, so it is skipped, visibly, without a server.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
import pytest

from centime.audit import AuditLog, HeadSigner, verify_log
from centime.clock import FakeClock
from centime.ledger import Account, AccountFlags, CreateTransferStatus, Ledger, Transfer
from centime.ledger.units import Overlap, UnitContext
from centime.store import TransientStoreError
from centime.store.postgres import PostgresStore

ASSET = "USD"
CODE = 7
WAIT_MAX_S = 60.0
S = CreateTransferStatus


class _PausingTxn:
    """A write transaction that stops when it is about to reserve timestamps, once."""

    def __init__(self, txn: Any, store: _PausingStore) -> None:
        self._txn = txn
        self._store = store

    def __getattr__(self, name: str) -> Any:
        self._store.calls.append(name)
        return getattr(self._txn, name)

    def reserve_timestamps(self, count: int, now_ns: int) -> int:
        self._store.calls.append("reserve_timestamps")
        if not self._store.paused.is_set():
            self._store.paused.set()
            assert self._store.resume.wait(WAIT_MAX_S), "never resumed"
        return int(self._txn.reserve_timestamps(count, now_ns))


class _PausingStore(PostgresStore):
    """The PostgreSQL store, its overlapping groups stopping before their reservation."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.paused = threading.Event()
        self.resume = threading.Event()
        self.calls: list[str] = []

    @contextmanager
    def overlapping_transaction(self) -> Iterator[Any]:
        with super().overlapping_transaction() as txn:
            yield _PausingTxn(txn, self)


class _RecordingStore(PostgresStore):
    """The PostgreSQL store, recording every lost race its transactions raise."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.races: list[str] = []

    def write_transaction(self) -> AbstractContextManager[Any]:
        return self._recorded(super().write_transaction())

    def overlapping_transaction(self) -> AbstractContextManager[Any]:
        return self._recorded(super().overlapping_transaction())

    @contextmanager
    def _recorded(self, transaction: AbstractContextManager[Any]) -> Iterator[Any]:
        try:
            with transaction as txn:
                yield txn
        except TransientStoreError as error:
            self.races.append(str(error))
            raise


def _timestamps_by_id(url: str) -> dict[int, int]:
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT id, timestamp FROM transfers").fetchall()
    return dict(rows)


def _all_timestamps(url: str) -> list[int]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT timestamp FROM transfers UNION ALL SELECT timestamp FROM accounts"
        ).fetchall()
    return [row[0] for row in rows]


def _wait_for_lock_waiter(url: str, application: str) -> None:
    """Until a backend of ``application`` waits for a lock (the blocked writer)."""
    deadline = time.monotonic() + WAIT_MAX_S
    with psycopg.connect(url, autocommit=True) as connection:
        while time.monotonic() < deadline:
            row = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
                " AND wait_event_type = 'Lock' AND query LIKE '%%FROM accounts%%FOR UPDATE%%'",
                (application,),
            ).fetchone()
            if row is not None and row[0] > 0:
                return
            time.sleep(0.01)
    pytest.fail("the third writer never waited for the locked accounts")


def _result(future: Future[Any]) -> Any:
    return future.result(WAIT_MAX_S)


def test_a_group_commits_while_another_runs_its_core(postgres_url: str) -> None:
    """Writer A locks its accounts and runs the core, then stops before reserving. Writer B
    commits a group on other accounts meanwhile (it does not wait for A), and writer C,
    naming A's accounts, waits for A's row locks. Once A goes on, its timestamps are shifted
    after B's, C's come after A's, and C saw A's balances: nothing lost. The audit log,
    appended by each group with its final timestamps, verifies."""
    PostgresStore.open(postgres_url).close()  # migrated
    clock = FakeClock()
    signer = HeadSigner.generate()  # one key, as processes of one deployment share it
    paused = _PausingStore(postgres_url)
    first = Ledger(paused, clock, audit=AuditLog(signer))
    second = Ledger(PostgresStore(postgres_url), clock, audit=AuditLog(signer))
    application = f"centime-test-{uuid.uuid4().hex[:12]}"
    third_store = PostgresStore(f"{postgres_url}&application_name={application}")
    third = Ledger(third_store, clock, audit=AuditLog(signer))
    try:
        paused.paused.set()  # the accounts' own group goes through
        limited = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
        accounts = [Account(1, ASSET, CODE), Account(2, ASSET, CODE, flags=limited)]
        first.create_accounts([*accounts, Account(3, ASSET, CODE), Account(4, ASSET, CODE)])
        paused.paused.clear()
        paused.calls.clear()

        a = first.submit("transfers", [Transfer(10, 1, 2, 100, ASSET, CODE)])
        assert paused.paused.wait(WAIT_MAX_S)
        assert "lock_accounts" in paused.calls  # the core ran before the reservation
        assert paused.calls[-1] == "reserve_timestamps"
        assert second.create_transfers([Transfer(20, 3, 4, 5, ASSET, CODE)]) == [S.CREATED]
        # 2 may pay only what it was credited: 100 once A commits, 0 before.
        c = third.submit("transfers", [Transfer(30, 2, 1, 60, ASSET, CODE)])
        _wait_for_lock_waiter(postgres_url, application)
        assert not a.done() and not c.done()
        paused.resume.set()
        assert _result(a) == [S.CREATED]
        assert _result(c) == [S.CREATED]

        timestamps = _timestamps_by_id(postgres_url)
        assert timestamps[20] < timestamps[10] < timestamps[30]
        one, two = first.lookup_accounts([1, 2])
        assert (one.debits_posted, one.credits_posted) == (100, 60)
        assert (two.debits_posted, two.credits_posted) == (60, 100)
        all_timestamps = _all_timestamps(postgres_url)
        assert len(set(all_timestamps)) == len(all_timestamps) == 7
        assert list(first.store.check()) == []
        with first.store.audit_reader() as fetch:  # the log covers them, in timestamp order
            assert verify_log(fetch).problems == []
    finally:
        paused.resume.set()
        for ledger in (first, second, third):
            ledger.close()


def _unit_out_of_order(transfer_id: int, low: int, high: int) -> Any:
    """A write unit that reads its accounts high id first, as a unit may (it learns of its
    accounts from what it read), then moves 1 from high to low."""

    def unit(ctx: UnitContext) -> list[CreateTransferStatus]:
        ctx.accounts([high])
        ctx.accounts([low])
        return ctx.create_transfers([Transfer(transfer_id, high, low, 1, ASSET, CODE)])

    return unit


def test_units_and_overlapping_groups_never_deadlock(postgres_url: str) -> None:
    """One writer runs write units that lock accounts out of id order (clock first, then
    rows); the other runs plain batches on the same accounts (rows in order, then the
    clock). Without the writers' lock the two would deadlock: no group may lose a race to
    a deadlock, and every transfer is there."""
    PostgresStore.open(postgres_url).close()  # migrated
    units_store, batches_store = _RecordingStore(postgres_url), _RecordingStore(postgres_url)
    units, batches = Ledger(units_store), Ledger(batches_store)
    rounds, ids = 150, list(range(1, 9))
    try:
        batches.create_accounts([Account(i, ASSET, CODE) for i in ids])
        failures: list[BaseException] = []

        def run_units() -> None:
            try:
                for n in range(rounds):
                    low, high = ids[n % 4], ids[4 + n % 4]
                    statuses = units.run(_unit_out_of_order(1000 + n, low, high), 1)
                    assert statuses == [S.CREATED]
            except BaseException as error:
                failures.append(error)

        def run_batches() -> None:
            try:
                for n in range(rounds):
                    batch = [
                        Transfer(5000 + 8 * n + k, ids[k], ids[(k + 3) % 8], 2, ASSET, CODE)
                        for k in range(8)
                    ]
                    assert batches.create_transfers(batch) == [S.CREATED] * 8
            except BaseException as error:
                failures.append(error)

        threads = [threading.Thread(target=run_units), threading.Thread(target=run_batches)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT_MAX_S * 4)
        assert not any(thread.is_alive() for thread in threads), "hung"
        assert not failures, failures
        races = units_store.races + batches_store.races
        assert not [race for race in races if "deadlock" in race], races
        assert len(_timestamps_by_id(postgres_url)) == rounds * 9
        total = sum(a.debits_posted for a in units.lookup_accounts(ids))
        assert total == sum(a.credits_posted for a in units.lookup_accounts(ids))
        assert total == rounds * (1 + 8 * 2)
        all_timestamps = _all_timestamps(postgres_url)
        assert len(set(all_timestamps)) == len(all_timestamps)
        assert list(units.store.check()) == []
    finally:
        units.close()
        batches.close()


def test_ledgers_in_two_schemas_never_wait_for_each_other(
    postgres_url: str, another_postgres_url: str
) -> None:
    """Advisory locks are database-wide. A writer of one schema holding the writers' lock
    (a write transaction left open, as a paused or slow group would) must not stall a
    ledger in another schema of the same database: the other deployment, or a test running
    beside this one, commits while the first still holds its lock."""
    holder = PostgresStore.open(postgres_url)
    other = Ledger(PostgresStore.open(another_postgres_url))
    try:
        with holder.write_transaction():
            committed = threading.Event()

            def commit_elsewhere() -> None:
                other.create_accounts([Account(1, ASSET, CODE), Account(2, ASSET, CODE)])
                assert other.create_transfers([Transfer(1, 1, 2, 5, ASSET, CODE)]) == [S.CREATED]
                committed.set()

            thread = threading.Thread(target=commit_elsewhere, daemon=True)
            thread.start()
            assert committed.wait(WAIT_MAX_S), "the other schema's ledger waited for this one"
    finally:
        holder.close()
        other.close()


def test_a_unit_that_runs_alone_is_not_grouped_with_overlapping_ones(postgres_url: str) -> None:
    """Queued together, units that overlap and one that runs alone go in separate groups,
    in arrival order: the lone unit would otherwise make its neighbours' group (a batch of
    payments beside a worker's tick) run alone too, holding off every other writer."""
    seen: list[tuple[str, bool]] = []
    started = threading.Event()

    def busy(ctx: UnitContext) -> None:
        started.set()
        time.sleep(0.3)  # the next units queue up meanwhile and are collected together

    def named(name: str) -> Callable[[UnitContext], None]:
        def unit(ctx: UnitContext) -> None:
            seen.append((name, ctx.overlapping))

        return unit

    with Ledger(PostgresStore.open(postgres_url), group_wait_s=0.5) as ledger:
        first = ledger.submit_unit(busy, 0)
        assert started.wait(10)
        futures = [
            ledger.submit_unit(named("a"), 0, overlap=Overlap()),
            ledger.submit_unit(named("b"), 0),
            ledger.submit_unit(named("c"), 0, overlap=Overlap()),
        ]
        for future in [first, *futures]:
            future.result(10)
    assert seen == [("a", True), ("b", False), ("c", True)]
