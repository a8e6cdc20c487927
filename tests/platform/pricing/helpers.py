"""Helpers of the pricing tests: publishing rules, funding the promotions budget, and a
snapshot of every row pricing and referrals write (equal before and after a refusal)."""

from __future__ import annotations

from typing import Any

import msgspec

from centime.platform.context import Platform
from centime.platform.pricing.budget import Funding, fund_promotions
from centime.platform.pricing.rules import RuleSetDocument
from centime.platform.pricing.store import PublishedRules, publish_rules

from ..world import snapshot

USD = 1_000_000


def publish(platform: Platform, **fields: Any) -> PublishedRules:
    made = platform.execute(publish_rules(platform, msgspec.convert(fields, RuleSetDocument)))
    assert isinstance(made, PublishedRules), made
    return made


def fund_budget(platform: Platform, amount: int, asset: str = "USD") -> Funding:
    made = platform.execute(fund_promotions(platform, asset, amount))
    assert isinstance(made, Funding), made
    return made


_TABLES = (
    "pricing_rule_sets",
    "merchant_volumes",
    "promo_codes",
    "promo_redemptions",
    "referral_codes",
    "referrals",
    "party_devices",
    "topups",
    "outbox_events",
)


def full_snapshot(platform: Platform) -> tuple[Any, ...]:
    with platform.read() as fetch:
        ours = tuple(sorted(fetch(f"SELECT * FROM {t}", ()), key=repr) for t in _TABLES)
    return snapshot(platform) + ours
