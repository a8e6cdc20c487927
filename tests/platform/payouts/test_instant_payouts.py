"""Instant payouts: quotes priced by how early the money is taken, honoured exactly, expiring,
used once; the fee earned when paid and given back when the payout fails."""

from __future__ import annotations

import dataclasses

import pytest

from centime.clock import FakeClock
from centime.platform.chart import OPERATOR, AccountKind
from centime.platform.context import Platform
from centime.platform.errors import Code, Refusal
from centime.platform.ids import format_id
from centime.platform.payout_config import InstantPayoutPricing
from centime.platform.payouts.instant import (
    Quote,
    get_quote,
    instant_payout_id,
    quote_instant_payout,
)
from centime.platform.payouts.schedules import Frequency, PayoutSchedule, day_of, set_schedule
from centime.platform.payouts.service import Payout, PayoutAsk, PayoutKind, PayoutStatus
from centime.providers.payout_sandbox import ACCOUNT_FAILS, SandboxPayoutRail

from ..payout_world import confirm, install_rail, paid_merchant
from ..world import account, balance
from .test_payouts import available, events_of, payout_snapshot, settle

USD = "USD"
AMOUNT = 50_000_000  # 50.00


@pytest.fixture
def rail(platform: Platform, clock: FakeClock) -> SandboxPayoutRail:
    return install_rail(platform, clock)


def quote(platform: Platform, merchant_id: int, amount: int = AMOUNT) -> Quote:
    made = platform.execute(quote_instant_payout(platform, PayoutAsk(merchant_id, USD, amount)))
    assert isinstance(made, Quote), made
    return made


def weekly_on(platform: Platform, merchant_id: int, weekday: int) -> None:
    made = platform.execute(
        set_schedule(
            platform, PayoutSchedule(merchant_id, USD, Frequency.WEEKLY, weekday=weekday % 7)
        )
    )
    assert not isinstance(made, Refusal), made


def test_the_day_before_costs_less_than_a_week_before(
    platform: Platform, clock: FakeClock, rail: SandboxPayoutRail
) -> None:
    shop, _ = paid_merchant(platform, clock)
    today = day_of(clock.now_ns()).weekday()
    no_schedule = quote(platform, shop.id)
    assert (no_schedule.days_early, no_schedule.scheduled_date) == (31, None)
    assert no_schedule.fee == AMOUNT * 150 // 10_000  # the cap
    weekly_on(platform, shop.id, today + 1)
    tomorrow = quote(platform, shop.id)
    weekly_on(platform, shop.id, today + 6)
    in_six_days = quote(platform, shop.id)
    weekly_on(platform, shop.id, today)
    due_today = quote(platform, shop.id)
    assert [q.days_early for q in (due_today, tomorrow, in_six_days)] == [0, 1, 6]
    assert [q.fee for q in (due_today, tomorrow, in_six_days)] == [50_000, 50_000, 300_000]
    assert due_today.net == AMOUNT - 50_000
    assert tomorrow.scheduled_date is not None and in_six_days.scheduled_date is not None


def test_a_confirmed_quote_is_honoured_exactly_and_pays_once(
    platform: Platform, clock: FakeClock, rail: SandboxPayoutRail
) -> None:
    shop, _ = paid_merchant(platform, clock, earned=100_000_000)
    quoted = quote(platform, shop.id)
    # The prices change after the quote: the quote still holds.
    cheaper = dataclasses.replace(platform.config.payouts, instant=InstantPayoutPricing(0, 0, 0))
    platform.config = dataclasses.replace(platform.config, payouts=cheaper)
    clock.advance(platform.config.payouts.quote_valid_s - 1)
    made = confirm(platform, shop.id, quoted.id)
    assert isinstance(made, Payout), made
    assert (made.id, made.kind, made.amount, made.fee, made.quote_id) == (
        instant_payout_id(quoted.id),
        PayoutKind.INSTANT,
        AMOUNT,
        quoted.fee,
        quoted.id,
    )
    assert made.status is PayoutStatus.PENDING and made.net == quoted.net
    fees = account(platform, AccountKind.FEE_REVENUE, OPERATOR, USD)
    assert fees is not None and fees.credits_pending == quoted.fee
    again = confirm(platform, shop.id, quoted.id)
    assert isinstance(again, Payout) and again.id == made.id
    settle(platform, clock, 30)  # instant: seconds, not a day
    assert balance(platform, AccountKind.FEE_REVENUE, OPERATOR, USD) == quoted.fee
    assert balance(platform, AccountKind.PAYOUT_CLEARING, OPERATOR, USD) == quoted.net
    assert available(platform, shop.id) == 100_000_000 - AMOUNT
    assert rail.sends(made.id) == 1
    assert events_of(platform, made.id).count("payout.paid") == 1
    stored = get_quote(platform, quoted.id, shop.id)
    assert stored is not None and stored.payout_id == made.id


def test_refused_quotes_and_confirmations_change_nothing(
    platform: Platform, clock: FakeClock, rail: SandboxPayoutRail
) -> None:
    shop, _ = paid_merchant(platform, clock, earned=10_000_000)
    quoted = quote(platform, shop.id, 5_000_000)
    clock.advance(platform.config.payouts.quote_valid_s)
    before = payout_snapshot(platform)
    expired = confirm(platform, shop.id, quoted.id)
    assert isinstance(expired, Refusal) and expired.code is Code.QUOTE_EXPIRED
    other = confirm(platform, shop.id + 1, quoted.id)
    assert isinstance(other, Refusal) and other.code is Code.QUOTE_NOT_FOUND
    for amount, code in ((10_000_001, Code.INSUFFICIENT_FUNDS), (1, Code.PAYOUT_TOO_SMALL)):
        refused = platform.execute(quote_instant_payout(platform, PayoutAsk(shop.id, USD, amount)))
        assert isinstance(refused, Refusal) and refused.code is code
    assert payout_snapshot(platform) == before


def test_a_failed_instant_payout_gives_the_fee_back(
    platform: Platform, clock: FakeClock, rail: SandboxPayoutRail
) -> None:
    shop, _ = paid_merchant(platform, clock, number=ACCOUNT_FAILS)
    quoted = quote(platform, shop.id)
    made = confirm(platform, shop.id, quoted.id)
    assert isinstance(made, Payout) and made.fee > 0
    settle(platform, clock, 30)
    assert balance(platform, AccountKind.FEE_REVENUE, OPERATOR, USD) == 0
    fees = account(platform, AccountKind.FEE_REVENUE, OPERATOR, USD)
    assert fees is not None and fees.credits_pending == 0
    assert available(platform, shop.id) == 100_000_000


def test_the_published_pricing_rules_price_quotes(
    platform: Platform, clock: FakeClock, rail: SandboxPayoutRail
) -> None:
    from centime.platform.pricing.rules import InstantPayoutDoc, RuleSetDocument
    from centime.platform.pricing.store import publish_rules

    shop, _ = paid_merchant(platform, clock)
    assert quote(platform, shop.id).fee == AMOUNT * 150 // 10_000  # the configuration's cap
    document = RuleSetDocument(
        instant_payout=InstantPayoutDoc(fee_bp_per_day=5, fee_bp_floor=20, fee_bp_cap=90)
    )
    assert not isinstance(platform.execute(publish_rules(platform, document)), Refusal)
    assert quote(platform, shop.id).fee == AMOUNT * 90 // 10_000  # 31 days early: the rules' cap


def test_the_risk_screen_decides_on_an_instant_payout(
    platform: Platform, clock: FakeClock, rail: SandboxPayoutRail
) -> None:
    from centime.risk.types import Action
    from tests.risk.screens import ScriptedScreen, decision

    shop, _ = paid_merchant(platform, clock)
    priced = quote(platform, shop.id)
    screen = ScriptedScreen(lambda event: decision(Action.BLOCK, "mule_fan_in_payout"))
    platform.screen = screen
    before = available(platform, shop.id)
    refused = confirm(platform, shop.id, priced.id)
    assert isinstance(refused, Refusal) and refused.code is Code.RISK_BLOCKED
    assert "mule_fan_in_payout" in refused.detail
    [asked] = screen.asked
    assert (asked.type, asked.amount) == ("payout_instant", AMOUNT)
    assert asked.payer == format_id("mer", shop.id)
    assert available(platform, shop.id) == before  # nothing reserved

    screen.rule = lambda event: decision(Action.STEP_UP, "new_payout_account")
    needs = confirm(platform, shop.id, priced.id)
    assert isinstance(needs, Refusal) and needs.code is Code.STEP_UP_REQUIRED
    paid = confirm(platform, shop.id, priced.id, clock.now_ns())
    assert isinstance(paid, Payout) and paid.amount == AMOUNT
    with platform.read() as fetch:  # every attempt recorded (the clock stands still: no order)
        actions = sorted(r[0] for r in fetch("SELECT action FROM risk_decisions", ()))
    assert actions == ["block", "step_up", "step_up"]
