"""The payout settings: the rail, the lock after a payout-method change, the daily payout
limit of each KYC tier, instant-payout pricing and how long a quote is valid.

As in :mod:`.config`, amounts a person sets are major-unit decimal strings, converted with
the asset's scale where they are used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from centime.money import ASSETS, parse_amount

from .payout_fees import InstantFeeParams

__all__ = ["InstantPayoutPricing", "PayoutConfig"]


@dataclass(frozen=True, slots=True)
class InstantPayoutPricing:
    """Dynamic discounting of instant payouts (:mod:`.payout_fees`): ``fixed`` in major units."""

    day_bp: int = 10  # 0.10% per day early
    floor_bp: int = 10  # at least 0.10%
    cap_bp: int = 150  # at most 1.50%
    fixed: str = "0"
    days_max: int = 31

    def params(self, asset: str) -> InstantFeeParams:
        return InstantFeeParams(
            self.day_bp,
            self.floor_bp,
            self.cap_bp,
            parse_amount(self.fixed, ASSETS[asset].scale),
            self.days_max,
        )


def _default_daily() -> dict[int, str | None]:
    # KYC tier -> the most paid out per UTC day, per asset (None: payouts not allowed).
    return {0: None, 1: "1000", 2: "50000"}


@dataclass(frozen=True, slots=True)
class PayoutConfig:
    # The payout rail (a name in Platform.providers) payouts are sent through.
    provider: str = "sandbox-payouts"
    # Adding or removing a payout method locks the merchant's payouts this long.
    payout_method_lock_s: int = 24 * 3600
    daily_by_tier: Mapping[int, str | None] = field(default_factory=_default_daily)
    instant: InstantPayoutPricing = field(default_factory=InstantPayoutPricing)
    quote_valid_s: int = 300

    def daily_amount(self, tier: int, asset: str) -> int | None:
        """The tier's daily payout limit in the asset's scale (None: no payouts)."""
        text = self.daily_by_tier.get(tier)
        return None if text is None else parse_amount(text, ASSETS[asset].scale)
