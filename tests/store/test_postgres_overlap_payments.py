"""Payment units of two writer processes overlap on PostgreSQL, and stay exact.

A payment unit declares an ``Overlap`` (centime.platform.payments.service._overlap): its
group reads the payers', the merchant's and the fee revenue accounts (and those of the
pending transfers it expires) without a lock (locked at its end and moved onto what is
stored then: centime.ledger.rebase), settles the
merchant's month volume at the end (re-checking each tiered fee), and relies on keys for
payment ids and idempotency. These tests stop one writer inside its group, make the other
commit meanwhile, then check what both did against what running them in turn gives: the
fees, the volume, the mandates' day totals, the balances (``ledger check``). Each writer is
a ``Ledger`` on a store of its own, as two processes have.

Every test takes the ``postgres_url`` fixture, so it is skipped, visibly, without a server.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

from centime.clock import NS_PER_DAY, FakeClock
from centime.ledger import Ledger
from centime.ledger.errors import TransientStoreError
from centime.ledger.units import Overlap, UnitContext
from centime.platform.chart import AccountKind
from centime.platform.context import Operation, Platform
from centime.platform.errors import Code, Refusal
from centime.platform.fees import payment_fee
from centime.platform.payments import (
    Hold,
    HoldRequest,
    Payment,
    PaymentItem,
    PaymentRequest,
    authorize_hold,
    create_payment,
    create_payments_batch,
)
from centime.platform.payments.mandates import create_mandate
from centime.platform.pricing.evaluate import fee_terms
from centime.platform.pricing.rules import FeeScheduleDoc, RuleSetDocument, TierDoc
from centime.platform.pricing.store import active_rules, publish_rules
from centime.store.postgres import PostgresStore

from ..conftest import PLATFORM_START_NS
from ..platform.world import balance, customer, fund, merchant
from ..risk.screens import AllowScreen

ASSET = "USD"
WAIT_MAX_S = 60.0
TIER_AT = 1_000  # the second tier starts at this month volume
TIERS = (("0", 300), (str(TIER_AT), 100))  # volumes in minor units


class _PausingTxn:
    """A write transaction that stops when its group settles the month volume (the start
    of its end, after every unit ran), once."""

    def __init__(self, txn: Any, store: _PausingStore) -> None:
        self._txn = txn
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._txn, name)

    def _pause(self) -> None:
        if not self._store.paused.is_set():
            self._store.paused.set()
            assert self._store.resume.wait(WAIT_MAX_S), "never resumed"

    def fetch(self, sql: str, params: Any = ()) -> Any:
        if "merchant_volumes" in sql and "FOR UPDATE" in sql and not self._store.at_reserve:
            self._pause()
        return self._txn.fetch(sql, params)

    def reserve_timestamps(self, count: int, now_ns: int) -> int:
        if self._store.at_reserve:
            self._pause()
        return int(self._txn.reserve_timestamps(count, now_ns))


class _PausingStore(PostgresStore):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.paused = threading.Event()
        self.resume = threading.Event()
        self.overlapping = 0
        self.alone = 0
        self.at_reserve = False  # pause at the reservation rather than at the volume

    @contextmanager
    def overlapping_transaction(self) -> Iterator[Any]:
        self.overlapping += 1
        with super().overlapping_transaction() as txn:
            yield _PausingTxn(txn, self)

    def write_transaction(self) -> Any:
        self.alone += 1
        return super().write_transaction()


def _platform(url: str) -> tuple[Platform, _PausingStore]:
    store = _PausingStore(url)
    clock = FakeClock(PLATFORM_START_NS)
    ledger = Ledger(store, clock, expiry_interval_s=3600)
    return Platform(ledger, clock, screen=AllowScreen()), store


@pytest.fixture
def pair(postgres_url: str) -> Iterator[tuple[Platform, _PausingStore, Platform, _PausingStore]]:
    PostgresStore.open(postgres_url).close()  # migrated once
    a, store_a = _platform(postgres_url)
    b, store_b = _platform(postgres_url)
    store_a.paused.set()  # neither pauses until a test clears its event
    store_b.paused.set()
    try:
        yield a, store_a, b, store_b
    finally:
        store_a.resume.set()
        store_b.resume.set()
        a.ledger.close()
        b.ledger.close()


def _world(platform: Platform, payers: int, funds: int = 100_000) -> tuple[int, list[int]]:
    tiers = [TierDoc(volume_from=start, fee_bp=bp) for start, bp in TIERS]
    document = RuleSetDocument(fee_schedules=[FeeScheduleDoc(asset=ASSET, tiers=tiers)])
    assert not isinstance(platform.execute(publish_rules(platform, document)), Refusal)
    shop = merchant(platform).id
    customers = []
    for _ in range(payers):
        c = customer(platform).id
        fund(platform, c, ASSET, funds)
        customers.append(c)
    return shop, customers


def _pay(platform: Platform, request: PaymentRequest) -> Payment | Refusal:
    result = platform.execute(create_payment(platform, request))
    assert isinstance(result, Payment | Refusal)
    return result


def _in_thread(target: Any) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []

    def run() -> None:
        out.append(target())

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def _check_exact(platform: Platform, shop: int, units: Sequence[Sequence[Any]] = ()) -> None:
    """What running the payments in turn gives: the ledger's invariants hold; the month
    volume is the sum of the payments; each payment's fee is the one its tier gives at the
    volume of the payments committed before it; the merchant's and fee accounts hold the
    sums. ``units``: the answers of each batch (one unit), in the order it priced them;
    any other payment is a unit of its own. A unit's payments share transfers (one per
    paying account, one fee transfer), so a transfer's timestamp does not order them: the
    units go in the order of their first transfer's timestamp, a unit's payments in its own."""
    assert list(platform.ledger.store.check()) == []
    with platform.read() as fetch:
        rows = fetch(
            "SELECT p.id, p.amount, p.fee, min(t.timestamp) FROM payments p JOIN transfers t"
            " ON t.id IN (p.wallet_transfer_id, p.restricted_transfer_id, p.fee_transfer_id)"
            " WHERE p.merchant_id = ? GROUP BY p.id, p.amount, p.fee",
            (shop,),
        )
        volume = fetch("SELECT volume FROM merchant_volumes WHERE merchant_id = ?", (shop,))
    place = {p.id: (n, i) for n, unit in enumerate(units) for i, p in enumerate(_paid(unit))}
    first: dict[Any, int] = {}
    for payment_id, _, _, timestamp in rows:
        unit = place.get(int(payment_id), (int(payment_id), 0))[0]
        first[unit] = min(first.get(unit, int(timestamp)), int(timestamp))

    def order(row: Any) -> tuple[int, int]:
        unit, index = place.get(int(row[0]), (int(row[0]), 0))
        return first[unit], index

    rows = [row[1:] for row in sorted(rows, key=order)]
    amounts = [int(r[0]) for r in rows]
    assert [int(v[0]) for v in volume] == ([sum(amounts)] if amounts else [])
    seen = 0
    for amount, fee, _ in rows:
        terms = _terms_at(platform, shop, seen)
        assert int(fee) == payment_fee(int(amount), terms.fee_bp, terms.fee_fixed)
        seen += int(amount)
    fees = sum(int(r[1]) for r in rows)
    assert balance(platform, AccountKind.FEE_REVENUE, 0, ASSET) == fees
    assert balance(platform, AccountKind.MERCHANT_AVAILABLE, shop, ASSET) == sum(amounts) - fees


def _mandates(platform: Platform, customers: list[int], shop: int, limit: int) -> dict[int, int]:
    """A mandate of ``limit`` a day from each customer to ``shop``: its id by customer."""
    mandates = {}
    for c in customers:
        made = platform.execute(create_mandate(platform, c, shop, ASSET, limit))
        assert not isinstance(made, Refusal)
        mandates[c] = made.id
    return mandates


def _paid(answers: Sequence[Any]) -> list[Payment]:
    return [p for p in answers if isinstance(p, Payment)]


def _terms_at(platform: Platform, shop: int, volume: int) -> Any:
    def unit(ctx: UnitContext) -> Any:
        return active_rules(ctx)

    rules = platform.execute(Operation(unit, 0))
    return fee_terms(rules, shop, ASSET, volume, (250, 0))


def test_a_payment_group_overlaps_another_process_and_is_moved_onto_its_commit(
    pair: tuple[Platform, _PausingStore, Platform, _PausingStore],
) -> None:
    a, store_a, b, _ = pair
    shop, (c1, c2) = _world(a, 2)
    store_a.paused.clear()
    alone_before = store_a.alone
    first, out_a = _in_thread(lambda: _pay(a, PaymentRequest(c1, shop, ASSET, 400)))
    assert store_a.paused.wait(WAIT_MAX_S)
    # A's group ran its unit and holds c1's accounts; B pays the same merchant meanwhile
    # and commits while A waits (A holds no lock on the merchant, fee or volume rows).
    paid_b = _pay(b, PaymentRequest(c2, shop, ASSET, 500))
    assert isinstance(paid_b, Payment)
    store_a.resume.set()
    first.join(WAIT_MAX_S)
    assert isinstance(out_a[0], Payment)
    assert store_a.alone == alone_before  # moved onto B's commit, not run again alone
    _check_exact(a, shop)


def test_a_tier_moved_by_the_other_process_reprices_the_group_alone(
    pair: tuple[Platform, _PausingStore, Platform, _PausingStore],
) -> None:
    a, store_a, b, _ = pair
    shop, (c1, c2) = _world(a, 2)
    store_a.paused.clear()
    first, out_a = _in_thread(lambda: _pay(a, PaymentRequest(c1, shop, ASSET, 400)))
    assert store_a.paused.wait(WAIT_MAX_S)
    alone_before = store_a.alone
    # B's payment takes the volume past the tier A's payment was priced at.
    assert isinstance(_pay(b, PaymentRequest(c2, shop, ASSET, TIER_AT + 1)), Payment)
    store_a.resume.set()
    first.join(WAIT_MAX_S)
    paid_a = out_a[0]
    assert isinstance(paid_a, Payment)
    assert store_a.alone == alone_before + 1  # ran again alone, priced at the new tier
    assert paid_a.fee == payment_fee(400, 100, 0)
    _check_exact(a, shop)


def test_the_same_payment_id_from_two_processes_is_paid_once(
    pair: tuple[Platform, _PausingStore, Platform, _PausingStore],
) -> None:
    a, store_a, b, _ = pair
    shop, (c1,) = _world(a, 1)
    request = PaymentRequest(c1, shop, ASSET, 400)
    store_a.paused.clear()
    first, out_a = _in_thread(lambda: _pay(a, request))
    assert store_a.paused.wait(WAIT_MAX_S)
    second, out_b = _in_thread(lambda: _pay(b, request))
    time.sleep(0.5)  # B waits for A's uncommitted payment id (its key)
    store_a.resume.set()
    first.join(WAIT_MAX_S)
    second.join(WAIT_MAX_S)
    assert isinstance(out_a[0], Payment) and out_a[0] == out_b[0]
    with a.read() as fetch:
        assert fetch("SELECT count(*) FROM payments", ())[0][0] == 1
    assert balance(a, AccountKind.CUSTOMER_WALLET, c1, ASSET) == 100_000 - 400
    _check_exact(a, shop)


def test_a_mandate_charged_from_two_processes_keeps_its_daily_limit(
    pair: tuple[Platform, _PausingStore, Platform, _PausingStore],
) -> None:
    a, store_a, b, _ = pair
    shop, (c1,) = _world(a, 1)
    mandate = a.execute(create_mandate(a, c1, shop, ASSET, 700))
    assert not isinstance(mandate, Refusal)

    def charge(platform: Platform) -> Payment | Refusal:
        return _pay(
            platform,
            PaymentRequest(c1, shop, ASSET, 400, mandate_id=mandate.id, charged_by_merchant=True),
        )

    store_a.paused.clear()
    first, out_a = _in_thread(lambda: charge(a))
    assert store_a.paused.wait(WAIT_MAX_S)
    # A's group read the mandate (nothing charged today) and the payer unlocked, and
    # accepted its charge; B charges the same mandate and commits meanwhile, waiting for
    # nothing A holds.
    second, out_b = _in_thread(lambda: charge(b))
    second.join(WAIT_MAX_S)
    assert isinstance(out_b[0], Payment)
    alone_before = store_a.alone
    store_a.resume.set()
    first.join(WAIT_MAX_S)
    # A's charge added at its end would pass the limit: its group ran again alone and
    # refused it.
    assert isinstance(out_a[0], Refusal) and out_a[0].code is Code.MANDATE_LIMIT_EXCEEDED
    assert store_a.alone == alone_before + 1
    with a.read() as fetch:
        assert fetch("SELECT spent_today FROM mandates", ())[0][0] == 400
    assert balance(a, AccountKind.CUSTOMER_WALLET, c1, ASSET) == 100_000 - 400
    _check_exact(a, shop)


@pytest.mark.parametrize("seed", [1, 2])
def test_two_processes_paying_at_random_stay_exact(
    pair: tuple[Platform, _PausingStore, Platform, _PausingStore], seed: int
) -> None:
    """Many payments from threads of both processes, on shared payers, mandates and
    payment ids, through the tier boundary: no double spend, no lost update, exact fees."""
    a, store_a, b, store_b = pair
    payers = 4
    shop, customers = _world(a, payers, funds=3_000)
    mandates = _mandates(a, customers, shop, 2_000)
    rng = random.Random(seed)
    shared_ids = [rng.randrange(1, 2**62) for _ in range(6)]
    jobs: list[tuple[Platform, PaymentRequest]] = []
    for _ in range(80):
        c = rng.choice(customers)
        amount = rng.randrange(1, 300)
        kwargs: dict[str, Any] = {}
        if rng.random() < 0.5:
            kwargs.update(mandate_id=mandates[c], charged_by_merchant=True)
        if rng.random() < 0.2:
            pid = rng.choice(shared_ids)
            kwargs["payment_id"] = pid
            c, amount = customers[pid % payers], 100 + pid % 7
            kwargs.pop("mandate_id", None)
            kwargs.pop("charged_by_merchant", None)
        jobs.append((rng.choice((a, b)), PaymentRequest(c, shop, ASSET, amount, **kwargs)))
    results: list[tuple[PaymentRequest, Payment | Refusal]] = []
    lock = threading.Lock()

    def worker(part: list[tuple[Platform, PaymentRequest]]) -> None:
        for platform, request in part:
            result = _pay(platform, request)
            with lock:
                results.append((request, result))

    threads = [threading.Thread(target=worker, args=(jobs[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_MAX_S * 3)
    assert len(results) == len(jobs)
    assert store_a.overlapping + store_b.overlapping > 0
    with a.read() as fetch:
        stored = {int(r[0]): r for r in fetch("SELECT id, amount, mandate_id FROM payments", ())}
        spent = dict(fetch("SELECT id, spent_today FROM mandates", ()))
    paid = {r.id for _, r in results if isinstance(r, Payment)}
    assert paid == set(stored)  # every answered payment stored, nothing else
    for pid in shared_ids:
        answers = {r for q, r in results if q.payment_id == pid and isinstance(r, Payment)}
        assert len(answers) <= 1  # one payment per id, whichever process answered
    for c in customers:
        under = sum(int(r[1]) for r in stored.values() if r[2] == mandates[c])
        assert spent[mandates[c]] == under <= 2_000
        out = sum(int(r[1]) for r in stored.values() if _payer(a, int(r[0])) == c)
        assert balance(a, AccountKind.CUSTOMER_WALLET, c, ASSET) == 3_000 - out >= 0
    _check_exact(a, shop)


def _payer(platform: Platform, payment_id: int) -> int:
    with platform.read() as fetch:
        return int(fetch("SELECT customer_id FROM payments WHERE id = ?", (payment_id,))[0][0])


def test_a_payment_operation_declares_its_overlap() -> None:
    from centime.platform.payments.service import _overlap

    overlap = _overlap(7, {(1, ASSET), (2, ASSET)}, {ASSET}, False)
    assert isinstance(overlap, Overlap)
    assert not overlap.lock_accounts and len(overlap.deferred_accounts) == 6
    assert not overlap.lock_accounts & overlap.deferred_accounts


def test_a_job_lease_taken_from_two_processes_at_once_goes_to_one(
    pair: tuple[Platform, _PausingStore, Platform, _PausingStore],
) -> None:
    from centime.worker import release_lease, take_lease

    a, store_a, b, _ = pair
    for _round in range(2):  # the row inserted, then updated
        alone_before, overlapping_before = store_a.alone, store_a.overlapping
        store_a.at_reserve = True
        store_a.paused.clear()
        first, out_a = _in_thread(lambda: a.execute(take_lease("job", "a", 30.0)))
        assert store_a.paused.wait(WAIT_MAX_S)  # A's group holds what its unit wrote
        second, out_b = _in_thread(lambda: b.execute(take_lease("job", "b", 30.0)))
        time.sleep(0.5)
        store_a.resume.set()
        first.join(WAIT_MAX_S)
        second.join(WAIT_MAX_S)
        assert (out_a, out_b) == ([True], [False])
        with a.read() as fetch:
            assert fetch("SELECT holder FROM job_leases", ()) == [("a",)]
        # A's lease was taken by its overlapping group, not by a run alone after it.
        assert (store_a.alone, store_a.overlapping) == (alone_before, overlapping_before + 1)
        assert a.execute(release_lease("job", "a", 0.0)) is True
        store_a.resume.clear()


def test_the_same_payment_id_from_two_payers_in_two_processes_is_paid_once(
    pair: tuple[Platform, _PausingStore, Platform, _PausingStore],
) -> None:
    """Two payers, so the groups lock no account in common: only the payment id's key
    orders them. The loser's insert fails on the key, its group runs again and answers
    that the id names another payment; nothing of it is written."""
    a, store_a, b, store_b = pair
    shop, (c1, c2) = _world(a, 2)
    payment_id = 4_242_424_242
    store_a.paused.clear()
    first, out_a = _in_thread(
        lambda: _pay(a, PaymentRequest(c1, shop, ASSET, 400, payment_id=payment_id))
    )
    assert store_a.paused.wait(WAIT_MAX_S)  # A's unit inserted the payment row
    runs_before = store_b.overlapping + store_b.alone
    second, out_b = _in_thread(
        lambda: _pay(b, PaymentRequest(c2, shop, ASSET, 300, payment_id=payment_id))
    )
    time.sleep(0.5)  # B waits for A's uncommitted key
    store_a.resume.set()
    first.join(WAIT_MAX_S)
    second.join(WAIT_MAX_S)
    assert isinstance(out_a[0], Payment) and out_a[0].customer_id == c1
    assert isinstance(out_b[0], Refusal) and out_b[0].code is Code.INVALID_REQUEST
    assert store_b.overlapping + store_b.alone - runs_before >= 2  # the key -> a retry
    with a.read() as fetch:
        assert fetch("SELECT count(*) FROM payments", ())[0][0] == 1
    assert balance(a, AccountKind.CUSTOMER_WALLET, c1, ASSET) == 100_000 - 400
    assert balance(a, AccountKind.CUSTOMER_WALLET, c2, ASSET) == 100_000
    _check_exact(a, shop)


def test_a_mandate_charged_across_midnight_from_two_processes_keeps_both_days_limits(
    postgres_url: str,
) -> None:
    """A's clock is on day D (1 ms before midnight), B's on D+1 (two hosts, or A read its
    clock before B's group began). A's group reads the mandate on D and accepts its charge;
    B charges the mandate on D+1 and commits meanwhile; A's charges, added at its end, find
    the mandate on a later day than its own: it must neither ignore what D already spent
    nor reset D+1's total. Its group runs again alone and counts its charge on D+1, where
    it passes the limit: refused."""
    PostgresStore.open(postgres_url).close()
    day_end = (PLATFORM_START_NS // NS_PER_DAY + 1) * NS_PER_DAY
    clock_a, clock_b = FakeClock(day_end - 1_000_000), FakeClock(day_end + 1_000_000)
    store_a, store_b = _PausingStore(postgres_url), _PausingStore(postgres_url)
    a = Platform(Ledger(store_a, clock_a, expiry_interval_s=3600), clock_a, screen=AllowScreen())
    b = Platform(Ledger(store_b, clock_b, expiry_interval_s=3600), clock_b, screen=AllowScreen())
    store_a.paused.set()
    store_b.paused.set()
    try:
        shop, (c1,) = _world(a, 1)
        mandate = a.execute(create_mandate(a, c1, shop, ASSET, 700))
        assert not isinstance(mandate, Refusal)

        def charge(platform: Platform, amount: int = 400) -> Payment | Refusal:
            return _pay(
                platform,
                PaymentRequest(
                    c1, shop, ASSET, amount, mandate_id=mandate.id, charged_by_merchant=True
                ),
            )

        assert isinstance(charge(a), Payment)  # day D: 400 of 700
        store_a.paused.clear()
        third, out_a = _in_thread(lambda: charge(a, 200))  # D: 600 of 700, as A reads it
        assert store_a.paused.wait(WAIT_MAX_S)
        alone_before = store_a.alone
        second, out_b = _in_thread(lambda: charge(b, 600))
        second.join(WAIT_MAX_S)  # B waits for nothing A holds
        store_a.resume.set()
        third.join(WAIT_MAX_S)
        assert isinstance(out_b[0], Payment)  # day D+1: 600 of 700
        assert isinstance(out_a[0], Refusal) and out_a[0].code is Code.MANDATE_LIMIT_EXCEEDED
        assert store_a.alone == alone_before + 1  # the lost race ran again alone
        assert isinstance(charge(b, 200), Refusal)  # D+1's 600 still counts
        with a.read() as fetch:
            row = fetch("SELECT spent_today, day FROM mandates", ())
            paid = fetch("SELECT amount, created_ns FROM payments", ())
        assert [tuple(map(int, r)) for r in row] == [(600, day_end // NS_PER_DAY)]
        by_day: dict[int, int] = {}
        for amount, created_ns in paid:
            day = int(created_ns) // NS_PER_DAY
            by_day[day] = by_day.get(day, 0) + int(amount)
        assert all(total <= 700 for total in by_day.values()), by_day
    finally:
        store_a.resume.set()
        store_b.resume.set()
        a.ledger.close()
        b.ledger.close()


def test_an_overlapping_group_that_keeps_losing_races_runs_alone(
    pair: tuple[Platform, _PausingStore, Platform, _PausingStore],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, store_a, _, _ = pair
    shop, (c1,) = _world(a, 1)
    lost: list[int] = []

    def always_lose(self: Ledger, store: Any, group: Any) -> Any:
        lost.append(1)
        raise TransientStoreError("another writer won (forced)")

    monkeypatch.setattr(Ledger, "_apply_overlapping", always_lose)
    alone_before = store_a.alone
    assert isinstance(_pay(a, PaymentRequest(c1, shop, ASSET, 400)), Payment)
    assert 1 <= len(lost) <= 2 and store_a.alone == alone_before + 1
    _check_exact(a, shop)


class _VolumeContext:
    """What ``group_volumes`` and its settlement use of a unit context, recording the
    merchants whose volume rows are locked, in order."""

    overlapping = True

    def __init__(self) -> None:
        self.group_state: dict[Any, Any] = {}
        self.checks: list[Any] = []
        self.locked: list[int] = []

    def at_end(self, check: Any) -> None:
        self.checks.append(check)

    def fetch(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        if "FOR UPDATE" in sql:
            self.locked.append(int(params[0]))
        return []

    def execute(self, sql: str, params: Any = ()) -> int:
        return 1


def test_a_group_locks_its_merchants_volume_rows_in_merchant_order() -> None:
    """Groups paying M1 then M2 and M2 then M1 lock the rows in one order (no deadlock)."""
    from centime.platform.pricing.store import group_volumes

    rng = random.Random(5)
    for _ in range(20):
        merchants = rng.sample(range(1, 1_000), rng.randrange(1, 6))
        ctx = _VolumeContext()
        for m in merchants:
            group_volumes(ctx, m, 7)  # type: ignore[arg-type]
        for check in ctx.checks:
            check()
        assert ctx.locked == sorted(merchants)


def _batch(platform: Platform, shop: int, items: list[PaymentItem]) -> list[Payment | Refusal]:
    result = platform.execute(
        create_payments_batch(platform, shop, items, charged_by_merchant=False)
    )
    assert isinstance(result, list)
    return result


def test_a_batch_overlaps_another_process_paying_from_the_same_payer(
    pair: tuple[Platform, _PausingStore, Platform, _PausingStore],
) -> None:
    """The payer's accounts are read unlocked: B's batch from the same payer commits while
    A's group waits at its end, and A's group, whose payments the payer can still cover,
    is moved onto B's commit instead of running again alone."""
    a, store_a, b, _ = pair
    shop, (c1,) = _world(a, 1, funds=1_000)
    store_a.paused.clear()
    alone_before = store_a.alone
    first, out_a = _in_thread(
        lambda: _batch(a, shop, [PaymentItem(c1, ASSET, 300), PaymentItem(c1, ASSET, 200)])
    )
    assert store_a.paused.wait(WAIT_MAX_S)
    second, out_b = _in_thread(lambda: _batch(b, shop, [PaymentItem(c1, ASSET, 400)]))
    second.join(WAIT_MAX_S)  # B waits for nothing A holds
    assert all(isinstance(p, Payment) for p in out_b[0])
    store_a.resume.set()
    first.join(WAIT_MAX_S)
    assert all(isinstance(p, Payment) for p in out_a[0])
    assert store_a.alone == alone_before  # moved onto B's commit, not run again alone
    assert balance(a, AccountKind.CUSTOMER_WALLET, c1, ASSET) == 100
    _check_exact(a, shop, [out_a[0], out_b[0]])


def test_a_batch_the_other_process_left_short_runs_again_alone_and_refuses(
    pair: tuple[Platform, _PausingStore, Platform, _PausingStore],
) -> None:
    a, store_a, b, _ = pair
    shop, (c1,) = _world(a, 1, funds=1_000)
    store_a.paused.clear()
    first, out_a = _in_thread(
        lambda: _batch(a, shop, [PaymentItem(c1, ASSET, 300), PaymentItem(c1, ASSET, 200)])
    )
    assert store_a.paused.wait(WAIT_MAX_S)
    alone_before = store_a.alone
    second, out_b = _in_thread(lambda: _batch(b, shop, [PaymentItem(c1, ASSET, 600)]))
    second.join(WAIT_MAX_S)
    assert all(isinstance(p, Payment) for p in out_b[0])
    store_a.resume.set()
    first.join(WAIT_MAX_S)
    # 400 left: as if A ran after B, the first payment passes and the second is short.
    paid, short = out_a[0]
    assert isinstance(paid, Payment) and paid.amount == 300
    assert isinstance(short, Refusal) and short.code is Code.INSUFFICIENT_FUNDS
    assert store_a.alone == alone_before + 1
    assert balance(a, AccountKind.CUSTOMER_WALLET, c1, ASSET) == 100
    _check_exact(a, shop, [out_a[0], out_b[0]])


@pytest.mark.parametrize("seed", [3, 4])
def test_two_processes_paying_batches_from_shared_payers_stay_exact(
    pair: tuple[Platform, _PausingStore, Platform, _PausingStore], seed: int
) -> None:
    """Batches from threads of both processes, all from a few shared payers (some with
    restricted money, split first), under mandates, until funds and limits run short: no
    overdraft, no lost mandate charge, every answered payment stored and nothing else, the
    ledger's invariants hold."""
    a, store_a, b, store_b = pair
    payers = 5
    shop, customers = _world(a, payers, funds=2_000)
    restricted = {c: 150 * (i % 2) for i, c in enumerate(customers)}
    for c, amount in restricted.items():
        if amount:
            fund(a, c, ASSET, amount, restricted=True)
    mandates = _mandates(a, customers, shop, 1_700)
    rng = random.Random(seed)
    jobs: list[tuple[Platform, list[PaymentItem]]] = []
    for _ in range(48):
        items = []
        for _ in range(rng.randrange(1, 7)):
            c = rng.choice(customers)
            mandate = mandates[c] if rng.random() < 0.7 else None
            items.append(PaymentItem(c, ASSET, rng.randrange(1, 260), mandate_id=mandate))
        jobs.append((rng.choice((a, b)), items))
    answers: list[Payment | Refusal] = []
    units: list[list[Payment | Refusal]] = []
    lock = threading.Lock()

    def worker(part: list[tuple[Platform, list[PaymentItem]]]) -> None:
        for platform, items in part:
            out = _batch(platform, shop, items)
            with lock:
                answers.extend(out)
                units.append(out)

    threads = [threading.Thread(target=worker, args=(jobs[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_MAX_S * 3)
    assert len(answers) == sum(len(items) for _, items in jobs)
    assert store_a.overlapping + store_b.overlapping > 0
    paid = [p for p in answers if isinstance(p, Payment)]
    codes = {r.code for r in answers if isinstance(r, Refusal)}
    assert codes <= {Code.INSUFFICIENT_FUNDS, Code.MANDATE_LIMIT_EXCEEDED}
    with a.read() as fetch:
        stored = {int(r[0]) for r in fetch("SELECT id FROM payments", ())}
        spent = {int(m): int(s) for m, s in fetch("SELECT id, spent_today FROM mandates", ())}
    assert {p.id for p in paid} == stored  # every answered payment stored, nothing else
    for c in customers:
        mine = [p for p in paid if p.customer_id == c]
        under = sum(p.amount for p in mine if p.mandate_id == mandates[c])
        assert spent[mandates[c]] == under <= 1_700
        from_restricted = sum(p.restricted_amount for p in mine)
        wallet = balance(a, AccountKind.CUSTOMER_WALLET, c, ASSET)
        assert wallet == 2_000 - sum(p.amount for p in mine) + from_restricted >= 0
        left = balance(a, AccountKind.CUSTOMER_RESTRICTED, c, ASSET)
        assert left == restricted[c] - from_restricted >= 0
    _check_exact(a, shop, units)


def _deadlocks(platform: Platform) -> int:
    with platform.read() as fetch:
        rows = fetch(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()", ()
        )
    return int(rows[0][0])


def test_a_group_expiring_a_payers_hold_does_not_lock_the_payer_before_its_end(
    pair: tuple[Platform, _PausingStore, Platform, _PausingStore],
) -> None:
    """The reviewer's lock-order race: B's group expires a hold on payer P (and pays the
    shop from another customer); A's group pays the shop from P. Were P locked early by B's
    expiry, A (the shop's volume row locked at its end) would wait for P while B, at its
    end, waits for the volume row: a deadlock. P is deferred in B too, so A commits while B
    is still stopped before its end, and B then runs again alone (P moved)."""
    a, _, b, store_b = pair
    shop, (p, c2) = _world(a, 2)
    hold = a.execute(authorize_hold(a, HoldRequest(p, shop, ASSET, 300, timeout_s=1)))
    assert isinstance(hold, Hold)
    b.clock.advance(3600)  # type: ignore[attr-defined]  # due for B only (A: not yet)
    deadlocks = _deadlocks(a)
    store_b.paused.clear()
    second, out_b = _in_thread(lambda: _pay(b, PaymentRequest(c2, shop, ASSET, 500)))
    assert store_b.paused.wait(WAIT_MAX_S)  # B ran its units and swept the expiry
    first, out_a = _in_thread(lambda: _pay(a, PaymentRequest(p, shop, ASSET, 400)))
    first.join(WAIT_MAX_S / 4)
    blocked = first.is_alive()
    store_b.resume.set()
    first.join(WAIT_MAX_S)
    second.join(WAIT_MAX_S)
    assert not blocked, "A waited for a payer account B's expiry locked"
    assert isinstance(out_a[0], Payment) and isinstance(out_b[0], Payment)
    assert _deadlocks(a) == deadlocks
    _check_exact(a, shop)
