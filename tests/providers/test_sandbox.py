"""The sandbox provider: test instruments decide outcomes, events fall due on the clock, are
delivered until acknowledged, charges are idempotent, outages are simulated, queues bounded."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from centime.clock import FakeClock
from centime.providers import (
    Accepted,
    ChargedBack,
    ChargeFailed,
    ChargeRequest,
    ChargeSettled,
    ChargeSucceeded,
    Declined,
    Method,
    Outage,
    ProviderEvent,
    ProviderUnavailable,
    SandboxConfig,
    SandboxProvider,
    event_kind,
    instrument_problem,
)
from centime.providers import sandbox as sandbox_module
from centime.providers.sandbox import (
    BANK_FAILS_LATER,
    BANK_SUCCEEDS,
    CARD_CHARGED_BACK,
    CARD_DECLINED,
    CARD_FAILS_LATER,
    CARD_INSUFFICIENT_FUNDS,
    CARD_SUCCEEDS,
    PHONE_CHARGED_BACK,
    PHONE_DECLINED,
    PHONE_FAILS_LATER,
    PHONE_SUCCEEDS,
    luhn_valid,
)

START_NS = 1_800_000_000_000_000_000
CONFIG = SandboxConfig(
    card_confirm_s=2,
    bank_confirm_s=86_400,
    carrier_confirm_s=5,
    chargeback_after_s=3 * 86_400,
    carrier_settlement_days=30,
)
DAY_S = 86_400


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START_NS)


@pytest.fixture
def sandbox(clock: FakeClock) -> SandboxProvider:
    return SandboxProvider(clock, CONFIG)


def _request(
    topup_id: int, method: Method, instrument: str, amount: int = 5_000_000
) -> ChargeRequest:
    return ChargeRequest(topup_id, 77, "USD", amount, method, instrument)


def _drain(sandbox: SandboxProvider, clock: FakeClock) -> list[ProviderEvent]:
    """Everything due now, acknowledged."""
    events = sandbox.due_events(clock.now_ns(), 1000)
    sandbox.acknowledge(e.event_id for e in events)
    return events


def _timeline(sandbox: SandboxProvider, clock: FakeClock, steps_s: list[int]) -> list[list[str]]:
    """The kinds of events that fall due after each step."""
    seen = []
    for step_s in steps_s:
        clock.advance(step_s)
        seen.append([event_kind(e) for e in _drain(sandbox, clock)])
    return seen


@pytest.mark.parametrize(
    ("method", "instrument", "code"),
    [
        (Method.CARD, CARD_DECLINED, "card_declined"),
        (Method.CARD, CARD_INSUFFICIENT_FUNDS, "insufficient_funds"),
        (Method.CARD, "4242424242424241", "invalid_number"),  # fails the Luhn check
        (Method.CARRIER, PHONE_DECLINED, "carrier_limit_exceeded"),
        (Method.CARRIER, "0555", "invalid_instrument"),
    ],
)
def test_declining_instruments_are_declined_at_once_and_schedule_nothing(
    sandbox: SandboxProvider, clock: FakeClock, method: Method, instrument: str, code: str
) -> None:
    result = sandbox.charge(_request(1, method, instrument))
    assert isinstance(result, Declined) and result.code == code
    clock.advance(365 * DAY_S)
    assert _drain(sandbox, clock) == []


def test_a_card_succeeds_after_its_confirmation_delay(
    sandbox: SandboxProvider, clock: FakeClock
) -> None:
    result = sandbox.charge(_request(1, Method.CARD, CARD_SUCCEEDS))
    assert result == Accepted(f"sbx_{1:016x}")
    assert _timeline(sandbox, clock, [1, 1, 365 * DAY_S]) == [[], ["succeeded"], []]


def test_a_bank_transfer_succeeds_after_a_day(sandbox: SandboxProvider, clock: FakeClock) -> None:
    assert isinstance(sandbox.charge(_request(1, Method.BANK_TRANSFER, BANK_SUCCEEDS)), Accepted)
    assert _timeline(sandbox, clock, [DAY_S - 1, 1]) == [[], ["succeeded"]]


@pytest.mark.parametrize(
    ("method", "instrument", "confirm_s", "code"),
    [
        (Method.CARD, CARD_FAILS_LATER, 2, "processing_error"),
        (Method.BANK_TRANSFER, BANK_FAILS_LATER, DAY_S, "account_closed"),
        (Method.CARRIER, PHONE_FAILS_LATER, 5, "carrier_billing_failed"),
    ],
)
def test_failing_instruments_are_accepted_then_fail(
    sandbox: SandboxProvider,
    clock: FakeClock,
    method: Method,
    instrument: str,
    confirm_s: int,
    code: str,
) -> None:
    assert isinstance(sandbox.charge(_request(9, method, instrument)), Accepted)
    clock.advance(confirm_s)
    (event,) = _drain(sandbox, clock)
    assert isinstance(event, ChargeFailed) and event.code == code and event.topup_id == 9
    clock.advance(365 * DAY_S)
    assert _drain(sandbox, clock) == []


def test_a_card_charged_back_in_full_after_success(
    sandbox: SandboxProvider, clock: FakeClock
) -> None:
    sandbox.charge(_request(3, Method.CARD, CARD_CHARGED_BACK, 7_000))
    assert _timeline(sandbox, clock, [2, 3 * DAY_S - 1, 1]) == [["succeeded"], [], ["chargeback"]]


def test_carrier_money_settles_after_the_configured_days(
    sandbox: SandboxProvider, clock: FakeClock
) -> None:
    sandbox.charge(_request(4, Method.CARRIER, PHONE_SUCCEEDS))
    steps = [5, 30 * DAY_S - 1, 1, 365 * DAY_S]
    assert _timeline(sandbox, clock, steps) == [["succeeded"], [], ["settled"], []]


def test_a_carrier_chargeback_comes_before_settlement_which_never_comes(
    sandbox: SandboxProvider, clock: FakeClock
) -> None:
    sandbox.charge(_request(5, Method.CARRIER, PHONE_CHARGED_BACK, 1_234))
    clock.advance(5)
    assert [event_kind(e) for e in _drain(sandbox, clock)] == ["succeeded"]
    clock.advance(365 * DAY_S)
    (event,) = _drain(sandbox, clock)
    assert isinstance(event, ChargedBack) and event.amount == 1_234


def test_events_name_the_provider_the_topup_and_the_charge(
    sandbox: SandboxProvider, clock: FakeClock
) -> None:
    accepted = sandbox.charge(_request(42, Method.CARRIER, PHONE_SUCCEEDS))
    assert isinstance(accepted, Accepted)
    clock.advance(31 * DAY_S)
    events = _drain(sandbox, clock)
    assert [type(e) for e in events] == [ChargeSucceeded, ChargeSettled]
    for event in events:
        assert (event.provider, event.topup_id, event.provider_ref) == (
            "sandbox",
            42,
            accepted.provider_ref,
        )
    assert len({e.event_id for e in events}) == 2


def test_a_charge_sent_again_is_the_same_charge(sandbox: SandboxProvider, clock: FakeClock) -> None:
    request = _request(1, Method.CARD, CARD_SUCCEEDS)
    first = sandbox.charge(request)
    assert sandbox.charge(request) == first
    clock.advance(2)
    assert len(_drain(sandbox, clock)) == 1
    other = sandbox.charge(_request(1, Method.CARD, CARD_SUCCEEDS, amount=1))
    assert isinstance(other, Declined) and other.code == "idempotency_key_reused"


def test_events_come_again_until_acknowledged(sandbox: SandboxProvider, clock: FakeClock) -> None:
    for topup_id in (1, 2, 3):
        sandbox.charge(_request(topup_id, Method.CARD, CARD_SUCCEEDS))
    clock.advance(2)
    first = sandbox.due_events(clock.now_ns(), 2)
    assert [e.topup_id for e in first] == [1, 2]
    assert sandbox.due_events(clock.now_ns(), 2) == first  # at least once
    sandbox.acknowledge([first[0].event_id])
    assert [e.topup_id for e in sandbox.due_events(clock.now_ns(), 5)] == [2, 3]
    sandbox.acknowledge(e.event_id for e in sandbox.due_events(clock.now_ns(), 5))
    assert sandbox.events_waiting == 0


def test_an_outage_refuses_without_charging(sandbox: SandboxProvider, clock: FakeClock) -> None:
    sandbox.fail_next(2)
    request = _request(1, Method.CARD, CARD_SUCCEEDS)
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            sandbox.charge(request)
    assert sandbox.events_waiting == 0
    assert isinstance(sandbox.charge(request), Accepted)  # the outage is over


def test_a_lost_answer_still_charged_and_a_retry_meets_the_same_charge(
    sandbox: SandboxProvider, clock: FakeClock
) -> None:
    sandbox.fail_next(1, Outage.TIMEOUT_AFTER_ACCEPT)
    request = _request(1, Method.CARD, CARD_SUCCEEDS)
    with pytest.raises(ProviderUnavailable):
        sandbox.charge(request)
    assert sandbox.events_waiting == 1
    assert sandbox.charge(request) == Accepted(f"sbx_{1:016x}")
    assert sandbox.events_waiting == 1


def test_a_full_event_queue_makes_the_provider_unavailable(
    sandbox: SandboxProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox_module, "SANDBOX_EVENTS_MAX", 4)
    sandbox.charge(_request(1, Method.CARRIER, PHONE_SUCCEEDS))  # two events
    with pytest.raises(ProviderUnavailable):
        sandbox.charge(_request(2, Method.CARRIER, PHONE_SUCCEEDS))
    assert sandbox.events_waiting == 2
    # A decline needs no room.
    assert isinstance(sandbox.charge(_request(3, Method.CARD, CARD_DECLINED)), Declined)


def test_the_oldest_charge_is_forgotten_first(
    sandbox: SandboxProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox_module, "SANDBOX_CHARGES_MAX", 2)
    for topup_id in (1, 2, 3):
        sandbox.charge(_request(topup_id, Method.CARD, CARD_DECLINED))
    # Charge 1 is forgotten: a changed request under its key is no longer recognised...
    changed = sandbox.charge(_request(1, Method.CARD, CARD_SUCCEEDS))
    assert isinstance(changed, Accepted)
    # ...while charge 3 is still remembered.
    again = sandbox.charge(_request(3, Method.CARD, CARD_SUCCEEDS))
    assert isinstance(again, Declined) and again.code == "idempotency_key_reused"


def test_due_events_hands_out_at_most_the_tick_bound(
    sandbox: SandboxProvider, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox_module, "PROVIDER_EVENTS_PER_TICK_MAX", 2)
    for topup_id in (1, 2, 3):
        sandbox.charge(_request(topup_id, Method.CARD, CARD_SUCCEEDS))
    clock.advance(2)
    assert len(sandbox.due_events(clock.now_ns(), 10)) == 2


# ------------------------------------------------------------------ instruments


def _luhn_complete(body: str) -> str:
    """``body`` with the check digit that makes it pass."""
    for digit in "0123456789":
        if luhn_valid(body + digit):
            return body + digit
    raise AssertionError("no check digit")


@given(st.text("0123456789", min_size=11, max_size=18), st.integers(0, 17), st.integers(1, 9))
def test_luhn_accepts_a_completed_number_and_catches_any_single_digit_change(
    body: str, position: int, change: int
) -> None:
    number = _luhn_complete(body)
    assert luhn_valid(number)
    index = position % len(number)
    changed = number[:index] + str((int(number[index]) + change) % 10) + number[index + 1 :]
    assert not luhn_valid(changed)


def test_the_documented_test_cards_pass_luhn() -> None:
    for card in (CARD_SUCCEEDS, CARD_DECLINED, CARD_INSUFFICIENT_FUNDS, CARD_CHARGED_BACK):
        assert luhn_valid(card)
    assert luhn_valid(CARD_FAILS_LATER)


@given(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True))
def test_e164_numbers_are_carrier_instruments(phone: str) -> None:
    assert instrument_problem(Method.CARRIER, phone) is None


@pytest.mark.parametrize(
    ("method", "instrument"),
    [
        (Method.CARRIER, "15555550100"),  # no +
        (Method.CARRIER, "+05555550100"),  # no country code starts with 0
        (Method.CARRIER, "+123456"),  # too short
        (Method.CARRIER, "+1234567890123456"),  # too long
        (Method.CARD, ""),
        (Method.CARD, "4242 4242 4242 4242"),
        (Method.CARD, "x" * 65),
        (Method.BANK_TRANSFER, "GB82 WEST"),
        (Method.CARD, 4242424242424242),
        (Method.CARD, None),
    ],
)
def test_malformed_instruments_are_named(method: Method, instrument: object) -> None:
    assert instrument_problem(method, instrument) is not None
