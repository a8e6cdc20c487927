"""Payouts on both stores: the lifecycle (requested -> pending -> paid / failed -> returned)
and its ledger chain, the events in the outbox, every refusal changing nothing, the rail's
failures, and recovery of a payout reserved but never sent."""

from __future__ import annotations

import json

import pytest

from centime.clock import FakeClock
from centime.ledger import PendingStatus
from centime.platform.chart import OPERATOR, AccountKind
from centime.platform.context import Platform
from centime.platform.errors import Code, Refusal
from centime.platform.ids import derive_id
from centime.platform.parties import Status, set_merchant
from centime.platform.payouts.methods import (
    PayoutMethod,
    add_payout_method,
    list_payout_methods,
    remove_payout_method,
)
from centime.platform.payouts.service import (
    Payout,
    PayoutStatus,
    get_payout,
    list_payouts,
    process_payout_events,
    recover_payouts,
    request_payout,
)
from centime.providers import Outage
from centime.providers.payout_sandbox import (
    ACCOUNT_FAILS,
    ACCOUNT_REFUSED,
    ACCOUNT_REJECTS_PAYOUTS,
    ACCOUNT_RETURNS,
    ACCOUNT_SUCCEEDS,
    SandboxPayoutRail,
)

from ..payout_world import earn, install_rail, paid_merchant, with_method
from ..world import account, balance, merchant, snapshot

DAY_S = 86_400
USD = "USD"


@pytest.fixture
def rail(platform: Platform, clock: FakeClock) -> SandboxPayoutRail:
    return install_rail(platform, clock)


def payout_snapshot(platform: Platform) -> tuple[object, ...]:
    with platform.read() as fetch:
        rows = tuple(
            sorted(fetch(f"SELECT * FROM {table}", ()))
            for table in (
                "payouts",
                "payout_methods",
                "payout_locks",
                "payout_quotes",
                "payout_schedules",
                "outbox_events",
            )
        )
    return (snapshot(platform), rows)


_ORDER = ("payout.requested", "payout.pending", "payout.paid", "payout.failed", "payout.returned")


def events_of(platform: Platform, payout_id: int) -> list[str]:
    """The payout's outbox events in lifecycle order (events of one fake-clock instant share
    their created_ns)."""
    with platform.read() as fetch:
        rows = fetch("SELECT type, data FROM outbox_events", ())
    found = [t for t, data in rows if json.loads(data).get("payout_id") == str(payout_id)]
    return sorted(found, key=_ORDER.index)


def available(platform: Platform, merchant_id: int) -> int:
    found = account(platform, AccountKind.MERCHANT_AVAILABLE, merchant_id, USD)
    return found.available if found else 0


def settle(platform: Platform, clock: FakeClock, seconds: int = DAY_S) -> None:
    clock.advance(seconds)
    process_payout_events(platform)


def test_a_payout_is_reserved_sent_and_paid(
    platform: Platform, clock: FakeClock, rail: SandboxPayoutRail
) -> None:
    shop, method = paid_merchant(platform, clock, earned=100_000_000)
    made = request_payout(platform, shop.id, USD, 60_000_000, payout_id=7)
    assert isinstance(made, Payout), made
    assert (made.status, made.method_id, made.fee, made.provider_ref) == (
        PayoutStatus.PENDING,
        method.id,
        0,
        f"sbxpo_{7:016x}",
    )
    # Reserved: not available any more, not yet in payout clearing's posted balance.
    assert available(platform, shop.id) == 40_000_000
    clearing = account(platform, AccountKind.PAYOUT_CLEARING, OPERATOR, USD)
    assert clearing is not None and clearing.credits_pending == 60_000_000
    assert platform.ledger.pending_states([derive_id("payout", 7, "reserve")])[0].status is (
        PendingStatus.PENDING
    )
    settle(platform, clock)
    paid = get_payout(platform, 7)
    assert paid is not None and paid.status is PayoutStatus.PAID
    assert balance(platform, AccountKind.PAYOUT_CLEARING, OPERATOR, USD) == 60_000_000
    assert balance(platform, AccountKind.MERCHANT_AVAILABLE, shop.id, USD) == 40_000_000
    assert events_of(platform, 7) == ["payout.requested", "payout.pending", "payout.paid"]
    # A second delivery of the same events changes nothing; asking again answers the payout.
    assert request_payout(platform, shop.id, USD, 60_000_000, payout_id=7) == paid
    assert rail.sends(7) == 1
    # The chain debits MERCHANT_AVAILABLE and nothing else: a customer's money, restricted
    # (carrier-billed, unsettled) or not, has no path to a bank account.
    with platform.read() as fetch:
        rows = fetch(
            "SELECT DISTINCT a.code FROM transfers t JOIN accounts a ON a.id = t.debit_account_id"
            " WHERE t.code IN (300, 301)",
            (),
        )
    assert rows == [(int(AccountKind.MERCHANT_AVAILABLE),)]


def test_failed_rejected_and_returned_payouts_give_the_money_back(
    platform: Platform, clock: FakeClock, rail: SandboxPayoutRail
) -> None:
    fails, _ = paid_merchant(platform, clock, number=ACCOUNT_FAILS)
    blocked, _ = paid_merchant(platform, clock, number=ACCOUNT_REJECTS_PAYOUTS)
    returns, _ = paid_merchant(platform, clock, number=ACCOUNT_RETURNS)
    # Rejected at once: failed at once, the money back in the same breath.
    made = request_payout(platform, blocked.id, USD, 30_000_000, payout_id=9)
    assert isinstance(made, Payout)
    assert (made.status, made.failure_code) == (PayoutStatus.FAILED, "account_blocked")
    assert available(platform, blocked.id) == 100_000_000
    assert events_of(platform, 9) == ["payout.requested", "payout.failed"]
    # Accepted, then failed: the reserve is voided.
    made = request_payout(platform, fails.id, USD, 30_000_000, payout_id=8)
    assert isinstance(made, Payout) and made.status is PayoutStatus.PENDING
    assert isinstance(request_payout(platform, returns.id, USD, 25_000_000, payout_id=10), Payout)
    settle(platform, clock)
    failed = get_payout(platform, 8)
    assert failed is not None and (failed.status, failed.failure_code) == (
        PayoutStatus.FAILED,
        "account_closed",
    )
    assert available(platform, fails.id) == 100_000_000
    assert events_of(platform, 8) == ["payout.requested", "payout.pending", "payout.failed"]
    # Paid, then returned days later: the net comes back, with a record.
    assert available(platform, returns.id) == 75_000_000
    assert balance(platform, AccountKind.PAYOUT_CLEARING, OPERATOR, USD) == 25_000_000
    settle(platform, clock, 3 * DAY_S)
    returned = get_payout(platform, 10)
    assert returned is not None
    assert (returned.status, returned.return_code) == (PayoutStatus.RETURNED, "returned_by_bank")
    assert returned.returned_ns is not None
    assert available(platform, returns.id) == 100_000_000
    assert balance(platform, AccountKind.PAYOUT_CLEARING, OPERATOR, USD) == 0
    assert events_of(platform, 10) == [
        "payout.requested",
        "payout.pending",
        "payout.paid",
        "payout.returned",
    ]


def test_refusals_change_nothing(
    platform: Platform, clock: FakeClock, rail: SandboxPayoutRail
) -> None:
    shop, method = paid_merchant(platform, clock, earned=100_000_000)
    bare = merchant(platform, fee_bp=0)
    earn(platform, bare.id, 5_000_000)
    poor = merchant(platform, fee_bp=0)
    platform.execute(set_merchant(platform, poor.id, kyc_tier=0))
    earn(platform, poor.id, 5_000_000)
    with_method(platform, clock, poor.id)
    before = payout_snapshot(platform)
    cases = [
        (shop.id, 100_000_001, Code.INSUFFICIENT_FUNDS),
        (shop.id, 0, Code.INVALID_AMOUNT),
        (bare.id, 1_000_000, Code.PAYOUT_METHOD_REQUIRED),
        (poor.id, 1_000_000, Code.TIER_FORBIDS),
        (12345, 1_000_000, Code.MERCHANT_NOT_FOUND),
    ]
    for who, amount, code in cases:
        refused = request_payout(platform, who, USD, amount, payout_id=derive_id("t", who, amount))
        assert isinstance(refused, Refusal) and refused.code is code, (who, refused)
    refused = request_payout(platform, shop.id, "XXX", 1, payout_id=1)
    assert isinstance(refused, Refusal) and refused.code is Code.UNKNOWN_ASSET
    refused = request_payout(platform, shop.id, USD, 1, payout_id=2, method_id=method.id + 1)
    assert isinstance(refused, Refusal) and refused.code is Code.PAYOUT_METHOD_NOT_FOUND
    assert payout_snapshot(platform) == before
    # Frozen merchants are paid nothing.
    platform.execute(set_merchant(platform, shop.id, status=Status.FROZEN))
    before = payout_snapshot(platform)
    refused = request_payout(platform, shop.id, USD, 1, payout_id=3)
    assert isinstance(refused, Refusal) and refused.code is Code.MERCHANT_FROZEN
    assert payout_snapshot(platform) == before
    assert rail.events_waiting == 0


def test_the_daily_limit_of_the_tier(
    platform: Platform, clock: FakeClock, rail: SandboxPayoutRail
) -> None:
    # Tier 1 pays out 1000.00 a day.
    shop, _ = paid_merchant(platform, clock, earned=1_500_000_000)
    assert isinstance(request_payout(platform, shop.id, USD, 900_000_000, payout_id=1), Payout)
    before = payout_snapshot(platform)
    refused = request_payout(platform, shop.id, USD, 100_000_001, payout_id=2)
    assert isinstance(refused, Refusal) and refused.code is Code.TIER_LIMIT_EXCEEDED
    assert payout_snapshot(platform) == before
    assert isinstance(request_payout(platform, shop.id, USD, 100_000_000, payout_id=3), Payout)
    clock.advance(DAY_S)  # a new UTC day
    assert isinstance(request_payout(platform, shop.id, USD, 100_000_000, payout_id=4), Payout)


def test_a_method_change_locks_payouts(
    platform: Platform, clock: FakeClock, rail: SandboxPayoutRail
) -> None:
    shop, method = paid_merchant(platform, clock)
    second = add_payout_method(platform, shop.id, "Ada Lovelace", "DE89 3704 0044 0532 0130 00")
    assert isinstance(second, PayoutMethod)
    assert (second.last4, len(second.fingerprint)) == ("3000", 32)
    before = payout_snapshot(platform)
    refused = request_payout(platform, shop.id, USD, 1_000_000, payout_id=5)
    assert isinstance(refused, Refusal) and refused.code is Code.PAYOUTS_LOCKED
    assert payout_snapshot(platform) == before
    clock.advance(platform.config.payouts.payout_method_lock_s + 1)
    removed = platform.execute(remove_payout_method(platform, shop.id, second.id))
    assert isinstance(removed, PayoutMethod) and removed.status == "removed"
    refused = request_payout(platform, shop.id, USD, 1_000_000, payout_id=5)
    assert isinstance(refused, Refusal) and refused.code is Code.PAYOUTS_LOCKED
    assert [m.id for m in list_payout_methods(platform, shop.id)] == [method.id]


def test_an_account_number_is_never_stored(
    platform: Platform, clock: FakeClock, rail: SandboxPayoutRail
) -> None:
    shop = merchant(platform)
    method = add_payout_method(platform, shop.id, "Ada", ACCOUNT_SUCCEEDS)
    assert isinstance(method, PayoutMethod) and method.last4 == ACCOUNT_SUCCEEDS[-4:]
    with platform.read() as fetch:
        rows = fetch("SELECT * FROM payout_methods", ())
    assert ACCOUNT_SUCCEEDS not in repr(rows)
    # The same account twice is refused; a refused account records nothing.
    before = payout_snapshot(platform)
    again = add_payout_method(platform, shop.id, "Ada", ACCOUNT_SUCCEEDS)
    assert isinstance(again, Refusal) and again.code is Code.INVALID_REQUEST
    refused = add_payout_method(platform, shop.id, "Ada", ACCOUNT_REFUSED)
    assert isinstance(refused, Refusal) and refused.code is Code.PROVIDER_DECLINED
    bad = add_payout_method(platform, shop.id, "Ada", "12-34")
    assert isinstance(bad, Refusal) and bad.code is Code.INVALID_REQUEST
    rail.fail_next(1)
    down = add_payout_method(platform, shop.id, "Ada", "DE89370400440532013000")
    assert isinstance(down, Refusal) and down.code is Code.PROVIDER_UNAVAILABLE
    assert payout_snapshot(platform) == before


def test_a_rail_outage_leaves_the_payout_requested_until_recovered(
    platform: Platform, clock: FakeClock, rail: SandboxPayoutRail
) -> None:
    shop, _ = paid_merchant(platform, clock)
    rail.fail_next(1, Outage.DOWN)
    made = request_payout(platform, shop.id, USD, 10_000_000, payout_id=11)
    assert isinstance(made, Payout) and made.status is PayoutStatus.REQUESTED
    assert available(platform, shop.id) == 90_000_000  # reserved all the same
    rail.fail_next(1, Outage.TIMEOUT_AFTER_ACCEPT)  # the rail takes it, the answer is lost
    assert [p.status for p in recover_payouts(platform)] == [PayoutStatus.REQUESTED]
    [recovered] = recover_payouts(platform)
    assert recovered.status is PayoutStatus.PENDING
    assert recover_payouts(platform) == []
    settle(platform, clock)
    paid = get_payout(platform, 11)
    assert paid is not None and paid.status is PayoutStatus.PAID and paid.attempts == 3
    assert rail.sends(11) == 2  # the first never reached it
    assert balance(platform, AccountKind.PAYOUT_CLEARING, OPERATOR, USD) == 10_000_000
    assert events_of(platform, 11).count("payout.paid") == 1
    assert [p.id for p in list_payouts(platform, shop.id).items] == [11]
