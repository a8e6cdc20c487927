"""Referrals: referral codes, the referred party's claim and the rewards paid to both sides from
the promotions budget."""

from .service import (
    Party,
    Referral,
    claim_referral,
    get_referral,
    normal_code,
    referral_code,
    run_reward_pass,
    with_referral,
)

__all__ = [
    "Party",
    "Referral",
    "claim_referral",
    "get_referral",
    "normal_code",
    "referral_code",
    "run_reward_pass",
    "with_referral",
]
