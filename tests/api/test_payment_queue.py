"""Single payments of concurrent requests in shared units (centime.api.payment_queue): each
answered as its own unit would have answered it, its answer stored in the same transaction,
one payment's failure its own."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import CancelledError, Future
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from centime import usecases
from centime.api import payment_queue
from centime.api.execute import rendering
from centime.api.idempotency import KeyReused, Stored, request_hash
from centime.api.payment_queue import PaymentQueue, SinglePayment
from centime.api.routes.payments import payment_out
from centime.clock import FakeClock
from centime.ledger import Ledger, LedgerClosedError
from centime.platform import payments
from centime.platform.context import Platform
from centime.platform.ids import format_id
from centime.platform.review import AllowAllScreen
from centime.providers import SandboxConfig, SandboxProvider
from centime.risk.types import Action, Decision
from centime.seed import World, seed_world
from centime.store import open_store
from tests.conftest import PLATFORM_START_NS

RENDER: Final = rendering(payment_out, 201)
OWNER: Final = "merchant:test"
CUSTOMERS: Final = 6
UNIT: Final = 2_000  # of USD, whose scale is 6


def _world(platform: Platform) -> World:
    sandbox = SandboxProvider(platform.clock, SandboxConfig(card_confirm_s=0))
    # 0.01 USD (10,000 units) each: a few payments of UNIT empty a wallet, so refusals mix in.
    return seed_world(platform, sandbox, customers=CUSTOMERS, merchants=1, funding="0.01")


def _payment(
    platform: Platform, world: World, n: int, customer: int, amount: int, action: Action
) -> SinglePayment:
    merchant = world.merchants[0].merchant.id
    payer = world.customers[customer]
    request = usecases.PaymentRequest(
        customer_id=payer.customer.id,
        merchant_id=merchant,
        asset=world.asset,
        amount=amount * UNIT,
        payment_id=1_000_000 + n,
        mandate_id=payer.mandates[merchant].id,
        charged_by_merchant=True,
    )
    event = usecases.risk_event(request, platform.clock.now_ns(), usecases.Origin())
    decision = Decision(action, 0, (), None, "test")
    key = f"key-{n}"
    fingerprint = request_hash("POST", "/v1/payments", f"{n}:{amount}:{customer}".encode())
    return SinglePayment(
        request, usecases.Screened(event, decision), OWNER, key, fingerprint, RENDER
    )


def _pay_together(queue: PaymentQueue, wanted: list[SinglePayment]) -> list[Any]:
    async def run() -> list[Any]:
        return list(await asyncio.gather(*(queue.pay(p) for p in wanted)))

    return asyncio.run(run())


def _answered_within(
    queue: PaymentQueue, wanted: list[SinglePayment], limit_s: float = 60
) -> list[Any]:
    """Each payment's answer or exception, all of them within ``limit_s`` (none left
    waiting)."""

    async def run() -> list[Any]:
        pays = asyncio.gather(*(queue.pay(p) for p in wanted), return_exceptions=True)
        return list(await asyncio.wait_for(pays, limit_s))

    return asyncio.run(run())


def _comparable(answer: Stored | KeyReused) -> tuple[Any, ...]:
    """An answer without what differs between two seeded worlds: the time, the parties'
    ids (the payments' ids are the requests')."""
    if isinstance(answer, KeyReused):
        return ("reused",)
    body = json.loads(answer.body)
    for name in ("created_at", "customer_id", "merchant_id", "mandate_id"):
        body.pop(name, None)
    return (answer.status_code, answer.replayed, body)


def _seen_alike(platform: Platform, world: World) -> tuple[Any, ...]:
    """:func:`_state` with every customer and mandate named by its index in the world, and
    the accounts' balances in order: what two worlds seeded alike can share."""
    index = {c.customer.id: i for i, c in enumerate(world.customers)}
    paid, keys, decisions, mandates = _state(platform)
    merchant = world.merchants[0].merchant.id
    mandate_index = {c.mandates[merchant].id: i for i, c in enumerate(world.customers)}
    with platform.read() as fetch:
        balances = sorted(
            tuple(r) for r in fetch("SELECT debits_posted, credits_posted FROM accounts", ())
        )
    return (
        [(r[0], index[r[1]], *r[2:]) for r in paid],
        keys,
        decisions,
        sorted((mandate_index[r[0]], *r[1:]) for r in mandates),
        balances,
    )


def _state(platform: Platform) -> tuple[Any, ...]:
    with platform.read() as fetch:
        paid = fetch(
            "SELECT id, customer_id, amount, fee, restricted_amount FROM payments ORDER BY id", ()
        )
        keys = fetch(
            "SELECT key, status_code FROM idempotency_keys WHERE principal = ? ORDER BY key",
            (OWNER,),
        )
        decisions = fetch(
            "SELECT subject_id, action FROM risk_decisions WHERE subject_kind = 'payment'"
            " ORDER BY subject_id",
            (),
        )
        mandates = fetch("SELECT id, day, spent_today FROM mandates ORDER BY id", ())
    return (
        [tuple(r) for r in paid],
        [tuple(r) for r in keys],
        [tuple(r) for r in decisions],
        [tuple(r) for r in mandates],
    )


def _counting_shared(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sizes: list[int] = []
    real = payment_queue.shared

    def counted(platform: Platform, group: list[SinglePayment]) -> Any:
        sizes.append(len(group))
        return real(platform, group)

    monkeypatch.setattr(payment_queue, "shared", counted)
    return sizes


def test_concurrent_payments_share_units(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = _world(platform)
    wanted = [_payment(platform, world, n, n % CUSTOMERS, 2, Action.ALLOW) for n in range(20)]
    sizes = _counting_shared(monkeypatch)
    together = _pay_together(PaymentQueue(platform), wanted)
    assert sizes and max(sizes) > 1  # they did share
    for payment, answer in zip(wanted, together, strict=True):
        if answer.status_code == 201:
            assert json.loads(answer.body)["id"] == format_id("pay", payment.request.payment_id)
    statuses = [a.status_code for a in together]
    assert 201 in statuses and 402 in statuses  # paid, and refused for lack of money
    assert list(platform.ledger.store.check()) == []


def test_each_answer_is_stored_with_its_payment(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = _world(platform)
    wanted = [_payment(platform, world, n, n % CUSTOMERS, 1, Action.ALLOW) for n in range(12)]
    sizes = _counting_shared(monkeypatch)
    first = _pay_together(PaymentQueue(platform), wanted)
    assert max(sizes) > 1
    before = _state(platform)
    paid, keys, decisions, _ = before
    created = [a for a in first if a.status_code == 201]
    assert len(paid) == len(created) and len(keys) == len(wanted) == len(decisions)
    # Retried together: replayed, nothing runs again.
    again = _pay_together(PaymentQueue(platform), wanted)
    assert all(a.replayed for a in again)
    assert [(a.status_code, a.body) for a in again] == [(a.status_code, a.body) for a in first]
    assert _state(platform) == before
    # The same key for another request: refused, nothing runs.
    reused = [
        SinglePayment(p.request, p.screened, p.owner, p.key, b"another", p.render)
        for p in wanted[:3]
    ]
    assert all(isinstance(a, KeyReused) for a in _pay_together(PaymentQueue(platform), reused))
    assert _state(platform) == before


def test_a_failing_shared_unit_runs_each_payment_alone(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = _world(platform)
    wanted = [_payment(platform, world, n, n % CUSTOMERS, 1, Action.ALLOW) for n in range(8)]
    real = payments.create_payments_batch

    def broken(*args: Any, **kwargs: Any) -> Any:
        made = real(*args, **kwargs)
        if len(args[2]) == 1:
            return made

        def unit(ctx: Any) -> Any:
            made.unit(ctx)  # writes, then fails: nothing of it may stay
            raise RuntimeError("a bug in the shared unit")

        return made._replace(unit=unit)

    monkeypatch.setattr(payments, "create_payments_batch", broken)
    sizes = _counting_shared(monkeypatch)
    answers = _pay_together(PaymentQueue(platform), wanted)
    assert max(sizes) > 1
    assert [a.status_code for a in answers] == [201] * len(wanted)
    paid, keys, decisions, _ = _state(platform)
    assert len(paid) == len(keys) == len(decisions) == len(wanted)
    assert list(platform.ledger.store.check()) == []


def test_what_the_screen_did_not_allow_runs_alone(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = _world(platform)
    actions = [Action.ALLOW, Action.BLOCK, Action.ALLOW, Action.REVIEW, Action.ALLOW]
    wanted = [_payment(platform, world, n, n, 1, a) for n, a in enumerate(actions)]
    sizes = _counting_shared(monkeypatch)
    answers = _pay_together(PaymentQueue(platform), wanted)
    assert sizes == [3]
    assert [a.status_code for a in answers] == [201, 422, 201, 202, 201]


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.integers(0, CUSTOMERS - 1), st.integers(1, 4), st.booleans()),
        min_size=2,
        max_size=16,
    )
)
def test_shared_units_pay_as_one_unit_after_the_other(
    tmp_path_factory: pytest.TempPathFactory, asked: list[tuple[int, int, bool]]
) -> None:
    """Random payments (payer, amount, whether the key was already used before): the
    answers, the rows and the balances are those of the same payments run one by one."""
    outcomes = []
    for together in (True, False):
        clock = FakeClock(PLATFORM_START_NS)
        url = f"sqlite:///{tmp_path_factory.mktemp('queue') / 'db.sqlite'}"
        with Ledger(open_store(url), clock, expiry_interval_s=3600) as ledger:
            platform = Platform(ledger, clock, screen=AllowAllScreen())
            world = _world(platform)
            wanted = [
                _payment(platform, world, n, customer, amount, Action.ALLOW)
                for n, (customer, amount, _) in enumerate(asked)
            ]
            for p, (_, _, earlier) in zip(wanted, asked, strict=True):
                if earlier:  # its first request ran before
                    platform.execute(payment_queue.alone(platform, p))
            if together:
                answers = _pay_together(PaymentQueue(platform), wanted)
            else:
                answers = [platform.execute(payment_queue.alone(platform, p)) for p in wanted]
            assert list(ledger.store.check()) == []
            outcomes.append(([_comparable(a) for a in answers], _seen_alike(platform, world)))
    assert outcomes[0] == outcomes[1]


def test_a_shared_unit_that_cannot_be_built_leaves_nobody_waiting(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Building the shared unit fails (a bug): each payment runs alone, and one whose own
    unit cannot be built either is answered with the error, not left waiting."""
    world = _world(platform)
    wanted = [_payment(platform, world, n, n % CUSTOMERS, 1, Action.ALLOW) for n in range(4)]

    def broken(platform: Platform, group: list[SinglePayment]) -> Any:
        raise RuntimeError("a bug in building the shared unit")

    real_alone = payment_queue.alone

    def alone_but_the_last(platform: Platform, payment: SinglePayment) -> Any:
        if payment is wanted[-1]:
            raise RuntimeError("a bug in building its own unit")
        return real_alone(platform, payment)

    monkeypatch.setattr(payment_queue, "shared", broken)
    monkeypatch.setattr(payment_queue, "alone", alone_but_the_last)

    answers = _answered_within(PaymentQueue(platform), wanted)
    assert [a.status_code for a in answers[:-1]] == [201] * (len(wanted) - 1)
    assert isinstance(answers[-1], RuntimeError)


@pytest.mark.parametrize("failing", ["shared", "every"])
def test_a_ledger_that_refuses_units_answers_every_request(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    """The ledger refuses the shared unit (closed at shutdown), or every unit: each request
    is answered with the error within a bound, none waits forever (a review found the
    callbacks caught only the busy error)."""
    world = _world(platform)
    wanted = [_payment(platform, world, n, n % CUSTOMERS, 1, Action.ALLOW) for n in range(6)]
    real_submit = platform.ledger.submit_unit
    real_shared = payment_queue.shared
    shared_units: list[Any] = []

    def marked(platform: Platform, group: list[SinglePayment]) -> Any:
        operation = real_shared(platform, group)
        shared_units.append(operation.unit)
        return operation

    def refusing(unit: Any, events_max: int, **kwargs: Any) -> Any:
        if failing == "every" or unit in shared_units:
            raise LedgerClosedError("the ledger is closed")
        return real_submit(unit, events_max, **kwargs)

    monkeypatch.setattr(payment_queue, "shared", marked)
    monkeypatch.setattr(platform.ledger, "submit_unit", refusing)

    answers = _answered_within(PaymentQueue(platform), wanted)
    if failing == "every":
        assert all(isinstance(a, LedgerClosedError) for a in answers)
    else:
        assert shared_units
        assert [a.status_code for a in answers] == [201] * len(wanted)


def test_a_cancelled_unit_answers_its_requests(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unit whose future is cancelled (never done by the writer) answers with an error."""
    world = _world(platform)
    wanted = [_payment(platform, world, n, n % CUSTOMERS, 1, Action.ALLOW) for n in range(3)]

    def cancelled(unit: Any, events_max: int, **kwargs: Any) -> Any:
        done: Future[Any] = Future()
        done.cancel()
        return done

    monkeypatch.setattr(platform.ledger, "submit_unit", cancelled)

    answers = _answered_within(PaymentQueue(platform), wanted)
    assert all(isinstance(a, CancelledError) for a in answers)
