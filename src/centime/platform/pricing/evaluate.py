"""The pure evaluation of a rule set: fees, bonuses, discounts, rewards. No I/O, no clock
(``now`` and volumes are arguments); integer arithmetic only, each division rounding
*down* with the remainder named where it happens.

Conservation: every function returns amounts that the caller moves between two accounts of
the ledger in one linked chain (fee: merchant -> fee revenue; bonus, discount, reward:
promotions -> customer or merchant). A function never returns a negative amount or more than
the money it is a share of, so no evaluation creates or loses a unit: the property tests in
tests/platform/pricing pin it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from .rules import BP_PER_WHOLE, FeeTier, InstantPayoutParams, RuleSet, TopupBonus

__all__ = [
    "FeeTerms",
    "PromoTerms",
    "bp_share",
    "fee_terms",
    "instant_payout_fee",
    "instant_payout_fee_bp",
    "month_of",
    "promo_discount",
    "topup_bonus",
]

NS_PER_S: Final = 1_000_000_000


def bp_share(amount: int, bp: int) -> int:
    """``amount * bp / 10 000`` rounded down (the fraction stays with the payer of the share:
    the merchant for a fee, the promotions budget for a bonus or discount)."""
    if amount < 0 or not 0 <= bp <= BP_PER_WHOLE:
        raise ValueError("a share is 0..10 000 basis points of a non-negative amount")
    return amount * bp // BP_PER_WHOLE


def month_of(now_ns: int) -> int:
    """The UTC month of ``now_ns`` as ``year * 12 + month - 1`` (volumes reset each month)."""
    moment = datetime.fromtimestamp(now_ns // NS_PER_S, tz=UTC)
    return moment.year * 12 + moment.month - 1


@dataclass(frozen=True, slots=True)
class FeeTerms:
    """The fee of a payment: basis points, fixed part, and the rule that set them."""

    fee_bp: int
    fee_fixed: int
    rule: str  # "default/USD#2", "merchant/USD#0" or "merchant_fee" (the merchant's own)


def fee_terms(
    rules: RuleSet,
    merchant_id: int,
    asset: str,
    volume_before: int,
    own_fee: tuple[int, int],
) -> FeeTerms:
    """The fee terms of a payment to ``merchant_id`` in ``asset`` when the merchant's
    month-to-date volume before the payment is ``volume_before``: the merchant's schedule,
    else the default schedule, else the merchant's own fee (``own_fee``: bp, fixed).

    The tier is chosen by the volume *before* the payment, so a payment's fee never depends
    on itself; tiers are validated non-increasing, so the fee never rises with volume."""
    schedule = rules.merchant_fees.get((merchant_id, asset))
    kind = "merchant"
    if schedule is None:
        schedule = rules.default_fees.get(asset)
        kind = "default"
    if schedule is None:
        return FeeTerms(own_fee[0], own_fee[1], "merchant_fee")
    index = schedule.tier_index(max(volume_before, 0))
    tier: FeeTier = schedule.tiers[index]
    return FeeTerms(tier.fee_bp, tier.fee_fixed, f"{kind}/{asset}#{index}")


def topup_bonus(
    rules: RuleSet, asset: str, amount: int, method: str
) -> tuple[int, TopupBonus] | None:
    """(bonus, rule) a top-up of ``amount`` earns, or None. The bonus is ``bonus_bp`` of the
    amount rounded down (the promotions budget keeps the fraction), at most ``bonus_max``.
    Rules never overlap (validated), so at most one applies."""
    for rule in rules.topup_bonuses:
        if rule.asset == asset and method in rule.methods and amount >= rule.min_amount:
            bonus = min(bp_share(amount, rule.bonus_bp), rule.bonus_max)
            return (bonus, rule) if bonus > 0 else None
    return None


@dataclass(frozen=True, slots=True)
class PromoTerms:
    """What a promotion code gives (its row, as a value)."""

    discount_bp: int
    discount_max: int  # per payment
    budget: int  # all discounts together, at most
    spent: int  # discounts given so far


def promo_discount(terms: PromoTerms, amount: int) -> int:
    """The discount on a payment of ``amount``: ``discount_bp`` of it rounded down (the
    customer pays the fraction), at most ``discount_max``, at most what is left of the
    code's budget, never more than the payment."""
    left = max(terms.budget - terms.spent, 0)
    return min(bp_share(amount, terms.discount_bp), terms.discount_max, left, amount)


def instant_payout_fee_bp(days_early: int, params: InstantPayoutParams) -> int:
    """Basis points for taking money ``days_early`` days before its scheduled date:
    ``days_early * fee_bp_per_day``, clamped to ``[fee_bp_floor, fee_bp_cap]``. Non-
    decreasing in ``days_early`` (the day before costs less than a week before)."""
    if days_early < 0:
        raise ValueError("days_early is never negative")
    return min(max(days_early * params.fee_bp_per_day, params.fee_bp_floor), params.fee_bp_cap)


def instant_payout_fee(amount: int, days_early: int, params: InstantPayoutParams) -> int:
    """The fee of an instant payout of ``amount``: its basis points rounded down (the
    merchant keeps the fraction); at most ``amount`` (the cap is at most 10 000 bp)."""
    return bp_share(amount, instant_payout_fee_bp(days_early, params))
