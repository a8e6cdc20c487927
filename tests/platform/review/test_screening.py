"""The risk screen in front of the services: allow, block, step up, review, fail closed."""

from __future__ import annotations

from centime import usecases
from centime.clock import FakeClock
from centime.platform.chart import AccountKind
from centime.platform.context import Platform
from centime.platform.errors import Code, Refusal
from centime.platform.parties import Customer, Merchant, Status, get_customer, set_merchant
from centime.platform.payments import Payment, PaymentItem, create_payments_batch, get_payment
from centime.platform.review.decisions import NoScreen, decide_many
from centime.platform.review.service import InReview, decline_case
from centime.risk.types import Action, RiskEvent
from centime.usecases import PaymentBatchRequest, approve_case

from ...risk.screens import RaisingScreen, ScriptedScreen, decision
from ..world import balance, customer, fund, merchant, snapshot

WALLET = AccountKind.CUSTOMER_WALLET


def decisions(platform: Platform) -> list[tuple[object, ...]]:
    with platform.read() as fetch:
        return fetch(
            "SELECT event_type, action, subject_kind, subject_id, reasons, stepped_up, case_id"
            " FROM risk_decisions ORDER BY created_ns, id",
            (),
        )


def funded(platform: Platform, amount: int = 1_000) -> tuple[Customer, Merchant]:
    ada, shop = customer(platform), merchant(platform, fee_bp=0)
    fund(platform, ada.id, "USD", amount)
    return ada, shop


def test_an_allowed_payment_is_paid_and_its_decision_recorded_with_it(
    platform: Platform,
) -> None:
    screen = ScriptedScreen()
    platform.screen = screen
    ada, shop = funded(platform)
    paid = usecases.pay(
        platform,
        usecases.PaymentRequest(ada.id, shop.id, "USD", 300),
        usecases.Origin(device="dev-1", ip="10.0.0.1"),
    )
    assert isinstance(paid, Payment)
    (event,) = screen.asked
    assert (event.type, event.amount, event.device, event.ip) == (
        "payment",
        300,
        "dev-1",
        "10.0.0.1",
    )
    assert event.payer.startswith("cus_") and event.payee.startswith("mer_")
    assert decisions(platform) == [("payment", "allow", "payment", paid.id, "[]", 0, None)]


def test_a_blocked_payment_changes_nothing_but_its_record(platform: Platform) -> None:
    ada, shop = funded(platform)
    platform.screen = ScriptedScreen(lambda e: decision(Action.BLOCK, "velocity_1h", "new_payee"))
    before = snapshot(platform)
    refused = usecases.pay(platform, usecases.PaymentRequest(ada.id, shop.id, "USD", 300))
    assert isinstance(refused, Refusal) and refused.code is Code.RISK_BLOCKED
    assert "velocity_1h, new_payee" in refused.detail
    assert snapshot(platform) == before
    assert [row[1] for row in decisions(platform)] == ["block"]


def test_step_up_needs_a_fresh_passkey(platform: Platform, clock: FakeClock) -> None:
    ada, shop = funded(platform)
    platform.screen = ScriptedScreen(lambda e: decision(Action.STEP_UP, "new_device"))
    refused = usecases.pay(platform, usecases.PaymentRequest(ada.id, shop.id, "USD", 100))
    assert isinstance(refused, Refusal) and refused.code is Code.STEP_UP_REQUIRED
    stale = clock.now_ns() - 301 * 1_000_000_000
    refused = usecases.pay(
        platform,
        usecases.PaymentRequest(ada.id, shop.id, "USD", 100),
        usecases.Origin(stepped_up_at_ns=stale),
    )
    assert isinstance(refused, Refusal) and refused.code is Code.STEP_UP_REQUIRED
    future = clock.now_ns() + 10**12
    refused = usecases.pay(
        platform,
        usecases.PaymentRequest(ada.id, shop.id, "USD", 100),
        usecases.Origin(stepped_up_at_ns=future),
    )
    assert isinstance(refused, Refusal) and refused.code is Code.STEP_UP_REQUIRED
    paid = usecases.pay(
        platform,
        usecases.PaymentRequest(ada.id, shop.id, "USD", 100),
        usecases.Origin(stepped_up_at_ns=clock.now_ns()),
    )
    assert isinstance(paid, Payment)
    assert sorted(row[5] for row in decisions(platform)) == [0, 0, 0, 1]


def test_fail_closed_on_an_engine_that_raises_or_is_missing(platform: Platform) -> None:
    ada, shop = funded(platform)
    for screen, reason in (
        (RaisingScreen(), "risk_engine_error"),
        (NoScreen(), "risk_screen_missing"),
    ):
        platform.screen = screen
        refused = usecases.pay(platform, usecases.PaymentRequest(ada.id, shop.id, "USD", 100))
        assert isinstance(refused, Refusal) and refused.code is Code.RISK_BLOCKED
        assert reason in refused.detail
        batch = decide_many(screen, [RiskEvent(1, "payment", 1, "USD", "a", "b")])
        assert batch[0].reasons == (reason,)
    assert balance(platform, WALLET, ada.id, "USD") == 1_000


def test_a_malformed_answer_blocks(platform: Platform) -> None:
    ada, shop = funded(platform)
    platform.screen = ScriptedScreen(lambda e: "allow")  # type: ignore[arg-type,return-value]
    refused = usecases.pay(platform, usecases.PaymentRequest(ada.id, shop.id, "USD", 100))
    assert isinstance(refused, Refusal) and "risk_engine_error" in refused.detail


def test_one_malformed_answer_among_shared_good_ones_blocks_the_batch() -> None:
    good = decision(Action.ALLOW, "rule")
    events = [RiskEvent(1, "payment", n, "USD", "a", "b") for n in range(1, 6)]
    for bad_at in range(5):
        answers: list[object] = [good] * 5
        answers[bad_at] = (Action.ALLOW, 100, (), None, "r")  # a score out of range
        screen = ScriptedScreen(lambda e, a=answers: a[e.amount - 1])  # type: ignore[misc]
        blocked = decide_many(screen, events)
        assert [d.reasons for d in blocked] == [("risk_engine_error",)] * 5
    screen = ScriptedScreen(lambda e: good)
    assert decide_many(screen, events) == [good] * 5


def test_a_batch_asks_once_and_each_payment_gets_its_action(platform: Platform) -> None:
    ada, shop = funded(platform)
    actions = {100: Action.ALLOW, 200: Action.BLOCK, 300: Action.REVIEW, 400: Action.STEP_UP}
    screen = ScriptedScreen(lambda e: decision(actions[e.amount], "rule"))
    platform.screen = screen
    items = [
        PaymentItem(ada.id, "USD", amount, payment_id=i + 1) for i, amount in enumerate(actions)
    ]
    events = [RiskEvent(0, "payment", i.amount, "USD", "c", "m") for i in items]
    answers = decide_many(platform.screen, events)
    assert screen.batch_calls == 1
    operation = create_payments_batch(
        platform,
        shop.id,
        items,
        charged_by_merchant=False,
        risk_refusals=usecases.screened_batch_refusals(answers),
    )
    guarded = usecases.guarded_batch(
        operation, PaymentBatchRequest(shop.id, items, False), events, answers
    )
    results = platform.execute(guarded)
    assert not isinstance(results, Refusal)
    paid, blocked, held, stepped = results
    assert isinstance(paid, Payment) and paid.amount == 100
    assert isinstance(blocked, Refusal) and blocked.code is Code.RISK_BLOCKED
    assert isinstance(held, InReview) and held.subject.id == 3
    assert isinstance(stepped, Refusal) and stepped.code is Code.STEP_UP_REQUIRED
    assert balance(platform, WALLET, ada.id, "USD") == 900  # 300 is held, not spent
    assert sorted(row[1] for row in decisions(platform)) == ["allow", "block", "review", "step_up"]
    approved = approve_case(platform, held.case_id, "test")
    assert not isinstance(approved, Refusal) and approved.status == "approved"
    assert get_payment(platform, 3) is not None
    assert balance(platform, WALLET, ada.id, "USD") == 600


def test_a_signup_under_review_is_frozen_until_approved(platform: Platform) -> None:
    platform.screen = ScriptedScreen(lambda e: decision(Action.REVIEW, "signup_burst"))
    first = usecases.signup_customer(
        platform, usecases.SignupRequest("customer"), "Mo", origin=usecases.Origin(device="d")
    )
    second = usecases.signup_customer(
        platform, usecases.SignupRequest("customer"), "Ny", origin=usecases.Origin(device="d")
    )
    assert isinstance(first, InReview) and isinstance(second, InReview)
    frozen = get_customer(platform, first.subject.id)
    assert frozen is not None and frozen.status is Status.FROZEN
    approve_case(platform, first.case_id, "test")
    decline_case(platform, second.case_id, "test")
    assert [get_customer(platform, s.subject.id).status for s in (first, second)] == [  # type: ignore[union-attr]
        Status.ACTIVE,
        Status.CLOSED,
    ]
    platform.screen = ScriptedScreen(lambda e: decision(Action.BLOCK, "disposable_email"))
    refused = usecases.signup_merchant(platform, usecases.SignupRequest("merchant"), "Shady")
    assert isinstance(refused, Refusal) and refused.code is Code.RISK_BLOCKED
    with platform.read() as fetch:
        assert fetch("SELECT COUNT(*) FROM merchants", ())[0][0] == 0


def test_a_batch_refused_whole_still_records_its_decisions(platform: Platform) -> None:
    ada, shop = funded(platform)
    platform.execute(set_merchant(platform, shop.id, Status.FROZEN))
    platform.screen = ScriptedScreen(
        lambda e: decision(Action.REVIEW if e.amount == 2 else Action.ALLOW)
    )
    items = [PaymentItem(ada.id, "USD", amount, payment_id=amount) for amount in (1, 2)]
    events = [RiskEvent(0, "payment", i.amount, "USD", "c", "m") for i in items]
    answers = decide_many(platform.screen, events)
    operation = create_payments_batch(
        platform,
        shop.id,
        items,
        charged_by_merchant=False,
        risk_refusals=usecases.screened_batch_refusals(answers),
    )
    result = platform.execute(
        usecases.guarded_batch(
            operation, PaymentBatchRequest(shop.id, items, False), events, answers
        )
    )
    assert isinstance(result, Refusal) and result.code is Code.MERCHANT_FROZEN
    assert sorted(row[1] for row in decisions(platform)) == ["allow", "review"]
    assert balance(platform, WALLET, ada.id, "USD") == 1_000
