"""Published versions and fee schedules in payments, on both stores: versions only grow,
the highest is in force, each payment records the version and the tier that priced it, and
the month's volume moves the tier without a scan (also inside one batch)."""

from __future__ import annotations

import msgspec

from centime.clock import FakeClock
from centime.platform.context import Platform
from centime.platform.errors import Code, Refusal
from centime.platform.ids import format_id
from centime.platform.payments import (
    Payment,
    PaymentItem,
    PaymentRequest,
    create_payment,
    create_payments_batch,
)
from centime.platform.pricing.evaluate import month_of
from centime.platform.pricing.rules import RuleSetDocument
from centime.platform.pricing.store import get_rules, list_rules, publish_rules

from ..world import customer, fund, merchant
from .helpers import USD, full_snapshot, publish


def _tiers(*rows: tuple[int, int]) -> list[dict[str, object]]:
    return [{"volume_from": str(v), "fee_bp": bp} for v, bp in rows]


def test_versions_grow_and_a_refused_rule_set_changes_nothing(platform: Platform) -> None:
    first = publish(platform, fee_schedules=[{"asset": "USD", "tiers": _tiers((0, 100))}])
    second = publish(platform)
    assert (first.version, second.version) == (1, 2)
    before = full_snapshot(platform)
    bad = msgspec.convert(
        {"fee_schedules": [{"asset": "USD", "tiers": _tiers((0, 100), (5, 200))}]},
        RuleSetDocument,
    )
    refused = platform.execute(publish_rules(platform, bad, note="rises"))
    assert isinstance(refused, Refusal) and refused.code is Code.PRICING_RULES_INVALID
    assert full_snapshot(platform) == before
    items, more = list_rules(platform, limit=1)
    assert [r.version for r in items] == [2] and more == 2
    items, more = list_rules(platform, before=more, limit=1)
    assert [r.version for r in items] == [1] and more is None
    found = get_rules(platform, 1)
    assert found is not None and found.document.fee_schedules[0].tiers[0].fee_bp == 100
    assert get_rules(platform, 3) is None


def test_the_fee_falls_as_the_months_volume_grows(platform: Platform, clock: FakeClock) -> None:
    shop, other = merchant(platform, fee_bp=250), merchant(platform, fee_bp=250)
    ada = customer(platform)
    fund(platform, ada.id, "USD", 100 * USD)
    # Before any rule set: the merchant's own fee, version 0.
    own = platform.execute(create_payment(platform, PaymentRequest(ada.id, shop.id, "USD", USD)))
    assert isinstance(own, Payment)
    assert (own.fee, own.pricing_version, own.fee_rule) == (25_000, 0, "merchant_fee")
    published = publish(
        platform,
        fee_schedules=[
            {"asset": "USD", "tiers": _tiers((0, 200), (3 * USD, 100), (5 * USD, 50))},
            {"asset": "USD", "merchant_id": format_id("mer", other.id), "tiers": _tiers((0, 10))},
        ],
    )
    pay = platform.execute(create_payment(platform, PaymentRequest(ada.id, shop.id, "USD", USD)))
    assert isinstance(pay, Payment)  # volume before: 1 (the first payment counts)
    assert (pay.fee, pay.pricing_version, pay.fee_rule) == (
        20_000,
        published.version,
        "default/USD#0",
    )
    # One batch crosses two tiers: each payment priced by the volume before it.
    items = [PaymentItem(ada.id, "USD", USD) for _ in range(4)]
    results = platform.execute(
        create_payments_batch(platform, shop.id, items, charged_by_merchant=False)
    )
    assert isinstance(results, list)
    assert [(p.fee, p.fee_rule) for p in results if isinstance(p, Payment)] == [
        (20_000, "default/USD#0"),
        (10_000, "default/USD#1"),
        (10_000, "default/USD#1"),
        (5_000, "default/USD#2"),
    ]
    with platform.read() as fetch:
        rows = fetch("SELECT merchant_id, asset, month, volume FROM merchant_volumes", ())
    assert sorted(rows) == [(shop.id, "USD", month_of(clock.now_ns()), 6 * USD)]
    # A merchant's own schedule wins over the default.
    theirs = platform.execute(
        create_payment(platform, PaymentRequest(ada.id, other.id, "USD", USD))
    )
    assert isinstance(theirs, Payment)
    assert (theirs.fee, theirs.fee_rule) == (1_000, "merchant/USD#0")
    # A new month starts from tier 0 again.
    clock.advance(32 * 86_400)
    later = platform.execute(create_payment(platform, PaymentRequest(ada.id, shop.id, "USD", USD)))
    assert isinstance(later, Payment) and later.fee_rule == "default/USD#0"
