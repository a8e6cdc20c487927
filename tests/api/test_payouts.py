"""The payout routes on both stores, through the typed client: bank accounts (the number
never comes back), the lock, schedules, quotes honoured once, lists and who sees what."""

from __future__ import annotations

import pytest

from centime import wire
from centime.auth import Scope
from centime.auth.passkeys import Role, UserKind
from centime.clock import FakeClock
from centime.platform.ids import format_id, parse_id
from centime.platform.payouts import process_payout_events
from centime.providers.payout_sandbox import ACCOUNT_SUCCEEDS, SandboxPayoutRail
from tests.platform.payout_world import earn, install_rail
from tests.security.auth_helpers import confirmation_for

from .conftest import Api
from .money import problem

USD = "USD"


def usd(value: int) -> wire.Money:
    return wire.money(value, USD)


@pytest.fixture
def rail(api: Api, clock: FakeClock) -> SandboxPayoutRail:
    return install_rail(api.platform, clock)


def earning_merchant(api: Api, earned: int = 100_000_000) -> wire.Merchant:
    shop = api.operator.create_merchant("Shop", fee_bp=0)
    merchant_id = parse_id("mer", shop.id)
    assert merchant_id is not None
    earn(api.platform, merchant_id, earned)
    return shop


def confirm(api: Api, merchant: wire.Merchant | None = None) -> str:
    """A Centime-Confirmation made on the web by a person of the merchant (by an operator
    admin without one)."""
    if merchant is None:
        return confirmation_for(api.platform, UserKind.OPERATOR, 0, Role.ADMIN)
    merchant_id = parse_id("mer", merchant.id)
    assert merchant_id is not None
    return confirmation_for(api.platform, UserKind.MERCHANT, merchant_id)


def test_a_merchant_adds_an_account_and_is_paid_instantly(
    api: Api, clock: FakeClock, rail: SandboxPayoutRail
) -> None:
    shop = earning_merchant(api)
    client = api.client(api.merchant_key(shop, Scope.PAYOUTS, Scope.READ))
    # An API key alone cannot change where the money goes: it needs a person's confirmation.
    assert problem(client.add_payout_method, "Ada", ACCOUNT_SUCCEEDS) == (403, "step_up_required")
    method = client.add_payout_method(
        "Ada Lovelace", "GB82 WEST 1234 5698 7654 32", confirmation=confirm(api, shop)
    )
    assert (method.last4, method.status, method.merchant_id) == ("5432", "active", shop.id)
    assert ACCOUNT_SUCCEEDS not in repr(client.list_payout_methods())
    # The change locks payouts.
    assert problem(client.quote_instant_payout, usd(10_000_000)) == (409, "payouts_locked")
    clock.advance(api.platform.config.payouts.payout_method_lock_s)
    schedule = client.set_payout_schedule(
        "weekly", usd(1_000_000), weekday=6, reserve_bp=500, reserve_days=7
    )
    assert client.get_payout_schedule(USD) == schedule
    quote = client.quote_instant_payout(usd(50_000_000))
    assert int(quote.fee.value) + int(quote.net.value) == 50_000_000
    assert quote.scheduled_date == schedule.next_date
    payout = client.instant_payout(quote.id, idempotency_key="confirm-1")
    assert (payout.status, payout.kind, payout.fee, payout.quote_id) == (
        "pending",
        "instant",
        quote.fee,
        quote.id,
    )
    again = client.instant_payout(quote.id, idempotency_key="confirm-2")
    assert again.id == payout.id
    clock.advance(30)
    process_payout_events(api.platform)
    assert client.get_payout(payout.id).status == "paid"
    assert [p.id for p in client.list_payouts().data] == [payout.id]
    balances = client.my_balances()
    assert balances.data[0].available == usd(50_000_000)


def test_refusals_are_problems(api: Api, clock: FakeClock, rail: SandboxPayoutRail) -> None:
    shop = earning_merchant(api, earned=10_000_000)
    client = api.client(api.merchant_key(shop, Scope.PAYOUTS))
    assert problem(client.quote_instant_payout, usd(1_000_000)) == (409, "payout_method_required")
    client.add_payout_method("Ada", ACCOUNT_SUCCEEDS, confirmation=confirm(api, shop))
    clock.advance(api.platform.config.payouts.payout_method_lock_s)
    assert problem(client.quote_instant_payout, usd(10_000_001)) == (402, "insufficient_funds")
    quote = client.quote_instant_payout(usd(5_000_000))
    clock.advance(api.platform.config.payouts.quote_valid_s)
    assert problem(client.instant_payout, quote.id) == (409, "quote_expired")
    assert problem(client.get_payout_schedule, USD) == (404, "payout_schedule_not_found")
    assert problem(client.get_payout, format_id("po", 1)) == (404, "payout_not_found")
    assert problem(
        client.add_payout_method, "Ada", "GB00REJECT000000000000", confirmation=confirm(api, shop)
    ) == (402, "provider_declined")
    assert client.list_payouts().data == []


def test_who_sees_what(api: Api, clock: FakeClock, rail: SandboxPayoutRail) -> None:
    shop = earning_merchant(api)
    other = api.merchant()
    operator = api.operator
    # The operator names the merchant it acts for.
    assert problem(operator.add_payout_method, "Ada", ACCOUNT_SUCCEEDS)[0] == 400
    # The operator's key needs an operator admin's confirmation; another merchant's does
    # not count for this one.
    assert problem(
        operator.add_payout_method,
        "Ada",
        ACCOUNT_SUCCEEDS,
        merchant_id=shop.id,
        confirmation=confirm(api, other),
    ) == (403, "step_up_required")
    method = operator.add_payout_method(
        "Ada", ACCOUNT_SUCCEEDS, merchant_id=shop.id, confirmation=confirm(api)
    )
    assert [m.id for m in operator.list_payout_methods(merchant_id=shop.id).data] == [method.id]
    clock.advance(api.platform.config.payouts.payout_method_lock_s)
    quote = operator.quote_instant_payout(usd(1_000_000), merchant_id=shop.id)
    payout = operator.instant_payout(quote.id, merchant_id=shop.id)
    # Another merchant sees none of it; a key without the payouts scope is refused.
    stranger = api.client(api.merchant_key(other, Scope.PAYOUTS))
    assert problem(stranger.get_payout, payout.id) == (404, "payout_not_found")
    assert problem(stranger.instant_payout, quote.id) == (404, "quote_not_found")
    assert problem(stranger.remove_payout_method, method.id) == (403, "step_up_required")
    theirs = confirm(api, other)
    assert problem(stranger.remove_payout_method, method.id, confirmation=theirs) == (
        404,
        "payout_method_not_found",
    )
    assert stranger.list_payouts().data == []
    assert stranger.list_payout_methods().data == []
    reader = api.client(api.merchant_key(shop, Scope.READ))
    assert problem(reader.list_payouts) == (403, "forbidden")
    assert [p.id for p in operator.list_payouts(merchant_id=shop.id).data] == [payout.id]
    assert problem(operator.remove_payout_method, method.id) == (403, "step_up_required")
    removed = operator.remove_payout_method(method.id, confirmation=confirm(api))
    assert removed.status == "removed" and removed.removed_at is not None
