"""Pricing, promotion codes, the promotions budget and referrals through the real app, on
both stores: the operator publishes and reads versions, a rule set that could create money
is a 422 naming the field and changes nothing, a payment names a promotion code, a sign-up
names a referral code, rewards are paid once; merchants reach none of the operator's routes."""

from __future__ import annotations

import msgspec

from centime import wire
from centime.auth import Scope
from centime.platform.pricing.rules import RuleSetDocument
from tests.platform.pricing.helpers import full_snapshot

from .conftest import Api
from .money import ASSET, cents, funded_customer, id_of, problem, shop

RULES = msgspec.convert(
    {
        "fee_schedules": [
            {
                "asset": "USD",
                "tiers": [
                    {"volume_from": "0", "fee_bp": 200},
                    {"volume_from": "1000000", "fee_bp": 100},
                ],
            }
        ],
        "referrals": [
            {
                "asset": "USD",
                "qualifying_amount": "500000",
                "referrer_reward": "100000",
                "referred_reward": "100000",
                "referrer_rewards_max": 5,
            }
        ],
        "instant_payout": {"fee_bp_per_day": 10, "fee_bp_floor": 20, "fee_bp_cap": 150},
    },
    RuleSetDocument,
)


def test_operator_publishes_rules_and_promotions_apply_to_payments(api: Api) -> None:
    operator = api.operator
    first = operator.publish_pricing_rules(RULES, note="launch")
    assert (first.version, first.note, first.rules) == (1, "launch", RULES)
    assert operator.get_pricing_rules(1) == first
    assert [v.version for v in operator.list_pricing_rules().data] == [1]
    assert problem(operator.get_pricing_rules, 9) == (404, "pricing_version_not_found")
    # A fee that rises with volume: refused, naming the tier; nothing written.
    rising = msgspec.structs.replace(
        RULES,
        fee_schedules=[
            msgspec.structs.replace(
                RULES.fee_schedules[0], tiers=list(reversed(RULES.fee_schedules[0].tiers))
            ),
        ],
    )
    before = full_snapshot(api.platform)
    response = api.http.post(
        "/v1/pricing/rules",
        headers=api.headers(**{"Content-Type": "application/json"}),
        content=msgspec.json.encode({"rules": rising}),
    )
    assert response.status_code == 422
    assert response.json()["code"] == "pricing_rules_invalid"
    assert "fee_schedules[0].tiers[0].volume_from" in response.json()["detail"]
    assert full_snapshot(api.platform) == before

    funding = operator.fund_promotions(cents(1_000), idempotency_key="budget-1")
    again = operator.fund_promotions(cents(1_000), idempotency_key="budget-1")
    assert funding.available == again.available == cents(1_000)
    assert operator.promotions().data[
        [m.asset for m in operator.promotions().data].index(ASSET)
    ] == cents(1_000)
    code = operator.create_promo_code(
        "hello10",
        discount_bp=1_000,
        discount_max=cents(50),
        budget=cents(500),
        expires_in_s=3_600,
        uses_max=100,
    )
    assert (code.code, code.uses) == ("HELLO10", 0) and operator.get_promo_code(code.id) == code
    assert [c.id for c in operator.list_promo_codes().data] == [code.id]
    seller, payer = shop(api), funded_customer(api, 1_000)
    paid = operator.create_payment(
        payer.id, cents(200), merchant_id=seller.id, promo_code="HELLO10"
    )
    assert paid.discount == cents(20) and paid.promo_code_id == code.id
    assert (paid.pricing_version, paid.fee_rule, paid.fee) == (1, "default/USD#0", cents(4))
    assert problem(
        operator.create_payment, payer.id, cents(200), merchant_id=seller.id, promo_code="NOPE1"
    ) == (422, "promo_code_invalid")
    # Merchants reach none of it.
    merchant = api.client(api.merchant_key(seller.merchant, Scope.ADMIN))
    assert problem(merchant.list_pricing_rules)[0] == 403
    assert problem(merchant.fund_promotions, cents(1))[0] == 403


def test_referral_codes_sign_up_and_rewards(api: Api) -> None:
    operator = api.operator
    operator.publish_pricing_rules(RULES)
    operator.fund_promotions(cents(1_000))
    seller = shop(api)
    merchant_code = seller.client.my_referral_code().code
    assert merchant_code == seller.client.my_referral_code().code
    referred = operator.create_customer(
        "Bea", referral_code=merchant_code.lower(), device_id="device-1"
    )
    assert operator.get_referral(referred.id).referrer == seller.id
    assert problem(operator.create_customer, "Cid", referral_code="0000000000") == (
        422,
        "referral_code_invalid",
    )
    payer = funded_customer(api, 1_000)
    own = operator.customer_referral_code(payer.id).code
    assert problem(operator.claim_referral, payer.id, own) == (422, "referral_own_code")
    claimed = operator.claim_referral(payer.id, merchant_code)
    assert (claimed.status, claimed.referrer) == ("pending", seller.id)
    assert problem(operator.claim_referral, payer.id, merchant_code) == (
        409,
        "referral_already_attributed",
    )
    operator.create_payment(payer.id, cents(50), merchant_id=seller.id)
    run = operator.reward_referrals()
    assert (run.looked_at, run.rewarded) == (2, 1)
    rewarded = operator.get_referral(payer.id)
    assert rewarded.status == "rewarded" and rewarded.referred_reward == cents(10)
    assert rewarded.referrer_reward == wire.money(100_000, ASSET)
    assert id_of("cus", payer.id) > 0
