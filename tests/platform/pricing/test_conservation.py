"""Money is conserved with pricing in play, on both stores: random payments (some with a
promotion code), refunds, fundings of the promotions budget, fee schedules published and
replaced, referral sign-ups and reward passes. After every step the ledger balances to
zero per asset, no customer, merchant or promotions account is below zero, and the
promotions account holds exactly what was funded less what discounts and rewards paid out
plus what refunds of discounts gave back."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from centime.clock import FakeClock
from centime.platform.chart import OPERATOR, AccountKind
from centime.platform.context import Platform
from centime.platform.parties import create_customer
from centime.platform.payments import (
    Payment,
    PaymentRequest,
    RefundRequest,
    create_payment,
    refund_payment,
)
from centime.platform.pricing.promos import PromoCode, create_promo_code
from centime.platform.referrals import referral_code, run_reward_pass, with_referral

from ..world import balance, customer, fund, merchant
from .helpers import USD, fund_budget, publish

NS = 1_000_000_000


def test_money_is_conserved_with_promotions(platform: Platform, clock: FakeClock) -> None:
    counter = itertools.count()

    class Pricing(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.customers = [customer(platform) for _ in range(3)]
            self.shops = [merchant(platform, fee_bp=300) for _ in range(2)]
            self.payments: list[int] = []
            self.code = f"CODE{next(counter)}"
            made = platform.execute(
                create_promo_code(
                    platform,
                    self.code,
                    "USD",
                    2_500,
                    USD // 2,
                    3 * USD,
                    clock.now_ns() + 10**6 * NS,
                    10_000,
                    1_000,
                )
            )
            assert isinstance(made, PromoCode)
            for c in self.customers:
                fund(platform, c.id, "USD", 20 * USD)

        @rule(
            who=st.integers(0, 2),
            to=st.integers(0, 1),
            amount=st.integers(1, 3 * USD),
            promo=st.booleans(),
        )
        def pay(self, who: int, to: int, amount: int, promo: bool) -> None:
            result = platform.execute(
                create_payment(
                    platform,
                    PaymentRequest(
                        self.customers[who].id,
                        self.shops[to].id,
                        "USD",
                        amount,
                        promo_code=self.code if promo else None,
                    ),
                )
            )
            if isinstance(result, Payment):
                self.payments.append(result.id)

        @rule(data=st.data(), amount=st.none() | st.integers(1, USD))
        def refund(self, data: st.DataObject, amount: int | None) -> None:
            if self.payments:
                paid = data.draw(st.sampled_from(self.payments))
                platform.execute(refund_payment(platform, RefundRequest(paid, amount)))

        @rule(amount=st.integers(1, 2 * USD))
        def fund(self, amount: int) -> None:
            fund_budget(platform, amount)

        @rule(tier_bp=st.lists(st.integers(0, 400), min_size=1, max_size=3))
        def publish(self, tier_bp: list[int]) -> None:
            tiers = [
                {"volume_from": str(i * USD), "fee_bp": bp}
                for i, bp in enumerate(sorted(tier_bp, reverse=True))
            ]
            referral = {
                "asset": "USD",
                "qualifying_amount": str(USD),
                "referrer_reward": str(USD // 4),
                "referred_reward": str(USD // 4),
                "referrer_rewards_max": 2,
            }
            publish(
                platform, fee_schedules=[{"asset": "USD", "tiers": tiers}], referrals=[referral]
            )

        @rule(referrer=st.integers(0, 2))
        def refer(self, referrer: int) -> None:
            code = platform.execute(
                referral_code(platform, ("customer", self.customers[referrer].id))
            )
            assert isinstance(code, str)
            made: Any = platform.execute(
                with_referral(create_customer(platform, "R"), "customer", code, None)
            )
            fund(platform, made.id, "USD", 5 * USD)
            self.customers.append(made)

        @rule()
        def reward(self) -> None:
            run_reward_pass(platform)

        @invariant()
        def balanced_and_promotions_accounted(self) -> None:
            with platform.read() as fetch:
                sums = fetch(
                    "SELECT asset, SUM(credits_posted) - SUM(debits_posted) FROM accounts"
                    " GROUP BY asset",
                    (),
                )
                negative = fetch(
                    "SELECT id FROM accounts WHERE code >= 2 AND code <> 4 AND code <> 5"
                    " AND credits_posted - debits_posted < 0",
                    (),
                )
                funded = fetch("SELECT SUM(amount) FROM transfers WHERE code = 300", ())
                discounts = fetch("SELECT SUM(discount - discount_refunded) FROM payments", ())
                rewards = fetch("SELECT SUM(referrer_reward + referred_reward) FROM referrals", ())
            assert all(int(total) == 0 for _, total in sums), sums
            assert negative == []
            promotions = balance(platform, AccountKind.PROMOTIONS, OPERATOR, "USD")
            spent = int(discounts[0][0] or 0) + int(rewards[0][0] or 0)
            assert promotions == int(funded[0][0] or 0) - spent

    run_state_machine_as_test(
        Pricing,
        settings=settings(
            max_examples=6,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
