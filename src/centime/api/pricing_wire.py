"""The wire of pricing, promotions and referrals (kept apart from ``wire`` so that module
stays the platform's core resources). Same rules as :mod:`centime.api.wire`: strict inputs,
money as integer strings with the asset's scale, prefixed ids, RFC 3339 times."""

from __future__ import annotations

from typing import Annotated, Final

from msgspec import Meta

from centime.limits import TIMEOUT_MAX_S
from centime.platform.pricing.promos import CODE_PATTERN, PER_CUSTOMER_MAX, USES_MAX
from centime.platform.pricing.rules import RuleSetDocument
from centime.platform.pricing.store import NOTE_LEN_MAX

from .wire import TEXT_PATTERN, Input, Money, Output

__all__ = [
    "PromoCode",
    "PromoCodeCreate",
    "PromoCodePage",
    "PromotionsBudget",
    "PromotionsFunding",
    "PromotionsFundingCreate",
    "ReferralClaim",
    "ReferralCode",
    "ReferralRewardRun",
    "ReferralStatus",
    "RuleSetPage",
    "RuleSetPublish",
    "RuleSetVersion",
]

PROMO_VALID_MAX_S: Final = 10 * 366 * 86_400
Note = Annotated[str, Meta(max_length=NOTE_LEN_MAX, pattern=TEXT_PATTERN)]
PromoText = Annotated[str, Meta(pattern=CODE_PATTERN)]
ReferralText = Annotated[str, Meta(min_length=10, max_length=10, pattern=r"^[0-9A-Za-z]+$")]


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
    uses_max: Annotated[int, Meta(ge=1, le=USES_MAX)]
    per_customer_max: Annotated[int, Meta(ge=1, le=PER_CUSTOMER_MAX)] = 1
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
