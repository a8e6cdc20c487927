"""Write units: a caller's function run by the writer in the group's transaction, on both
stores. What a unit writes to its own tables commits with its ledger events or not at all;
a unit that raises takes nothing else down with it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from centime.clock import FakeClock
from centime.ledger import (
    Account,
    AccountFlags,
    CreateTransferStatus,
    Ledger,
    LedgerBusyError,
    Transfer,
)
from centime.ledger.units import UnitContext, UnitEventsExceededError
from centime.store import LedgerStore

DMNEC = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
SOURCE, WALLET, SHOP = 1, 2, 3
NOTES = "CREATE TABLE IF NOT EXISTS unit_notes (id BIGINT PRIMARY KEY, amount BIGINT NOT NULL)"


@pytest.fixture
def ledger(store_factory: Callable[[], LedgerStore]) -> Iterator[Ledger]:
    engine = Ledger(store_factory(), FakeClock(1_000_000_000), expiry_interval_s=3600)
    engine.create_accounts(
        [Account(SOURCE, "USD", 1), Account(WALLET, "USD", 1, DMNEC), Account(SHOP, "USD", 1)]
    )
    engine.run(lambda ctx: ctx.execute(NOTES), 0)
    try:
        yield engine
    finally:
        engine.close()


def _pay(transfer_id: int, amount: int) -> Callable[[UnitContext], str]:
    """A payment unit: refuses when the wallet cannot cover it, records a note when paid."""

    def unit(ctx: UnitContext) -> str:
        wallet = ctx.accounts([WALLET])[WALLET]
        if wallet.available < amount:
            return "insufficient"
        (status,) = ctx.create_transfers([Transfer(transfer_id, WALLET, SHOP, amount, "USD", 1)])
        if status is not CreateTransferStatus.CREATED:
            return status.value
        ctx.execute("INSERT INTO unit_notes (id, amount) VALUES (?, ?)", (transfer_id, amount))
        return "paid"

    return unit


def _notes(ledger: Ledger) -> list[tuple[int, int]]:
    with ledger.store.reader() as fetch:
        return sorted(fetch("SELECT id, amount FROM unit_notes", ()))


def test_a_unit_reads_decides_and_writes_with_the_ledger(ledger: Ledger) -> None:
    ledger.create_transfers([Transfer(10, SOURCE, WALLET, 100, "USD", 1)])
    assert ledger.run(_pay(11, 60), 2) == "paid"
    assert ledger.run(_pay(12, 60), 2) == "insufficient"
    (wallet,) = ledger.lookup_accounts([WALLET])
    assert wallet.balance == 40
    assert _notes(ledger) == [(11, 60)]


def test_units_in_one_group_see_each_other(ledger: Ledger) -> None:
    """Ten concurrent units against one wallet of 100: each reads what the ones before it
    left, so exactly five payments of 20 go through and the notes match the ledger."""
    ledger.create_transfers([Transfer(10, SOURCE, WALLET, 100, "USD", 1)])
    results: list[str] = []
    futures = [ledger.submit_unit(_pay(100 + i, 20), 2) for i in range(10)]
    results = [f.result(30) for f in futures]
    assert results.count("paid") == 5
    assert results.count("insufficient") == 5
    (wallet,) = ledger.lookup_accounts([WALLET])
    assert wallet.balance == 0
    assert sum(amount for _, amount in _notes(ledger)) == 100


def test_a_unit_that_raises_rolls_back_alone(ledger: Ledger) -> None:
    ledger.create_transfers([Transfer(10, SOURCE, WALLET, 100, "USD", 1)])

    def broken(ctx: UnitContext) -> None:
        ctx.create_transfers([Transfer(20, WALLET, SHOP, 30, "USD", 1)])
        ctx.execute("INSERT INTO unit_notes (id, amount) VALUES (?, ?)", (20, 30))
        raise ValueError("a bug after writing")

    gate = threading.Barrier(2)
    errors: list[BaseException] = []

    def submit_broken() -> None:
        gate.wait()
        try:
            ledger.run(broken, 1)
        except ValueError as error:
            errors.append(error)

    thread = threading.Thread(target=submit_broken)
    thread.start()
    gate.wait()
    assert ledger.run(_pay(21, 10), 2) == "paid"
    thread.join()
    assert [str(e) for e in errors] == ["a bug after writing"]
    assert ledger.lookup_transfers([20]) == []
    (wallet,) = ledger.lookup_accounts([WALLET])
    assert wallet.balance == 90
    assert _notes(ledger) == [(21, 10)]


def test_a_unit_cannot_take_more_events_than_it_declared(ledger: Ledger) -> None:
    def greedy(ctx: UnitContext) -> None:
        ctx.create_transfers([Transfer(30 + i, SOURCE, SHOP, 1, "USD", 1) for i in range(3)])

    with pytest.raises(UnitEventsExceededError):
        ledger.run(greedy, 2)
    assert ledger.lookup_transfers([30, 31, 32]) == []


def test_a_retried_unit_meets_exists_and_moves_nothing_twice(ledger: Ledger) -> None:
    """The same derived transfer id, run again (a client retry after a lost answer)."""
    ledger.create_transfers([Transfer(10, SOURCE, WALLET, 100, "USD", 1)])

    def pay_once(ctx: UnitContext) -> str:
        (status,) = ctx.create_transfers([Transfer(40, WALLET, SHOP, 25, "USD", 1)])
        return status.value

    assert ledger.run(pay_once, 1) == "created"
    assert ledger.run(pay_once, 1) == "exists"
    (wallet,) = ledger.lookup_accounts([WALLET])
    assert wallet.balance == 75


def test_units_post_pending_transfers_they_did_not_name_at_first(ledger: Ledger) -> None:
    ledger.create_transfers([Transfer(10, SOURCE, WALLET, 100, "USD", 1)])
    ledger.create_transfers([Transfer(50, WALLET, SHOP, 80, "USD", 1, flags=2, timeout_s=60)])

    def capture(ctx: UnitContext) -> list[str]:
        state = ctx.pending_state(50)
        assert state is not None
        posted = ctx.create_transfers([Transfer(51, 0, 0, 30, "", 0, flags=4, pending_id=50)])
        return [state.status.value, *(s.value for s in posted)]

    assert ledger.run(capture, 1) == ["pending", "created"]
    (wallet,) = ledger.lookup_accounts([WALLET])
    assert wallet.balance == 70 and wallet.debits_pending == 0


def test_a_full_queue_refuses_at_once_when_asked_not_to_wait(
    store_factory: Callable[[], LedgerStore],
) -> None:
    engine = Ledger(store_factory(), FakeClock(1), queue_requests_max=1, expiry_interval_s=3600)
    release = threading.Event()
    started = threading.Event()

    def blocking(ctx: UnitContext) -> str:
        started.set()
        release.wait(30)
        return "done"

    try:
        first = engine.submit_unit(blocking, 0)
        assert started.wait(30)  # the writer holds it: the queue is empty again
        queued = engine.submit_unit(lambda ctx: "queued", 0)
        with pytest.raises(LedgerBusyError):
            engine.submit_unit(lambda ctx: "refused", 0, wait=False)
        release.set()
        assert (first.result(30), queued.result(30)) == ("done", "queued")
    finally:
        release.set()
        engine.close()
