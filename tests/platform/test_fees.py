"""The fee math and the restricted-first splits, as properties (pure functions)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from centime.limits import AMOUNT_MAX
from centime.platform.fees import fee_returned, payment_fee
from centime.platform.payments import refund_split, split_restricted_first

amounts = st.integers(1, AMOUNT_MAX)
fee_bps = st.integers(0, 10_000)
fixed_fees = st.integers(0, AMOUNT_MAX)


@given(amounts, fee_bps, fixed_fees)
def test_a_fee_is_the_rounded_down_share_plus_the_fixed_part_never_above_the_amount(
    amount: int, fee_bp: int, fee_fixed: int
) -> None:
    fee = payment_fee(amount, fee_bp, fee_fixed)
    assert 0 <= fee <= amount
    if fee < amount:  # not capped: the share is rounded down, within one unit
        share = fee - fee_fixed
        assert share * 10_000 <= amount * fee_bp < (share + 1) * 10_000


def test_fee_examples_name_the_rounding() -> None:
    assert payment_fee(1000, 250, 0) == 25  # 2.5% of 1000
    assert payment_fee(39, 250, 0) == 0  # 0.975 rounds down: the merchant keeps it
    assert payment_fee(1, 0, 5) == 1  # a fixed fee never exceeds a one-unit payment
    assert payment_fee(10_000, 10_000, 0) == 10_000


@st.composite
def refund_sequences(draw: st.DrawFn) -> tuple[int, int, list[int]]:
    """A payment, its fee and a sequence of partial refunds never above it in total."""
    amount = draw(st.integers(1, 10**15))
    fee = draw(st.integers(0, amount))
    refunds: list[int] = []
    left = amount
    for _ in range(draw(st.integers(1, 12))):
        if left == 0:
            break
        refund = draw(st.integers(1, left))
        refunds.append(refund)
        left -= refund
    if draw(st.booleans()) and left:
        refunds.append(left)  # often refund the rest: the full-refund case
    return amount, fee, refunds


@given(refund_sequences())
def test_returned_fees_are_exact_over_any_sequence_of_partial_refunds(
    case: tuple[int, int, list[int]],
) -> None:
    amount, fee, refunds = case
    refunded = returned = 0
    for refund in refunds:
        part = fee_returned(fee, amount, refunded, refund)
        assert 0 <= part <= fee
        refunded += refund
        returned += part
        # The cumulative return is the refunded share of the fee, rounded down.
        assert returned == fee * refunded // amount
        assert returned <= fee
    if refunded == amount:
        assert returned == fee


@given(amounts, st.data())
def test_a_full_refund_at_once_returns_the_whole_fee(amount: int, data: st.DataObject) -> None:
    fee = data.draw(st.integers(0, amount))
    assert fee_returned(fee, amount, 0, amount) == fee


def test_fee_functions_refuse_impossible_inputs() -> None:
    with pytest.raises(ValueError):
        payment_fee(-1, 0, 0)
    with pytest.raises(ValueError):
        fee_returned(11, 10, 0, 1)  # a fee above its payment
    with pytest.raises(ValueError):
        fee_returned(1, 10, 5, 6)  # refunds above the payment


@given(amounts, st.integers(-10, AMOUNT_MAX), st.integers(0, AMOUNT_MAX))
def test_payments_spend_restricted_money_first(
    amount: int, restricted_available: int, wallet_available: int
) -> None:
    split = split_restricted_first(amount, restricted_available, wallet_available)
    covered = max(restricted_available, 0) + wallet_available
    if split is None:
        assert covered < amount
        return
    restricted, wallet = split
    assert restricted + wallet == amount
    assert 0 <= restricted <= max(restricted_available, 0)
    assert 0 <= wallet <= wallet_available
    assert wallet == 0 or restricted == max(restricted_available, 0)  # restricted used up first


@given(st.data())
def test_refunds_return_restricted_money_first_and_never_more_of_it(
    data: st.DataObject,
) -> None:
    amount = data.draw(st.integers(1, 10**12))
    restricted_amount = data.draw(st.integers(0, amount))
    restricted_refunded = data.draw(st.integers(0, restricted_amount))
    refund = data.draw(st.integers(1, amount))
    to_restricted, to_wallet = refund_split(refund, restricted_amount, restricted_refunded)
    assert to_restricted + to_wallet == refund
    assert 0 <= to_restricted <= restricted_amount - restricted_refunded
    assert to_wallet == 0 or to_restricted == restricted_amount - restricted_refunded
