"""Rule-set validation: every document that could create money is refused, naming the
field; valid documents build the immutable value and survive a round trip."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from centime.platform.errors import Code, Refusal
from centime.platform.ids import format_id
from centime.platform.pricing.rules import (
    RuleSet,
    RuleSetDocument,
    build_rules,
    decode_rules,
    encode_rules,
)

USD = 1_000_000


def doc(**fields: Any) -> RuleSetDocument:
    return msgspec.convert(fields, RuleSetDocument)


def tiers(*rows: tuple[int, int, int]) -> list[dict[str, Any]]:
    return [{"volume_from": str(v), "fee_bp": bp, "fee_fixed": str(f)} for v, bp, f in rows]


GOOD: dict[str, Any] = {
    "fee_schedules": [
        {
            "asset": "USD",
            "tiers": tiers((0, 250, 100), (1000 * USD, 200, 100), (10**4 * USD, 150, 0)),
        },
        {"asset": "USD", "merchant_id": format_id("mer", 42), "tiers": tiers((0, 100, 0))},
    ],
    "topup_bonuses": [
        {
            "name": "five-percent",
            "asset": "USD",
            "min_amount": str(20 * USD),
            "bonus_bp": 500,
            "bonus_max": str(5 * USD),
        },
    ],
    "referrals": [
        {
            "asset": "USD",
            "qualifying_amount": str(5 * USD),
            "referrer_reward": str(USD),
            "referred_reward": str(USD),
            "referrer_rewards_max": 10,
        },
    ],
    "instant_payout": {"fee_bp_per_day": 10, "fee_bp_floor": 20, "fee_bp_cap": 150},
}


def test_a_valid_document_builds_the_rule_set_and_round_trips() -> None:
    document = doc(**GOOD)
    rules = build_rules(document, 7)
    assert isinstance(rules, RuleSet) and rules.version == 7
    assert rules.default_fees["USD"].starts == (0, 1000 * USD, 10**4 * USD)
    assert rules.merchant_fees[42, "USD"].tiers[0].fee_bp == 100
    assert rules.topup_bonuses[0].methods == {"card", "bank_transfer"}
    assert rules.referrals["USD"].qualifying_amount == 5 * USD
    assert rules.instant_payout is not None and rules.instant_payout.fee_bp_cap == 150
    assert decode_rules(encode_rules(document)) == document


def _with(path: str, value: Any) -> dict[str, Any]:
    """GOOD with one field replaced: ``path`` like ``topup_bonuses.0.bonus_bp``."""
    copy: Any = msgspec.json.decode(msgspec.json.encode(GOOD))
    *parents, last = path.split(".")
    node = copy
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[int(last) if last.isdigit() else last] = value
    return dict(copy)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("fee_schedules.0.tiers.0.fee_bp", 10_001, "fee_schedules[0].tiers[0].fee_bp"),
        ("fee_schedules.0.tiers.0.volume_from", "5", "fee_schedules[0].tiers[0].volume_from"),
        ("fee_schedules.0.tiers.1.volume_from", "0", "fee_schedules[0].tiers[1].volume_from"),
        ("fee_schedules.0.tiers.2.fee_bp", 300, "fee_schedules[0].tiers[2]"),
        ("fee_schedules.0.tiers.2.fee_fixed", "200", "fee_schedules[0].tiers[2]"),
        ("fee_schedules.1.merchant_id", "cus_0000000000001", "fee_schedules[1].merchant_id"),
        ("fee_schedules.1.asset", "XXX", "fee_schedules[1].asset"),
        ("topup_bonuses.0.bonus_bp", 10_001, "topup_bonuses[0].bonus_bp"),
        ("topup_bonuses.0.bonus_bp", 0, "topup_bonuses[0].bonus_bp"),
        ("topup_bonuses.0.funded_by", "fee_revenue", "topup_bonuses[0].funded_by"),
        ("topup_bonuses.0.methods", ["card", "carrier"], "topup_bonuses[0].methods"),
        ("topup_bonuses.0.bonus_max", "0", "topup_bonuses[0]"),
        ("referrals.0.funded_by", "funding_clearing", "referrals[0].funded_by"),
        ("referrals.0.referrer_reward", str(6 * USD), "referrals[0]"),
        ("instant_payout.fee_bp_floor", 200, "instant_payout.fee_bp_floor"),
        ("instant_payout.fee_bp_cap", 10_001, "instant_payout.fee_bp_cap"),
    ],
)
def test_a_rule_set_that_could_create_money_is_refused_naming_the_field(
    path: str, value: Any, field: str
) -> None:
    refused = build_rules(doc(**_with(path, value)), 1)
    assert isinstance(refused, Refusal) and refused.code is Code.PRICING_RULES_INVALID
    assert refused.detail.startswith(field + ":"), refused.detail


def test_overlapping_bonuses_and_duplicate_schedules_are_refused() -> None:
    bonus = GOOD["topup_bonuses"][0]
    twice = build_rules(doc(topup_bonuses=[bonus, {**bonus, "name": "other"}]), 1)
    assert isinstance(twice, Refusal) and "overlaps" in twice.detail
    schedule = GOOD["fee_schedules"][0]
    again = build_rules(doc(fee_schedules=[schedule, schedule]), 1)
    assert isinstance(again, Refusal) and "second default" in again.detail


def test_the_document_is_strict() -> None:
    with pytest.raises(msgspec.ValidationError):
        doc(fee_schedules=[{"asset": "USD", "tiers": [{"volume_from": 0, "fee_bp": 1}]}])
    with pytest.raises(msgspec.ValidationError):
        doc(surprise=1)
    with pytest.raises(msgspec.ValidationError):  # a negative or fractional amount text
        doc(fee_schedules=[{"asset": "USD", "tiers": tiers((0, 1, -1))}])
