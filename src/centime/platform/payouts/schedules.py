"""Scheduled payouts: each merchant's earnings paid out for free on its schedule.

A schedule (per merchant and asset) says when: ``daily``, ``weekly`` on a weekday (0 Monday
.. 6 Sunday) or ``monthly`` on a day of the month (1..28, so that every month has it); the
least amount worth a payout (``minimum_amount``); and a reserve held back for refunds and
chargebacks: ``reserve_bp`` of what the merchant earned in the last ``reserve_days``.

What a run pays a merchant on its date (all integers in the asset's scale)::

    earned_recent = SUM(payments.amount - payments.fee)     of the merchant's payments in
                    the asset created at or after now - reserve_days days
    held          = ceil(earned_recent * reserve_bp / 10_000)   (rounded up: the reserve is
                    never short by a fraction of a unit; that fraction stays in earnings)
    payable       = max(0, available - held)
    amount        = min(payable, what the tier's daily payout limit leaves today)
    paid when amount >= max(minimum_amount, 1)

The reserve is not moved anywhere: it is the part of MERCHANT_AVAILABLE the run leaves
behind, and it follows the earnings (as the last days' payments age past ``reserve_days``,
the next run pays them). Refunds are not subtracted from ``earned_recent`` (the reserve is
then a little larger than the earnings it covers; never smaller).

:func:`run_scheduled_payouts` is one idempotent job: the payout of (merchant, asset, date)
has the id ``derive_id("payout.scheduled", merchant, asset, date)``, so a second run of the
same date, concurrent or later, meets the first payout in its unit and pays nothing again;
a crash between a payout's reserve and its rail call leaves it ``requested``, and
:func:`centime.platform.payouts.service.recover_payouts` sends it (same id: the rail pays it once).
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from dataclasses import dataclass, field, replace
from typing import Final

from centime.ledger.port import Fetch
from centime.ledger.units import UnitContext
from centime.limits import AMOUNT_MAX, PAYOUT_RUN_SCHEDULES_MAX
from centime.money import ASSETS

from ..config import NS_PER_DAY
from ..context import Operation, Platform
from ..errors import Code, Refusal
from ..ids import derive_id
from ..parties.service import active_merchant
from ..payout_fees import BP_MAX, ceil_bp
from ..rows import Table
from .service import (
    PAYOUT_RESERVE_EVENTS_MAX,
    Payout,
    PayoutKind,
    PayoutStatus,
    available_earnings,
    daily_room,
    load_payout,
    pick_method,
    reserve_unit,
    send_payout,
)

__all__ = [
    "RESERVE_DAYS_MAX",
    "Frequency",
    "PayoutSchedule",
    "RunReport",
    "day_of",
    "get_schedule",
    "is_due",
    "next_payout_date",
    "reserve_held",
    "run_scheduled_payouts",
    "scheduled_amount",
    "scheduled_payout_id",
    "set_schedule",
]

log = logging.getLogger("centime.payouts")

RESERVE_DAYS_MAX: Final = 180
MONTH_DAY_MAX: Final = 28
_EPOCH: Final = dt.date(1970, 1, 1)
_RUN_PAGES_MAX: Final = 10_000  # 10 million schedules per run call at most


class Frequency(enum.Enum):
    """When a schedule's payouts run: every day, every week on the schedule's ``weekday``,
    or every month on its ``month_day``."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


@dataclass(frozen=True, slots=True)
class PayoutSchedule:
    """A merchant's standing order in one asset (one per merchant and asset): what a run
    pays on its dates is the module note's ``amount``. The defaults are what a schedule
    asked for leaves out; :func:`set_schedule` stamps ``updated_ns``."""

    merchant_id: int
    asset: str
    frequency: Frequency
    weekday: int = 0  # weekly: 0 Monday .. 6 Sunday
    month_day: int = 1  # monthly: 1..28
    minimum_amount: int = 0
    reserve_bp: int = 0
    reserve_days: int = 0
    method_id: int | None = None  # None: the merchant's newest active method
    updated_ns: int = 0


_SCHEDULES: Final = Table(PayoutSchedule, "payout_schedules")


# ------------------------------------------------------------------ dates (pure)


def day_of(now_ns: int) -> dt.date:
    """The UTC date of an engine time."""
    return _EPOCH + dt.timedelta(days=now_ns // NS_PER_DAY)


def is_due(schedule: PayoutSchedule, day: dt.date) -> bool:
    if schedule.frequency is Frequency.DAILY:
        return True
    if schedule.frequency is Frequency.WEEKLY:
        return day.weekday() == schedule.weekday
    return day.day == schedule.month_day


def next_payout_date(schedule: PayoutSchedule, first: dt.date) -> dt.date:
    """The first date on or after ``first`` the schedule pays (at most 31 days on)."""
    for offset in range(32):  # a monthly day 1..28 comes within 31 days
        day = first + dt.timedelta(days=offset)
        if is_due(schedule, day):
            return day
    raise ValueError(f"schedule {schedule} is never due")  # a bug: the fields are checked


def reserve_held(earned_recent: int, reserve_bp: int) -> int:
    """The reserve a run leaves behind (module note): rounded up."""
    return ceil_bp(max(0, earned_recent), reserve_bp)


def scheduled_amount(available: int, held: int, daily_room: int, minimum_amount: int) -> int:
    """What the run pays (module note); 0: nothing this time."""
    amount = min(max(0, available - held), daily_room)
    return amount if amount >= max(minimum_amount, 1) else 0


def scheduled_payout_id(merchant_id: int, asset: str, day: dt.date) -> int:
    return derive_id("payout.scheduled", merchant_id, asset, day.isoformat())


# ------------------------------------------------------------------ schedules


def _check_schedule(asked: PayoutSchedule) -> Refusal | None:
    """Why the schedule asked cannot be (its values' types are checked too: it is built
    from a request)."""
    asset, frequency, minimum_amount = asked.asset, asked.frequency, asked.minimum_amount
    if type(asset) is not str or asset not in ASSETS:
        return Refusal(Code.UNKNOWN_ASSET, f"unknown asset {asset!r}")
    if not isinstance(frequency, Frequency):
        return Refusal(Code.INVALID_REQUEST, "frequency must be daily, weekly or monthly")
    checks = (
        ("weekday", asked.weekday, 0, 6),
        ("month_day", asked.month_day, 1, MONTH_DAY_MAX),
        ("reserve_bp", asked.reserve_bp, 0, BP_MAX),
        ("reserve_days", asked.reserve_days, 0, RESERVE_DAYS_MAX),
    )
    for name, value, low, high in checks:
        if type(value) is not int or not low <= value <= high:
            return Refusal(Code.INVALID_REQUEST, f"{name} must be an integer in {low}..{high}")
    if type(minimum_amount) is not int or not 0 <= minimum_amount <= AMOUNT_MAX:
        return Refusal(Code.INVALID_AMOUNT, "minimum_amount is a non-negative integer")
    return None


def set_schedule(platform: Platform, asked: PayoutSchedule) -> Operation[PayoutSchedule | Refusal]:
    """Create or replace the merchant's schedule in the asset of the one ``asked``."""
    refusal_in = _check_schedule(asked)

    def unit(ctx: UnitContext) -> PayoutSchedule | Refusal:
        refusal = refusal_in or _unschedulable(ctx, asked)
        if refusal is not None:
            return refusal
        schedule = replace(asked, updated_ns=ctx.now_ns)
        ctx.execute(
            "DELETE FROM payout_schedules WHERE merchant_id = ? AND asset = ?",
            (schedule.merchant_id, schedule.asset),
        )
        _SCHEDULES.insert(ctx, schedule)
        return schedule

    return Operation(unit, 0)


def _unschedulable(ctx: UnitContext, asked: PayoutSchedule) -> Refusal | None:
    """Why the merchant may not have the schedule asked now: the merchant is not active, or
    the method named is not its active one."""
    merchant = active_merchant(ctx, asked.merchant_id)
    if isinstance(merchant, Refusal):
        return merchant
    if asked.method_id is None:
        return None
    method = pick_method(ctx, asked.merchant_id, asked.method_id)
    return method if isinstance(method, Refusal) else None


def _schedule_of(fetch: Fetch, merchant_id: int, asset: str) -> PayoutSchedule | None:
    """The merchant's schedule in ``asset`` (a unit's or a read's ``fetch``)."""
    rows = fetch(
        f"SELECT {_SCHEDULES.columns} FROM payout_schedules WHERE merchant_id = ? AND asset = ?",
        (merchant_id, asset),
    )
    return _SCHEDULES.read(rows[0]) if rows else None


def load_schedule(ctx: UnitContext, merchant_id: int, asset: str) -> PayoutSchedule | None:
    return _schedule_of(ctx.fetch, merchant_id, asset)


def get_schedule(platform: Platform, merchant_id: int, asset: str) -> PayoutSchedule | None:
    with platform.read() as fetch:
        return _schedule_of(fetch, merchant_id, asset)


def earned_recent(ctx: UnitContext, merchant_id: int, asset: str, days: int) -> int:
    """What the merchant earned (payments less their fees) in the last ``days`` days."""
    if days <= 0:
        return 0
    rows = ctx.fetch(
        "SELECT COALESCE(SUM(amount - fee), 0) FROM payments"
        " WHERE merchant_id = ? AND asset = ? AND created_ns >= ?",
        (merchant_id, asset, ctx.now_ns - days * NS_PER_DAY),
    )
    return int(rows[0][0])


# ------------------------------------------------------------------ the run


@dataclass
class RunReport:
    """What one run did for its date: payouts made (ids), schedules whose payout existed
    already, skipped (nothing to pay above the minimum), refused (merchant, asset, code),
    and whether every due schedule was looked at."""

    date: str
    due: int = 0
    created: list[int] = field(default_factory=list)
    existing: int = 0
    skipped: int = 0
    refused: list[tuple[int, str, str]] = field(default_factory=list)
    done: bool = True


def _reserve_scheduled(
    platform: Platform, schedule: PayoutSchedule, day: dt.date
) -> Operation[tuple[Payout, bool] | Refusal | None]:
    """Reserve the run's payout of ``schedule`` for ``day``: (payout, whether new), None
    when there is nothing to pay, or a refusal (nothing changed)."""
    payout_id = scheduled_payout_id(schedule.merchant_id, schedule.asset, day)

    def unit(ctx: UnitContext) -> tuple[Payout, bool] | Refusal | None:
        existing = load_payout(ctx, payout_id)
        if existing is not None:
            return existing, False
        merchant = active_merchant(ctx, schedule.merchant_id)
        if isinstance(merchant, Refusal):
            return merchant
        room = daily_room(ctx, platform, merchant.kyc_tier, schedule.merchant_id, schedule.asset)
        if isinstance(room, Refusal):
            return room
        held = reserve_held(
            earned_recent(ctx, schedule.merchant_id, schedule.asset, schedule.reserve_days),
            schedule.reserve_bp,
        )
        available = available_earnings(ctx, schedule.merchant_id, schedule.asset)
        amount = scheduled_amount(available, held, room, schedule.minimum_amount)
        if amount == 0:
            return None
        made = reserve_unit(ctx, platform, _draft(payout_id, schedule, day, amount))
        return (made, True) if isinstance(made, Payout) else made

    return Operation(unit, PAYOUT_RESERVE_EVENTS_MAX)


def _draft(payout_id: int, schedule: PayoutSchedule, day: dt.date, amount: int) -> Payout:
    return Payout(
        payout_id,
        schedule.merchant_id,
        schedule.asset,
        amount,
        fee=0,
        kind=PayoutKind.SCHEDULED,
        method_id=schedule.method_id or 0,
        run_date=day.isoformat(),
    )


def _due_page(platform: Platform, after: tuple[int, str]) -> list[PayoutSchedule]:
    with platform.read() as fetch:
        rows = fetch(
            f"SELECT {_SCHEDULES.columns} FROM payout_schedules WHERE merchant_id > ?"
            " OR (merchant_id = ? AND asset > ?) ORDER BY merchant_id, asset LIMIT ?",
            (after[0], after[0], after[1], PAYOUT_RUN_SCHEDULES_MAX),
        )
    return [_SCHEDULES.read(r) for r in rows]


def run_scheduled_payouts(platform: Platform, now_ns: int | None = None) -> RunReport:
    """Pay every schedule due on the UTC date of ``now_ns`` (default: the clock's): one
    idempotent job (module note). Each payout is reserved in a unit of its own, then sent."""
    when = platform.clock.now_ns() if now_ns is None else now_ns
    day = day_of(when)
    report = RunReport(day.isoformat())
    after: tuple[int, str] = (0, "")
    for _ in range(_RUN_PAGES_MAX):
        page = _due_page(platform, after)
        if not page:
            return report
        for schedule in page:
            if is_due(schedule, day):
                report.due += 1
                _run_one(platform, schedule, day, report)
        last = page[-1]
        after = (last.merchant_id, last.asset)
    report.done = False
    return report


def _run_one(platform: Platform, schedule: PayoutSchedule, day: dt.date, report: RunReport) -> None:
    made = platform.execute(_reserve_scheduled(platform, schedule, day))
    if made is None:
        report.skipped += 1
        return
    if isinstance(made, Refusal):
        report.refused.append((schedule.merchant_id, schedule.asset, made.code.value))
        return
    payout, new = made
    if not new:
        report.existing += 1
        return
    report.created.append(payout.id)
    if payout.status is PayoutStatus.REQUESTED:
        send_payout(platform, payout)
