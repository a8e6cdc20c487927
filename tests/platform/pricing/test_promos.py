"""Promotion codes on payments, on both stores: the promotions budget pays the discount to
the merchant in the payment's chain, limits refuse without changing anything, and a refund
gives the discount's share back to the budget (money conserved, promotions included)."""

from __future__ import annotations

from typing import Any

from centime.clock import FakeClock
from centime.platform.chart import OPERATOR, AccountKind
from centime.platform.context import Platform
from centime.platform.errors import Code, Refusal
from centime.platform.payments import (
    Payment,
    PaymentRequest,
    Refund,
    RefundRequest,
    create_payment,
    refund_payment,
)
from centime.platform.pricing.promos import PromoCode, create_promo_code, list_promo_codes

from ..world import balance, customer, fund, merchant
from .helpers import USD, full_snapshot, fund_budget

NS = 1_000_000_000


def _code(platform: Platform, clock: FakeClock, **over: Any) -> PromoCode:
    spec: dict[str, Any] = {
        "code": "spring25",
        "asset": "USD",
        "discount_bp": 2_500,
        "discount_max": USD,
        "budget": 3 * USD,
        "expires_ns": clock.now_ns() + 86_400 * NS,
        "uses_max": 10,
        "per_customer_max": 2,
    }
    spec.update(over)
    made = platform.execute(create_promo_code(platform, **spec))
    assert isinstance(made, PromoCode), made
    return made


def _pay(platform: Platform, who: int, to: int, amount: int, code: str | None) -> Any:
    return platform.execute(
        create_payment(platform, PaymentRequest(who, to, "USD", amount, promo_code=code))
    )


def _total(platform: Platform, *owners: tuple[AccountKind, int]) -> int:
    return sum(balance(platform, kind, owner, "USD") for kind, owner in owners)


def test_a_code_discounts_a_payment_from_the_promotions_budget(
    platform: Platform, clock: FakeClock
) -> None:
    ada, shop = customer(platform), merchant(platform, fee_bp=100)
    fund(platform, ada.id, "USD", 10 * USD)
    fund_budget(platform, 5 * USD)
    code = _code(platform, clock)
    paid = _pay(platform, ada.id, shop.id, 2 * USD, "SPRING25")
    assert isinstance(paid, Payment)
    assert (paid.discount, paid.promo_code_id, paid.fee) == (USD // 2, code.id, 20_000)
    assert balance(platform, AccountKind.CUSTOMER_WALLET, ada.id, "USD") == 10 * USD - 3 * USD // 2
    assert balance(platform, AccountKind.MERCHANT_AVAILABLE, shop.id, "USD") == 2 * USD - 20_000
    assert balance(platform, AccountKind.PROMOTIONS, OPERATOR, "USD") == 5 * USD - USD // 2
    (listed,) = list_promo_codes(platform).items
    assert (listed.uses, listed.spent) == (1, USD // 2)
    # A partial refund then the rest: the budget gets exactly the discount back, the
    # customer exactly what it paid.
    for amount in (USD // 3, None):
        done = platform.execute(refund_payment(platform, RefundRequest(paid.id, amount)))
        assert isinstance(done, Refund)
    assert balance(platform, AccountKind.CUSTOMER_WALLET, ada.id, "USD") == 10 * USD
    assert balance(platform, AccountKind.PROMOTIONS, OPERATOR, "USD") == 5 * USD
    assert balance(platform, AccountKind.MERCHANT_AVAILABLE, shop.id, "USD") == 0
    everyone = [
        (k, OPERATOR)
        for k in (AccountKind.FUNDING_CLEARING, AccountKind.FEE_REVENUE, AccountKind.PROMOTIONS)
    ]
    everyone += [(AccountKind.CUSTOMER_WALLET, ada.id), (AccountKind.MERCHANT_AVAILABLE, shop.id)]
    assert _total(platform, *everyone) == 0  # double entry, promotions included


def test_every_limit_of_a_code_refuses_and_changes_nothing(
    platform: Platform, clock: FakeClock
) -> None:
    ada, bob, shop = customer(platform), customer(platform), merchant(platform)
    for who in (ada, bob):
        fund(platform, who.id, "USD", 10 * USD)
    taken = platform.execute(
        create_promo_code(platform, "SPRING25", "USD", 100, USD, USD, clock.now_ns() + NS, 1)
    )
    assert isinstance(taken, PromoCode)
    again = platform.execute(
        create_promo_code(platform, "spring25", "USD", 100, USD, USD, clock.now_ns() + NS, 1)
    )
    assert isinstance(again, Refusal) and again.code is Code.PROMO_CODE_TAKEN
    over = platform.execute(
        create_promo_code(platform, "MONEY", "USD", 10_001, USD, USD, clock.now_ns() + NS, 1)
    )
    assert isinstance(over, Refusal) and over.code is Code.PRICING_RULES_INVALID
    _code(platform, clock, code="ONCE", uses_max=2, per_customer_max=1, min_amount=USD // 2)
    _code(platform, clock, code="SOON", expires_ns=clock.now_ns() + NS)

    def refused(code: Code, who: int, amount: int, promo: str) -> None:
        before = full_snapshot(platform)
        result = _pay(platform, who, shop.id, amount, promo)
        assert isinstance(result, Refusal) and result.code is code, result
        assert full_snapshot(platform) == before

    refused(Code.PROMO_CODE_INVALID, ada.id, USD, "NOPE")
    refused(Code.PROMOTIONS_BUDGET_SPENT, ada.id, USD, "ONCE")  # the budget is not funded
    fund_budget(platform, 10 * USD)
    refused(Code.PROMO_CODE_INVALID, ada.id, USD // 4, "ONCE")  # below its minimum
    assert isinstance(_pay(platform, ada.id, shop.id, USD, "once"), Payment)
    refused(Code.PROMO_CODE_USED_UP, ada.id, USD, "ONCE")  # per customer
    assert isinstance(_pay(platform, bob.id, shop.id, USD, "ONCE"), Payment)
    carol = customer(platform)
    fund(platform, carol.id, "USD", USD)
    refused(Code.PROMO_CODE_USED_UP, carol.id, USD, "ONCE")  # its uses
    clock.advance(2)
    refused(Code.PROMO_CODE_EXPIRED, ada.id, USD, "SOON")
    # A budget of 3.00 at 25%, at most 1.00 a payment: 0.50 x3, 1.00, what is left, then
    # used up.
    _code(platform, clock, code="BUDGET", per_customer_max=10)
    fund(platform, ada.id, "USD", 20 * USD)
    paid = [_pay(platform, ada.id, shop.id, 2 * USD, "BUDGET") for _ in range(3)]
    paid += [_pay(platform, ada.id, shop.id, 4 * USD, "BUDGET") for _ in range(2)]
    assert [p.discount for p in paid] == [USD // 2] * 3 + [USD, USD // 2]
    refused(Code.PROMO_CODE_USED_UP, ada.id, USD, "BUDGET")
