"""POST /v1/payments and the payment reads, through the real app on both stores: a merchant
charges under a mandate, the operator pays for a customer; every refusal with its status
and code changes nothing; a retry never pays twice; merchants see only their own."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from centime import wire
from centime.api.idempotency import purge_expired
from centime.auth import Scope
from centime.clock import FakeClock
from centime.platform.chart import AccountKind
from centime.platform.fees import payment_fee
from tests.platform.world import balance, snapshot

from .conftest import Api
from .money import (
    ASSET,
    cents,
    customer_balance,
    funded_customer,
    id_of,
    merchant_balance,
    problem,
    shop,
)


def fee_revenue(api: Api) -> int:
    return balance(api.platform, AccountKind.FEE_REVENUE, 0, ASSET)


def post(api: Api, body: dict[str, Any], key: str | None, token: str | None = None) -> Any:
    headers = api.headers(token, **({"Idempotency-Key": key} if key else {}))
    return api.http.post("/v1/payments", json=body, headers=headers)


def test_a_merchant_charges_a_customer_under_its_mandate(api: Api) -> None:
    seller = shop(api, fee_bp=250)
    payer = funded_customer(api, 1_000)  # $10
    mandate = api.operator.create_mandate(payer.id, seller.id, cents(500))
    paid = seller.client.create_payment(
        payer.id, cents(120), mandate_id=mandate.id, description="an article", reference="order-7"
    )
    assert (paid.customer_id, paid.merchant_id, paid.mandate_id) == (
        payer.id,
        seller.id,
        mandate.id,
    )
    assert paid.amount == cents(120) and paid.fee == wire.money(30_000, ASSET)  # 2.5%
    assert (paid.description, paid.reference, paid.hold_id) == ("an article", "order-7", None)
    assert paid.restricted == paid.refunded == paid.fee_refunded == wire.money(0, ASSET)
    assert customer_balance(api, payer) == 880 * 10_000
    assert merchant_balance(api, seller) == 1_200_000 - 30_000
    assert fee_revenue(api) == 30_000
    assert seller.client.get_payment(paid.id) == paid == api.operator.get_payment(paid.id)
    assert api.operator.get_mandate(mandate.id).spent_today == cents(120)


def test_the_operator_pays_for_a_customer_without_a_mandate(api: Api) -> None:
    seller = shop(api)
    payer = funded_customer(api, 100, restricted_cents=30)
    paid = api.operator.create_payment(payer.id, cents(50), merchant_id=seller.id)
    # Restricted (carrier-billed) money is spent first.
    assert paid.restricted == cents(30) and paid.mandate_id is None
    assert customer_balance(api, payer, restricted=True) == 0
    assert customer_balance(api, payer) == 80 * 10_000


def test_the_smallest_payment_is_one_unit(api: Api) -> None:
    seller = shop(api, fee_bp=250)
    payer = funded_customer(api, 1)
    paid = api.operator.create_payment(payer.id, wire.money(1, ASSET), merchant_id=seller.id)
    assert paid.amount.value == "1" and paid.fee.value == "0"  # the fee rounds down
    assert merchant_balance(api, seller) == 1


def test_every_refusal_has_its_status_and_code_and_changes_nothing(api: Api) -> None:
    seller = shop(api)
    other = shop(api, "Other")
    payer = funded_customer(api, 100)
    mandate = api.operator.create_mandate(payer.id, seller.id, cents(60))
    revoked = api.operator.create_mandate(payer.id, seller.id, cents(60))
    api.operator.revoke_mandate(revoked.id)
    frozen = funded_customer(api, 100)
    api.operator.update_customer(frozen.id, status="frozen")
    usd = _plain(cents(10))
    base = {"customer_id": payer.id, "amount": usd, "mandate_id": mandate.id}
    ghost = "cus_0000000000001"
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({**base, "mandate_id": None}, 400, "invalid_request"),  # a merchant needs a mandate
        ({k: v for k, v in base.items() if k != "mandate_id"}, 400, "invalid_request"),
        ({**base, "amount": {**usd, "value": "0"}}, 400, "invalid_amount"),
        ({**base, "amount": {**usd, "value": "-5"}}, 400, "invalid_request"),
        ({**base, "amount": {**usd, "value": 100000}}, 400, "invalid_request"),  # a number
        ({**base, "amount": {**usd, "value": "1.5"}}, 400, "invalid_request"),
        ({**base, "amount": {**usd, "scale": 2}}, 400, "invalid_amount"),
        ({**base, "amount": {**usd, "asset": "XYZ"}}, 400, "unknown_asset"),
        ({**base, "customer_id": "pay_0000000000001"}, 400, "invalid_request"),
        ({**base, "unknown": 1}, 400, "invalid_request"),
        ({**base, "merchant_id": other.id}, 404, "merchant_not_found"),
        ({**base, "customer_id": ghost}, 404, "customer_not_found"),
        ({**base, "mandate_id": "man_0000000000001"}, 404, "mandate_not_found"),
        ({**base, "mandate_id": revoked.id}, 409, "mandate_revoked"),
        ({**base, "amount": _plain(cents(61))}, 422, "mandate_limit_exceeded"),
        ({**base, "customer_id": frozen.id}, 409, "customer_frozen"),
    ]
    before = snapshot(api.platform)
    for index, (body, status, code) in enumerate(cases):
        response = post(api, body, f"k{index}", seller.token)
        assert (response.status_code, response.json()["code"]) == (status, code), body
    assert snapshot(api.platform) == before
    # Not enough money: the operator pays for the customer, beyond its wallet.
    poor = funded_customer(api, 5)
    body = {"customer_id": poor.id, "merchant_id": seller.id, "amount": usd}
    response = post(api, body, "poor")
    assert (response.status_code, response.json()["code"]) == (402, "insufficient_funds")
    # The operator must name the merchant.
    response = post(api, {"customer_id": payer.id, "amount": usd}, "who")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "merchant_id"
    assert snapshot(api.platform)[4] == before[4]  # no payment row


def _plain(value: Any) -> Any:
    if isinstance(value, wire.Money):
        return {"value": value.value, "asset": value.asset, "scale": value.scale}
    return value


def test_a_frozen_merchant_is_refused(api: Api) -> None:
    seller = shop(api)
    payer = funded_customer(api, 100)
    api.operator.update_merchant(seller.id, status="frozen")
    assert problem(api.operator.create_payment, payer.id, cents(1), merchant_id=seller.id) == (
        409,
        "merchant_frozen",
    )


def test_the_idempotency_key_is_required_and_a_retry_pays_once(api: Api, clock: FakeClock) -> None:
    seller = shop(api)
    payer = funded_customer(api, 100)
    mandate = api.operator.create_mandate(payer.id, seller.id, cents(100))
    body = {"customer_id": payer.id, "amount": _plain(cents(10)), "mandate_id": mandate.id}
    missing = post(api, body, None, seller.token)
    assert (missing.status_code, missing.json()["code"]) == (400, "idempotency_key_required")
    first = post(api, body, "pay-1", seller.token)
    again = post(api, body, "pay-1", seller.token)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    reused = post(api, {**body, "amount": _plain(cents(11))}, "pay-1", seller.token)
    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused")
    assert customer_balance(api, payer) == 90 * 10_000
    # A day later the stored answer is purged; the retry still finds the first payment.
    clock.advance(2 * 86_400)
    assert api.platform.execute(purge_expired()) >= 1
    late = post(api, body, "pay-1", seller.token)
    assert late.status_code == 201 and late.json()["id"] == first.json()["id"]
    assert customer_balance(api, payer) == 90 * 10_000
    assert len(seller.client.list_payments().data) == 1
    # The same key string of another merchant is another request.
    rival = shop(api, "Rival")
    rival_mandate = api.operator.create_mandate(payer.id, rival.id, cents(100))
    theirs = post(api, {**body, "mandate_id": rival_mandate.id}, "pay-1", rival.token)
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]


def test_merchants_see_only_their_own_payments(api: Api) -> None:
    a, b = shop(api, "A"), shop(api, "B")
    payer = funded_customer(api, 100)
    paid_a = api.operator.create_payment(payer.id, cents(1), merchant_id=a.id)
    paid_b = api.operator.create_payment(payer.id, cents(2), merchant_id=b.id)
    assert problem(a.client.get_payment, paid_b.id) == (404, "payment_not_found")
    assert [p.id for p in a.client.list_payments().data] == [paid_a.id]
    assert problem(a.client.list_payments, merchant_id=b.id) == (404, "merchant_not_found")
    assert [p.id for p in api.operator.list_payments(merchant_id=b.id).data] == [paid_b.id]
    assert {p.id for p in api.operator.list_payments(customer_id=payer.id).data} == {
        paid_a.id,
        paid_b.id,
    }
    assert problem(a.client.get_payment, "pay_nope") == (404, "payment_not_found")


def test_scopes_are_enforced(api: Api) -> None:
    seller = shop(api)
    payer = funded_customer(api, 100)
    mandate = api.operator.create_mandate(payer.id, seller.id, cents(100))
    reader = api.client(api.merchant_key(seller.merchant, Scope.READ))
    assert problem(reader.create_payment, payer.id, cents(1), mandate_id=mandate.id) == (
        403,
        "forbidden",
    )
    payer_only = api.client(api.merchant_key(seller.merchant, Scope.PAYMENTS))
    payer_only.create_payment(payer.id, cents(1), mandate_id=mandate.id)
    assert problem(payer_only.list_payments) == (403, "forbidden")


def test_listing_pages_through_every_payment_once(api: Api) -> None:
    seller = shop(api)
    payer = funded_customer(api, 100)
    made = {
        api.operator.create_payment(payer.id, cents(1), merchant_id=seller.id).id for _ in range(5)
    }
    seen: list[str] = []
    cursor = None
    while True:
        page = seller.client.list_payments(limit=2, cursor=cursor)
        seen += [p.id for p in page.data]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted(made)
    # A cursor of one listing is no cursor of another.
    first = seller.client.list_payments(limit=2)
    assert first.next_cursor is not None
    assert problem(api.operator.list_payments, customer_id=payer.id, cursor=first.next_cursor) == (
        400,
        "invalid_cursor",
    )


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    amounts=st.lists(st.integers(min_value=1, max_value=2 * 10**8), min_size=1, max_size=4),
    fee_bp=st.integers(min_value=0, max_value=10_000),
)
def test_money_is_conserved_and_the_fee_is_exact(api: Api, amounts: list[int], fee_bp: int) -> None:
    seller = shop(api, fee_bp=fee_bp)
    payer = funded_customer(api, 10**5)  # $1000
    revenue_before = fee_revenue(api)
    for amount in amounts:
        paid = api.operator.create_payment(
            payer.id, wire.money(amount, ASSET), merchant_id=seller.id
        )
        assert int(paid.fee.value) == payment_fee(amount, fee_bp, 0)
    fees = sum(payment_fee(a, fee_bp, 0) for a in amounts)
    assert customer_balance(api, payer) == 10**5 * 10_000 - sum(amounts)
    assert merchant_balance(api, seller) == sum(amounts) - fees
    assert fee_revenue(api) - revenue_before == fees


@pytest.mark.parametrize("field", ["description", "reference"])
def test_text_fields_are_bounded(api: Api, field: str) -> None:
    seller = shop(api)
    payer = funded_customer(api, 100)
    body = {
        "customer_id": payer.id,
        "merchant_id": seller.id,
        "amount": _plain(cents(1)),
        field: "x" * 1000,
    }
    response = post(api, body, "long")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == field
    assert id_of("cus", payer.id) and customer_balance(api, payer) == 100 * 10_000


def test_a_payments_proof_is_its_merchants_and_the_operators_only(api: Api) -> None:
    a, b = api.merchant("A"), api.merchant("B")
    payer = funded_customer(api, 100)
    paid = api.operator.create_payment(payer.id, cents(1), merchant_id=a.id)
    path = f"/v1/payments/{paid.id}/proof"
    for token in (api.merchant_key(a, Scope.READ), None):  # None: the operator's key
        answer = api.http.get(path, headers=api.headers(token))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["id"] == paid.id and body["parts"] and "keys" in body
        assert all("transfer_id" in part for part in body["parts"])
    other = api.http.get(path, headers=api.headers(api.merchant_key(b, Scope.READ)))
    assert (other.status_code, other.json()["code"]) == (404, "payment_not_found")
    nothing = api.http.get("/v1/payments/pay_nope/proof", headers=api.headers())
    assert nothing.status_code == 404
