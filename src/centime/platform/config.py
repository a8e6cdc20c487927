"""The platform's settings: fees, KYC tier limits, hold and settlement periods.

Amounts here are in whole units of an asset's *major* unit text (``"100.00"``) where a
person sets them, and are converted with the asset's scale where they are used, so one
setting serves USD at scale 6 and JPY at scale 4 alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from centime.money import ASSETS

from .payout_config import PayoutConfig

__all__ = ["PlatformConfig", "TierLimits"]

NS_PER_DAY: Final = 86_400 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class TierLimits:
    """What a KYC tier allows, as decimal strings per day (None: not allowed) in limit units
    (centime.money.Asset.limit_unit: a dollar, a euro, a pound, a yen; a thousand won)."""

    p2p_daily: str | None
    topup_daily: str
    balance_max: str

    def p2p_daily_amount(self, asset: str) -> int | None:
        return None if self.p2p_daily is None else ASSETS[asset].limit(self.p2p_daily)

    def topup_daily_amount(self, asset: str) -> int:
        return ASSETS[asset].limit(self.topup_daily)

    def balance_max_amount(self, asset: str) -> int:
        return ASSETS[asset].limit(self.balance_max)


def _default_tiers() -> dict[int, TierLimits]:
    return {
        0: TierLimits(p2p_daily=None, topup_daily="100", balance_max="250"),
        1: TierLimits(p2p_daily="250", topup_daily="1000", balance_max="2500"),
        2: TierLimits(p2p_daily="5000", topup_daily="10000", balance_max="50000"),
    }


@dataclass(frozen=True, slots=True)
class PlatformConfig:
    # A new merchant's fee: basis points of each payment plus a fixed part (major units).
    fee_bp_default: int = 250
    fee_fixed_default: str = "0"
    # KYC tiers and what each allows.
    tiers: dict[int, TierLimits] = field(default_factory=_default_tiers)
    # Carrier-billed money stays restricted this long, until the carrier settles it.
    carrier_settlement_days: int = 30
    # Metered holds: the longest and the default authorization.
    hold_timeout_max_s: int = 7 * 86_400
    hold_timeout_default_s: int = 3_600
    # The funding provider (a name in Platform.providers) that top-ups are charged through.
    funding_provider: str = "sandbox"
    # Payouts: the rail, method lock, tier limits, instant pricing
    # (centime.platform.payouts.service).
    payouts: PayoutConfig = field(default_factory=PayoutConfig)
