"""Referrals, on both stores: codes, attribution at sign-up and after, rewards from the
promotions budget exactly once when the referred party's payments qualify, the cap per
referrer, no reward for a shared device or instrument, and refusals that change nothing."""

from __future__ import annotations

from typing import Any

from centime.clock import FakeClock
from centime.platform.chart import OPERATOR, AccountKind
from centime.platform.context import Platform
from centime.platform.errors import Code, Refusal
from centime.platform.parties import Customer, Merchant, create_customer, create_merchant
from centime.platform.payments import Payment, PaymentRequest, create_payment
from centime.platform.referrals.service import (
    Referral,
    claim_referral,
    get_referral,
    referral_code,
    run_reward_pass,
    with_referral,
)

from ..pricing.helpers import USD, full_snapshot, fund_budget, publish
from ..world import balance, customer, fund, merchant

RULE = {
    "asset": "USD",
    "qualifying_amount": str(5 * USD),
    "referrer_reward": str(USD),
    "referred_reward": str(USD // 2),
    "referrer_rewards_max": 1,
}


def _code(platform: Platform, kind: Any, party_id: int) -> str:
    code = platform.execute(referral_code(platform, (kind, party_id)))
    assert isinstance(code, str)
    return code


def _sign_up(platform: Platform, code: str | None, device: str | None = None) -> Any:
    op = with_referral(create_customer(platform, "Bea"), "customer", code, device)
    return platform.execute(op)


def _spend(platform: Platform, who: int, shop: int, amount: int) -> None:
    fund(platform, who, "USD", amount)
    assert isinstance(
        platform.execute(create_payment(platform, PaymentRequest(who, shop, "USD", amount))),
        Payment,
    )


def test_both_sides_are_rewarded_once_when_the_referred_qualifies(
    platform: Platform, clock: FakeClock
) -> None:
    publish(platform, referrals=[RULE])
    fund_budget(platform, 10 * USD)
    ada, shop = customer(platform), merchant(platform)
    code = _code(platform, "customer", ada.id)
    assert code == _code(platform, "customer", ada.id) and len(code) == 10
    bea = _sign_up(platform, code.lower(), device="phone-b")
    assert isinstance(bea, Customer)
    found = get_referral(platform, ("customer", bea.id))
    assert found is not None and found.referrer == ("customer", ada.id)
    _spend(platform, bea.id, shop.id, 4 * USD)
    assert run_reward_pass(platform).rewarded == 0  # 4.00 of 5.00: not yet
    _spend(platform, bea.id, shop.id, USD)
    assert run_reward_pass(platform).rewarded == 1
    assert run_reward_pass(platform).looked_at == 0  # exactly once
    assert balance(platform, AccountKind.CUSTOMER_WALLET, ada.id, "USD") == USD
    assert balance(platform, AccountKind.CUSTOMER_WALLET, bea.id, "USD") == USD // 2
    assert balance(platform, AccountKind.PROMOTIONS, OPERATOR, "USD") == 10 * USD - 3 * USD // 2
    done = get_referral(platform, ("customer", bea.id))
    assert done is not None and (done.status, done.referrer_reward) == ("rewarded", USD)
    with platform.read() as fetch:
        events = fetch("SELECT type, owner_id FROM outbox_events ORDER BY owner_id", ())
    assert sorted(events) == sorted([("referral.rewarded", ada.id), ("referral.rewarded", bea.id)])
    # The cap: ada's second referral rewards only the referred side.
    cid = _sign_up(platform, code)
    assert isinstance(cid, Customer)
    _spend(platform, cid.id, shop.id, 5 * USD)
    run_reward_pass(platform)
    capped = get_referral(platform, ("customer", cid.id))
    assert capped is not None and (capped.referrer_reward, capped.referred_reward) == (0, USD // 2)
    assert capped.detail == "referrer cap reached"


def test_no_reward_for_a_shared_device_and_none_without_budget(
    platform: Platform, clock: FakeClock
) -> None:
    publish(platform, referrals=[RULE])
    shop = merchant(platform)
    ada = platform.execute(with_referral(create_customer(platform, "Ada"), "customer", None, "d1"))
    assert isinstance(ada, Customer)
    code = _code(platform, "customer", ada.id)
    twin, other = _sign_up(platform, code, "d1"), _sign_up(platform, code, "d2")
    for who in (twin, other):
        _spend(platform, who.id, shop.id, 5 * USD)
    run = run_reward_pass(platform)  # no budget: the honest one waits, the twin is refused
    assert (run.rewarded, run.closed) == (0, 1)
    refused = get_referral(platform, ("customer", twin.id))
    assert refused is not None and (refused.status, refused.detail) == (
        "refused",
        "the parties share a device",
    )
    fund_budget(platform, 10 * USD)
    assert run_reward_pass(platform).rewarded == 1


def test_referral_refusals_change_nothing(platform: Platform, clock: FakeClock) -> None:
    shop = platform.execute(create_merchant(platform, "Shop"))
    assert isinstance(shop, Merchant)
    mine = _code(platform, "merchant", shop.id)
    ada = customer(platform)

    def refused(code: Code, op: Any) -> None:
        before = full_snapshot(platform)
        result = platform.execute(op)
        assert isinstance(result, Refusal) and result.code is code, result
        assert full_snapshot(platform) == before

    refused(
        Code.REFERRAL_CODE_INVALID,
        with_referral(create_customer(platform, "B"), "customer", "ZZZZZZZZZZ", None),
    )
    refused(
        Code.INVALID_REQUEST,
        with_referral(create_customer(platform, "B"), "customer", None, "x" * 201),
    )
    refused(Code.REFERRAL_OWN_CODE, claim_referral(platform, ("merchant", shop.id), mine))
    claimed = platform.execute(claim_referral(platform, ("customer", ada.id), mine))
    assert isinstance(claimed, Referral) and claimed.referrer == ("merchant", shop.id)
    refused(Code.REFERRAL_ALREADY_ATTRIBUTED, claim_referral(platform, ("customer", ada.id), mine))
    refused(Code.CUSTOMER_NOT_FOUND, claim_referral(platform, ("customer", 5), mine))
    late = customer(platform)
    clock.advance(31 * 86_400)
    refused(Code.REFERRAL_ALREADY_ATTRIBUTED, claim_referral(platform, ("customer", late.id), mine))


def test_merchants_sharing_a_payout_account_share_an_identity(
    platform: Platform, clock: FakeClock
) -> None:
    from centime.ledger.units import UnitContext
    from centime.platform.context import Operation
    from centime.platform.referrals.service import shared_identity
    from centime.providers.payout_sandbox import ACCOUNT_RETURNS, ACCOUNT_SUCCEEDS

    from ..payout_world import install_rail, with_method

    install_rail(platform, clock)
    a, b, c = (merchant(platform) for _ in range(3))
    with_method(platform, clock, a.id, ACCOUNT_SUCCEEDS)
    with_method(platform, clock, b.id, ACCOUNT_SUCCEEDS)
    with_method(platform, clock, c.id, ACCOUNT_RETURNS)

    def ask(x: int, y: int) -> str | None:
        def unit(ctx: UnitContext) -> str | None:
            return shared_identity(ctx, ("merchant", x), ("merchant", y))

        return platform.execute(Operation(unit, 0))

    assert ask(a.id, b.id) == "a payout account"
    assert ask(a.id, c.id) is None
