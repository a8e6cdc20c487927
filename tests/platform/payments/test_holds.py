"""Metered holds: authorize, capture any part, release, expire."""

from __future__ import annotations

from typing import Any

import pytest

from centime.clock import FakeClock
from centime.platform.chart import OPERATOR, AccountKind
from centime.platform.context import Platform
from centime.platform.errors import Code, Refusal
from centime.platform.parties import Status, set_merchant
from centime.platform.payments import CaptureRequest, RefundRequest
from centime.platform.payments.holds import (
    Capture,
    Hold,
    HoldRequest,
    HoldStatus,
    authorize_hold,
    capture_hold,
    expire_holds,
    get_hold,
    list_holds,
    release_hold,
)
from centime.platform.payments.mandates import Mandate, create_mandate, get_mandate
from centime.platform.payments.refunds import Refund, refund_payment
from centime.platform.payments.service import get_payment

from ..world import account, balance, customer, fund, merchant, snapshot

WALLET = AccountKind.CUSTOMER_WALLET
RESTRICTED = AccountKind.CUSTOMER_RESTRICTED
AVAILABLE = AccountKind.MERCHANT_AVAILABLE
FEES = AccountKind.FEE_REVENUE


def authorize(
    platform: Platform,
    customer_id: int,
    merchant_id: int,
    asset: str,
    amount: int,
    timeout_s: int,
    description: str | None = None,
    **kw: Any,
) -> Hold:
    """The hold authorized (``kw``: the other fields of its request)."""
    request = HoldRequest(
        customer_id, merchant_id, asset, amount, timeout_s=timeout_s, description=description, **kw
    )
    hold = platform.execute(authorize_hold(platform, request))
    assert isinstance(hold, Hold), hold
    return hold


def refused(platform: Platform, op: Any, code: Code) -> None:
    before = snapshot(platform)
    result = platform.execute(op)
    assert isinstance(result, Refusal) and result.code is code, result
    assert snapshot(platform) == before


def available(platform: Platform, kind: AccountKind, owner: int) -> int:
    found = account(platform, kind, owner, "USD")
    return found.available if found else 0


def test_a_hold_reserves_restricted_money_first(platform: Platform) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 300, restricted=True)
    fund(platform, ada.id, "USD", 1_000)
    hold = authorize(platform, ada.id, shop.id, "USD", 500, 60, "API calls")
    assert (hold.amount, hold.restricted_amount, hold.status) == (500, 300, HoldStatus.AUTHORIZED)
    assert available(platform, RESTRICTED, ada.id) == 0
    assert available(platform, WALLET, ada.id) == 800
    shop_account = account(platform, AVAILABLE, shop.id, "USD")
    assert shop_account is not None and shop_account.credits_pending == 500
    assert get_hold(platform, hold.id) == hold
    assert hold.expires_at_ns >= hold.created_ns + 60 * 10**9


def test_a_partial_capture_posts_restricted_first_pays_the_fee_and_releases_the_rest(
    platform: Platform,
) -> None:
    ada, shop = customer(platform), merchant(platform, fee_bp=1_000)
    fund(platform, ada.id, "USD", 300, restricted=True)
    fund(platform, ada.id, "USD", 1_000)
    hold = authorize(platform, ada.id, shop.id, "USD", 500, 60)
    captured = platform.execute(capture_hold(platform, CaptureRequest(hold.id, 400)))
    assert isinstance(captured, Capture)
    payment = captured.payment
    assert (payment.amount, payment.fee, payment.restricted_amount) == (400, 40, 300)
    assert payment.hold_id == hold.id and captured.hold.payment_id == payment.id
    assert captured.hold.status is HoldStatus.CAPTURED and captured.hold.captured == 400
    assert get_payment(platform, payment.id) == payment
    assert get_hold(platform, hold.id) == captured.hold
    # 300 restricted and 100 of the wallet reserve posted; the other 100 released.
    assert available(platform, RESTRICTED, ada.id) == 0
    assert available(platform, WALLET, ada.id) == 900
    assert balance(platform, WALLET, ada.id, "USD") == 900
    assert balance(platform, AVAILABLE, shop.id, "USD") == 360
    assert balance(platform, FEES, OPERATOR, "USD") == 40
    shop_account = account(platform, AVAILABLE, shop.id, "USD")
    assert shop_account is not None and shop_account.credits_pending == 0


def test_a_capture_below_the_restricted_part_voids_the_wallet_reserve(platform: Platform) -> None:
    ada, shop = customer(platform), merchant(platform, fee_bp=0)
    fund(platform, ada.id, "USD", 300, restricted=True)
    fund(platform, ada.id, "USD", 1_000)
    hold = authorize(platform, ada.id, shop.id, "USD", 500, 60)
    captured = platform.execute(capture_hold(platform, CaptureRequest(hold.id, 1)))
    assert isinstance(captured, Capture) and captured.payment.restricted_amount == 1
    assert balance(platform, RESTRICTED, ada.id, "USD") == 299
    assert available(platform, WALLET, ada.id) == 1_000


@pytest.mark.parametrize("amount", [0, -1, 501, "5"])
def test_a_capture_outside_the_authorization_is_refused(platform: Platform, amount: Any) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 1_000)
    hold = authorize(platform, ada.id, shop.id, "USD", 500, 60)
    code = Code.CAPTURE_EXCEEDS_HOLD if amount == 501 else Code.INVALID_AMOUNT
    refused(platform, capture_hold(platform, CaptureRequest(hold.id, amount)), code)


def test_a_hold_is_resolved_once(platform: Platform) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 1_000)
    hold = authorize(platform, ada.id, shop.id, "USD", 500, 60)
    assert isinstance(
        platform.execute(capture_hold(platform, CaptureRequest(hold.id, 500))), Capture
    )
    refused(platform, capture_hold(platform, CaptureRequest(hold.id, 1)), Code.HOLD_NOT_AUTHORIZED)
    refused(platform, release_hold(platform, hold.id), Code.HOLD_NOT_AUTHORIZED)
    other = authorize(platform, ada.id, shop.id, "USD", 100, 60)
    released = platform.execute(release_hold(platform, other.id))
    assert isinstance(released, Hold) and released.status is HoldStatus.RELEASED
    refused(platform, capture_hold(platform, CaptureRequest(other.id, 1)), Code.HOLD_NOT_AUTHORIZED)


def test_a_release_gives_the_whole_reserve_back(platform: Platform) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 200, restricted=True)
    fund(platform, ada.id, "USD", 1_000)
    hold = authorize(platform, ada.id, shop.id, "USD", 700, 60)
    assert available(platform, WALLET, ada.id) == 500
    released = platform.execute(release_hold(platform, hold.id))
    assert isinstance(released, Hold) and released.resolved_ns is not None
    assert available(platform, RESTRICTED, ada.id) == 200
    assert available(platform, WALLET, ada.id) == 1_000
    assert balance(platform, AVAILABLE, shop.id, "USD") == 0


def test_a_lapsed_hold_expires_and_cannot_be_captured(platform: Platform, clock: FakeClock) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 100, restricted=True)
    fund(platform, ada.id, "USD", 1_000)
    hold = authorize(platform, ada.id, shop.id, "USD", 600, 60)
    clock.advance(61)
    platform.ledger.expire_due()
    seen = get_hold(platform, hold.id)
    assert seen is not None and seen.status is HoldStatus.EXPIRED  # derived from the ledger
    assert available(platform, RESTRICTED, ada.id) == 100
    assert available(platform, WALLET, ada.id) == 1_000
    refused(platform, capture_hold(platform, CaptureRequest(hold.id, 1)), Code.HOLD_NOT_AUTHORIZED)
    refused(platform, release_hold(platform, hold.id), Code.HOLD_NOT_AUTHORIZED)
    assert expire_holds(platform) == 1
    assert expire_holds(platform) == 0
    with platform.read() as fetch:
        assert fetch("SELECT status FROM holds WHERE id = ?", (hold.id,)) == [("expired",)]


def test_a_hold_is_expired_for_capture_as_soon_as_it_lapses(
    platform: Platform, clock: FakeClock
) -> None:
    """Without a sweep in between: the unit's own group expires what is due first."""
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 1_000)
    hold = authorize(platform, ada.id, shop.id, "USD", 600, 60)
    clock.advance(61)
    result = platform.execute(capture_hold(platform, CaptureRequest(hold.id, 1)))
    assert isinstance(result, Refusal) and result.code is Code.HOLD_NOT_AUTHORIZED
    assert available(platform, WALLET, ada.id) == 1_000
    assert balance(platform, AVAILABLE, shop.id, "USD") == 0


def test_a_hold_is_refused_like_a_payment(platform: Platform) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 1_000)
    max_s = platform.config.hold_timeout_max_s
    cases = [
        (
            authorize_hold(platform, HoldRequest(ada.id, shop.id, "USD", 1_001, timeout_s=60)),
            Code.INSUFFICIENT_FUNDS,
        ),
        (
            authorize_hold(platform, HoldRequest(ada.id, shop.id, "XXX", 1, timeout_s=60)),
            Code.UNKNOWN_ASSET,
        ),
        (
            authorize_hold(platform, HoldRequest(ada.id, shop.id, "USD", 0, timeout_s=60)),
            Code.INVALID_AMOUNT,
        ),
        (
            authorize_hold(platform, HoldRequest(ada.id, shop.id, "USD", 1, timeout_s=0)),
            Code.INVALID_REQUEST,
        ),
        (
            authorize_hold(platform, HoldRequest(ada.id, shop.id, "USD", 1, timeout_s=max_s + 1)),
            Code.INVALID_REQUEST,
        ),
        (
            authorize_hold(platform, HoldRequest(999, shop.id, "USD", 1, timeout_s=60)),
            Code.CUSTOMER_NOT_FOUND,
        ),
        (
            authorize_hold(platform, HoldRequest(ada.id, 999, "USD", 1, timeout_s=60)),
            Code.MERCHANT_NOT_FOUND,
        ),
        (
            authorize_hold(
                platform,
                HoldRequest(ada.id, shop.id, "USD", 1, timeout_s=60, charged_by_merchant=True),
            ),
            Code.MANDATE_NOT_FOUND,
        ),
    ]
    for op, code in cases:
        refused(platform, op, code)


def test_a_merchants_hold_needs_a_mandate_and_counts_the_authorized_amount(
    platform: Platform,
) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 10_000)
    granted = platform.execute(create_mandate(platform, ada.id, shop.id, "USD", 1_000))
    assert isinstance(granted, Mandate)
    hold = authorize(
        platform, ada.id, shop.id, "USD", 800, 60, mandate_id=granted.id, charged_by_merchant=True
    )
    refused(
        platform,
        authorize_hold(
            platform,
            HoldRequest(
                ada.id,
                shop.id,
                "USD",
                201,
                timeout_s=60,
                description=None,
                mandate_id=granted.id,
                charged_by_merchant=True,
            ),
        ),
        Code.MANDATE_LIMIT_EXCEEDED,
    )
    captured = platform.execute(capture_hold(platform, CaptureRequest(hold.id, 100)))
    assert isinstance(captured, Capture) and captured.payment.mandate_id == granted.id
    stored = get_mandate(platform, granted.id)
    # What was captured counts (once); the 700 the capture left go back to the day's room.
    assert stored is not None and stored.spent_today == 100


def test_a_released_or_expired_hold_no_longer_counts_against_the_mandate(
    platform: Platform, clock: FakeClock
) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 10_000)
    granted = platform.execute(create_mandate(platform, ada.id, shop.id, "USD", 1_000))
    assert isinstance(granted, Mandate)
    hold = authorize(
        platform, ada.id, shop.id, "USD", 900, 60, mandate_id=granted.id, charged_by_merchant=True
    )
    assert isinstance(platform.execute(release_hold(platform, hold.id)), Hold)
    stored = get_mandate(platform, granted.id)
    assert stored is not None and stored.spent_today == 0
    # The whole day's amount can be authorized again, and an expiry gives it back too.
    again = authorize(
        platform,
        ada.id,
        shop.id,
        "USD",
        1_000,
        30,
        mandate_id=granted.id,
        charged_by_merchant=True,
    )
    clock.advance(31)
    platform.ledger.run(lambda ctx: None, 0)  # the ledger expires the reserve
    assert expire_holds(platform) == 1
    stored = get_mandate(platform, granted.id)
    assert stored is not None and stored.spent_today == 0 and again.id != hold.id


def test_another_merchant_cannot_touch_a_hold(platform: Platform) -> None:
    ada, shop, other = customer(platform), merchant(platform), merchant(platform)
    fund(platform, ada.id, "USD", 1_000)
    hold = authorize(platform, ada.id, shop.id, "USD", 100, 60)
    refused(
        platform,
        capture_hold(platform, CaptureRequest(hold.id, 1, merchant_id=other.id)),
        Code.HOLD_NOT_FOUND,
    )
    refused(platform, release_hold(platform, hold.id, merchant_id=other.id), Code.HOLD_NOT_FOUND)
    refused(platform, capture_hold(platform, CaptureRequest(12345, 1)), Code.HOLD_NOT_FOUND)
    assert get_hold(platform, hold.id, merchant_id=other.id) is None
    assert list_holds(platform, merchant_id=other.id).items == []
    assert list_holds(platform, merchant_id=shop.id).items == [hold]


def test_a_frozen_merchant_cannot_capture(platform: Platform) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 1_000)
    hold = authorize(platform, ada.id, shop.id, "USD", 100, 60)
    platform.execute(set_merchant(platform, shop.id, Status.FROZEN))
    refused(platform, capture_hold(platform, CaptureRequest(hold.id, 1)), Code.MERCHANT_FROZEN)


def test_captured_money_is_refunded_like_any_payment_restricted_first(platform: Platform) -> None:
    ada, shop = customer(platform), merchant(platform, fee_bp=1_000)
    fund(platform, ada.id, "USD", 300, restricted=True)
    fund(platform, ada.id, "USD", 1_000)
    hold = authorize(platform, ada.id, shop.id, "USD", 500, 60)
    captured = platform.execute(capture_hold(platform, CaptureRequest(hold.id, 500)))
    assert isinstance(captured, Capture)
    refund = platform.execute(refund_payment(platform, RefundRequest(captured.payment.id)))
    assert isinstance(refund, Refund)
    assert (refund.amount, refund.fee_returned, refund.restricted_amount) == (500, 50, 300)
    assert balance(platform, RESTRICTED, ada.id, "USD") == 300
    assert balance(platform, WALLET, ada.id, "USD") == 1_000
    assert balance(platform, AVAILABLE, shop.id, "USD") == 0
    assert balance(platform, FEES, OPERATOR, "USD") == 0


def test_a_hold_id_makes_authorization_idempotent(platform: Platform) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 1_000)
    first = authorize(platform, ada.id, shop.id, "USD", 100, 60, hold_id=5)
    assert authorize(platform, ada.id, shop.id, "USD", 100, 60, hold_id=5) == first
    assert available(platform, WALLET, ada.id) == 900
    refused(
        platform,
        authorize_hold(platform, HoldRequest(ada.id, shop.id, "USD", 101, timeout_s=60, hold_id=5)),
        Code.INVALID_REQUEST,
    )


@pytest.mark.parametrize("hold_id", [None, 0, -1, 2**63, "5"])
def test_a_hold_without_a_valid_id_of_its_own_is_refused(platform: Platform, hold_id: Any) -> None:
    """The request draws an id when none is given: one passed as None or out of range is
    refused before the unit, not used as the hold's id."""
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 1_000)
    asked = HoldRequest(ada.id, shop.id, "USD", 100, timeout_s=60, hold_id=hold_id)
    refused(platform, authorize_hold(platform, asked), Code.INVALID_REQUEST)
    assert available(platform, WALLET, ada.id) == 1_000
