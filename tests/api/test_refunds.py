"""Refunds over HTTP: full (the remainder) and partial, never more than was paid, the fee
back by its named rounding, restricted money back as restricted; scopes; merchant B can
neither see nor refund merchant A's payments; a retry refunds once."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from centime import wire
from centime.auth import Scope
from centime.platform.fees import fee_returned, payment_fee
from tests.platform.world import snapshot

from .conftest import Api
from .money import (
    Shop,
    cents,
    customer_balance,
    funded_customer,
    merchant_balance,
    problem,
    shop,
)


def paid(api: Api, seller: Shop, amount: wire.Money, restricted_cents: int = 0) -> wire.Payment:
    payer = funded_customer(api, 1_000, restricted_cents=restricted_cents)
    mandate = api.operator.create_mandate(payer.id, seller.id, cents(1_000))
    return seller.client.create_payment(payer.id, amount, mandate_id=mandate.id)


def test_a_full_refund_returns_everything(api: Api) -> None:
    seller = shop(api, fee_bp=300)
    payment = paid(api, seller, cents(100), restricted_cents=30)
    payer = api.operator.get_customer(payment.customer_id)
    refund = seller.client.refund_payment(payment.id, reason="not delivered")
    assert refund.id.startswith("ref_") and refund.payment_id == payment.id
    assert refund.amount == cents(100) and refund.fee_returned == cents(3)
    assert refund.restricted == cents(30) and refund.reason == "not delivered"
    assert customer_balance(api, payer) == 1_000 * 10_000
    assert customer_balance(api, payer, restricted=True) == 30 * 10_000  # back as restricted
    assert merchant_balance(api, seller) == 0
    after = seller.client.get_payment(payment.id)
    assert after.refunded == cents(100) and after.fee_refunded == cents(3)
    assert seller.client.get_refund(refund.id) == refund
    assert [r.id for r in seller.client.list_refunds(payment_id=payment.id).data] == [refund.id]
    assert problem(seller.client.refund_payment, payment.id) == (422, "refund_exceeds_payment")


@settings(max_examples=10, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    parts=st.lists(st.integers(min_value=1, max_value=400_000), min_size=1, max_size=5),
    fee_bp=st.integers(min_value=0, max_value=10_000),
)
def test_partial_refunds_never_exceed_the_payment_and_return_the_fee_exactly(
    api: Api, parts: list[int], fee_bp: int
) -> None:
    seller = shop(api, fee_bp=fee_bp)
    amount = 1_000_000
    payment = paid(api, seller, wire.money(amount, "USD"))
    fee = payment_fee(amount, fee_bp, 0)
    refunded = fee_back = 0
    for part in parts:
        money = wire.money(part, "USD")
        if refunded + part > amount:
            refused = problem(seller.client.refund_payment, payment.id, amount=money)
            assert refused == (422, "refund_exceeds_payment")
            continue
        refund = seller.client.refund_payment(payment.id, amount=money)
        assert int(refund.fee_returned.value) == fee_returned(fee, amount, refunded, part)
        refunded += part
        fee_back += int(refund.fee_returned.value)
    assert fee_back == fee * refunded // amount  # the cumulative floor
    assert merchant_balance(api, seller) == amount - fee - refunded + fee_back
    rest = seller.client.refund_payment(payment.id)  # the remainder
    assert int(rest.amount.value) == amount - refunded
    assert seller.client.get_payment(payment.id).fee_refunded == wire.money(fee, "USD")


def test_refusals_change_nothing(api: Api) -> None:
    seller = shop(api)
    payment = paid(api, seller, cents(10))
    before = snapshot(api.platform)
    client = seller.client
    assert problem(client.refund_payment, payment.id, amount=cents(11)) == (
        422,
        "refund_exceeds_payment",
    )
    assert problem(client.refund_payment, payment.id, amount=cents(0)) == (400, "invalid_amount")
    assert problem(client.refund_payment, payment.id, amount=wire.money(1, "EUR")) == (
        400,
        "invalid_amount",
    )
    assert problem(client.refund_payment, "pay_0000000000001") == (404, "payment_not_found")
    assert problem(client.get_refund, "ref_0000000000001") == (404, "refund_not_found")
    api.operator.update_merchant(seller.id, status="frozen")
    frozen = snapshot(api.platform)
    assert problem(client.refund_payment, payment.id) == (409, "merchant_frozen")
    assert snapshot(api.platform) == frozen
    api.operator.update_merchant(seller.id, status="active")
    assert snapshot(api.platform)[4:8] == before[4:8]  # no payment, refund, hold row changed


def test_merchant_b_cannot_see_or_refund_merchant_as_payments(api: Api) -> None:
    a, b = shop(api, "A"), shop(api, "B")
    payment = paid(api, a, cents(10))
    refund = a.client.refund_payment(payment.id, amount=cents(1))
    before = snapshot(api.platform)
    assert problem(b.client.refund_payment, payment.id) == (404, "payment_not_found")
    assert problem(b.client.get_refund, refund.id) == (404, "refund_not_found")
    assert b.client.list_refunds(payment_id=payment.id).data == []
    assert snapshot(api.platform) == before
    assert api.operator.get_refund(refund.id) == refund  # the operator sees every one
    assert api.operator.refund_payment(payment.id, amount=cents(1)).amount == cents(1)


def test_the_refunds_scope_is_required(api: Api) -> None:
    seller = shop(api)
    payment = paid(api, seller, cents(10))
    for scope in (Scope.READ, Scope.PAYMENTS):
        client = api.client(api.merchant_key(seller.merchant, scope))
        assert problem(client.refund_payment, payment.id) == (403, "forbidden")
    refunder = api.client(api.merchant_key(seller.merchant, Scope.REFUNDS))
    assert refunder.refund_payment(payment.id).amount == cents(10)


def test_a_retry_refunds_once(api: Api) -> None:
    seller = shop(api)
    payment = paid(api, seller, cents(10))
    first = seller.client.refund_payment(payment.id, amount=cents(4), idempotency_key="r-1")
    again = seller.client.refund_payment(payment.id, amount=cents(4), idempotency_key="r-1")
    assert again == first
    assert seller.client.get_payment(payment.id).refunded == cents(4)
    assert problem(
        seller.client.refund_payment, payment.id, amount=cents(5), idempotency_key="r-1"
    ) == (422, "idempotency_key_reused")
