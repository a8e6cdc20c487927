"""Metered holds over HTTP: authorize under a mandate, capture part (a payment is made of
it), release, expiry on the engine clock, refusals, and merchant isolation."""

from __future__ import annotations

from centime import wire
from centime.auth import Scope
from centime.clock import FakeClock
from centime.platform.payments import expire_holds
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


def held(api: Api, seller: Shop, dollars_cents: int = 1_000) -> tuple[wire.Customer, wire.Hold]:
    payer = funded_customer(api, dollars_cents, restricted_cents=20)
    mandate = api.operator.create_mandate(payer.id, seller.id, cents(10_000))
    hold = seller.client.create_hold(
        payer.id, cents(100), mandate_id=mandate.id, timeout_s=600, description="an hour of play"
    )
    return payer, hold


def test_authorize_then_capture_part(api: Api) -> None:
    seller = shop(api, fee_bp=1_000)
    payer, hold = held(api, seller)
    assert hold.id.startswith("hold_") and hold.status == "authorized"
    assert hold.amount == cents(100) and hold.restricted == cents(20)
    assert hold.captured == cents(0) and hold.payment_id is None
    # Reserved, not spent: the customer's available money is less by the hold.
    assert customer_balance(api, payer) == 1_000 * 10_000
    balances = api.operator.customer_balances(payer.id).data[0]
    assert balances.held == cents(100) and balances.available == cents(920)
    captured = seller.client.capture_hold(hold.id, cents(35))
    assert captured.hold.status == "captured" and captured.hold.captured == cents(35)
    payment = captured.payment
    assert captured.hold.payment_id == payment.id and payment.hold_id == hold.id
    assert payment.amount == cents(35) and payment.fee == wire.money(35_000, "USD")  # 10%
    assert payment.restricted == cents(20)
    assert customer_balance(api, payer) == (1_000 - 15) * 10_000  # 20 restricted + 15 wallet
    assert customer_balance(api, payer, restricted=True) == 0
    assert merchant_balance(api, seller) == 350_000 - 35_000
    assert seller.client.get_payment(payment.id) == payment
    assert seller.client.get_hold(hold.id) == captured.hold
    # Captured once: the next capture or release is refused.
    assert problem(seller.client.capture_hold, hold.id, cents(1)) == (409, "hold_not_authorized")
    assert problem(seller.client.release_hold, hold.id) == (409, "hold_not_authorized")


def test_release_gives_everything_back(api: Api) -> None:
    seller = shop(api)
    payer, hold = held(api, seller)
    released = seller.client.release_hold(hold.id, idempotency_key="rel-1")
    assert released.status == "released" and released.resolved_at is not None
    assert seller.client.release_hold(hold.id, idempotency_key="rel-1") == released  # replayed
    assert api.operator.customer_balances(payer.id).data[0].held == cents(0)
    assert merchant_balance(api, seller) == 0


def test_a_lapsed_hold_reads_expired_and_cannot_be_captured(api: Api, clock: FakeClock) -> None:
    seller = shop(api)
    payer, hold = held(api, seller)
    clock.advance(601)
    assert seller.client.get_hold(hold.id).status == "expired"
    assert problem(seller.client.capture_hold, hold.id, cents(1)) == (409, "hold_not_authorized")
    # The ledger's sweep gives the reserve back; the background task marks the row.
    api.platform.ledger.run(lambda ctx: None, 0)
    expire_holds(api.platform)
    assert [h.status for h in seller.client.list_holds().data] == ["expired"]
    assert api.operator.customer_balances(payer.id).data[0].held == cents(0)


def test_refusals_change_nothing(api: Api) -> None:
    seller = shop(api)
    payer, hold = held(api, seller)
    mandate = api.operator.list_mandates(customer_id=payer.id).data[0]
    before = snapshot(api.platform)
    client = seller.client
    assert problem(client.capture_hold, hold.id, cents(101)) == (422, "capture_exceeds_hold")
    assert problem(client.capture_hold, hold.id, cents(0)) == (400, "invalid_amount")
    assert problem(client.capture_hold, hold.id, wire.money(1, "EUR")) == (400, "invalid_amount")
    assert problem(client.create_hold, payer.id, cents(1)) == (400, "invalid_request")  # mandate
    assert problem(client.create_hold, payer.id, cents(100_000), mandate_id=mandate.id) == (
        422,
        "mandate_limit_exceeded",
    )
    assert problem(client.create_hold, payer.id, cents(2_000), mandate_id=mandate.id) == (
        402,
        "insufficient_funds",
    )
    assert problem(
        client.create_hold, payer.id, cents(1), mandate_id=mandate.id, timeout_s=10**9
    ) == (400, "invalid_request")
    assert problem(client.capture_hold, "hold_0000000000001", cents(1)) == (404, "hold_not_found")
    assert problem(client.release_hold, "hold_zzz") == (404, "hold_not_found")
    assert snapshot(api.platform) == before


def test_merchant_b_cannot_see_capture_or_release_merchant_as_holds(api: Api) -> None:
    a, b = shop(api, "A"), shop(api, "B")
    _, hold = held(api, a)
    before = snapshot(api.platform)
    assert problem(b.client.get_hold, hold.id) == (404, "hold_not_found")
    assert problem(b.client.capture_hold, hold.id, cents(1)) == (404, "hold_not_found")
    assert problem(b.client.release_hold, hold.id) == (404, "hold_not_found")
    assert b.client.list_holds().data == []
    assert snapshot(api.platform) == before
    reader = api.client(api.merchant_key(a.merchant, Scope.READ))
    assert problem(reader.release_hold, hold.id) == (403, "forbidden")
    assert [h.id for h in reader.list_holds().data] == [hold.id]


def test_the_operator_authorizes_for_a_customer_and_captures(api: Api) -> None:
    seller = shop(api)
    payer = funded_customer(api, 100)
    hold = api.operator.create_hold(payer.id, cents(10), merchant_id=seller.id)
    assert hold.mandate_id is None
    assert api.operator.capture_hold(hold.id, cents(10)).payment.amount == cents(10)
    listed = api.operator.list_holds(merchant_id=seller.id, customer_id=payer.id).data
    assert [h.id for h in listed] == [hold.id]
