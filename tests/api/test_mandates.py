"""Mandates over HTTP: the operator grants and revokes them for customers; a merchant sees
only those granted to it; charges count against the day; a revoked mandate charges
nothing more."""

from __future__ import annotations

from centime.auth import Scope
from centime.clock import FakeClock
from tests.platform.world import snapshot

from .conftest import Api
from .money import cents, funded_customer, problem, shop


def test_grant_read_charge_and_revoke(api: Api, clock: FakeClock) -> None:
    seller = shop(api)
    payer = funded_customer(api, 1_000)
    mandate = api.operator.create_mandate(payer.id, seller.id, cents(100))
    assert mandate.id.startswith("man_") and mandate.status == "active"
    assert (mandate.customer_id, mandate.merchant_id) == (payer.id, seller.id)
    assert mandate.amount_max_daily == cents(100) and mandate.spent_today == cents(0)
    assert mandate.revoked_at is None
    assert seller.client.get_mandate(mandate.id) == mandate
    assert [m.id for m in seller.client.list_mandates().data] == [mandate.id]
    seller.client.create_payment(payer.id, cents(60), mandate_id=mandate.id)
    assert seller.client.get_mandate(mandate.id).spent_today == cents(60)
    assert problem(seller.client.create_payment, payer.id, cents(41), mandate_id=mandate.id) == (
        422,
        "mandate_limit_exceeded",
    )
    clock.advance(86_400)  # a new UTC day: the bound is whole again
    assert seller.client.get_mandate(mandate.id).spent_today == cents(0)
    seller.client.create_payment(payer.id, cents(100), mandate_id=mandate.id)
    revoked = api.operator.revoke_mandate(mandate.id)
    assert revoked.status == "revoked" and revoked.revoked_at is not None
    assert api.operator.revoke_mandate(mandate.id) == revoked  # again: as it is
    assert problem(seller.client.create_payment, payer.id, cents(1), mandate_id=mandate.id) == (
        409,
        "mandate_revoked",
    )


def test_only_the_operator_grants_and_revokes(api: Api) -> None:
    seller = shop(api)
    payer = funded_customer(api, 1)
    admin = api.client(api.merchant_key(seller.merchant, Scope.ADMIN))
    assert problem(admin.create_mandate, payer.id, seller.id, cents(1)) == (403, "forbidden")
    mandate = api.operator.create_mandate(payer.id, seller.id, cents(1))
    assert problem(admin.revoke_mandate, mandate.id) == (403, "forbidden")
    reader = api.client(api.key(Scope.READ))
    assert problem(reader.create_mandate, payer.id, seller.id, cents(1)) == (403, "forbidden")


def test_refusals_change_nothing(api: Api) -> None:
    seller = shop(api)
    payer = funded_customer(api, 1)
    api.operator.update_merchant(seller.id, status="frozen")
    frozen_payer = funded_customer(api, 1)
    api.operator.update_customer(frozen_payer.id, status="frozen")
    live = shop(api, "Live")
    before = snapshot(api.platform)
    assert problem(api.operator.create_mandate, payer.id, seller.id, cents(1)) == (
        409,
        "merchant_frozen",
    )
    assert problem(api.operator.create_mandate, frozen_payer.id, live.id, cents(1)) == (
        409,
        "customer_frozen",
    )
    assert problem(api.operator.create_mandate, "cus_0000000000001", live.id, cents(1)) == (
        404,
        "customer_not_found",
    )
    assert problem(api.operator.create_mandate, payer.id, live.id, cents(0)) == (
        400,
        "invalid_amount",
    )
    assert problem(api.operator.revoke_mandate, "man_0000000000001") == (404, "mandate_not_found")
    assert problem(api.operator.get_mandate, "pay_0000000000001") == (404, "mandate_not_found")
    assert snapshot(api.platform) == before


def test_a_merchant_never_sees_another_merchants_mandates(api: Api) -> None:
    a, b = shop(api, "A"), shop(api, "B")
    payer = funded_customer(api, 1)
    to_a = api.operator.create_mandate(payer.id, a.id, cents(1))
    to_b = api.operator.create_mandate(payer.id, b.id, cents(1))
    assert problem(a.client.get_mandate, to_b.id) == (404, "mandate_not_found")
    assert [m.id for m in a.client.list_mandates(customer_id=payer.id).data] == [to_a.id]
    assert problem(a.client.list_mandates, merchant_id=b.id) == (404, "merchant_not_found")
    listed = api.operator.list_mandates(customer_id=payer.id).data
    assert {m.id for m in listed} == {to_a.id, to_b.id}
    assert [m.id for m in api.operator.list_mandates(merchant_id=b.id).data] == [to_b.id]


def test_a_grant_with_a_key_is_made_once(api: Api) -> None:
    seller = shop(api)
    payer = funded_customer(api, 1)
    first = api.operator.create_mandate(payer.id, seller.id, cents(5), idempotency_key="m-1")
    again = api.operator.create_mandate(payer.id, seller.id, cents(5), idempotency_key="m-1")
    assert again == first
    assert len(api.operator.list_mandates(customer_id=payer.id).data) == 1
