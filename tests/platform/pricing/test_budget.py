"""The promotions budget, on both stores: funding it, top-up bonuses paid from it in the
success's chain (recorded on the top-up), skipped when it cannot pay, never overdrawn, and
clawed back with a chargeback."""

from __future__ import annotations

import pytest

from centime.clock import FakeClock
from centime.platform.chart import OPERATOR, AccountKind
from centime.platform.context import Platform
from centime.platform.errors import Code, Refusal
from centime.platform.funding import TopUp, create_topup, get_topup, process_provider_events
from centime.platform.pricing.budget import fund_promotions, promotions_balance
from centime.providers import SandboxConfig, SandboxProvider
from centime.providers.sandbox import CARD_CHARGED_BACK, CARD_SUCCEEDS, PHONE_SUCCEEDS

from ..world import balance, customer
from .helpers import USD, fund_budget, publish

BONUS = {
    "name": "five-percent",
    "asset": "USD",
    "min_amount": str(20 * USD),
    "bonus_bp": 500,
    "bonus_max": str(5 * USD),
}


@pytest.fixture
def sandbox(platform: Platform, clock: FakeClock) -> SandboxProvider:
    return SandboxProvider(clock, SandboxConfig(carrier_settlement_days=30))


def _top_up(
    platform: Platform,
    sandbox: SandboxProvider,
    clock: FakeClock,
    who: int,
    amount: int,
    method: str = "card",
    instrument: str = CARD_SUCCEEDS,
) -> TopUp:
    created = create_topup(platform, sandbox, who, "USD", amount, method, instrument)
    assert isinstance(created, TopUp), created
    for _ in range(3):
        clock.advance(1)
        process_provider_events(platform, sandbox)
    found = get_topup(platform, created.id)
    assert found is not None
    return found


def test_funding_is_idempotent_and_checked(platform: Platform) -> None:
    made = platform.execute(fund_promotions(platform, "USD", 3 * USD, funding_id=77))
    again = platform.execute(fund_promotions(platform, "USD", 3 * USD, funding_id=77))
    assert not isinstance(made, Refusal) and not isinstance(again, Refusal)
    assert promotions_balance(platform, "USD") == 3 * USD
    bad = platform.execute(fund_promotions(platform, "USD", 0))
    assert isinstance(bad, Refusal) and bad.code is Code.INVALID_AMOUNT
    other = platform.execute(fund_promotions(platform, "USD", 4 * USD, funding_id=77))
    assert isinstance(other, Refusal) and promotions_balance(platform, "USD") == 3 * USD


def test_a_bonus_is_paid_from_the_budget_until_it_is_spent(
    platform: Platform, sandbox: SandboxProvider, clock: FakeClock
) -> None:
    rules = publish(platform, topup_bonuses=[BONUS])
    fund_budget(platform, USD + USD // 2)
    ada = customer(platform, tier=2)
    small = _top_up(platform, sandbox, clock, ada.id, 10 * USD)
    assert (small.bonus, small.bonus_rule, small.pricing_version) == (0, None, rules.version)
    big = _top_up(platform, sandbox, clock, ada.id, 20 * USD)
    assert (big.bonus, big.bonus_rule) == (USD, "five-percent")
    assert balance(platform, AccountKind.CUSTOMER_WALLET, ada.id, "USD") == 31 * USD
    # Half a dollar left: the next bonus (1.00) is skipped whole, recorded, never overdrawn.
    skipped = _top_up(platform, sandbox, clock, ada.id, 20 * USD)
    assert (skipped.bonus, skipped.bonus_rule) == (0, "five-percent:budget_spent")
    assert promotions_balance(platform, "USD") == USD // 2
    # Carrier money earns no bonus (the rule cannot even name the method).
    fund_budget(platform, 10 * USD)
    phone = _top_up(platform, sandbox, clock, ada.id, 20 * USD, "carrier", PHONE_SUCCEEDS)
    assert phone.bonus == 0


def test_a_charged_back_top_ups_bonus_goes_back_to_the_budget(
    platform: Platform, sandbox: SandboxProvider, clock: FakeClock
) -> None:
    publish(platform, topup_bonuses=[BONUS])
    fund_budget(platform, 10 * USD)
    ada = customer(platform, tier=2)
    disputed = _top_up(platform, sandbox, clock, ada.id, 40 * USD, instrument=CARD_CHARGED_BACK)
    for _ in range(10):
        clock.advance(86_400)
        process_provider_events(platform, sandbox)
    found = get_topup(platform, disputed.id)
    assert found is not None and found.charged_back == 40 * USD and found.bonus == 2 * USD
    assert balance(platform, AccountKind.CUSTOMER_WALLET, ada.id, "USD") == 0
    assert promotions_balance(platform, "USD") == 10 * USD
    clearing = balance(platform, AccountKind.FUNDING_CLEARING, OPERATOR, "USD")
    assert clearing == -10 * USD  # only the budget's funding is still outside
