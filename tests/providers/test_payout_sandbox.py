"""The sandbox payout rail: test accounts, events on the clock, idempotency by payout id,
outages, and what it answers about an account (never the number)."""

from __future__ import annotations

import pytest

from centime.clock import FakeClock
from centime.providers import Outage, ProviderUnavailable
from centime.providers.payout_sandbox import (
    ACCOUNT_FAILS,
    ACCOUNT_REFUSED,
    ACCOUNT_REJECTS_PAYOUTS,
    ACCOUNT_RETURNS,
    ACCOUNT_SUCCEEDS,
    SandboxPayoutRail,
)
from centime.providers.payouts import (
    AccountRegistered,
    AccountRejected,
    PayoutAccepted,
    PayoutFailed,
    PayoutPaid,
    PayoutRejected,
    PayoutRequest,
    PayoutReturned,
    account_number_problem,
)

DAY_S = 86_400


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_800_000_000_000_000_000)


@pytest.fixture
def rail(clock: FakeClock) -> SandboxPayoutRail:
    return SandboxPayoutRail(clock)


def token(rail: SandboxPayoutRail, number: str) -> str:
    answer = rail.register_account("Ada", number)
    assert isinstance(answer, AccountRegistered)
    return answer.token


def request(
    payout_id: int, account: str, amount: int = 1_000, instant: bool = False
) -> PayoutRequest:
    return PayoutRequest(payout_id, 7, "USD", amount, account, instant)


def test_registration_answers_a_token_a_fingerprint_and_the_last_four(
    rail: SandboxPayoutRail,
) -> None:
    first = rail.register_account("Ada", "gb82 west 1234 5698 7654 32")
    again = rail.register_account("Ada", ACCOUNT_SUCCEEDS)
    assert isinstance(first, AccountRegistered) and first == again
    assert first.last4 == "5432" and ACCOUNT_SUCCEEDS not in first.token + first.fingerprint
    other = rail.register_account("Ada", ACCOUNT_FAILS)
    assert isinstance(other, AccountRegistered) and other.fingerprint != first.fingerprint
    assert isinstance(rail.register_account("Ada", ACCOUNT_REFUSED), AccountRejected)
    assert isinstance(rail.register_account("Ada", "12"), AccountRejected)
    assert account_number_problem("DE89 3704 0044 0532 0130 00") is None
    assert account_number_problem("ab-cd-ef") is not None


def test_outcomes_fall_due_on_the_clock(rail: SandboxPayoutRail, clock: FakeClock) -> None:
    ok, fails, returns = (
        token(rail, n) for n in (ACCOUNT_SUCCEEDS, ACCOUNT_FAILS, ACCOUNT_RETURNS)
    )
    blocked = token(rail, ACCOUNT_REJECTS_PAYOUTS)
    assert isinstance(rail.send(request(1, ok)), PayoutAccepted)
    assert isinstance(rail.send(request(2, fails)), PayoutAccepted)
    assert isinstance(rail.send(request(3, returns)), PayoutAccepted)
    assert isinstance(rail.send(request(4, ok, instant=True)), PayoutAccepted)
    assert rail.send(request(5, blocked)) == PayoutRejected(
        "account_blocked", "The account takes no payouts."
    )
    assert isinstance(rail.send(request(6, "ba_sbx_nobody")), PayoutRejected)
    clock.advance(30)
    assert [(type(e), e.payout_id) for e in rail.due_payout_events(clock.now_ns(), 10)] == [
        (PayoutPaid, 4)
    ]
    clock.advance(DAY_S)
    due = rail.due_payout_events(clock.now_ns(), 10)
    assert sorted((type(e).__name__, e.payout_id) for e in due) == [
        ("PayoutFailed", 2),
        ("PayoutPaid", 1),
        ("PayoutPaid", 3),
        ("PayoutPaid", 4),
    ]
    rail.acknowledge_payout_events(e.event_id for e in due)
    assert rail.due_payout_events(clock.now_ns(), 10) == []
    clock.advance(3 * DAY_S)
    [returned] = rail.due_payout_events(clock.now_ns(), 10)
    assert isinstance(returned, PayoutReturned) and returned.payout_id == 3
    assert isinstance(due[0], PayoutPaid | PayoutFailed)


def test_a_payout_id_is_paid_once_however_often_sent(
    rail: SandboxPayoutRail, clock: FakeClock
) -> None:
    ok = token(rail, ACCOUNT_SUCCEEDS)
    rail.fail_next(1, Outage.TIMEOUT_AFTER_ACCEPT)
    with pytest.raises(ProviderUnavailable):
        rail.send(request(9, ok))
    first = rail.send(request(9, ok))
    assert rail.send(request(9, ok)) == first and isinstance(first, PayoutAccepted)
    assert rail.send(request(9, ok, amount=2)) == PayoutRejected(
        "idempotency_key_reused", "Another payout used this id."
    )
    rail.fail_next(1, Outage.DOWN)
    with pytest.raises(ProviderUnavailable):
        rail.send(request(10, ok))
    assert rail.sends(9) == 4 and rail.sends(10) == 0
    clock.advance(DAY_S)
    assert [e.payout_id for e in rail.due_payout_events(clock.now_ns(), 10)] == [9]
