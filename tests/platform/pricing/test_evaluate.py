"""Properties of the pure evaluation: no unit created or lost, fees never rise with volume,
integer arithmetic with rounding down, bonuses and discounts within their bounds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from centime.limits import AMOUNT_MAX
from centime.platform.fees import payment_fee
from centime.platform.payout_fees import InstantFeeParams, ceil_bp, instant_payout_fee
from centime.platform.pricing.evaluate import (
    PromoTerms,
    bp_share,
    fee_terms,
    month_of,
    promo_discount,
    topup_bonus,
)
from centime.platform.pricing.rules import (
    EMPTY_RULES,
    FeeSchedule,
    FeeTier,
    InstantPayoutParams,
    RuleSet,
    TopupBonus,
)

amounts = st.integers(1, 10**15)
bps = st.integers(0, 10_000)


@st.composite
def schedules(draw: st.DrawFn) -> FeeSchedule:
    """Valid schedules: starts strictly increasing from 0, fees non-increasing."""
    count = draw(st.integers(1, 6))
    starts = sorted(draw(st.sets(st.integers(1, 10**12), min_size=count - 1, max_size=count - 1)))
    bp_list = sorted(draw(st.lists(bps, min_size=count, max_size=count)), reverse=True)
    fixed = sorted(
        draw(st.lists(st.integers(0, 10**6), min_size=count, max_size=count)), reverse=True
    )
    tiers = tuple(FeeTier(s, b, f) for s, b, f in zip([0, *starts], bp_list, fixed, strict=True))
    return FeeSchedule(tiers, tuple(t.volume_from for t in tiers))


def _rules(schedule: FeeSchedule) -> RuleSet:
    return RuleSet(3, {"USD": schedule}, {}, (), {}, None)


@given(schedules(), amounts, st.integers(0, 10**13), st.integers(0, 10**13))
def test_fees_never_rise_with_volume_and_never_pass_the_payment(
    schedule: FeeSchedule, amount: int, low: int, extra: int
) -> None:
    rules = _rules(schedule)
    at_low = fee_terms(rules, 1, "USD", low, (999, 999))
    at_high = fee_terms(rules, 1, "USD", low + extra, (999, 999))
    fee_low = payment_fee(amount, at_low.fee_bp, at_low.fee_fixed)
    fee_high = payment_fee(amount, at_high.fee_bp, at_high.fee_fixed)
    assert 0 <= fee_high <= fee_low <= amount
    # No unit created or lost: the merchant keeps exactly what the fee does not take.
    assert (amount - fee_low) + fee_low == amount
    assert at_low.rule.startswith("default/USD#")


@given(amounts, bps)
def test_a_share_rounds_down_and_its_remainder_is_named(amount: int, bp: int) -> None:
    share = bp_share(amount, bp)
    remainder = amount * bp - share * 10_000  # what rounding left with the payer, x10 000
    assert 0 <= remainder < 10_000 and 0 <= share <= amount


@given(
    amounts,
    st.integers(1, 10_000),
    st.integers(1, 10**9),
    st.integers(1, 10**12),
    st.integers(0, 10**12),
)
def test_a_discount_stays_within_the_payment_its_cap_and_the_budget(
    amount: int, bp: int, cap: int, budget: int, spent: int
) -> None:
    discount = promo_discount(PromoTerms(bp, cap, budget, spent), amount)
    assert 0 <= discount <= min(amount, cap, max(budget - spent, 0))
    paid_by_customer = amount - discount
    assert paid_by_customer + discount == amount and paid_by_customer >= 0


@given(st.integers(1, AMOUNT_MAX // 10_000), st.integers(1, 10_000), st.integers(1, 10**12))
def test_a_bonus_is_its_share_rounded_down_at_most_its_cap(amount: int, bp: int, cap: int) -> None:
    rule = TopupBonus("b", "USD", 1, bp, cap, frozenset({"card"}))
    rules = RuleSet(1, {}, {}, (rule,), {}, None)
    earned = topup_bonus(rules, "USD", amount, "card")
    expected = min(amount * bp // 10_000, cap)
    assert (earned[0] if earned else 0) == expected
    assert topup_bonus(rules, "USD", amount, "carrier") is None


@given(
    st.integers(0, 400), st.integers(0, 400), st.integers(0, 200), st.integers(0, 2_000), amounts
)
def test_instant_payout_fees_grow_with_days_early_within_floor_and_cap(
    days: int, more: int, per_day: int, floor: int, amount: int
) -> None:
    # The rules' parameters as the payouts service prices with them (fee_params).
    rules = InstantPayoutParams(per_day, floor, max(floor, 1_500))
    params = InstantFeeParams(rules.fee_bp_per_day, rules.fee_bp_floor, rules.fee_bp_cap, 0, 366)
    low = instant_payout_fee(amount, days, params)
    high = instant_payout_fee(amount, days + more, params)
    assert ceil_bp(amount, rules.fee_bp_floor) <= low <= high <= ceil_bp(amount, rules.fee_bp_cap)
    assert 0 <= high <= amount


def test_without_a_schedule_the_merchants_own_fee_applies_and_months_are_utc() -> None:
    terms = fee_terms(EMPTY_RULES, 1, "USD", 10**12, (250, 7))
    assert (terms.fee_bp, terms.fee_fixed, terms.rule) == (250, 7, "merchant_fee")
    jan_2027 = 1_798_761_600 * 10**9  # 2027-01-01T00:00:00Z
    assert month_of(jan_2027) == 2027 * 12 and month_of(jan_2027 - 1) == 2026 * 12 + 11
