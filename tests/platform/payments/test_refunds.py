"""Refunds: partial or full, any number, never more than paid, the fee back exactly,
restricted money back as restricted money."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from centime.clock import FakeClock
from centime.platform.chart import OPERATOR, AccountKind
from centime.platform.context import Platform
from centime.platform.errors import Code, Refusal
from centime.platform.funding import TopUp, create_topup, process_provider_events
from centime.platform.parties import Status, set_customer
from centime.platform.payments import HoldRequest, RefundRequest
from centime.platform.payments.holds import Hold, authorize_hold, expire_holds, release_hold
from centime.platform.payments.refunds import Refund, get_refund, list_refunds, refund_payment
from centime.platform.payments.service import Payment, PaymentRequest, create_payment, get_payment
from centime.providers import Method, SandboxConfig, SandboxProvider
from centime.providers.sandbox import PHONE_SUCCEEDS

from ..world import balance, customer, drain, fund, merchant, snapshot

WALLET = AccountKind.CUSTOMER_WALLET
RESTRICTED = AccountKind.CUSTOMER_RESTRICTED
AVAILABLE = AccountKind.MERCHANT_AVAILABLE
FEES = AccountKind.FEE_REVENUE


def paid(
    platform: Platform, fee_bp: int = 250, restricted: int = 0, amount: int = 1_000
) -> Payment:
    ada, shop = customer(platform), merchant(platform, fee_bp=fee_bp)
    if restricted:
        fund(platform, ada.id, "USD", restricted, restricted=True)
    fund(platform, ada.id, "USD", amount)
    payment = platform.execute(
        create_payment(platform, PaymentRequest(ada.id, shop.id, "USD", amount))
    )
    assert isinstance(payment, Payment)
    return payment


def refund(platform: Platform, payment_id: int, *args: Any, **kw: Any) -> Refund:
    result = platform.execute(refund_payment(platform, RefundRequest(payment_id, *args, **kw)))
    assert isinstance(result, Refund), result
    return result


def refused(platform: Platform, code: Code, *args: Any, **kw: Any) -> None:
    before = snapshot(platform)
    result = platform.execute(refund_payment(platform, RefundRequest(*args, **kw)))
    assert isinstance(result, Refusal) and result.code is code, result
    assert snapshot(platform) == before


def test_a_full_refund_reverses_the_payment_and_its_fee(platform: Platform) -> None:
    payment = paid(platform)
    fees_before = balance(platform, FEES, OPERATOR, "USD")
    back = refund(platform, payment.id, None, "damaged")
    assert (back.amount, back.fee_returned, back.reason) == (1_000, 25, "damaged")
    assert balance(platform, WALLET, payment.customer_id, "USD") == 1_000
    assert balance(platform, AVAILABLE, payment.merchant_id, "USD") == 0
    assert balance(platform, FEES, OPERATOR, "USD") == fees_before - 25
    stored = get_payment(platform, payment.id)
    assert stored is not None
    assert (stored.refunded, stored.fee_refunded, stored.refundable) == (1_000, 25, 0)
    assert get_refund(platform, back.id) == back
    refused(platform, Code.REFUND_EXCEEDS_PAYMENT, payment.id)
    refused(platform, Code.REFUND_EXCEEDS_PAYMENT, payment.id, 1)


def test_partial_refunds_never_pass_the_payment(platform: Platform) -> None:
    payment = paid(platform, fee_bp=300)  # fee 30
    parts = [refund(platform, payment.id, 333) for _ in range(3)]
    assert [p.fee_returned for p in parts] == [9, 10, 10]  # 30*333//1000, 30*666//1000 - 9...
    refused(platform, Code.REFUND_EXCEEDS_PAYMENT, payment.id, 2)
    last = refund(platform, payment.id)  # the rest: 1
    assert (last.amount, last.fee_returned) == (1, 1)
    stored = get_payment(platform, payment.id)
    assert stored is not None and (stored.refunded, stored.fee_refunded) == (1_000, 30)
    assert len(list_refunds(platform, payment_id=payment.id).items) == 4


def test_restricted_money_goes_back_restricted_first(platform: Platform) -> None:
    payment = paid(platform, fee_bp=0, restricted=400, amount=1_000)
    assert payment.restricted_amount == 400
    first = refund(platform, payment.id, 300)
    assert first.restricted_amount == 300
    second = refund(platform, payment.id, 300)
    assert second.restricted_amount == 100
    customer_id = payment.customer_id
    assert balance(platform, RESTRICTED, customer_id, "USD") == 400
    assert balance(platform, WALLET, customer_id, "USD") == 400 + 200
    stored = get_payment(platform, payment.id)
    assert stored is not None and stored.restricted_refunded == 400


def test_the_merchant_must_have_the_money(platform: Platform) -> None:
    payment = paid(platform, fee_bp=1_000)  # the merchant got 900
    drain(platform, payment.merchant_id, "USD", 850)  # paid out: 50 left
    # A refund of 60 returns 6 of fee: the merchant needs 54.
    refused(platform, Code.INSUFFICIENT_FUNDS, payment.id, 60)
    back = refund(platform, payment.id, 55)  # needs 50 after 5 of fee
    assert back.fee_returned == 5
    assert balance(platform, AVAILABLE, payment.merchant_id, "USD") == 0


def test_only_the_merchants_own_payments_are_refunded(platform: Platform) -> None:
    payment = paid(platform)
    other = merchant(platform)
    refused(platform, Code.PAYMENT_NOT_FOUND, payment.id, merchant_id=other.id)
    refused(platform, Code.PAYMENT_NOT_FOUND, 424242)
    refused(platform, Code.PAYMENT_NOT_FOUND, -1)
    assert isinstance(
        platform.execute(
            refund_payment(platform, RefundRequest(payment.id, 1, merchant_id=payment.merchant_id))
        ),
        Refund,
    )
    assert list_refunds(platform, merchant_id=other.id).items == []


def test_bad_amounts_and_reasons_are_refused(platform: Platform) -> None:
    payment = paid(platform)
    for amount in (0, -3, "5", 1.5):
        refused(platform, Code.INVALID_AMOUNT, payment.id, amount)
    refused(platform, Code.INVALID_REQUEST, payment.id, 1, "x" * 501)


def test_a_frozen_customer_gets_no_refund_until_unfrozen(platform: Platform) -> None:
    payment = paid(platform)
    platform.execute(set_customer(platform, payment.customer_id, Status.FROZEN))
    refused(platform, Code.CUSTOMER_FROZEN, payment.id)


def test_a_refund_id_makes_the_request_idempotent(platform: Platform) -> None:
    payment = paid(platform)
    first = refund(platform, payment.id, 100, refund_id=9)
    assert refund(platform, payment.id, 100, refund_id=9) == first
    stored = get_payment(platform, payment.id)
    assert stored is not None and stored.refunded == 100
    refused(platform, Code.INVALID_REQUEST, payment.id, 101, refund_id=9)


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fee_bp=st.integers(0, 10_000),
    fee_fixed=st.integers(0, 50),
    amount=st.integers(1, 10_000),
    restricted=st.integers(0, 10_000),
    shares=st.lists(st.integers(1, 10_000), min_size=1, max_size=6),
)
def test_any_sequence_of_refunds_returns_the_fee_exactly(
    platform: Platform,
    fee_bp: int,
    fee_fixed: int,
    amount: int,
    restricted: int,
    shares: list[int],
) -> None:
    ada = customer(platform)
    shop = merchant(platform, fee_bp=fee_bp, fee_fixed={"USD": fee_fixed})
    if restricted:
        fund(platform, ada.id, "USD", restricted, restricted=True)
    fund(platform, ada.id, "USD", amount)
    payment = platform.execute(
        create_payment(platform, PaymentRequest(ada.id, shop.id, "USD", amount))
    )
    assert isinstance(payment, Payment)
    refunded = 0
    for share in shares:
        part = min(share, amount - refunded)
        if part == 0:
            break
        back = refund(platform, payment.id, part)
        refunded += part
        stored = get_payment(platform, payment.id)
        assert stored is not None
        assert stored.fee_refunded == payment.fee * refunded // amount
        assert stored.restricted_refunded == min(refunded, payment.restricted_amount)
        assert back.restricted_amount <= part
    refund_rest = platform.execute(refund_payment(platform, RefundRequest(payment.id)))
    if refunded < amount:
        assert isinstance(refund_rest, Refund)
    final = get_payment(platform, payment.id)
    assert final is not None and (final.refunded, final.fee_refunded) == (amount, payment.fee)
    # Everything back where it came from: restricted as restricted.
    assert balance(platform, RESTRICTED, ada.id, "USD") == restricted
    assert balance(platform, WALLET, ada.id, "USD") == amount
    assert balance(platform, AVAILABLE, shop.id, "USD") == 0


def test_a_refund_after_the_carrier_settled_goes_to_the_wallet(
    platform: Platform, clock: FakeClock
) -> None:
    """Carrier money spent, then settled (nothing left to release), then refunded: the carrier
    has paid, so the money is the customer's to send; kept restricted it would be stuck, as
    settlement releases each top-up once."""
    zoe, shop = customer(platform), merchant(platform, fee_bp=0)
    sandbox = SandboxProvider(clock, SandboxConfig(carrier_confirm_s=0))
    topup = create_topup(
        platform, sandbox, zoe.id, "USD", 10_000_000, Method.CARRIER, PHONE_SUCCEEDS
    )
    assert isinstance(topup, TopUp)
    process_provider_events(platform, sandbox)
    payment = platform.execute(
        create_payment(platform, PaymentRequest(zoe.id, shop.id, "USD", 10_000_000))
    )
    assert isinstance(payment, Payment) and payment.restricted_amount == 10_000_000
    before = refund(platform, payment.id, 1_000_000)  # before settlement: back to restricted
    assert before.restricted_amount == 1_000_000
    clock.advance(platform.config.carrier_settlement_days * 86_400 + 1)
    process_provider_events(platform, sandbox)  # settles: releases the 1.00 still restricted
    assert balance(platform, AccountKind.CUSTOMER_RESTRICTED, zoe.id, "USD") == 0
    after = refund(platform, payment.id)
    assert after.restricted_amount == 0
    assert balance(platform, AccountKind.CUSTOMER_RESTRICTED, zoe.id, "USD") == 0
    assert balance(platform, AccountKind.CUSTOMER_WALLET, zoe.id, "USD") == 10_000_000


def test_carrier_money_held_at_settlement_reaches_the_wallet_when_released(
    platform: Platform, clock: FakeClock
) -> None:
    """Settlement releases what is available; money a hold reserved then comes back to the
    restricted balance later, and goes on to the wallet, as the carrier has paid for it.
    Expiry does the same as a release."""
    zoe, shop = customer(platform), merchant(platform, fee_bp=0)
    sandbox = SandboxProvider(clock, SandboxConfig(carrier_confirm_s=0, carrier_settlement_days=1))
    create_topup(platform, sandbox, zoe.id, "USD", 10_000_000, Method.CARRIER, PHONE_SUCCEEDS)
    process_provider_events(platform, sandbox)
    held = platform.execute(
        authorize_hold(
            platform, HoldRequest(zoe.id, shop.id, "USD", 6_000_000, timeout_s=2 * 86_400)
        )
    )
    lapsing = platform.execute(
        authorize_hold(platform, HoldRequest(zoe.id, shop.id, "USD", 3_000_000, timeout_s=60))
    )
    assert isinstance(held, Hold) and isinstance(lapsing, Hold)
    clock.advance(86_400 + 1)
    process_provider_events(platform, sandbox)  # settles: only what no hold reserves
    platform.ledger.expire_due()
    assert expire_holds(platform) == 1  # the short one
    assert balance(platform, AccountKind.CUSTOMER_WALLET, zoe.id, "USD") == 4_000_000
    platform.execute(release_hold(platform, held.id))
    assert balance(platform, AccountKind.CUSTOMER_RESTRICTED, zoe.id, "USD") == 0
    assert balance(platform, AccountKind.CUSTOMER_WALLET, zoe.id, "USD") == 10_000_000
