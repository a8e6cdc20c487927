"""Payout methods, schedules, instant-payout quotes and payouts (centime.api.routes.payouts)."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import UNSET, Meta, UnsetType

from centime.limits import HOLDER_NAME_LEN_MAX

from .common import (
    ID_DIGITS,
    TEXT_PATTERN,
    Cursor,
    Input,
    MerchantId,
    Money,
    Output,
)

__all__ = [
    "InstantPayoutCreate",
    "Payout",
    "PayoutMethod",
    "PayoutMethodCreate",
    "PayoutMethodList",
    "PayoutPage",
    "PayoutQuote",
    "PayoutQuoteCreate",
    "PayoutSchedule",
    "PayoutScheduleSet",
]

# ------------------------------------------------------------------ payouts
# Payout methods, schedules, instant-payout quotes and payouts (centime.api.routes.payouts).


PayoutMethodId = Annotated[str, Meta(pattern=f"^pm_{ID_DIGITS}")]
QuoteId = Annotated[str, Meta(pattern=f"^quo_{ID_DIGITS}")]
PayoutStatus = Literal["requested", "pending", "paid", "failed", "returned"]
PayoutKind = Literal["scheduled", "instant"]
PayoutFrequency = Literal["daily", "weekly", "monthly"]
HolderName = Annotated[
    str, Meta(min_length=1, max_length=HOLDER_NAME_LEN_MAX, pattern=TEXT_PATTERN)
]
# Letters, digits and spaces; the service checks 6-34 of them once the spaces are gone.
AccountNumber = Annotated[str, Meta(min_length=6, max_length=68, pattern=r"^[A-Za-z0-9 ]+$")]
# ``gt=-1`` / ``ge=1``, as for KycTier: Litestar drops a bound of 0 from the document.
Weekday = Annotated[int, Meta(gt=-1, le=6)]
MonthDay = Annotated[int, Meta(ge=1, le=28)]
ReserveBp = Annotated[int, Meta(gt=-1, le=10_000)]
ReserveDays = Annotated[int, Meta(gt=-1, le=180)]


class PayoutMethod(Output):
    id: str  # pm_...
    merchant_id: str
    holder_name: str
    last4: str  # the account number's last four characters (the number is never kept)
    fingerprint: str  # the same account, the same fingerprint
    status: Literal["active", "removed"]
    created_at: str
    removed_at: str | None


class PayoutMethodCreate(Input):
    """A bank account; the operator's key names the merchant."""

    holder_name: HolderName
    account_number: AccountNumber
    merchant_id: MerchantId | UnsetType = UNSET


class PayoutMethodList(Output):
    data: list[PayoutMethod]


class PayoutSchedule(Output):
    merchant_id: str
    asset: str
    frequency: PayoutFrequency
    weekday: int  # weekly: 0 Monday .. 6 Sunday
    month_day: int  # monthly: 1..28
    minimum_amount: Money
    reserve_bp: int  # of the last reserve_days' earnings, held back
    reserve_days: int
    method_id: str | None  # None: the newest active method
    next_date: str  # YYYY-MM-DD, the next date a run pays (today's included)
    updated_at: str


class PayoutScheduleSet(Input):
    """Create or replace the merchant's schedule in ``minimum_amount``'s asset."""

    frequency: PayoutFrequency
    minimum_amount: Money
    weekday: Weekday = 0
    month_day: MonthDay = 1
    reserve_bp: ReserveBp = 0
    reserve_days: ReserveDays = 0
    method_id: PayoutMethodId | None = None
    merchant_id: MerchantId | UnsetType = UNSET


class PayoutQuote(Output):
    id: str  # quo_...
    merchant_id: str
    method_id: str
    amount: Money  # taken from the earnings
    fee: Money
    net: Money  # what arrives at the bank
    days_early: int  # before the scheduled date
    scheduled_date: str | None  # YYYY-MM-DD; None: no schedule in the asset
    expires_at: str
    payout_id: str | None  # once confirmed
    created_at: str


class PayoutQuoteCreate(Input):
    amount: Money
    method_id: PayoutMethodId | None = None
    merchant_id: MerchantId | UnsetType = UNSET


class InstantPayoutCreate(Input):
    quote_id: QuoteId
    merchant_id: MerchantId | UnsetType = UNSET


class Payout(Output):
    id: str  # po_...
    merchant_id: str
    method_id: str
    amount: Money
    fee: Money
    net: Money
    kind: PayoutKind
    status: PayoutStatus
    failure_code: str | None
    return_code: str | None
    quote_id: str | None
    run_date: str | None  # scheduled: the run's date
    created_at: str
    updated_at: str
    resolved_at: str | None  # paid or failed
    returned_at: str | None


class PayoutPage(Output):
    data: list[Payout]
    next_cursor: Cursor
