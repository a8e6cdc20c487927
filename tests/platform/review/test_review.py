"""Money held for review: reserved on the ledger, approved (the operation runs with its
own id) or declined (the money is the payer's again), one unit per step, money conserved."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from centime import usecases
from centime.clock import FakeClock
from centime.platform.chart import OPERATOR, AccountKind
from centime.platform.context import Platform
from centime.platform.errors import Code, Refusal
from centime.platform.ids import format_id
from centime.platform.parties import Status, get_customer, set_merchant
from centime.platform.payments import Hold, get_hold, get_p2p_transfer, get_payment
from centime.platform.review.service import (
    InReview,
    decline_case,
    export_labels,
    freeze_case_party,
    get_case,
    label_case,
    list_cases,
)
from centime.providers.sandbox import SandboxConfig, SandboxProvider
from centime.risk.types import Action
from centime.usecases import approve_case

from ...risk.screens import ScriptedScreen, decision
from ..world import account, balance, customer, fund, merchant, snapshot

WALLET = AccountKind.CUSTOMER_WALLET
RESTRICTED = AccountKind.CUSTOMER_RESTRICTED
AVAILABLE = AccountKind.MERCHANT_AVAILABLE
REVIEW = ScriptedScreen(lambda e: decision(Action.REVIEW, "drain_ratio_high", score=80))


def held(result: object) -> InReview:
    assert isinstance(result, InReview), result
    return result


def test_a_payment_under_review_reserves_then_pays_on_approval(platform: Platform) -> None:
    ada, shop = customer(platform), merchant(platform, fee_bp=100)
    fund(platform, ada.id, "USD", 400, restricted=True)
    fund(platform, ada.id, "USD", 600)
    platform.screen = REVIEW
    review = held(
        usecases.pay(
            platform,
            usecases.PaymentRequest(ada.id, shop.id, "USD", 500),
            usecases.Origin(device="d1"),
        )
    )
    assert review.reasons == ("drain_ratio_high",)
    wallet = account(platform, WALLET, ada.id, "USD")
    restricted = account(platform, RESTRICTED, ada.id, "USD")
    assert wallet is not None and restricted is not None
    assert (restricted.available, wallet.available) == (0, 500)  # restricted first, as paying
    assert get_payment(platform, review.subject.id) is None
    assert balance(platform, AVAILABLE, shop.id, "USD") == 0
    case = approve_case(platform, review.case_id, "key_analyst")
    assert not isinstance(case, Refusal) and case.status == "approved"
    assert case.resolved_by == "key_analyst"
    payment = get_payment(platform, review.subject.id)
    assert payment is not None and (payment.amount, payment.restricted_amount) == (500, 400)
    assert balance(platform, AVAILABLE, shop.id, "USD") == 495  # less the 1% fee
    assert balance(platform, WALLET, ada.id, "USD") == 500
    again = approve_case(platform, review.case_id, "key_analyst")  # a retry: as it is
    assert not isinstance(again, Refusal) and again.status == "approved"
    refused = decline_case(platform, review.case_id, "key_analyst")
    assert isinstance(refused, Refusal) and refused.code is Code.CASE_NOT_OPEN


def test_a_declined_transfer_gives_the_money_back(platform: Platform) -> None:
    ada, bob = customer(platform), customer(platform)
    fund(platform, ada.id, "USD", 1_000)
    platform.screen = REVIEW
    review = held(usecases.send(platform, usecases.TransferRequest(ada.id, bob.id, "USD", 700)))
    wallet = account(platform, WALLET, ada.id, "USD")
    assert wallet is not None and wallet.available == 300
    case = decline_case(platform, review.case_id, "key_analyst")
    assert not isinstance(case, Refusal) and case.status == "declined"
    wallet = account(platform, WALLET, ada.id, "USD")
    assert wallet is not None and (wallet.available, wallet.debits_pending) == (1_000, 0)
    assert get_p2p_transfer(platform, review.subject.id) is None
    refused = approve_case(platform, review.case_id, "key_analyst")
    assert isinstance(refused, Refusal) and refused.code is Code.CASE_NOT_OPEN


def test_an_approval_the_service_refuses_now_is_undone_whole(platform: Platform) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 1_000)
    platform.screen = REVIEW
    review = held(usecases.pay(platform, usecases.PaymentRequest(ada.id, shop.id, "USD", 100)))
    platform.execute(set_merchant(platform, shop.id, Status.FROZEN))
    before = snapshot(platform)
    refused = approve_case(platform, review.case_id, "key_analyst")
    assert isinstance(refused, Refusal) and refused.code is Code.MERCHANT_FROZEN
    assert snapshot(platform) == before  # the reserve stands, the case is open
    open_case = get_case(platform, review.case_id)
    assert open_case is not None and open_case.case.status == "open"


def test_the_money_must_be_there_to_be_held(platform: Platform) -> None:
    ada, bob = customer(platform), customer(platform)
    fund(platform, ada.id, "USD", 100, restricted=True)
    platform.screen = REVIEW
    refused = usecases.send(platform, usecases.TransferRequest(ada.id, bob.id, "USD", 50))
    assert isinstance(refused, Refusal) and refused.code is Code.RESTRICTED_FUNDS
    refused = usecases.pay(
        platform, usecases.PaymentRequest(ada.id, merchant(platform).id, "USD", 101)
    )
    assert isinstance(refused, Refusal) and refused.code is Code.INSUFFICIENT_FUNDS
    assert list_cases(platform).items == []


def test_a_hold_under_review_authorizes_on_approval(platform: Platform) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 1_000)
    platform.screen = REVIEW
    review = held(
        usecases.authorize(
            platform, usecases.HoldRequest(ada.id, shop.id, "USD", 600, timeout_s=60)
        )
    )
    approve_case(platform, review.case_id, "key_analyst")
    hold = get_hold(platform, review.subject.id)
    assert isinstance(hold, Hold) and hold.amount == 600
    assert balance(platform, WALLET, ada.id, "USD") == 1_000  # reserved by the hold, not spent


def test_a_topup_under_review_is_charged_only_once_approved(
    platform: Platform, clock: FakeClock
) -> None:
    sandbox = SandboxProvider(clock, SandboxConfig(card_confirm_s=0))
    platform.providers.funding["sandbox"] = sandbox
    ada = customer(platform)
    platform.screen = REVIEW
    review = held(
        usecases.topup(
            platform,
            sandbox,
            usecases.TopUpRequest(ada.id, "USD", 5000000, "card", "4242424242424242"),
            usecases.Origin(device="d"),
        )
    )
    (event,) = REVIEW.asked[-1:]
    assert event.type == "topup" and event.instrument and "4242" not in event.instrument
    with platform.read() as fetch:
        assert fetch("SELECT COUNT(*) FROM topups", ())[0][0] == 0
        [(plan,)] = fetch("SELECT request FROM risk_cases", ())
    assert "4242424242424242" not in plan and "tok_sbx_" in plan  # the plan keeps the token
    case = approve_case(platform, review.case_id, "key_analyst")
    assert not isinstance(case, Refusal) and case.status == "approved"
    with platform.read() as fetch:
        assert fetch("SELECT id, status FROM topups", ()) == [(review.subject.id, "pending")]
        [(token, last4)] = fetch("SELECT instrument, instrument_last4 FROM topups", ())
    assert token.startswith("tok_sbx_") and last4 == "4242"


def test_evidence_freeze_label_and_export(platform: Platform) -> None:
    ada, eve, shop = customer(platform), customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 1_000)
    fund(platform, eve.id, "USD", 1_000)
    platform.screen = ScriptedScreen()
    usecases.pay(
        platform,
        usecases.PaymentRequest(eve.id, shop.id, "USD", 10),
        usecases.Origin(device="shared-phone"),
    )
    platform.screen = REVIEW
    review = held(
        usecases.pay(
            platform,
            usecases.PaymentRequest(ada.id, shop.id, "USD", 900),
            usecases.Origin(device="shared-phone"),
        )
    )
    evidence = get_case(platform, review.case_id)
    assert evidence is not None and evidence.decision is not None
    assert evidence.decision.reasons == ("drain_ratio_high",) and evidence.decision.score == 80
    assert [d.event.amount for d in evidence.recent] == [900]
    assert evidence.related == [format_id("cus", eve.id)]
    frozen = freeze_case_party(platform, review.case_id)
    assert not isinstance(frozen, Refusal)
    assert get_customer(platform, ada.id).status is Status.FROZEN  # type: ignore[union-attr]
    bad = label_case(platform, review.case_id, "maybe")
    assert isinstance(bad, Refusal) and bad.code is Code.INVALID_REQUEST
    labelled = label_case(platform, review.case_id, "fraud")
    assert not isinstance(labelled, Refusal) and labelled.label == "fraud"
    out = io.StringIO()
    assert export_labels(platform, out) == 1
    header, row = out.getvalue().splitlines()
    assert header == "timestamp,type,amount,asset,payer,payee,device,ip,instrument,label"
    payer, payee = format_id("cus", ada.id), format_id("mer", shop.id)
    expected = ["payment", "900", "USD", payer, payee, "shared-phone", "", "", "1"]
    assert row.split(",")[1:] == expected
    assert [c.id for c in list_cases(platform).items] == [review.case_id]
    assert list_cases(platform, "approved").items == []


STEPS = st.lists(
    st.tuples(st.sampled_from(["pay", "send", "hold"]), st.integers(1, 700), st.booleans()),
    min_size=1,
    max_size=6,
)


@settings(max_examples=8, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS, order=st.randoms(use_true_random=False))
def test_approving_or_declining_held_money_conserves_it(
    platform: Platform, steps: list[tuple[str, int, bool]], order: object
) -> None:
    """Whatever is held and in whatever order it is approved or declined, the books balance
    after every step, and in the end nothing is pending and RISK_HELD is empty."""
    ada, bob, shop = customer(platform), customer(platform), merchant(platform, fee_bp=300)
    fund(platform, ada.id, "USD", 1_000)
    fund(platform, ada.id, "USD", 500, restricted=True)
    platform.screen = REVIEW
    cases: list[tuple[InReview, bool]] = []
    for kind, amount, approve in steps:
        if kind == "pay":
            result = usecases.pay(platform, usecases.PaymentRequest(ada.id, shop.id, "USD", amount))
        elif kind == "send":
            result = usecases.send(
                platform, usecases.TransferRequest(ada.id, bob.id, "USD", amount)
            )
        else:
            result = usecases.authorize(
                platform, usecases.HoldRequest(ada.id, shop.id, "USD", amount, timeout_s=60)
            )
        if isinstance(result, InReview):
            cases.append((result, approve))
        assert_balanced(platform)
    order.shuffle(cases)  # type: ignore[attr-defined]
    for review, approve in cases:
        if approve:
            approve_case(platform, review.case_id, "prop")  # may be refused: still open
        decline_case(platform, review.case_id, "prop")  # declines what is still open
        assert_balanced(platform)
    for review, _ in cases:
        case = get_case(platform, review.case_id)
        assert case is not None and case.case.status in ("approved", "declined")
    held_account = account(platform, AccountKind.RISK_HELD, OPERATOR, "USD")
    if held_account is not None:
        assert (held_account.debits_pending, held_account.credits_pending) == (0, 0)
        assert held_account.balance == 0
    with platform.read() as fetch:
        payments = fetch(
            "SELECT COALESCE(SUM(amount), 0) FROM payments WHERE customer_id = ?", (ada.id,)
        )[0][0]
        sent = fetch(
            "SELECT COALESCE(SUM(amount), 0) FROM p2p_transfers WHERE sender_id = ?", (ada.id,)
        )[0][0]
        holds = fetch(
            "SELECT COALESCE(SUM(amount), 0) FROM holds WHERE customer_id = ?", (ada.id,)
        )[0][0]
    spent = int(payments) + int(sent)
    total = balance(platform, WALLET, ada.id, "USD") + balance(platform, RESTRICTED, ada.id, "USD")
    assert total == 1_500 - spent
    pending = sum(
        a.debits_pending
        for a in (account(platform, k, ada.id, "USD") for k in (WALLET, RESTRICTED))
        if a
    )
    assert pending == int(holds)  # only approved holds reserve anything now


def assert_balanced(platform: Platform) -> None:
    with platform.read() as fetch:
        rows = fetch(
            "SELECT SUM(credits_posted) - SUM(debits_posted),"
            " SUM(credits_pending) - SUM(debits_pending) FROM accounts WHERE asset = ?",
            ("USD",),
        )
    assert [int(v or 0) for v in rows[0]] == [0, 0]
