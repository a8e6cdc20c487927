"""Several writer processes on one PostgreSQL schema: no lost update, no deadlock, no hang.

Each process runs its own ``Ledger(open_store(url))`` (started with "spawn", as a server would
start its workers) on the test's schema. The parent checks the store afterwards against what
the processes were told: every acknowledged transfer is there, the hot account that every
process hammered holds exactly the sum of the transfers that touched it, the ledger's
invariants hold, and timestamps are unique and follow the order of acknowledgements.

Every test takes the ``postgres_url`` fixture, so it is skipped, visibly, without a server.
"""

from __future__ import annotations

import bisect
import itertools
import multiprocessing
import queue
import random
import threading
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

from centime.clock import FakeClock
from centime.ledger import (
    AMOUNT_POST_FULL,
    Account,
    AccountFlags,
    Changes,
    CreateAccountStatus,
    CreateTransferStatus,
    Ledger,
    PendingStatus,
    Transfer,
    TransferFlags,
)
from centime.ledger.model import TRANSIENT_TRANSFER_FAILURES
from centime.limits import QUERY_LIMIT_MAX
from centime.store import LedgerStore, TransientStoreError, open_store
from centime.store.postgres import PostgresStore

PROCESSES = 3
THREADS_PER_PROCESS = 4
BATCHES_PER_THREAD = 24
BATCH_EVENTS_MAX_HERE = 300
BIG_BATCH_EVENTS = 2000  # now and then, to mix small requests with one that fills a group
PROCESS_WAIT_MAX_S = 120.0

HOT = 1
OTHERS = list(range(2, 202))
WALLET = 500  # debits must not exceed credits: some transfers from it fail
ASSET = "USD"
CODE = 7
S = CreateTransferStatus

_CONTEXT = multiprocessing.get_context("spawn")


# --------------------------------------------------------------------------- the workers
# Module-level functions: a spawned process imports this module and calls them by name.


@dataclass(slots=True)
class _BatchRecord:
    """What one process submitted and what it was told, in plain values (picklable)."""

    process: int
    submitted_ns: int
    returned_ns: int
    events: list[tuple[int, str, int, int, int, int]]  # id, kind, debit, credit, amount, pid
    statuses: list[str]
    ack_seq: int | None = None  # order of acknowledgement inside the process's writer


@dataclass(slots=True)
class _AckLog:
    """Numbers acknowledgements in the order the writer thread resolves the futures."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: Iterator[int] = field(default_factory=itertools.count)

    def watch(self, future: Future[list[Any]], record: _BatchRecord) -> None:
        def done(_: Future[list[Any]]) -> None:
            # Only a callback that runs in the writer thread is numbered in resolution order;
            # one added after the future resolved runs in the caller's thread, later.
            if threading.current_thread().name == "centime-ledger-writer":
                with self.lock:
                    record.ack_seq = next(self.counter)

        future.add_done_callback(done)


def _hammer_thread(
    ledger: Ledger, process: int, thread: int, acks: _AckLog, out: list[_BatchRecord]
) -> None:
    rng = random.Random(process * 1000 + thread)
    next_id = itertools.count((process + 1) * 10**12 + thread * 10**9 + 1)
    open_pending: list[tuple[int, int, int]] = []  # id, other account, amount
    for number in range(BATCHES_PER_THREAD):
        size = BIG_BATCH_EVENTS if number % 11 == 5 else rng.randint(1, BATCH_EVENTS_MAX_HERE)
        batch, events = _hammer_batch(rng, next_id, size, open_pending)
        record = _BatchRecord(process, time.monotonic_ns(), 0, events, [])
        future = ledger.submit("transfers", batch)
        acks.watch(future, record)
        statuses = future.result(timeout=PROCESS_WAIT_MAX_S)
        record.returned_ns = time.monotonic_ns()
        record.statuses = [status.value for status in statuses]
        out.append(record)
        for (tid, kind, _, other, amount, _), status in zip(events, statuses, strict=True):
            if kind == "pending" and status is S.CREATED:
                open_pending.append((tid, other, amount))


def _hammer_batch(
    rng: random.Random,
    next_id: Iterator[int],
    size: int,
    open_pending: list[tuple[int, int, int]],
) -> tuple[list[Transfer], list[tuple[int, str, int, int, int, int]]]:
    """A batch of plain transfers, linked pairs, pending transfers and their resolutions; most
    of them touch the hot account."""
    batch: list[Transfer] = []
    events: list[tuple[int, str, int, int, int, int]] = []

    def add(transfer: Transfer, kind: str) -> None:
        batch.append(transfer)
        events.append(
            (
                transfer.id,
                kind,
                transfer.debit_account_id,
                transfer.credit_account_id,
                transfer.amount,
                transfer.pending_id,
            )
        )

    while len(batch) < size:
        roll = rng.random()
        amount = rng.randint(1, 10_000)
        a, b = rng.sample(OTHERS, 2)
        if roll < 0.05 and open_pending:
            pending_id, _, pending_amount = open_pending.pop(rng.randrange(len(open_pending)))
            if rng.random() < 0.5:
                posted = rng.choice([AMOUNT_POST_FULL, rng.randint(1, pending_amount)])
                flags = TransferFlags.POST_PENDING
                add(Transfer(next(next_id), 0, 0, posted, "", 0, flags, pending_id), "post")
            else:
                flags = TransferFlags.VOID_PENDING
                add(Transfer(next(next_id), 0, 0, 0, "", 0, flags, pending_id), "void")
        elif roll < 0.12:
            add(
                Transfer(next(next_id), HOT, a, amount, ASSET, CODE, TransferFlags.PENDING),
                "pending",
            )
        elif roll < 0.20 and len(batch) + 2 <= size:
            add(Transfer(next(next_id), a, HOT, amount, ASSET, CODE, TransferFlags.LINKED), "plain")
            add(Transfer(next(next_id), HOT, b, amount // 2 + 1, ASSET, CODE), "plain")
        elif roll < 0.55:
            add(Transfer(next(next_id), a, HOT, amount, ASSET, CODE), "plain")
        elif roll < 0.80:
            add(Transfer(next(next_id), HOT, a, amount, ASSET, CODE), "plain")
        else:
            add(Transfer(next(next_id), a, b, amount, ASSET, CODE), "plain")
    return batch, events


def _hammer_process(url: str, process: int, barrier: Any, results: Any) -> None:
    ledger: Ledger | None = None
    try:
        barrier.wait()  # every process migrates and opens at once
        ledger = Ledger(open_store(url))
        barrier.wait()
        accounts = ledger.create_accounts(_accounts())  # the same ids in every process
        barrier.wait()  # every account exists before the first transfer
        acks = _AckLog()
        records: list[_BatchRecord] = []
        threads = [
            threading.Thread(target=_hammer_thread, args=(ledger, process, t, acks, records))
            for t in range(THREADS_PER_PROCESS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(PROCESS_WAIT_MAX_S)
        if any(thread.is_alive() for thread in threads):
            raise RuntimeError("a submitting thread hung")
        expected = THREADS_PER_PROCESS * BATCHES_PER_THREAD
        if len(records) != expected:
            raise RuntimeError(f"{len(records)} batches acknowledged of {expected}")
        results.put(("ok", process, ([s.value for s in accounts], records)))
    except BaseException:
        results.put(("error", process, traceback.format_exc()))
    finally:
        if ledger is not None:
            ledger.close()


def _shared_batches() -> list[list[Transfer]]:
    """The same batches for every process: ids collide on purpose.

    Each round tops the limited wallet up (among many transfers to the hot account), then
    drains it whole in a batch of its own. A process that read the drain's id as absent and
    then, once it holds the wallet, finds it emptied by another process that created that
    very id must answer ``exists``: recording the id as failed would leave it both created
    and failed, which no unique key catches. Some drains ask for more than the wallet holds
    and fail for every process: those ids are failed once and ``id_already_failed`` after.
    """
    rng = random.Random(42)
    next_id = itertools.count(1)
    batches = []
    for round_number in range(40):
        top_up = rng.randint(100, 1000)
        batch = [
            Transfer(next(next_id), rng.choice(OTHERS), HOT, rng.randint(1, 500), ASSET, CODE)
            for _ in range(rng.randint(20, 150))
        ]
        batch.append(Transfer(next(next_id), HOT, WALLET, top_up, ASSET, CODE))
        batches.append(batch)
        drain = top_up + 1 if round_number % 4 == 3 else top_up
        batches.append([Transfer(next(next_id), WALLET, HOT, drain, ASSET, CODE)])
    return batches


def _same_ids_process(url: str, process: int, barrier: Any, results: Any) -> None:
    ledger: Ledger | None = None
    try:
        ledger = Ledger(open_store(url))
        batches = _shared_batches()
        statuses = []
        for batch in batches:
            barrier.wait()  # every process sends each batch at the same moment
            statuses.append([s.value for s in ledger.create_transfers(batch)])
        results.put(("ok", process, statuses))
    except BaseException:
        results.put(("error", process, traceback.format_exc()))
    finally:
        if ledger is not None:
            ledger.close()


def _accounts() -> list[Account]:
    wallet = Account(WALLET, ASSET, CODE, flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
    return [Account(HOT, ASSET, CODE), *(Account(i, ASSET, CODE) for i in OTHERS), wallet]


# --------------------------------------------------------------------------- running them


def _run_processes(target: Any, url: str) -> dict[int, Any]:
    """Start the processes, collect what each reports, and make sure none hung or raised."""
    barrier = _CONTEXT.Barrier(PROCESSES, timeout=PROCESS_WAIT_MAX_S)
    results = _CONTEXT.Queue()
    processes = [
        _CONTEXT.Process(target=target, args=(url, index, barrier, results), daemon=True)
        for index in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    reports: dict[int, Any] = {}
    errors: list[str] = []
    deadline = time.monotonic() + PROCESS_WAIT_MAX_S
    try:
        while len(reports) + len(errors) < PROCESSES:
            try:
                outcome, index, payload = results.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"hung: {PROCESSES - len(reports)} processes did not report")
            if outcome == "ok":
                reports[index] = payload
            else:
                errors.append(f"process {index}:\n{payload}")
        for process in processes:
            process.join(timeout=30)
            assert not process.is_alive(), f"process {process.pid} did not exit"
            assert process.exitcode == 0, f"process {process.pid} exited {process.exitcode}"
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join(5)
    assert not errors, "\n".join(errors)
    return reports


def _lookup_all(store: LedgerStore, ids: Sequence[int]) -> dict[int, Transfer]:
    found: dict[int, Transfer] = {}
    for start in range(0, len(ids), QUERY_LIMIT_MAX):
        for transfer in store.lookup_transfers(ids[start : start + QUERY_LIMIT_MAX]):
            found[transfer.id] = transfer
    return found


def _all_timestamps(url: str) -> list[int]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT timestamp FROM transfers UNION ALL SELECT timestamp FROM accounts"
        ).fetchall()
    return [row[0] for row in rows]


# --------------------------------------------------------------------------- the tests


def test_writer_processes_lose_no_update(postgres_url: str) -> None:
    started = time.monotonic()
    reports = _run_processes(_hammer_process, postgres_url)

    # Accounts: every process created the same ids at once; each was created exactly once.
    for position, account in enumerate(_accounts()):
        statuses = Counter(reports[p][0][position] for p in range(PROCESSES))
        assert statuses == Counter(
            {CreateAccountStatus.CREATED.value: 1, CreateAccountStatus.EXISTS.value: 2}
        ), f"account {account.id}: {statuses}"

    records: list[_BatchRecord] = [r for p in range(PROCESSES) for r in reports[p][1]]
    created: dict[int, tuple[str, int, int, int, int]] = {}
    for record in records:
        for (tid, kind, debit, credit, amount, pid), status in zip(
            record.events, record.statuses, strict=True
        ):
            # Every process owns its ids and no account has a limit: all must succeed.
            assert status == S.CREATED.value, f"transfer {tid} ({kind}): {status}"
            created[tid] = (kind, debit, credit, amount, pid)
    total = len(created)
    assert total == sum(len(r.events) for r in records)

    store = open_store(postgres_url)
    try:
        # Every acknowledged transfer is stored, as it was sent (resolutions as resolved).
        stored = _lookup_all(store, sorted(created))
        assert len(stored) == total
        for tid, (kind, debit, credit, amount, pid) in created.items():
            transfer = stored[tid]
            if kind in ("plain", "pending"):
                assert (transfer.debit_account_id, transfer.credit_account_id) == (debit, credit)
                assert transfer.amount == amount
            else:
                assert transfer.pending_id == pid
        assert store.totals().transfers == total

        # No lost update on the hot account: its balances are the sum of what touched it.
        expected = _expected_hot_balances(created, stored)
        (hot,) = store.lookup_accounts([HOT])
        actual = (hot.debits_pending, hot.debits_posted, hot.credits_pending, hot.credits_posted)
        assert actual == expected

        assert list(store.check()) == []
    finally:
        store.close()

    # Timestamps: unique across processes, and they follow the acknowledgements.
    timestamps = _all_timestamps(postgres_url)
    assert len(timestamps) == len(set(timestamps)) == total + len(_accounts())
    timestamps_by_id = {tid: transfer.timestamp for tid, transfer in stored.items()}
    _assert_acknowledgement_order(records, timestamps_by_id)
    _assert_real_time_order(records, timestamps_by_id)
    elapsed = time.monotonic() - started
    print(f"{total} transfers from {PROCESSES} processes in {elapsed:.1f} s")


def _expected_hot_balances(
    created: dict[int, tuple[str, int, int, int, int]], stored: dict[int, Transfer]
) -> tuple[int, int, int, int]:
    debits_pending = debits_posted = credits_pending = credits_posted = 0
    for tid, (kind, debit, credit, amount, pid) in created.items():
        if kind == "plain":
            debits_posted += amount if debit == HOT else 0
            credits_posted += amount if credit == HOT else 0
        elif kind == "pending":  # every pending transfer debits the hot account
            debits_pending += amount
        else:  # a post or void of one: releases the whole reserve, posts what it says
            debits_pending -= created[pid][3]
            debits_posted += stored[tid].amount if kind == "post" else 0
    return debits_pending, debits_posted, credits_pending, credits_posted


def _assert_acknowledgement_order(records: list[_BatchRecord], timestamps: dict[int, int]) -> None:
    """Per process: batches in the order its writer acknowledged them have increasing
    timestamps, batch after batch and event after event."""
    for process in range(PROCESSES):
        acked = sorted(
            (r for r in records if r.process == process and r.ack_seq is not None),
            key=lambda r: r.ack_seq or 0,
        )
        assert len(acked) > len(records) // PROCESSES // 2, "too few ordered acknowledgements"
        sequence = [timestamps[event[0]] for record in acked for event in record.events]
        assert sequence == sorted(sequence), f"process {process}: acks out of timestamp order"


def _assert_real_time_order(records: list[_BatchRecord], timestamps: dict[int, int]) -> None:
    """Across processes: a batch submitted after another was acknowledged has later
    timestamps (the monotonic clock is the machine's, shared by the processes)."""
    by_return = sorted(records, key=lambda r: r.returned_ns)
    returns = [r.returned_ns for r in by_return]
    newest_before: list[int] = []
    running = 0
    for record in by_return:
        running = max(running, *(timestamps[event[0]] for event in record.events))
        newest_before.append(running)
    for record in records:
        earlier = bisect.bisect_left(returns, record.submitted_ns)
        if earlier:
            first = min(timestamps[event[0]] for event in record.events)
            assert first > newest_before[earlier - 1], "a later batch got an earlier timestamp"


def test_writer_processes_racing_on_the_same_ids(postgres_url: str) -> None:
    with Ledger(open_store(postgres_url)) as ledger:
        assert set(ledger.create_accounts(_accounts())) == {CreateAccountStatus.CREATED}

    reports = _run_processes(_same_ids_process, postgres_url)

    batches = _shared_batches()
    outcomes: dict[int, Counter[str]] = defaultdict(Counter)
    for process in range(PROCESSES):
        for batch, statuses in zip(batches, reports[process], strict=True):
            for transfer, status in zip(batch, statuses, strict=True):
                outcomes[transfer.id][status] += 1
    created_ids = []
    failures = 0
    transient = {status.value for status in TRANSIENT_TRANSFER_FAILURES}
    for tid, seen in outcomes.items():
        if S.CREATED.value in seen:
            assert seen == Counter({S.CREATED.value: 1, S.EXISTS.value: 2}), f"{tid}: {seen}"
            created_ids.append(tid)
        else:
            (failure,) = set(seen) - {S.ID_ALREADY_FAILED.value}
            assert failure in transient and seen[failure] == 1, f"{tid}: {seen}"
            assert seen[S.ID_ALREADY_FAILED.value] == 2, f"{tid}: {seen}"
            failures += 1
    assert failures > 0, "the wallet never ran dry: the test lost its failing ids"

    by_id = {t.id: t for batch in batches for t in batch}
    store = open_store(postgres_url)
    try:
        assert store.totals().transfers == len(created_ids)
        assert len(_lookup_all(store, created_ids)) == len(created_ids)
        (hot,) = store.lookup_accounts([HOT])
        credits = sum(
            by_id[tid].amount for tid in created_ids if by_id[tid].credit_account_id == HOT
        )
        assert hot.credits_posted == credits
        assert list(store.check()) == []
    finally:
        store.close()
    with psycopg.connect(postgres_url) as connection:
        row = connection.execute("SELECT COUNT(*) FROM failed_transfers").fetchone()
    assert row is not None and row[0] == failures


def test_expiry_sweeps_from_two_writers(postgres_url: str) -> None:
    """Two engines (two connections, as two processes would have) sweep the same due pending
    transfers while one of them also posts some: each expires once, nothing deadlocks."""
    clock = FakeClock()
    first = Ledger(open_store(postgres_url), clock)
    second = Ledger(open_store(postgres_url), clock)
    try:
        assert set(first.create_accounts(_accounts())) == {CreateAccountStatus.CREATED}
        pending = [
            Transfer(
                1000 + i,
                HOT,
                OTHERS[i % len(OTHERS)],
                10 + i,
                ASSET,
                CODE,
                TransferFlags.PENDING,
                timeout_s=1,
            )
            for i in range(3000)
        ]
        assert set(first.create_transfers(pending)) == {S.CREATED}
        clock.advance(2)
        posts = [
            Transfer(
                10_000 + i,
                0,
                0,
                AMOUNT_POST_FULL,
                "",
                0,
                TransferFlags.POST_PENDING,
                pending_id=1000 + i,
            )
            for i in range(0, 3000, 7)
        ]
        failures: list[BaseException] = []

        def run(action: Any) -> None:
            try:
                action()
            except BaseException as error:
                failures.append(error)

        threads = [
            threading.Thread(target=run, args=(first.expire_due,)),
            threading.Thread(target=run, args=(second.expire_due,)),
            threading.Thread(target=run, args=(lambda: second.create_transfers(posts),)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not any(thread.is_alive() for thread in threads), "hung"
        assert not failures, failures
        states = first.pending_states([t.id for t in pending])
        assert {state.status for state in states} == {PendingStatus.EXPIRED}
        (hot,) = first.lookup_accounts([HOT])
        assert (hot.debits_pending, hot.debits_posted) == (0, 0)
        assert list(first.store.check()) == []
    finally:
        first.close()
        second.close()


def test_a_unique_violation_is_a_transient_error(postgres_url: str) -> None:
    """A writer that inserts an id another committed meanwhile gets TransientStoreError, and
    so does one that finds, once it holds the clock, that an id it read as absent exists.
    (Only overlapping transactions can interleave so: a ``write_transaction`` runs alone.)"""
    winner, loser = PostgresStore.open(postgres_url), PostgresStore.open(postgres_url)
    try:
        with winner.write_transaction() as txn:
            first = txn.reserve_timestamps(2, 1)
            accounts = [
                Account(1, ASSET, CODE, timestamp=first),
                Account(2, ASSET, CODE, timestamp=first + 1),
            ]
            txn.write(Changes(accounts_created=accounts))

        def transfer(tid: int, timestamp: int) -> Transfer:
            return Transfer(tid, 1, 2, 5, ASSET, CODE, timestamp=timestamp)

        with pytest.raises(TransientStoreError), loser.overlapping_transaction() as late:
            assert late.transfers([10]) == {}
            with winner.overlapping_transaction() as txn:
                txn.write(Changes(transfers=[transfer(10, txn.reserve_timestamps(1, 1))]))
            late.write(Changes(transfers=[transfer(10, 10**18)]))

        with pytest.raises(TransientStoreError), loser.overlapping_transaction() as late:
            assert late.transfers([11]) == {}
            assert late.failed([11]) == {}
            with winner.overlapping_transaction() as txn:
                txn.write(Changes(transfers=[transfer(11, txn.reserve_timestamps(1, 1))]))
            late.reserve_timestamps(1, 1)

        with loser.write_transaction() as txn:  # the loser's connection is usable again
            assert set(txn.transfers([10, 11])) == {10, 11}
        assert loser.totals().transfers == 2
    finally:
        winner.close()
        loser.close()


def test_migrations_land_in_the_url_schema(postgres_url: str) -> None:
    store = open_store(postgres_url)
    store.close()
    with psycopg.connect(postgres_url) as connection:
        row = connection.execute("SELECT current_schema()").fetchone()
        assert row is not None and row[0].startswith("t_")
        schema = row[0]
        tables = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,),
        ).fetchall()
    assert {"alembic_version", "transfers", "accounts", "ledger_clock"} <= {t[0] for t in tables}
