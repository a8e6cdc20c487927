"""Top-ups through the sandbox provider, on both stores: each method's life cycle, declines,
an unavailable provider and retries, idempotent events in any order, carrier money held
restricted until settled, chargebacks with and without shortfall, and tier limits."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from centime.clock import FakeClock
from centime.ledger import CreateTransferStatus, Transfer
from centime.ledger.units import UnitContext
from centime.platform.chart import OPERATOR, AccountKind, account_for, account_id, ensure_accounts
from centime.platform.config import NS_PER_DAY
from centime.platform.context import Operation, Platform
from centime.platform.errors import Code, Refusal
from centime.platform.funding.topups import (
    EventOutcome,
    TopUp,
    TopUpStatus,
    TopUpTransferCode,
    chargeback_split,
    create_topup,
    get_topup,
    handle_event,
    list_topups,
    process_provider_events,
    release_amount,
    retry_topup,
)
from centime.platform.ids import derive_id, format_id, new_id
from centime.platform.parties import Customer, Status, create_customer, set_customer
from centime.providers import (
    ChargedBack,
    ChargeFailed,
    ChargeSettled,
    ChargeSucceeded,
    Method,
    Outage,
    ProviderEvent,
    SandboxConfig,
    SandboxProvider,
)
from centime.providers.sandbox import (
    BANK_FAILS_LATER,
    BANK_SUCCEEDS,
    CARD_CHARGED_BACK,
    CARD_DECLINED,
    CARD_FAILS_LATER,
    CARD_INSUFFICIENT_FUNDS,
    CARD_SUCCEEDS,
    PHONE_CHARGED_BACK,
    PHONE_SUCCEEDS,
)
from centime.worker import Job, Worker

USD = 1_000_000  # one dollar at USD's scale 6
DAY_S = 86_400
SHOP = 4242  # the owner id of the merchant account the tests' spending goes to


@pytest.fixture
def sandbox(platform: Platform, clock: FakeClock) -> SandboxProvider:
    days = platform.config.carrier_settlement_days
    return SandboxProvider(clock, SandboxConfig(carrier_settlement_days=days))


def _customer(platform: Platform, tier: int = 1) -> Customer:
    made = platform.execute(create_customer(platform, "Ada", None, tier))
    assert isinstance(made, Customer)
    return made


def _balances(platform: Platform, customer_id: int, asset: str = "USD") -> tuple[int, int]:
    """(wallet, restricted) balances; zero for accounts not created yet."""
    wallet = account_id(AccountKind.CUSTOMER_WALLET, customer_id, asset)
    restricted = account_id(AccountKind.CUSTOMER_RESTRICTED, customer_id, asset)
    found = {a.id: a.balance for a in platform.ledger.lookup_accounts([wallet, restricted])}
    return found.get(wallet, 0), found.get(restricted, 0)


def _operator(platform: Platform, kind: AccountKind, asset: str = "USD") -> int:
    """An operator account's credits less its debits (zero when not created yet)."""
    found = platform.ledger.lookup_accounts([account_id(kind, OPERATOR, asset)])
    return found[0].balance if found else 0


def _topup(result: TopUp | Refusal) -> TopUp:
    assert isinstance(result, TopUp), result
    return result


def _top(
    platform: Platform,
    sandbox: SandboxProvider,
    customer_id: int,
    amount: int,
    method: str,
    instrument: str,
) -> TopUp:
    """A USD top-up that must not be refused."""
    return _topup(create_topup(platform, sandbox, customer_id, "USD", amount, method, instrument))


def _current(platform: Platform, topup: TopUp) -> TopUp:
    found = get_topup(platform, topup.id)
    assert found is not None
    return found


def _pump(
    platform: Platform, sandbox: SandboxProvider, clock: FakeClock, seconds: int
) -> list[EventOutcome]:
    clock.advance(seconds)
    return [r.outcome for r in process_provider_events(platform, sandbox)]


def _spend(platform: Platform, customer_id: int, kind: AccountKind, amount: int) -> int:
    """What a merchant payment does to the customer's side: move up to ``amount`` from one
    of the customer's accounts to a merchant's earnings. Returns what moved."""
    source = account_id(kind, customer_id, "USD")
    shop = account_for(AccountKind.MERCHANT_AVAILABLE, SHOP, "USD")

    def unit(ctx: UnitContext) -> int:
        ensure_accounts(ctx, [shop])
        found = ctx.accounts([source])
        moved = min(amount, found[source].available) if source in found else 0
        if moved > 0:
            (status,) = ctx.create_transfers([Transfer(new_id(), source, shop.id, moved, "USD", 7)])
            assert status is CreateTransferStatus.CREATED
        return moved

    return platform.execute(Operation(unit, 3))


def _row_count(platform: Platform) -> int:
    with platform.read() as fetch:
        return int(fetch("SELECT count(*) FROM topups", ())[0][0])


# ------------------------------------------------------------------ life cycles


def test_a_card_top_up_is_credited_when_the_provider_confirms(
    platform: Platform, sandbox: SandboxProvider, clock: FakeClock
) -> None:
    ada = _customer(platform)
    topup = _top(platform, sandbox, ada.id, 20 * USD, "card", CARD_SUCCEEDS)
    assert topup.status is TopUpStatus.PENDING and topup.provider_ref is not None
    assert not topup.awaiting_retry and topup.attempts == 1
    assert _balances(platform, ada.id) == (0, 0)  # nothing before the provider confirms
    assert _pump(platform, sandbox, clock, 1) == []
    assert _pump(platform, sandbox, clock, 1) == [EventOutcome.APPLIED]
    done = _current(platform, topup)
    assert done.status is TopUpStatus.SUCCEEDED and done.settles_at_ns is None
    assert _balances(platform, ada.id) == (20 * USD, 0)
    assert _operator(platform, AccountKind.FUNDING_CLEARING) == -20 * USD
    assert sandbox.events_waiting == 0  # acknowledged
    # The credit's id is derived from the top-up, and the transfer names it.
    (credit,) = platform.ledger.lookup_transfers([derive_id("topup", topup.id, "succeeded")])
    assert (credit.amount, credit.code, credit.user_data) == (
        20 * USD,
        TopUpTransferCode.CREDIT,
        topup.id,
    )


def test_a_bank_transfer_is_credited_a_day_later(
    platform: Platform, sandbox: SandboxProvider, clock: FakeClock
) -> None:
    ada = _customer(platform)
    topup = _top(platform, sandbox, ada.id, 5 * USD, "bank_transfer", BANK_SUCCEEDS)
    assert _pump(platform, sandbox, clock, DAY_S - 1) == []
    assert _current(platform, topup).status is TopUpStatus.PENDING
    assert _pump(platform, sandbox, clock, 1) == [EventOutcome.APPLIED]
    assert _current(platform, topup).status is TopUpStatus.SUCCEEDED
    assert _balances(platform, ada.id) == (5 * USD, 0)


@pytest.mark.parametrize(
    ("instrument", "code"),
    [(CARD_DECLINED, "card_declined"), (CARD_INSUFFICIENT_FUNDS, "insufficient_funds")],
)
def test_a_declined_top_up_is_recorded_declined_and_moves_nothing(
    platform: Platform, sandbox: SandboxProvider, clock: FakeClock, instrument: str, code: str
) -> None:
    ada = _customer(platform)
    topup = _topup(create_topup(platform, sandbox, ada.id, "USD", USD, Method.CARD, instrument))
    assert topup.status is TopUpStatus.DECLINED and topup.failure_code == code
    assert topup.failure_message
    assert _current(platform, topup) == topup
    assert _pump(platform, sandbox, clock, 30 * DAY_S) == []
    assert _balances(platform, ada.id) == (0, 0)


@pytest.mark.parametrize(
    ("method", "instrument", "wait_s", "code"),
    [
        (Method.CARD, CARD_FAILS_LATER, 2, "processing_error"),
        (Method.BANK_TRANSFER, BANK_FAILS_LATER, DAY_S, "account_closed"),
    ],
)
def test_an_accepted_charge_that_fails_later_is_failed_and_moves_nothing(
    platform: Platform,
    sandbox: SandboxProvider,
    clock: FakeClock,
    method: Method,
    instrument: str,
    wait_s: int,
    code: str,
) -> None:
    ada = _customer(platform)
    topup = _topup(create_topup(platform, sandbox, ada.id, "USD", USD, method, instrument))
    assert _pump(platform, sandbox, clock, wait_s) == [EventOutcome.APPLIED]
    failed = _current(platform, topup)
    assert failed.status is TopUpStatus.FAILED and failed.failure_code == code
    assert _balances(platform, ada.id) == (0, 0)


def test_an_unavailable_provider_leaves_the_top_up_pending_and_a_retry_completes_it(
    platform: Platform, sandbox: SandboxProvider, clock: FakeClock
) -> None:
    ada = _customer(platform)
    sandbox.fail_next(2)
    topup = _top(platform, sandbox, ada.id, 3 * USD, "card", CARD_SUCCEEDS)
    assert topup.status is TopUpStatus.PENDING and topup.awaiting_retry
    assert _pump(platform, sandbox, clock, 60) == []  # nothing was charged
    assert _balances(platform, ada.id) == (0, 0)
    again = _topup(retry_topup(platform, sandbox, topup.id))
    assert again.awaiting_retry and again.attempts == 2  # still down
    done = _topup(retry_topup(platform, sandbox, topup.id))
    assert done.provider_ref is not None and done.attempts == 3
    # Accepted now: a further retry charges nothing and says so.
    assert retry_topup(platform, sandbox, topup.id) == done
    assert _pump(platform, sandbox, clock, 2) == [EventOutcome.APPLIED]
    assert _current(platform, topup).status is TopUpStatus.SUCCEEDED
    assert _balances(platform, ada.id) == (3 * USD, 0)
    refused = retry_topup(platform, sandbox, topup.id)
    assert isinstance(refused, Refusal) and refused.code is Code.TOPUP_NOT_PENDING


def test_a_charge_accepted_behind_a_timeout_is_credited_once_by_its_event(
    platform: Platform, sandbox: SandboxProvider, clock: FakeClock
) -> None:
    ada = _customer(platform)
    sandbox.fail_next(1, Outage.TIMEOUT_AFTER_ACCEPT)
    topup = _top(platform, sandbox, ada.id, 4 * USD, "card", CARD_SUCCEEDS)
    assert topup.awaiting_retry
    # The provider's event names the top-up: it is matched without the lost answer.
    assert _pump(platform, sandbox, clock, 2) == [EventOutcome.APPLIED]
    done = _current(platform, topup)
    assert done.status is TopUpStatus.SUCCEEDED and done.provider_ref is not None
    refused = retry_topup(platform, sandbox, topup.id)
    assert isinstance(refused, Refusal) and refused.code is Code.TOPUP_NOT_PENDING
    assert _balances(platform, ada.id) == (4 * USD, 0)


def test_a_lost_answer_then_a_retry_is_one_charge(
    platform: Platform, sandbox: SandboxProvider, clock: FakeClock
) -> None:
    ada = _customer(platform)
    sandbox.fail_next(1, Outage.TIMEOUT_AFTER_ACCEPT)
    topup = _top(platform, sandbox, ada.id, 4 * USD, "card", CARD_SUCCEEDS)
    retried = _topup(retry_topup(platform, sandbox, topup.id))
    assert retried.provider_ref is not None
    assert _pump(platform, sandbox, clock, 2) == [EventOutcome.APPLIED]
    assert _balances(platform, ada.id) == (4 * USD, 0)


def test_a_top_up_created_again_under_its_id_is_the_same_top_up(
    platform: Platform, sandbox: SandboxProvider, clock: FakeClock
) -> None:
    ada = _customer(platform)
    sandbox.fail_next(1)
    args = (platform, sandbox, ada.id, "USD", 2 * USD, "card", CARD_SUCCEEDS)
    first = _topup(create_topup(*args, topup_id=77))
    assert first.id == 77 and first.awaiting_retry
    # The client retries after our timeout: the provider is charged again, once.
    again = _topup(create_topup(*args, topup_id=77))
    assert again.id == 77 and again.provider_ref is not None and again.attempts == 2
    assert create_topup(*args, topup_id=77) == again  # accepted: nothing more to do
    other = create_topup(platform, sandbox, ada.id, "USD", 3 * USD, "card", CARD_SUCCEEDS, 77)
    assert isinstance(other, Refusal) and other.code is Code.INVALID_REQUEST
    assert _pump(platform, sandbox, clock, 2) == [EventOutcome.APPLIED]
    assert _row_count(platform) == 1 and _balances(platform, ada.id) == (2 * USD, 0)


def test_retries_are_bounded(
    platform: Platform, sandbox: SandboxProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("centime.platform.funding.topups.TOPUP_CHARGE_ATTEMPTS_MAX", 3)
    ada = _customer(platform)
    sandbox.fail_next(100)
    topup = _top(platform, sandbox, ada.id, USD, "card", CARD_SUCCEEDS)
    for attempts in (2, 3):
        assert _topup(retry_topup(platform, sandbox, topup.id)).attempts == attempts
    refused = retry_topup(platform, sandbox, topup.id)
    assert isinstance(refused, Refusal) and refused.code is Code.PROVIDER_UNAVAILABLE
    assert _current(platform, topup).attempts == 3


def test_retry_of_an_unknown_top_up_is_refused(
    platform: Platform, sandbox: SandboxProvider
) -> None:
    refused = retry_topup(platform, sandbox, 12345)
    assert isinstance(refused, Refusal) and refused.code is Code.TOPUP_NOT_FOUND


# ------------------------------------------------------------------ idempotent events


def test_every_event_delivered_twice_changes_nothing_the_second_time(
    platform: Platform, sandbox: SandboxProvider, clock: FakeClock
) -> None:
    ada = _customer(platform)
    card = _top(platform, sandbox, ada.id, 7 * USD, "card", CARD_CHARGED_BACK)
    phone = _top(platform, sandbox, ada.id, 9 * USD, "carrier", PHONE_SUCCEEDS)
    clock.advance(31 * DAY_S)
    events = sandbox.due_events(clock.now_ns(), 100)  # not acknowledged: delivered again
    assert len(events) == 4
    first = [handle_event(platform, e).outcome for e in events]
    assert first == [EventOutcome.APPLIED] * 4
    after = (_balances(platform, ada.id), _current(platform, card), _current(platform, phone))
    again = process_provider_events(platform, sandbox)
    assert [r.outcome for r in again] == [EventOutcome.DUPLICATE] * 4
    assert (_balances(platform, ada.id), _current(platform, card), _current(platform, phone)) == (
        after
    )
    assert sandbox.events_waiting == 0


def test_events_for_no_top_up_or_malformed_ones_change_nothing(
    platform: Platform, sandbox: SandboxProvider, clock: FakeClock
) -> None:
    ada = _customer(platform)
    topup = _top(platform, sandbox, ada.id, USD, "card", CARD_SUCCEEDS)
    ref = topup.provider_ref
    assert ref is not None
    cases: list[tuple[ProviderEvent, EventOutcome]] = [
        (ChargeSucceeded("sandbox", "e1", 999, ref), EventOutcome.UNKNOWN),
        (ChargeSucceeded("elsewhere", "e2", topup.id, ref), EventOutcome.UNKNOWN),
        (ChargeSucceeded("sandbox", "e3", topup.id, "sbx_other"), EventOutcome.IGNORED),
        (ChargeSucceeded("sandbox", "e4", topup.id, ""), EventOutcome.IGNORED),
        (ChargedBack("sandbox", "e5", topup.id, ref, 0), EventOutcome.IGNORED),
        (ChargedBack("sandbox", "e6", topup.id, ref, USD + 1), EventOutcome.IGNORED),
        (ChargeSettled("sandbox", "e7", topup.id, ref), EventOutcome.IGNORED),  # not carrier
    ]
    # A top-up the provider never answered for cannot take another top-up's reference.
    sandbox.fail_next(1)
    lost = _top(platform, sandbox, ada.id, USD, "card", CARD_SUCCEEDS)
    cases.append((ChargeSucceeded("sandbox", "e8", lost.id, ref), EventOutcome.IGNORED))
    for case, outcome in cases:
        assert handle_event(platform, case).outcome is outcome, case
    assert _current(platform, topup) == topup and _current(platform, lost) == lost
    assert _balances(platform, ada.id) == (0, 0)


def test_contradicting_events_after_the_outcome_are_ignored(
    platform: Platform, sandbox: SandboxProvider
) -> None:
    ada = _customer(platform)
    topup = _top(platform, sandbox, ada.id, USD, "card", CARD_SUCCEEDS)
    ref = topup.provider_ref
    assert ref is not None
    ok = handle_event(platform, ChargeSucceeded("sandbox", "a", topup.id, ref))
    assert ok.outcome is EventOutcome.APPLIED
    late = handle_event(platform, ChargeFailed("sandbox", "b", topup.id, ref, "oops"))
    assert late.outcome is EventOutcome.IGNORED
    assert _current(platform, topup).status is TopUpStatus.SUCCEEDED
    declined = _top(platform, sandbox, ada.id, USD, "card", CARD_DECLINED)
    success = ChargeSucceeded("sandbox", "c", declined.id, f"sbx_{declined.id:016x}")
    assert handle_event(platform, success).outcome is EventOutcome.IGNORED
    assert _balances(platform, ada.id) == (USD, 0)


# ------------------------------------------------------------------ carrier money


def test_carrier_money_stays_restricted_until_the_carrier_settles(
    platform: Platform, sandbox: SandboxProvider, clock: FakeClock
) -> None:
    ada = _customer(platform)
    topup = _top(platform, sandbox, ada.id, 8 * USD, "carrier", PHONE_SUCCEEDS)
    assert topup.restricted
    assert _pump(platform, sandbox, clock, 5) == [EventOutcome.APPLIED]
    credited = _current(platform, topup)
    days = platform.config.carrier_settlement_days
    assert credited.status is TopUpStatus.SUCCEEDED and credited.settled_ns is None
    assert credited.settles_at_ns == credited.updated_ns + days * NS_PER_DAY
    # Only the restricted balance holds it: nothing can send or pay out what is not there.
    assert _balances(platform, ada.id) == (0, 8 * USD)
    assert _pump(platform, sandbox, clock, days * DAY_S - 1) == []
    assert _balances(platform, ada.id) == (0, 8 * USD)
    assert _pump(platform, sandbox, clock, 1) == [EventOutcome.APPLIED]
    settled = _current(platform, topup)
    assert settled.settled_ns is not None and settled.released == 8 * USD
    assert _balances(platform, ada.id) == (8 * USD, 0)


def test_settlement_releases_what_is_left_after_spending_on_merchants(
    platform: Platform, sandbox: SandboxProvider, clock: FakeClock
) -> None:
    ada = _customer(platform)
    first = _top(platform, sandbox, ada.id, 10 * USD, "carrier", PHONE_SUCCEEDS)
    second = _top(platform, sandbox, ada.id, 10 * USD, "carrier", PHONE_SUCCEEDS)
    _pump(platform, sandbox, clock, 5)
    assert _spend(platform, ada.id, AccountKind.CUSTOMER_RESTRICTED, 15 * USD) == 15 * USD
    assert _balances(platform, ada.id) == (0, 5 * USD)
    _pump(platform, sandbox, clock, platform.config.carrier_settlement_days * DAY_S)
    # The first settlement releases all that is left (5), the second finds nothing.
    released = sorted(_current(platform, t).released for t in (first, second))
    assert released == [0, 5 * USD]
    assert _balances(platform, ada.id) == (5 * USD, 0)


def test_a_carrier_chargeback_before_settlement_takes_the_restricted_money(
    platform: Platform, sandbox: SandboxProvider, clock: FakeClock
) -> None:
    ada = _customer(platform)
    topup = _top(platform, sandbox, ada.id, 6 * USD, "carrier", PHONE_CHARGED_BACK)
    _pump(platform, sandbox, clock, 5)
    assert _balances(platform, ada.id) == (0, 6 * USD)
    _pump(platform, sandbox, clock, 3 * DAY_S)
    done = _current(platform, topup)
    assert done.status is TopUpStatus.CHARGED_BACK and done.charged_back == 6 * USD
    assert (done.chargeback_restricted, done.chargeback_wallet, done.chargeback_loss) == (
        6 * USD,
        0,
        0,
    )
    assert _balances(platform, ada.id) == (0, 0)
    assert _operator(platform, AccountKind.FUNDING_CLEARING) == 0


# ------------------------------------------------------------------ chargebacks


def test_a_chargeback_the_customer_can_cover(
    platform: Platform, sandbox: SandboxProvider, clock: FakeClock
) -> None:
    ada = _customer(platform)
    topup = _top(platform, sandbox, ada.id, 5 * USD, "card", CARD_CHARGED_BACK)
    _pump(platform, sandbox, clock, 2)
    assert _balances(platform, ada.id) == (5 * USD, 0)
    _pump(platform, sandbox, clock, 3 * DAY_S)
    done = _current(platform, topup)
    assert done.status is TopUpStatus.CHARGED_BACK
    assert (done.charged_back, done.chargeback_wallet, done.chargeback_loss) == (
        5 * USD,
        5 * USD,
        0,
    )
    assert _balances(platform, ada.id) == (0, 0)
    assert _operator(platform, AccountKind.CHARGEBACK_LOSSES) == 0
    # The chargeback is a fraud label on the top-up (the risk engine's label feedback).
    with platform.read() as fetch:
        labels = fetch("SELECT source, external_id, payer, label FROM risk_labels", ())
    assert labels == [("chargeback", f"topup:{topup.id}", format_id("cus", ada.id), "fraud")]


def test_a_chargeback_takes_what_is_there_and_books_the_shortfall_as_a_loss(
    platform: Platform, sandbox: SandboxProvider, clock: FakeClock
) -> None:
    ada = _customer(platform)
    card = _top(platform, sandbox, ada.id, 5 * USD, "card", CARD_CHARGED_BACK)
    _top(platform, sandbox, ada.id, 2 * USD, "carrier", PHONE_SUCCEEDS)
    _pump(platform, sandbox, clock, 5)
    assert _spend(platform, ada.id, AccountKind.CUSTOMER_WALLET, 4 * USD) == 4 * USD
    assert _spend(platform, ada.id, AccountKind.CUSTOMER_RESTRICTED, USD) == USD
    assert _balances(platform, ada.id) == (USD, USD)
    _pump(platform, sandbox, clock, 3 * DAY_S)
    done = _current(platform, card)
    # Wallet first (a card top-up's money sits there), then restricted, then the loss.
    assert (done.chargeback_wallet, done.chargeback_restricted, done.chargeback_loss) == (
        USD,
        USD,
        3 * USD,
    )
    assert done.charged_back == 5 * USD
    assert _balances(platform, ada.id) == (0, 0)
    assert _operator(platform, AccountKind.CHARGEBACK_LOSSES) == -3 * USD
    # The provider took all 5 back: clearing holds what the customer still owes it, nothing.
    assert _operator(platform, AccountKind.FUNDING_CLEARING) == -2 * USD


def test_events_out_of_order_apply_what_they_imply(
    platform: Platform, sandbox: SandboxProvider
) -> None:
    ada = _customer(platform)
    phone = _top(platform, sandbox, ada.id, 3 * USD, "carrier", PHONE_SUCCEEDS)
    card = _top(platform, sandbox, ada.id, 2 * USD, "card", CARD_SUCCEEDS)
    assert phone.provider_ref is not None and card.provider_ref is not None
    # A settlement before the success: the carrier cannot settle what it never collected.
    settle = ChargeSettled("sandbox", "s", phone.id, phone.provider_ref)
    assert handle_event(platform, settle).outcome is EventOutcome.APPLIED
    assert _balances(platform, ada.id) == (3 * USD, 0)
    late = ChargeSucceeded("sandbox", "t", phone.id, phone.provider_ref)
    assert handle_event(platform, late).outcome is EventOutcome.DUPLICATE
    # A chargeback before the success likewise.
    back = ChargedBack("sandbox", "u", card.id, card.provider_ref, USD)
    assert handle_event(platform, back).outcome is EventOutcome.APPLIED
    assert _current(platform, card).status is TopUpStatus.CHARGED_BACK
    assert _balances(platform, ada.id) == (4 * USD, 0)


# ------------------------------------------------------------------ limits and bad input


def test_the_daily_top_up_limit_refuses_and_changes_nothing(
    platform: Platform, sandbox: SandboxProvider, clock: FakeClock
) -> None:
    ada = _customer(platform, tier=0)  # 100 a day, 250 at most
    _top(platform, sandbox, ada.id, 60 * USD, "card", CARD_SUCCEEDS)
    declined = _top(platform, sandbox, ada.id, 40 * USD, "card", CARD_DECLINED)
    assert declined.status is TopUpStatus.DECLINED  # declined top-ups do not count
    rows, waiting = _row_count(platform), sandbox.events_waiting
    refused = create_topup(platform, sandbox, ada.id, "USD", 41 * USD, "card", CARD_SUCCEEDS)
    assert isinstance(refused, Refusal) and refused.code is Code.TIER_LIMIT_EXCEEDED
    assert (_row_count(platform), sandbox.events_waiting) == (rows, waiting)
    _top(platform, sandbox, ada.id, 40 * USD, "card", CARD_SUCCEEDS)
    # The next UTC day starts afresh.
    clock.advance(DAY_S)
    _top(platform, sandbox, ada.id, 100 * USD, "card", CARD_SUCCEEDS)


def test_the_balance_limit_counts_money_held_and_accepted_top_ups(
    platform: Platform, sandbox: SandboxProvider, clock: FakeClock
) -> None:
    ada = _customer(platform, tier=0)
    for _ in range(2):
        _top(platform, sandbox, ada.id, 100 * USD, "card", CARD_SUCCEEDS)
        _pump(platform, sandbox, clock, DAY_S)
    assert _balances(platform, ada.id) == (200 * USD, 0)
    refused = create_topup(platform, sandbox, ada.id, "USD", 51 * USD, "carrier", PHONE_SUCCEEDS)
    assert isinstance(refused, Refusal) and refused.code is Code.TIER_LIMIT_EXCEEDED
    _top(platform, sandbox, ada.id, 50 * USD, "carrier", PHONE_SUCCEEDS)
    clock.advance(DAY_S)  # a new day, but the accepted 50 still waits for its event
    refused = create_topup(platform, sandbox, ada.id, "USD", USD, "card", CARD_SUCCEEDS)
    assert isinstance(refused, Refusal) and refused.code is Code.TIER_LIMIT_EXCEEDED


@pytest.mark.parametrize(
    ("asset", "amount", "method", "instrument", "code"),
    [
        ("XXX", USD, "card", CARD_SUCCEEDS, Code.UNKNOWN_ASSET),
        ("USD", 0, "card", CARD_SUCCEEDS, Code.INVALID_AMOUNT),
        ("USD", -5, "card", CARD_SUCCEEDS, Code.INVALID_AMOUNT),
        ("USD", 2**63, "card", CARD_SUCCEEDS, Code.INVALID_AMOUNT),
        ("USD", 1.5, "card", CARD_SUCCEEDS, Code.INVALID_AMOUNT),
        ("USD", True, "card", CARD_SUCCEEDS, Code.INVALID_AMOUNT),
        ("USD", "100", "card", CARD_SUCCEEDS, Code.INVALID_AMOUNT),
        ("USD", USD, "cash", CARD_SUCCEEDS, Code.INVALID_REQUEST),
        ("USD", USD, "carrier", CARD_SUCCEEDS, Code.INVALID_REQUEST),
        ("USD", USD, "card", "", Code.INVALID_REQUEST),
    ],
)
def test_bad_input_is_refused_before_anything_is_recorded_or_charged(
    platform: Platform,
    sandbox: SandboxProvider,
    asset: str,
    amount: int,
    method: str,
    instrument: str,
    code: Code,
) -> None:
    ada = _customer(platform)
    refused = create_topup(platform, sandbox, ada.id, asset, amount, method, instrument)
    assert isinstance(refused, Refusal) and refused.code is code
    assert _row_count(platform) == 0 and sandbox.events_waiting == 0


def test_unknown_and_frozen_customers_are_refused(
    platform: Platform, sandbox: SandboxProvider
) -> None:
    unknown = create_topup(platform, sandbox, 777, "USD", USD, "card", CARD_SUCCEEDS)
    assert isinstance(unknown, Refusal) and unknown.code is Code.CUSTOMER_NOT_FOUND
    ada = _customer(platform)
    platform.execute(set_customer(platform, ada.id, Status.FROZEN))
    frozen = create_topup(platform, sandbox, ada.id, "USD", USD, "card", CARD_SUCCEEDS)
    assert isinstance(frozen, Refusal) and frozen.code is Code.CUSTOMER_FROZEN
    assert _row_count(platform) == 0 and sandbox.events_waiting == 0


# ------------------------------------------------------------------ reads and the loop


def test_listing_pages_through_a_customers_top_ups_newest_first(
    platform: Platform, sandbox: SandboxProvider, clock: FakeClock
) -> None:
    ada, eve = _customer(platform), _customer(platform)
    made = []
    for index in range(5):
        made.append(_top(platform, sandbox, ada.id, USD, "card", CARD_SUCCEEDS))
        if index % 2:
            clock.advance(1)
    _top(platform, sandbox, eve.id, USD, "card", CARD_SUCCEEDS)
    seen: list[TopUp] = []
    page = list_topups(platform, ada.id, None, 2)
    while True:
        assert len(page.items) <= 2
        seen.extend(page.items)
        if page.next_cursor is None:
            break
        page = list_topups(platform, ada.id, page.next_cursor, 2)
    assert [t.id for t in seen] == [
        t.id for t in sorted(made, key=lambda t: (t.created_ns, t.id), reverse=True)
    ]
    assert {t.id for t in seen} == {t.id for t in made}
    assert seen[0] == get_topup(platform, seen[0].id)


@pytest.fixture
def running_worker(platform: Platform, sandbox: SandboxProvider) -> Iterator[Worker]:
    """The provider's events as the worker runs them (centime.worker.default_jobs)."""
    events = Job("provider.events", 0.05, lambda p: process_provider_events(p, sandbox))
    worker = Worker(platform, [events], poll_s=0.01)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


def _wait_for(condition: Callable[[], bool]) -> bool:
    """Poll ``condition`` (a background thread's work) for a generous while."""
    done = threading.Event()
    for _ in range(2000):
        if condition():
            return True
        done.wait(0.01)
    return condition()


def test_the_worker_handles_due_events_in_the_background_and_stops(
    platform: Platform,
    sandbox: SandboxProvider,
    clock: FakeClock,
    running_worker: Worker,
) -> None:
    ada = _customer(platform)
    topup = _top(platform, sandbox, ada.id, USD, "card", CARD_SUCCEEDS)
    clock.advance(2)
    assert _wait_for(lambda: _current(platform, topup).status is TopUpStatus.SUCCEEDED)
    running_worker.stop()
    assert running_worker.tick() == []  # stopped: it runs nothing more
    assert _balances(platform, ada.id) == (USD, 0)


# ------------------------------------------------------------------ pure rules


@given(st.integers(1, 10**12), st.integers(-(10**12), 10**12), st.integers(-(10**12), 10**12))
def test_a_chargeback_split_takes_what_is_there_in_order(
    amount: int, first: int, second: int
) -> None:
    take_first, take_second, loss = chargeback_split(amount, first, second)
    assert take_first + take_second + loss == amount
    assert 0 <= take_first <= max(first, 0) and 0 <= take_second <= max(second, 0)
    assert loss >= 0
    # Nothing is booked as a loss while either account still had money to give.
    assert take_first == min(amount, max(first, 0))
    assert loss == 0 or take_second == max(second, 0)


@given(st.integers(1, 10**12), st.integers(0, 10**12), st.integers(-(10**12), 10**12))
def test_a_release_never_exceeds_what_was_settled_nor_what_is_there(
    amount: int, charged_back: int, restricted: int
) -> None:
    charged_back = min(charged_back, amount)
    released = release_amount(amount, charged_back, restricted)
    assert 0 <= released <= amount - charged_back
    assert released <= max(restricted, 0)
    assert released == min(amount - charged_back, max(restricted, 0))


# ------------------------------------------------------------------ the property


# Weighted: successes come most often, failures seldom (they end a top-up's story).
_KINDS = ("succeeded",) * 3 + ("failed",) + ("settled",) * 2 + ("chargeback",) * 3
Step = tuple[str, int, int]
Scenario = tuple[list[tuple[bool, int]], list[Step], list[Step]]


@st.composite
def _scenarios(draw: st.DrawFn) -> Scenario:
    """Top-ups (carrier?, whole dollars), the steps in the order they happen (deliver event
    i, or spend tenths of a dollar from either balance) and the events (kind, top-up index,
    chargeback in percent of the top-up: above 100 is refused). Every event is delivered at
    least once; some again, anywhere."""
    topups = draw(st.lists(st.tuples(st.booleans(), st.integers(1, 10)), min_size=1, max_size=4))
    events = draw(
        st.lists(
            st.tuples(
                st.sampled_from(_KINDS), st.integers(0, len(topups) - 1), st.integers(1, 105)
            ),
            min_size=1,
            max_size=8,
        )
    )
    index = st.integers(0, len(events) - 1)
    again = draw(st.lists(st.tuples(st.just("event"), index, st.just(0)), max_size=6))
    spend = st.sampled_from(("spend_wallet", "spend_restricted"))
    tenths = st.one_of(st.integers(1, 100), st.just(10**6))  # some spend all there is
    spends = draw(st.lists(st.tuples(spend, st.just(0), tenths), max_size=6))
    once = [("event", i, 0) for i in range(len(events))]
    steps = draw(st.permutations(once + again + spends))
    return topups, steps, events


def _make_event(spec: tuple[str, int, int], topup: TopUp, index: int) -> ProviderEvent:
    kind, _, amount = spec
    ref = topup.provider_ref
    assert ref is not None
    event_id = f"evt_{index}"
    if kind == "succeeded":
        return ChargeSucceeded("sandbox", event_id, topup.id, ref)
    if kind == "failed":
        return ChargeFailed("sandbox", event_id, topup.id, ref, "processing_error")
    if kind == "settled":
        return ChargeSettled("sandbox", event_id, topup.id, ref)
    return ChargedBack("sandbox", event_id, topup.id, ref, max(1, topup.amount * amount // 100))


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=_scenarios())
def test_the_ledger_says_what_the_top_up_rows_say_whatever_the_events_order(
    platform: Platform, sandbox: SandboxProvider, scenario: Scenario
) -> None:
    topup_specs, steps, event_specs = scenario
    ada = _customer(platform, tier=2)
    clearing_before = _operator(platform, AccountKind.FUNDING_CLEARING)
    losses_before = _operator(platform, AccountKind.CHARGEBACK_LOSSES)
    topups = [
        _topup(
            create_topup(
                platform,
                sandbox,
                ada.id,
                "USD",
                amount * USD,
                *(("carrier", PHONE_SUCCEEDS) if carrier else ("card", CARD_SUCCEEDS)),
            )
        )
        for carrier, amount in topup_specs
    ]
    events = [_make_event(spec, topups[spec[1]], i) for i, spec in enumerate(event_specs)]
    spent = {"spend_wallet": 0, "spend_restricted": 0}
    kinds = {
        "spend_wallet": AccountKind.CUSTOMER_WALLET,
        "spend_restricted": AccountKind.CUSTOMER_RESTRICTED,
    }
    for step, index, amount in steps:
        if step == "event":
            handle_event(platform, events[index])
        else:
            spent[step] += _spend(platform, ada.id, kinds[step], amount * USD // 10)

    rows = [_current(platform, t) for t in topups]
    wallet, restricted = _balances(platform, ada.id)
    credited_card = sum(r.credited for r in rows if not r.restricted)
    credited_carrier = sum(r.credited for r in rows if r.restricted)
    released = sum(r.released for r in rows)
    assert wallet == (
        credited_card + released - sum(r.chargeback_wallet for r in rows) - spent["spend_wallet"]
    )
    assert restricted == (
        credited_carrier
        - released
        - sum(r.chargeback_restricted for r in rows)
        - spent["spend_restricted"]
    )
    for row in rows:
        parts = row.chargeback_restricted + row.chargeback_wallet + row.chargeback_loss
        assert row.charged_back == parts <= row.amount
        assert 0 <= row.released <= row.amount
        assert (row.status is TopUpStatus.CHARGED_BACK) == (row.charged_back > 0)
        assert row.settled_ns is None or (row.restricted and row.credited)
        assert row.released == 0 or row.settled_ns is not None
    # What the examples cover (shown by --hypothesis-show-statistics).
    event(f"chargeback shortfall: {any(r.chargeback_loss for r in rows)}")
    event(f"partial release: {any(0 < r.released < r.amount for r in rows)}")
    event(f"settled carrier: {any(r.settled_ns for r in rows)}")
    credited = credited_card + credited_carrier
    charged_back = sum(r.charged_back for r in rows)
    assert _operator(platform, AccountKind.FUNDING_CLEARING) - clearing_before == (
        charged_back - credited
    )
    losses = sum(r.chargeback_loss for r in rows)
    assert _operator(platform, AccountKind.CHARGEBACK_LOSSES) - losses_before == -losses
    # Delivering everything once more changes nothing.
    for delivered in events:
        assert handle_event(platform, delivered).outcome is not EventOutcome.APPLIED
    assert [_current(platform, t) for t in topups] == rows
    assert _balances(platform, ada.id) == (wallet, restricted)
