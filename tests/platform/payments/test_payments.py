"""Payments on both stores: the chain, restricted first, the fee, every refusal, batches,
idempotent retries and listings."""

from __future__ import annotations

from typing import Any

import pytest

from centime.limits import AMOUNT_MAX, BATCH_PAYMENTS_MAX
from centime.money import ASSETS
from centime.platform.chart import OPERATOR, AccountKind
from centime.platform.context import Platform
from centime.platform.errors import Code, Refusal
from centime.platform.ids import derive_id
from centime.platform.parties import Status, set_customer, set_merchant
from centime.platform.payments.service import (
    Leg,
    Payment,
    PaymentItem,
    PaymentRequest,
    create_payment,
    create_payments_batch,
    get_payment,
    list_payments,
)

from ..world import balance, customer, fund, merchant, snapshot

WALLET = AccountKind.CUSTOMER_WALLET
RESTRICTED = AccountKind.CUSTOMER_RESTRICTED
AVAILABLE = AccountKind.MERCHANT_AVAILABLE
FEES = AccountKind.FEE_REVENUE


def pay(platform: Platform, *args: Any, **kwargs: Any) -> Payment:
    result = platform.execute(create_payment(platform, PaymentRequest(*args, **kwargs)))
    assert isinstance(result, Payment), result
    return result


def refused(platform: Platform, code: Code, *args: Any, **kwargs: Any) -> None:
    """The payment is refused with ``code`` and nothing changed anywhere."""
    before = snapshot(platform)
    result = platform.execute(create_payment(platform, PaymentRequest(*args, **kwargs)))
    assert isinstance(result, Refusal) and result.code is code, result
    assert snapshot(platform) == before


def test_a_payment_moves_the_amount_and_splits_the_fee_off(platform: Platform) -> None:
    ada, shop = customer(platform), merchant(platform, fee_bp=250, fee_fixed={"USD": 10})
    fund(platform, ada.id, "USD", 10_000)
    payment = pay(
        platform, ada.id, shop.id, "USD", 4_000, description="an article", reference="ref-1"
    )
    assert (payment.amount, payment.fee, payment.restricted_amount) == (4_000, 110, 0)
    assert balance(platform, WALLET, ada.id, "USD") == 6_000
    assert balance(platform, AVAILABLE, shop.id, "USD") == 3_890
    assert balance(platform, FEES, OPERATOR, "USD") == 110
    assert get_payment(platform, payment.id) == payment
    assert payment.description == "an article" and payment.reference == "ref-1"


def test_a_payment_may_be_one_unit_and_its_fee_never_exceeds_it(platform: Platform) -> None:
    ada, shop = customer(platform), merchant(platform, fee_bp=250, fee_fixed={"USD": 5})
    fund(platform, ada.id, "USD", 10)
    payment = pay(platform, ada.id, shop.id, "USD", 1)
    assert payment.fee == 1
    assert balance(platform, AVAILABLE, shop.id, "USD") == 0
    assert balance(platform, FEES, OPERATOR, "USD") == 1


def test_restricted_money_is_spent_first(platform: Platform) -> None:
    ada, shop = customer(platform), merchant(platform, fee_bp=0)
    fund(platform, ada.id, "USD", 300, restricted=True)
    fund(platform, ada.id, "USD", 1_000)
    first = pay(platform, ada.id, shop.id, "USD", 200)
    assert first.restricted_amount == 200
    assert balance(platform, RESTRICTED, ada.id, "USD") == 100
    assert balance(platform, WALLET, ada.id, "USD") == 1_000
    second = pay(platform, ada.id, shop.id, "USD", 500)  # 100 restricted, 400 wallet
    assert second.restricted_amount == 100
    assert balance(platform, RESTRICTED, ada.id, "USD") == 0
    assert balance(platform, WALLET, ada.id, "USD") == 600
    assert balance(platform, AVAILABLE, shop.id, "USD") == 700


def test_restricted_and_wallet_together_must_cover_the_amount(platform: Platform) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 300, restricted=True)
    fund(platform, ada.id, "USD", 300)
    refused(platform, Code.INSUFFICIENT_FUNDS, ada.id, shop.id, "USD", 601)
    assert pay(platform, ada.id, shop.id, "USD", 600).restricted_amount == 300


@pytest.mark.parametrize(
    ("asset", "amount", "code"),
    [
        ("XXX", 1, Code.UNKNOWN_ASSET),
        ("USD", 0, Code.INVALID_AMOUNT),
        ("USD", -5, Code.INVALID_AMOUNT),
        ("USD", AMOUNT_MAX + 1, Code.INVALID_AMOUNT),
        ("USD", 1.0, Code.INVALID_AMOUNT),
        ("USD", True, Code.INVALID_AMOUNT),
        ("USD", "100", Code.INVALID_AMOUNT),
    ],
)
def test_bad_amounts_and_assets_are_refused(
    platform: Platform, asset: str, amount: Any, code: Code
) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 1_000)
    refused(platform, code, ada.id, shop.id, asset, amount)


def test_bad_text_fields_are_refused(platform: Platform) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 1_000)
    refused(platform, Code.INVALID_REQUEST, ada.id, shop.id, "USD", 1, description="x" * 501)
    refused(platform, Code.INVALID_REQUEST, ada.id, shop.id, "USD", 1, reference="r" * 201)


def test_parties_must_exist_and_be_active(platform: Platform) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 1_000)
    refused(platform, Code.CUSTOMER_NOT_FOUND, 12345, shop.id, "USD", 1)
    refused(platform, Code.MERCHANT_NOT_FOUND, ada.id, 12345, "USD", 1)
    platform.execute(set_customer(platform, ada.id, Status.FROZEN))
    refused(platform, Code.CUSTOMER_FROZEN, ada.id, shop.id, "USD", 1)
    platform.execute(set_customer(platform, ada.id, Status.ACTIVE))
    platform.execute(set_merchant(platform, shop.id, Status.FROZEN))
    refused(platform, Code.MERCHANT_FROZEN, ada.id, shop.id, "USD", 1)
    closed_shop = merchant(platform)
    platform.execute(set_merchant(platform, closed_shop.id, Status.CLOSED))
    refused(platform, Code.MERCHANT_CLOSED, ada.id, closed_shop.id, "USD", 1)
    poor = customer(platform)
    platform.execute(set_customer(platform, poor.id, Status.CLOSED))
    refused(platform, Code.CUSTOMER_CLOSED, poor.id, merchant(platform).id, "USD", 1)


def test_a_payment_id_makes_the_request_idempotent(platform: Platform) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 1_000)
    first = pay(platform, ada.id, shop.id, "USD", 400, payment_id=77)
    again = pay(platform, ada.id, shop.id, "USD", 400, payment_id=77)
    assert again == first
    assert balance(platform, WALLET, ada.id, "USD") == 600  # paid once
    refused(platform, Code.INVALID_REQUEST, ada.id, shop.id, "USD", 401, payment_id=77)


def test_a_batch_answers_each_payment_and_one_refusal_stops_no_other(
    platform: Platform,
) -> None:
    ada, bob, shop = customer(platform), customer(platform), merchant(platform, fee_bp=100)
    fund(platform, ada.id, "USD", 100)
    fund(platform, bob.id, "EUR", 1_000)
    items = [
        PaymentItem(ada.id, "USD", 60),
        PaymentItem(ada.id, "USD", 60),  # the first left 40: refused
        PaymentItem(bob.id, "EUR", 500, reference="b1"),
        PaymentItem(999, "USD", 1),
        PaymentItem(ada.id, "USD", 0),
        PaymentItem(ada.id, "USD", 40),
    ]
    results = platform.execute(
        create_payments_batch(platform, shop.id, items, charged_by_merchant=False)
    )
    assert isinstance(results, list)
    codes = [r.code if isinstance(r, Refusal) else None for r in results]
    assert codes == [
        None,
        Code.INSUFFICIENT_FUNDS,
        None,
        Code.CUSTOMER_NOT_FOUND,
        Code.INVALID_AMOUNT,
        None,
    ]
    assert balance(platform, WALLET, ada.id, "USD") == 0
    assert balance(platform, WALLET, bob.id, "EUR") == 500
    assert balance(platform, AVAILABLE, shop.id, "USD") == 100  # 1% of 60 and of 40: 0
    assert balance(platform, AVAILABLE, shop.id, "EUR") == 495
    stored = [get_payment(platform, r.id) for r in results if isinstance(r, Payment)]
    assert stored == [r for r in results if isinstance(r, Payment)]


def test_a_batch_is_refused_whole_for_its_merchant_or_its_size(platform: Platform) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 100)
    before = snapshot(platform)
    for merchant_id, items in (
        (shop.id, []),
        (shop.id, [PaymentItem(ada.id, "USD", 1)] * (BATCH_PAYMENTS_MAX + 1)),
        (4242, [PaymentItem(ada.id, "USD", 1)]),
    ):
        result = platform.execute(
            create_payments_batch(platform, merchant_id, items, charged_by_merchant=False)
        )
        assert isinstance(result, Refusal)
    assert snapshot(platform) == before


def test_a_batch_from_a_merchant_needs_mandates(platform: Platform) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 100)
    before = snapshot(platform)
    results = platform.execute(
        create_payments_batch(platform, shop.id, [PaymentItem(ada.id, "USD", 1)])
    )
    assert results == [Refusal(Code.MANDATE_NOT_FOUND, "a merchant charges only under a mandate")]
    assert snapshot(platform) == before


def test_a_batch_retried_with_payment_ids_pays_once(platform: Platform) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 100)
    items = [PaymentItem(ada.id, "USD", 10, payment_id=i) for i in range(1, 4)]
    items.append(PaymentItem(ada.id, "USD", 10, payment_id=1))  # repeated inside the batch
    op = create_payments_batch(platform, shop.id, items, charged_by_merchant=False)
    first = platform.execute(op)
    again = platform.execute(
        create_payments_batch(platform, shop.id, items, charged_by_merchant=False)
    )
    assert isinstance(first, list) and isinstance(again, list)
    assert first[:3] == again[:3]
    assert isinstance(first[3], Refusal) and first[3].code is Code.INVALID_REQUEST
    assert balance(platform, WALLET, ada.id, "USD") == 70


def test_the_largest_batch_in_every_asset_fits_one_unit(platform: Platform) -> None:
    """3 legs per payment plus the accounts of every asset: the declared events suffice."""
    shop = merchant(platform, fee_bp=100)
    payers = [customer(platform) for _ in ASSETS]
    for payer, asset in zip(payers, ASSETS, strict=True):
        fund(platform, payer.id, asset, 10**9, restricted=True)
        fund(platform, payer.id, asset, 10**9)
    items = [
        PaymentItem(payers[i % len(payers)].id, list(ASSETS)[i % len(payers)], 10**6 + i)
        for i in range(BATCH_PAYMENTS_MAX)
    ]
    results = platform.execute(
        create_payments_batch(platform, shop.id, items, charged_by_merchant=False)
    )
    assert isinstance(results, list) and all(isinstance(r, Payment) for r in results)
    page = list_payments(platform, merchant_id=shop.id, limit=10)
    assert len(page.items) == 10


def test_payments_are_listed_newest_first_page_by_page(platform: Platform) -> None:
    ada, bob, shop, other = (
        customer(platform),
        customer(platform),
        merchant(platform),
        merchant(platform),
    )
    fund(platform, ada.id, "USD", 1_000)
    fund(platform, bob.id, "USD", 1_000)
    made = [pay(platform, ada.id, shop.id, "USD", 10 + i) for i in range(5)]
    pay(platform, bob.id, shop.id, "USD", 1)
    pay(platform, ada.id, other.id, "USD", 1)
    seen: list[Payment] = []
    cursor = None
    while True:
        page = list_payments(
            platform, merchant_id=shop.id, customer_id=ada.id, cursor=cursor, limit=2
        )
        seen.extend(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == sorted(made, key=lambda p: (p.created_ns, p.id), reverse=True)
    assert len(list_payments(platform, merchant_id=shop.id).items) == 6
    assert len(list_payments(platform, customer_id=ada.id).items) == 6


def test_another_merchants_payment_is_not_found(platform: Platform) -> None:
    ada, shop, other = customer(platform), merchant(platform), merchant(platform)
    fund(platform, ada.id, "USD", 100)
    payment = pay(platform, ada.id, shop.id, "USD", 10)
    assert get_payment(platform, payment.id, merchant_id=other.id) is None
    assert get_payment(platform, payment.id, merchant_id=shop.id) == payment
    assert get_payment(platform, payment.id, customer_id=ada.id) == payment


def test_the_ledger_legs_are_named_by_the_payment(platform: Platform) -> None:
    """A lone payment's transfers are named after it (a retried unit meets ``exists``), and
    the payment names the transfers that carried its parts and its fee."""
    ada, shop = customer(platform), merchant(platform, fee_bp=250)
    fund(platform, ada.id, "USD", 100, restricted=True)
    fund(platform, ada.id, "USD", 1_000)
    payment = pay(platform, ada.id, shop.id, "USD", 400)
    legs = {name: derive_id("pay", payment.id, name) for name in ("restricted", "wallet")}
    assert payment.fee_transfer_id == derive_id("pay", payment.id, "fees")
    found = {
        t.id: t for t in platform.ledger.lookup_transfers([*legs.values(), payment.fee_transfer_id])
    }
    assert [found[legs[n]].amount for n in ("restricted", "wallet")] == [100, 300]
    assert (payment.restricted_transfer_id, payment.wallet_transfer_id) == (
        legs["restricted"],
        legs["wallet"],
    )
    assert {found[i].user_data for i in legs.values()} == {shop.id}
    assert {found[i].code for i in legs.values()} == {Leg.PAYMENT}
    fee = found[payment.fee_transfer_id]
    assert (fee.amount, fee.code, fee.user_data) == (10, Leg.PAYMENT_FEE, shop.id)


def test_a_batch_moves_money_per_paying_account_and_fees_per_asset(platform: Platform) -> None:
    """One transfer per paying account and one fee transfer per asset, each the exact sum
    of the parts of the payments that name it."""
    shop = merchant(platform, fee_bp=300, fee_fixed={"USD": 2})
    payers = [customer(platform) for _ in range(3)]
    for payer in payers:
        fund(platform, payer.id, "USD", 10_000)
        fund(platform, payer.id, "EUR", 10_000)
    items = [
        PaymentItem(payers[i % 3].id, "USD" if i % 2 else "EUR", 100 + 37 * i) for i in range(9)
    ]
    results = platform.execute(
        create_payments_batch(platform, shop.id, items, charged_by_merchant=False)
    )
    assert not isinstance(results, Refusal)
    paid = [r for r in results if isinstance(r, Payment)]
    assert len(paid) == 9
    by_transfer: dict[int, int] = {}
    for p in paid:
        assert p.fee_transfer_id is not None
        by_transfer[p.fee_transfer_id] = by_transfer.get(p.fee_transfer_id, 0) + p.fee
    assert len(by_transfer) == 2  # one per asset
    for transfer in platform.ledger.lookup_transfers(list(by_transfer)):
        assert transfer.amount == by_transfer[transfer.id]
    # The payments themselves: one transfer per paying wallet (three payers, two assets),
    # each the sum of the payments that name it.
    carried: dict[int, int] = {}
    for p in paid:
        assert p.wallet_transfer_id is not None and p.restricted_transfer_id is None
        carried[p.wallet_transfer_id] = carried.get(p.wallet_transfer_id, 0) + p.amount
    assert len(carried) == 6
    assert {t.id: t.amount for t in platform.ledger.lookup_transfers(list(carried))} == carried
