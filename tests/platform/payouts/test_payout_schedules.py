"""Scheduled payouts: which schedules are due, the reserve and the minimum, and the run as
one idempotent job (twice, concurrently, and after a crash between reserve and rail call)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from centime.clock import FakeClock
from centime.platform.chart import OPERATOR, AccountKind
from centime.platform.context import Platform
from centime.platform.errors import Code, Refusal
from centime.platform.payouts import schedules as payout_schedules
from centime.platform.payouts.schedules import (
    Frequency,
    PayoutSchedule,
    day_of,
    get_schedule,
    is_due,
    next_payout_date,
    reserve_held,
    run_scheduled_payouts,
    scheduled_amount,
    scheduled_payout_id,
    set_schedule,
)
from centime.platform.payouts.service import PayoutStatus, get_payout, recover_payouts
from centime.providers.payout_sandbox import SandboxPayoutRail

from ..payout_world import earn, install_rail, paid_merchant
from ..world import balance
from .test_payouts import available, events_of, payout_snapshot, settle

USD = "USD"


@pytest.fixture
def rail(platform: Platform, clock: FakeClock) -> SandboxPayoutRail:
    return install_rail(platform, clock)


def schedule(
    platform: Platform, merchant_id: int, frequency: Frequency, **fields: int
) -> PayoutSchedule:
    made = platform.execute(
        set_schedule(platform, PayoutSchedule(merchant_id, USD, frequency, **fields))
    )
    assert isinstance(made, PayoutSchedule), made
    return made


def test_a_run_pays_due_schedules_once(
    platform: Platform, clock: FakeClock, rail: SandboxPayoutRail
) -> None:
    daily, _ = paid_merchant(platform, clock, earned=50_000_000)
    weekly, _ = paid_merchant(platform, clock, earned=40_000_000)
    other_day, _ = paid_merchant(platform, clock, earned=30_000_000)
    today = day_of(clock.now_ns())
    schedule(platform, daily.id, Frequency.DAILY)
    schedule(platform, weekly.id, Frequency.WEEKLY, weekday=today.weekday())
    schedule(platform, other_day.id, Frequency.WEEKLY, weekday=(today.weekday() + 1) % 7)
    report = run_scheduled_payouts(platform, clock.now_ns())
    assert (report.date, report.due, report.existing, report.done) == (
        today.isoformat(),
        2,
        0,
        True,
    )
    assert sorted(report.created) == sorted(
        scheduled_payout_id(m.id, USD, today) for m in (daily, weekly)
    )
    before = payout_snapshot(platform)
    again = run_scheduled_payouts(platform, clock.now_ns())
    assert (again.created, again.existing) == ([], 2)
    assert payout_snapshot(platform) == before
    settle(platform, clock)
    for payout_id in report.created:
        payout = get_payout(platform, payout_id)
        assert payout is not None and payout.status is PayoutStatus.PAID
        assert payout.amount in (50_000_000, 40_000_000)
        assert rail.sends(payout_id) == 1
        assert events_of(platform, payout_id).count("payout.paid") == 1
    assert balance(platform, AccountKind.PAYOUT_CLEARING, OPERATOR, USD) == 90_000_000
    assert available(platform, other_day.id) == 30_000_000


def test_concurrent_runs_pay_once(
    platform: Platform, clock: FakeClock, rail: SandboxPayoutRail
) -> None:
    shops = [paid_merchant(platform, clock, earned=10_000_000)[0] for _ in range(3)]
    for shop in shops:
        schedule(platform, shop.id, Frequency.DAILY)
    now = clock.now_ns()
    reports = []
    threads = [
        threading.Thread(target=lambda: reports.append(run_scheduled_payouts(platform, now)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(len(r.created) for r in reports) == 3
    assert sum(r.existing for r in reports) == 6
    settle(platform, clock)
    assert balance(platform, AccountKind.PAYOUT_CLEARING, OPERATOR, USD) == 30_000_000
    for shop in shops:
        payout_id = scheduled_payout_id(shop.id, USD, day_of(now))
        assert events_of(platform, payout_id).count("payout.paid") == 1
        assert available(platform, shop.id) == 0


def test_a_crash_between_reserve_and_rail_is_recovered_without_paying_twice(
    platform: Platform, clock: FakeClock, rail: SandboxPayoutRail, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop, _ = paid_merchant(platform, clock, earned=20_000_000)
    schedule(platform, shop.id, Frequency.DAILY)

    def crash(*args: object, **kwargs: object) -> None:
        raise SystemExit("the process died after the reserve committed")

    monkeypatch.setattr(payout_schedules, "send_payout", crash)
    with pytest.raises(SystemExit):
        run_scheduled_payouts(platform, clock.now_ns())
    monkeypatch.undo()
    payout_id = scheduled_payout_id(shop.id, USD, day_of(clock.now_ns()))
    reserved = get_payout(platform, payout_id)
    assert reserved is not None and reserved.status is PayoutStatus.REQUESTED
    assert rail.sends(payout_id) == 0 and available(platform, shop.id) == 0
    # The run again (a restarted worker) does not pay it a second time.
    again = run_scheduled_payouts(platform, clock.now_ns())
    assert (again.created, again.existing) == ([], 1)
    [recovered] = recover_payouts(platform)
    assert recovered.status is PayoutStatus.PENDING
    assert recover_payouts(platform) == []
    settle(platform, clock)
    assert rail.sends(payout_id) == 1
    assert balance(platform, AccountKind.PAYOUT_CLEARING, OPERATOR, USD) == 20_000_000
    assert events_of(platform, payout_id).count("payout.paid") == 1


def test_the_reserve_and_the_minimum(
    platform: Platform, clock: FakeClock, rail: SandboxPayoutRail
) -> None:
    shop, _ = paid_merchant(platform, clock, earned=60_000_000)  # earned two days ago
    clock.advance(86_400)
    earn(platform, shop.id, 40_000_000)  # today: within reserve_days
    # 10% of the last 1 day's earnings (40.00) stays: 4.00; 96.00 is paid.
    schedule(platform, shop.id, Frequency.DAILY, reserve_bp=1_000, reserve_days=1)
    [payout_id] = run_scheduled_payouts(platform, clock.now_ns()).created
    payout = get_payout(platform, payout_id)
    assert payout is not None and payout.amount == 96_000_000
    assert available(platform, shop.id) == 4_000_000
    # Tomorrow 4.00 is free, but under a minimum of 5.00: nothing is paid, nothing changes.
    clock.advance(86_400)
    schedule(platform, shop.id, Frequency.DAILY, minimum_amount=5_000_000)
    before = payout_snapshot(platform)
    report = run_scheduled_payouts(platform, clock.now_ns())
    assert (report.due, report.skipped, report.created) == (1, 1, [])
    assert payout_snapshot(platform) == before


def test_bad_schedules_are_refused(
    platform: Platform, clock: FakeClock, rail: SandboxPayoutRail
) -> None:
    shop, _ = paid_merchant(platform, clock)
    before = payout_snapshot(platform)
    for fields, code in (
        ({"weekday": 7}, Code.INVALID_REQUEST),
        ({"month_day": 29}, Code.INVALID_REQUEST),
        ({"reserve_bp": 10_001}, Code.INVALID_REQUEST),
        ({"reserve_days": -1}, Code.INVALID_REQUEST),
        ({"minimum_amount": -1}, Code.INVALID_AMOUNT),
        ({"method_id": 42}, Code.PAYOUT_METHOD_NOT_FOUND),
    ):
        made = platform.execute(
            set_schedule(platform, PayoutSchedule(shop.id, USD, Frequency.WEEKLY, **fields))
        )
        assert isinstance(made, Refusal) and made.code is code, fields
    made = platform.execute(set_schedule(platform, PayoutSchedule(shop.id, "XXX", Frequency.DAILY)))
    assert isinstance(made, Refusal) and made.code is Code.UNKNOWN_ASSET
    made = platform.execute(set_schedule(platform, PayoutSchedule(99, USD, Frequency.DAILY)))
    assert isinstance(made, Refusal) and made.code is Code.MERCHANT_NOT_FOUND
    assert payout_snapshot(platform) == before
    assert get_schedule(platform, shop.id, USD) is None


# ------------------------------------------------------------------ pure parts

frequencies = st.sampled_from(list(Frequency))
dates = st.dates(dt.date(2020, 1, 1), dt.date(2040, 12, 31))


@settings(max_examples=200)
@given(frequencies, st.integers(0, 6), st.integers(1, 28), dates)
def test_the_next_date_is_the_first_due_one(
    frequency: Frequency, weekday: int, month_day: int, first: dt.date
) -> None:
    s = PayoutSchedule(1, USD, frequency, weekday, month_day, 0, 0, 0, None, 0)
    found = next_payout_date(s, first)
    assert is_due(s, found) and found >= first
    assert not any(is_due(s, first + dt.timedelta(days=d)) for d in range((found - first).days))


@settings(max_examples=200)
@given(
    st.integers(0, 10**15),
    st.integers(0, 10**15),
    st.integers(0, 10_000),
    st.integers(0, 10**15),
    st.integers(0, 10**15),
)
def test_a_run_never_pays_into_the_reserve_or_past_the_limit(
    available_: int, earned: int, reserve_bp: int, room: int, minimum: int
) -> None:
    held = reserve_held(earned, reserve_bp)
    assert held * 10_000 >= earned * reserve_bp > (held - 1) * 10_000 or held == 0
    amount = scheduled_amount(available_, held, room, minimum)
    assert amount == 0 or (minimum <= amount <= min(available_ - held, room) and amount >= 1)
