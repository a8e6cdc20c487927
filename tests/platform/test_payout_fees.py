"""The instant-payout fee (dynamic discounting) is a pure integer function: properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from centime.limits import AMOUNT_MAX
from centime.platform.payout_fees import InstantFeeParams, ceil_bp, instant_payout_fee

bps = st.integers(0, 10_000)
amounts = st.integers(0, AMOUNT_MAX // 10_000)  # a payout's amount (the bp product fits)
days = st.integers(-3, 400)


@st.composite
def params(draw: st.DrawFn) -> InstantFeeParams:
    low, high = sorted((draw(bps), draw(bps)))
    return InstantFeeParams(
        draw(bps), low, high, draw(st.integers(0, 10**9)), draw(st.integers(0, 366))
    )


def bounds(amount: int, p: InstantFeeParams) -> tuple[int, int]:
    floor = min(p.fixed + ceil_bp(amount, p.floor_bp), amount)
    cap = min(p.fixed + ceil_bp(amount, p.cap_bp), amount)
    return floor, cap


@settings(max_examples=300)
@given(amounts, days, params())
def test_the_fee_is_within_floor_and_cap_and_nothing_is_created(
    amount: int, days_early: int, p: InstantFeeParams
) -> None:
    fee = instant_payout_fee(amount, days_early, p)
    net = amount - fee
    floor, cap = bounds(amount, p)
    assert floor <= fee <= cap
    assert net >= 0 and fee + net == amount
    assert type(fee) is int


@settings(max_examples=300)
@given(amounts, days, days, params())
def test_the_fee_never_falls_as_the_money_is_taken_earlier(
    amount: int, a: int, b: int, p: InstantFeeParams
) -> None:
    early, earlier = sorted((a, b))
    assert instant_payout_fee(amount, early, p) <= instant_payout_fee(amount, earlier, p)


@settings(max_examples=200)
@given(amounts, amounts, days, params())
def test_the_fee_never_falls_as_the_amount_grows(
    a: int, b: int, days_early: int, p: InstantFeeParams
) -> None:
    small, large = sorted((a, b))
    assert instant_payout_fee(small, days_early, p) <= instant_payout_fee(large, days_early, p)


def test_the_day_before_costs_less_than_a_week_before() -> None:
    p = InstantFeeParams(day_bp=10, floor_bp=5, cap_bp=150, fixed=0, days_max=31)
    amount = 100_000_000  # 100.00 USD
    assert instant_payout_fee(amount, 1, p) == 100_000  # 0.10%
    assert instant_payout_fee(amount, 7, p) == 700_000  # 0.70%
    assert instant_payout_fee(amount, 0, p) == 50_000  # the floor, 0.05%
    assert instant_payout_fee(amount, 30, p) == 1_500_000  # the cap, 1.50%
    # Rounded up: 1 unit at 10 bp is 0.001 of a unit, charged as 1.
    assert instant_payout_fee(1, 1, p) == 1
    assert instant_payout_fee(1_001, 1, p) == 2


def test_parameters_that_cannot_price_are_refused() -> None:
    with pytest.raises(ValueError, match="floor_bp"):
        instant_payout_fee(1, 1, InstantFeeParams(1, 20, 10, 0, 1))
    with pytest.raises(ValueError, match="amount"):
        instant_payout_fee(-1, 1, InstantFeeParams(1, 1, 10, 0, 1))
