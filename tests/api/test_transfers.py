"""Transfers between customers over HTTP: the operator's keys only; wallet money only
(carrier-billed money is never sent: 402 restricted_funds); tier limits; refusals change
nothing; a retry sends once."""

from __future__ import annotations

from centime.auth import Scope
from tests.platform.world import snapshot

from .conftest import Api
from .money import cents, customer_balance, funded_customer, problem, shop


def test_send_and_read(api: Api) -> None:
    alice, bob = funded_customer(api, 100), funded_customer(api, 0)
    sent = api.operator.create_transfer(alice.id, bob.id, cents(25), note="lunch")
    assert sent.id.startswith("tr_") and (sent.sender_id, sent.recipient_id) == (alice.id, bob.id)
    assert sent.amount == cents(25) and sent.note == "lunch"
    assert customer_balance(api, alice) == 75 * 10_000
    assert customer_balance(api, bob) == 25 * 10_000
    assert api.operator.get_transfer(sent.id) == sent
    assert [t.id for t in api.operator.list_transfers(customer_id=bob.id).data] == [sent.id]
    assert [t.id for t in api.operator.list_transfers().data] == [sent.id]


def test_carrier_money_pays_merchants_but_is_never_sent(api: Api) -> None:
    seller = shop(api)
    alice = funded_customer(api, 10, restricted_cents=100)
    bob = funded_customer(api, 0)
    before = snapshot(api.platform)
    assert problem(api.operator.create_transfer, alice.id, bob.id, cents(50)) == (
        402,
        "restricted_funds",
    )
    assert problem(api.operator.create_transfer, alice.id, bob.id, cents(500)) == (
        402,
        "insufficient_funds",
    )
    assert snapshot(api.platform) == before
    paid = api.operator.create_payment(alice.id, cents(50), merchant_id=seller.id)
    assert paid.restricted == cents(50)
    assert api.operator.create_transfer(alice.id, bob.id, cents(10)).amount == cents(10)


def test_refusals_change_nothing(api: Api) -> None:
    alice, bob = funded_customer(api, 100), funded_customer(api, 0)
    unverified = funded_customer(api, 100, kyc_tier=0)
    frozen = funded_customer(api, 0)
    api.operator.update_customer(frozen.id, status="frozen")
    before = snapshot(api.platform)
    send = api.operator.create_transfer
    assert problem(send, alice.id, alice.id, cents(1)) == (422, "same_customer")
    assert problem(send, unverified.id, bob.id, cents(1)) == (422, "tier_forbids")
    assert problem(send, alice.id, frozen.id, cents(1)) == (409, "recipient_unavailable")
    assert problem(send, alice.id, "cus_0000000000001", cents(1)) == (404, "customer_not_found")
    assert problem(send, alice.id, bob.id, cents(0)) == (400, "invalid_amount")
    assert problem(send, alice.id, "mer_0000000000001", cents(1)) == (400, "invalid_request")
    assert problem(api.operator.get_transfer, "tr_0000000000001") == (404, "transfer_not_found")
    assert snapshot(api.platform) == before


def test_the_tier_bounds_the_day(api: Api) -> None:
    alice, bob = funded_customer(api, 30_000), funded_customer(api, 0)  # tier 1: $250 a day
    api.operator.create_transfer(alice.id, bob.id, cents(20_000))
    assert problem(api.operator.create_transfer, alice.id, bob.id, cents(5_001)) == (
        422,
        "tier_limit_exceeded",
    )
    api.operator.create_transfer(alice.id, bob.id, cents(5_000))


def test_only_the_operators_keys_move_or_read_transfers(api: Api) -> None:
    alice, bob = funded_customer(api, 100), funded_customer(api, 0)
    seller = shop(api)
    admin = api.client(api.merchant_key(seller.merchant, Scope.ADMIN))
    assert problem(admin.create_transfer, alice.id, bob.id, cents(1)) == (403, "forbidden")
    assert problem(admin.list_transfers) == (403, "forbidden")
    reader = api.client(api.key(Scope.READ))
    assert problem(reader.create_transfer, alice.id, bob.id, cents(1)) == (403, "forbidden")
    assert customer_balance(api, alice) == 100 * 10_000


def test_a_retry_sends_once(api: Api) -> None:
    alice, bob = funded_customer(api, 100), funded_customer(api, 0)
    first = api.operator.create_transfer(alice.id, bob.id, cents(5), idempotency_key="t-1")
    assert api.operator.create_transfer(alice.id, bob.id, cents(5), idempotency_key="t-1") == first
    assert customer_balance(api, bob) == 5 * 10_000
