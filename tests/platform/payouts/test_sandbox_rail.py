"""The sandbox payout rail keeps its records in the database: after a restart (the ledger
closed, the store opened again, a new rail) it still knows the bank accounts, answers a
payout sent again as before (paying once), and delivers the events still due."""

from __future__ import annotations

from collections.abc import Callable

from centime.clock import FakeClock
from centime.ledger import Ledger
from centime.ledger.port import LedgerStore
from centime.platform.context import Platform
from centime.platform.payouts.sandbox_rail import DatabaseRailJournal
from centime.platform.payouts.service import (
    Payout,
    PayoutStatus,
    get_payout,
    process_payout_events,
    request_payout,
)
from centime.providers.payout_sandbox import ACCOUNT_RETURNS, SandboxPayoutRail
from centime.providers.payouts import (
    AccountRegistered,
    PayoutAccepted,
    PayoutPaid,
    PayoutRejected,
    PayoutRequest,
    PayoutReturned,
)
from centime.risk.types import Screen

from ..payout_world import paid_merchant

DAY_S = 86_400


def _rail(platform: Platform, clock: FakeClock) -> SandboxPayoutRail:
    rail = SandboxPayoutRail(clock, journal=DatabaseRailJournal(platform, "sandbox-payouts"))
    platform.providers.payout_rails[rail.name] = rail
    return rail


def _restart(
    platform: Platform, clock: FakeClock, store_factory: Callable[[], LedgerStore]
) -> Platform:
    platform.ledger.close()
    screen: Screen = platform.screen
    again = Platform(Ledger(store_factory(), clock, expiry_interval_s=3600), clock, screen=screen)
    _rail(again, clock)
    return again


def test_a_restarted_rail_knows_its_accounts_and_pays_what_was_in_flight(
    platform: Platform, clock: FakeClock, store_factory: Callable[[], LedgerStore]
) -> None:
    _rail(platform, clock)
    shop, _ = paid_merchant(platform, clock, earned=100_000_000)
    first = request_payout(platform, shop.id, "USD", 10_000_000, payout_id=11)
    assert isinstance(first, Payout) and first.status is PayoutStatus.PENDING, first
    platform = _restart(platform, clock, store_factory)
    try:
        # The account registered before the restart still takes payouts.
        second = request_payout(platform, shop.id, "USD", 20_000_000, payout_id=12)
        assert isinstance(second, Payout) and second.status is PayoutStatus.PENDING, second
        clock.advance(DAY_S + 1)
        process_payout_events(platform)
        for payout_id in (11, 12):  # the event planned before the restart arrives too
            found = get_payout(platform, payout_id)
            assert found is not None and found.status is PayoutStatus.PAID, found
        rail = platform.providers.payout_rails["sandbox-payouts"]
        assert rail.events_waiting == 0
    finally:
        platform.ledger.close()


def test_a_payout_sent_again_after_a_restart_is_answered_as_before(
    platform: Platform, clock: FakeClock, store_factory: Callable[[], LedgerStore]
) -> None:
    rail = _rail(platform, clock)
    registered = rail.register_account("Ada Lovelace", ACCOUNT_RETURNS)
    assert isinstance(registered, AccountRegistered), registered
    request = PayoutRequest(21, 1, "USD", 5_000_000, registered.token, instant=True)
    answer = rail.send(request)
    assert isinstance(answer, PayoutAccepted)
    platform = _restart(platform, clock, store_factory)
    try:
        again: SandboxPayoutRail = platform.providers.payout_rails["sandbox-payouts"]
        assert again.send(request) == answer
        clock.advance(3 * DAY_S + 60)
        events = again.due_payout_events(clock.now_ns())
        assert [type(e).__name__ for e in events] == ["PayoutPaid", "PayoutReturned"]
        again.acknowledge_payout_events([e.event_id for e in events])
        assert again.due_payout_events(clock.now_ns()) == []
    finally:
        platform.ledger.close()


def test_two_processes_rails_share_the_records(platform: Platform, clock: FakeClock) -> None:
    """``serve --no-worker`` and ``worker`` each have a rail on one database: an account one
    registered takes the other's payouts, a payout one decided is answered the same by the
    other, and the events one planned are due at the other."""
    journal = DatabaseRailJournal(platform, "sandbox-payouts")
    server, worker = (
        SandboxPayoutRail(clock, journal=journal),
        SandboxPayoutRail(clock, journal=journal),
    )
    registered = server.register_account("Ada Lovelace", ACCOUNT_RETURNS)
    assert isinstance(registered, AccountRegistered)
    request = PayoutRequest(31, 1, "USD", 5_000_000, registered.token, instant=True)
    answer = worker.send(request)
    assert isinstance(answer, PayoutAccepted)
    assert server.send(request) == answer
    clock.advance(60)
    due = server.due_payout_events(clock.now_ns())
    assert [type(e).__name__ for e in due] == ["PayoutPaid"] and worker.events_waiting == 2
    worker.acknowledge_payout_events([e.event_id for e in due])
    assert server.due_payout_events(clock.now_ns()) == [] and server.events_waiting == 1


def test_records_read_back_as_written_and_as_stored_before() -> None:
    from centime.platform.payouts.sandbox_rail import _record, _record_json

    records = [
        PayoutAccepted("ref-1"),
        PayoutRejected("closed", "the account is closed"),
        PayoutPaid("sandbox", "evt-1", 7, "ref-1"),
        PayoutReturned("sandbox", "evt-2", 7, "ref-1", "R01"),
    ]
    assert [_record(_record_json(r)) for r in records] == records
    # Every event has the shape earlier versions wrote and read: a paid event's code is null.
    stored = '["paid", "sandbox", "evt-1", 7, "ref-1", null]'
    assert _record_json(PayoutPaid("sandbox", "evt-1", 7, "ref-1")) == stored
    assert _record(stored) == PayoutPaid("sandbox", "evt-1", 7, "ref-1")
    returned = '["returned", "sandbox", "evt-2", 7, "ref-1", "R01"]'
    assert _record_json(PayoutReturned("sandbox", "evt-2", 7, "ref-1", "R01")) == returned
