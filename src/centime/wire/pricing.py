"""The wire of pricing, promotions and referrals, and the pricing rule set document the
operator publishes (docs/pricing.md: the format; ``centime.platform.pricing.rules`` validates
it into rules). Same rules as the rest of :mod:`centime.wire`: strict inputs, money as integer
strings with the asset's scale, prefixed ids, RFC 3339 times."""

from __future__ import annotations

from typing import Annotated, Final

import msgspec
from msgspec import Meta, Struct

from centime.limits import (
    FEE_SCHEDULES_MAX,
    FEE_TIERS_MAX,
    PRICING_NOTE_LEN_MAX,
    PROMO_CODE_PATTERN,
    PROMO_PER_CUSTOMER_MAX,
    PROMO_USES_MAX,
    TIMEOUT_MAX_S,
    TOPUP_BONUSES_MAX,
)
from centime.money import ASSETS

from .common import TEXT_PATTERN, Input, Money, Output

__all__ = [
    "BONUS_METHODS",
    "FeeScheduleDoc",
    "InstantPayoutDoc",
    "PromoCode",
    "PromoCodeCreate",
    "PromoCodePage",
    "PromotionsBudget",
    "PromotionsFunding",
    "PromotionsFundingCreate",
    "ReferralClaim",
    "ReferralCode",
    "ReferralDoc",
    "ReferralRewardRun",
    "ReferralStatus",
    "RuleSetDocument",
    "RuleSetPage",
    "RuleSetPublish",
    "RuleSetVersion",
    "TierDoc",
    "TopupBonusDoc",
]

BONUS_METHODS: Final = ("card", "bank_transfer")  # carrier-billed money earns none
BP_MAX: Final = 100 * 10_000  # 100 times the whole in basis points; the rules check precisely
PROMO_VALID_MAX_S: Final = 10 * 366 * 86_400
Note = Annotated[str, Meta(max_length=PRICING_NOTE_LEN_MAX, pattern=TEXT_PATTERN)]
PromoText = Annotated[str, Meta(pattern=PROMO_CODE_PATTERN)]
ReferralText = Annotated[str, Meta(min_length=10, max_length=10, pattern=r"^[0-9A-Za-z]+$")]

# ------------------------------------------------------------------ the rule set document

_AMOUNT_PATTERN: Final = r"^(0|[1-9][0-9]{0,18})$"
AmountText = Annotated[str, Meta(pattern=_AMOUNT_PATTERN, description="integer string")]
Bp = Annotated[int, Meta(ge=0, le=BP_MAX)]  # checked precisely by the rules
AssetCode = Annotated[str, Meta(pattern=r"^[A-Z][A-Z0-9]{1,11}$")]
RuleName = Annotated[str, Meta(pattern=r"^[a-z0-9_.-]{1,40}$")]


class _Doc(Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class TierDoc(_Doc):
    volume_from: AmountText  # the month's volume (before the payment) where the tier starts
    fee_bp: Bp
    fee_fixed: AmountText = "0"


class FeeScheduleDoc(_Doc):
    asset: AssetCode
    tiers: Annotated[list[TierDoc], Meta(min_length=1, max_length=FEE_TIERS_MAX)]
    merchant_id: str | None = None  # mer_...; None: the default of every other merchant


class TopupBonusDoc(_Doc):
    name: RuleName
    asset: AssetCode
    min_amount: AmountText  # the top-up earns the bonus from this amount on
    bonus_bp: Bp
    bonus_max: AmountText
    methods: list[str] = msgspec.field(default_factory=lambda: list(BONUS_METHODS))
    funded_by: str = "promotions"


class ReferralDoc(_Doc):
    asset: AssetCode
    qualifying_amount: AmountText  # the referred party's payments (made or received)
    referrer_reward: AmountText
    referred_reward: AmountText
    referrer_rewards_max: Annotated[int, Meta(ge=0, le=1_000_000)]
    funded_by: str = "promotions"


class InstantPayoutDoc(_Doc):
    fee_bp_per_day: Bp  # the fee grows with each day the money is taken early...
    fee_bp_floor: Bp  # ...but is never below this...
    fee_bp_cap: Bp  # ...nor above this


class RuleSetDocument(_Doc):
    """What the operator publishes (and what the API shows of a version)."""

    fee_schedules: Annotated[list[FeeScheduleDoc], Meta(max_length=FEE_SCHEDULES_MAX)] = (
        msgspec.field(default_factory=list)
    )
    topup_bonuses: Annotated[list[TopupBonusDoc], Meta(max_length=TOPUP_BONUSES_MAX)] = (
        msgspec.field(default_factory=list)
    )
    referrals: Annotated[list[ReferralDoc], Meta(max_length=len(ASSETS) or 1)] = msgspec.field(
        default_factory=list
    )
    instant_payout: InstantPayoutDoc | None = None


# ------------------------------------------------------------------ the API


class RuleSetPublish(Input):
    """A new version of the pricing rules (docs/pricing.md: the format)."""

    rules: RuleSetDocument
    note: Note | None = None


class RuleSetVersion(Output):
    version: int
    rules: RuleSetDocument
    note: str | None
    published_at: str


class RuleSetPage(Output):
    data: list[RuleSetVersion]
    next_cursor: str | None  # the version to list below, as text


class PromoCodeCreate(Input):
    code: PromoText  # case-insensitive; stored upper case
    discount_bp: Annotated[int, Meta(ge=1, le=10_000)]
    discount_max: Money  # per payment; its asset is the code's
    budget: Money  # all discounts together
    expires_in_s: Annotated[int, Meta(ge=1, le=min(PROMO_VALID_MAX_S, TIMEOUT_MAX_S * 10))]
    uses_max: Annotated[int, Meta(ge=1, le=PROMO_USES_MAX)]
    per_customer_max: Annotated[int, Meta(ge=1, le=PROMO_PER_CUSTOMER_MAX)] = 1
    min_amount: Money | None = None


class PromoCode(Output):
    id: str  # promo_...
    code: str
    discount_bp: int
    discount_max: Money
    budget: Money
    spent: Money
    min_amount: Money
    uses: int
    uses_max: int
    per_customer_max: int
    expires_at: str
    created_at: str


class PromoCodePage(Output):
    data: list[PromoCode]
    next_cursor: str | None


class PromotionsFundingCreate(Input):
    amount: Money


class PromotionsFunding(Output):
    amount: Money
    available: Money  # what the budget holds after it


class PromotionsBudget(Output):
    data: list[Money]  # what the budget holds, per asset


class ReferralCode(Output):
    code: str


class ReferralClaim(Input):
    code: ReferralText
    device_id: Annotated[str, Meta(min_length=1, max_length=200, pattern=TEXT_PATTERN)] | None = (
        None
    )


class ReferralStatus(Output):
    referred: str  # cus_... or mer_...
    referrer: str
    status: str  # pending, rewarded, refused, expired
    referrer_reward: Money | None
    referred_reward: Money | None
    detail: str | None
    pricing_version: int | None
    created_at: str
    decided_at: str | None


class ReferralRewardRun(Output):
    looked_at: int
    rewarded: int
    closed: int
