"""Pricing rule sets: the document the operator publishes, its validation, and the
immutable value the pure evaluation functions take.

A rule set is JSON (``RuleSetDocument``), validated into a :class:`RuleSet` or refused with
``PRICING_RULES_INVALID`` naming the first field at fault. Amounts in the document are
integer strings in the asset's scale, as on the API's wire; basis points are integers.

Validation refuses every rule set that could create or lose money:

- fee tiers: the first starts at volume 0, each next one starts strictly higher (no overlap,
  no gap), fees never rise with volume (``fee_bp`` and ``fee_fixed`` non-increasing),
  ``fee_bp`` within 0..10 000 (a fee above 100% would take more than the payment);
- top-up bonuses: funded by ``promotions`` only, ``bonus_bp`` within 1..10 000 (a bonus
  above 100% of a top-up is refused as a money printer), a positive cap, never for
  carrier-billed top-ups (bonus money is sendable; phone credit turned into sendable money
  is the lending scheme DESIGN.md forbids); bonus ranges of one asset and method do not
  overlap (one bonus per top-up, unambiguous);
- referral rewards: funded by ``promotions``, non-negative, at most the qualifying amount
  each, a cap per referrer;
- instant-payout discounting: ``0 <= floor <= cap <= 10 000`` basis points.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import msgspec

from centime.limits import AMOUNT_MAX, FEE_TIERS_MAX
from centime.money import ASSETS
from centime.wire.pricing import (
    BONUS_METHODS,
    FeeScheduleDoc,
    InstantPayoutDoc,
    ReferralDoc,
    RuleSetDocument,
    TierDoc,
    TopupBonusDoc,
)

from ..errors import Code, Refusal
from ..ids import parse_id

__all__ = [
    "BP_PER_WHOLE",
    "EMPTY_RULES",
    "FEE_TIERS_MAX",
    "FeeScheduleDoc",
    "FeeTier",
    "InstantPayoutDoc",
    "InstantPayoutParams",
    "ReferralDoc",
    "ReferralRule",
    "RuleSet",
    "RuleSetDocument",
    "TierDoc",
    "TopupBonus",
    "TopupBonusDoc",
    "build_rules",
    "decode_rules",
    "encode_rules",
]

BP_PER_WHOLE: Final = 10_000
RULES_DOCUMENT_BYTES_MAX: Final = 256 * 1024

# ------------------------------------------------------------------ the immutable value


@dataclass(frozen=True, slots=True)
class FeeTier:
    """A payment's fee terms (``fee_bp`` basis points of it, plus ``fee_fixed``) while the
    merchant's month-to-date volume before it is at least ``volume_from``, in the asset's
    scale; the next tier, if any, takes over from its own ``volume_from``."""

    volume_from: int
    fee_bp: int
    fee_fixed: int


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Tiers by the month's volume: ``starts[i]`` is ``tiers[i].volume_from``."""

    tiers: tuple[FeeTier, ...]
    starts: tuple[int, ...]

    def tier_index(self, volume_before: int) -> int:
        """The tier in force at ``volume_before`` (the last that starts at or below it)."""
        return bisect.bisect_right(self.starts, volume_before) - 1


@dataclass(frozen=True, slots=True)
class TopupBonus:
    name: str
    asset: str
    min_amount: int
    bonus_bp: int
    bonus_max: int
    methods: frozenset[str]


@dataclass(frozen=True, slots=True)
class ReferralRule:
    asset: str
    qualifying_amount: int
    referrer_reward: int
    referred_reward: int
    referrer_rewards_max: int


@dataclass(frozen=True, slots=True)
class InstantPayoutParams:
    """Dynamic discounting of instant payouts: ``days_early * fee_bp_per_day`` basis points
    of the amount, between ``fee_bp_floor`` and ``fee_bp_cap`` (priced by
    centime.platform.payout_fees.instant_payout_fee, fed by instant_payouts.fee_params)."""

    fee_bp_per_day: int
    fee_bp_floor: int
    fee_bp_cap: int


@dataclass(frozen=True, slots=True)
class RuleSet:
    """One published version (0: none published yet; merchants' own fees apply)."""

    version: int
    default_fees: Mapping[str, FeeSchedule]  # asset -> schedule
    merchant_fees: Mapping[tuple[int, str], FeeSchedule]  # (merchant, asset) -> schedule
    topup_bonuses: tuple[TopupBonus, ...]
    referrals: Mapping[str, ReferralRule]  # asset -> rule
    instant_payout: InstantPayoutParams | None


EMPTY_RULES: Final = RuleSet(0, {}, {}, (), {}, None)


# ------------------------------------------------------------------ validation


class _InvalidRuleError(Exception):
    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


def _asset(code: str, field: str) -> str:
    if code not in ASSETS:
        raise _InvalidRuleError(field, f"unknown asset {code!r}")
    return code


def _amount(text: str, field: str) -> int:
    value = int(text)
    if value > AMOUNT_MAX:
        raise _InvalidRuleError(field, f"at most {AMOUNT_MAX}")
    return value


def _bp(value: int, field: str, low: int = 0) -> int:
    if not low <= value <= BP_PER_WHOLE:
        raise _InvalidRuleError(field, f"basis points in {low}..{BP_PER_WHOLE} (100%)")
    return value


def _funded(source: str, field: str) -> None:
    if source != "promotions":
        raise _InvalidRuleError(field, "bonuses and rewards are paid from promotions only")


def _schedule(doc: FeeScheduleDoc, at: str) -> FeeSchedule:
    tiers: list[FeeTier] = []
    for index, tier in enumerate(doc.tiers):
        field = f"{at}.tiers[{index}]"
        made = FeeTier(
            _amount(tier.volume_from, f"{field}.volume_from"),
            _bp(tier.fee_bp, f"{field}.fee_bp"),
            _amount(tier.fee_fixed, f"{field}.fee_fixed"),
        )
        if not tiers:
            if made.volume_from != 0:
                raise _InvalidRuleError(f"{field}.volume_from", "the first tier starts at volume 0")
        else:
            before = tiers[-1]
            if made.volume_from <= before.volume_from:
                raise _InvalidRuleError(
                    f"{field}.volume_from", "tiers overlap: each starts above the one before"
                )
            if made.fee_bp > before.fee_bp or made.fee_fixed > before.fee_fixed:
                raise _InvalidRuleError(field, "a fee never rises with volume")
        tiers.append(made)
    return FeeSchedule(tuple(tiers), tuple(t.volume_from for t in tiers))


def _fee_schedules(
    docs: Sequence[FeeScheduleDoc],
) -> tuple[dict[str, FeeSchedule], dict[tuple[int, str], FeeSchedule]]:
    default: dict[str, FeeSchedule] = {}
    merchants: dict[tuple[int, str], FeeSchedule] = {}
    for index, doc in enumerate(docs):
        at = f"fee_schedules[{index}]"
        asset = _asset(doc.asset, f"{at}.asset")
        schedule = _schedule(doc, at)
        if doc.merchant_id is None:
            if asset in default:
                raise _InvalidRuleError(at, f"a second default schedule for {asset}")
            default[asset] = schedule
            continue
        merchant = parse_id("mer", doc.merchant_id)
        if merchant is None:
            raise _InvalidRuleError(f"{at}.merchant_id", "a merchant id (mer_...)")
        if (merchant, asset) in merchants:
            raise _InvalidRuleError(at, f"a second schedule for {doc.merchant_id} in {asset}")
        merchants[merchant, asset] = schedule
    return default, merchants


def _bonuses(docs: Sequence[TopupBonusDoc]) -> tuple[TopupBonus, ...]:
    made: list[TopupBonus] = []
    for index, doc in enumerate(docs):
        at = f"topup_bonuses[{index}]"
        _funded(doc.funded_by, f"{at}.funded_by")
        methods = frozenset(doc.methods)
        if not methods or not methods <= set(BONUS_METHODS) or len(methods) != len(doc.methods):
            raise _InvalidRuleError(
                f"{at}.methods",
                f"distinct methods among {', '.join(BONUS_METHODS)} (carrier-"
                "billed top-ups earn no bonus: it would turn phone credit into sendable money)",
            )
        bonus = TopupBonus(
            doc.name,
            _asset(doc.asset, f"{at}.asset"),
            _amount(doc.min_amount, f"{at}.min_amount"),
            _bp(doc.bonus_bp, f"{at}.bonus_bp", low=1),
            _amount(doc.bonus_max, f"{at}.bonus_max"),
            methods,
        )
        if bonus.min_amount < 1 or bonus.bonus_max < 1:
            raise _InvalidRuleError(at, "min_amount and bonus_max are positive")
        for other in made:
            if other.name == bonus.name:
                raise _InvalidRuleError(f"{at}.name", f"the name {bonus.name!r} is taken")
            if other.asset == bonus.asset and other.methods & bonus.methods:
                raise _InvalidRuleError(
                    at, f"overlaps {other.name!r}: one bonus per asset and method"
                )
        made.append(bonus)
    return tuple(made)


def _referrals(docs: Sequence[ReferralDoc]) -> dict[str, ReferralRule]:
    made: dict[str, ReferralRule] = {}
    for index, doc in enumerate(docs):
        at = f"referrals[{index}]"
        _funded(doc.funded_by, f"{at}.funded_by")
        asset = _asset(doc.asset, f"{at}.asset")
        if asset in made:
            raise _InvalidRuleError(f"{at}.asset", f"a second referral rule for {asset}")
        rule = ReferralRule(
            asset,
            _amount(doc.qualifying_amount, f"{at}.qualifying_amount"),
            _amount(doc.referrer_reward, f"{at}.referrer_reward"),
            _amount(doc.referred_reward, f"{at}.referred_reward"),
            doc.referrer_rewards_max,
        )
        if rule.qualifying_amount < 1:
            raise _InvalidRuleError(f"{at}.qualifying_amount", "a positive amount")
        if max(rule.referrer_reward, rule.referred_reward) > rule.qualifying_amount:
            raise _InvalidRuleError(at, "a reward is at most the qualifying amount")
        made[asset] = rule
    return made


def _instant(doc: InstantPayoutDoc | None) -> InstantPayoutParams | None:
    if doc is None:
        return None
    at = "instant_payout"
    params = InstantPayoutParams(
        _bp(doc.fee_bp_per_day, f"{at}.fee_bp_per_day"),
        _bp(doc.fee_bp_floor, f"{at}.fee_bp_floor"),
        _bp(doc.fee_bp_cap, f"{at}.fee_bp_cap"),
    )
    if params.fee_bp_floor > params.fee_bp_cap:
        raise _InvalidRuleError(f"{at}.fee_bp_floor", "the floor is at most the cap")
    return params


def build_rules(document: RuleSetDocument, version: int) -> RuleSet | Refusal:
    """The rule set a document describes, or PRICING_RULES_INVALID naming the field."""
    try:
        default, merchants = _fee_schedules(document.fee_schedules)
        return RuleSet(
            version,
            default,
            merchants,
            _bonuses(document.topup_bonuses),
            _referrals(document.referrals),
            _instant(document.instant_payout),
        )
    except _InvalidRuleError as invalid:
        return Refusal(Code.PRICING_RULES_INVALID, f"{invalid.field}: {invalid.detail}")


def encode_rules(document: RuleSetDocument) -> str:
    return msgspec.json.encode(document).decode()


def decode_rules(text: str | bytes) -> RuleSetDocument:
    """The stored document (it was validated when published: a failure here is a bug)."""
    if len(text) > RULES_DOCUMENT_BYTES_MAX:
        raise ValueError("a stored rule set is larger than any that could be published")
    return msgspec.json.decode(text, type=RuleSetDocument)
