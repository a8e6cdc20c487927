"""Metered holds and their captures (centime.api.routes.holds)."""

from __future__ import annotations

from typing import Literal

from msgspec import UNSET, UnsetType

from .common import (
    Cursor,
    Description,
    Input,
    Money,
    Output,
    TimeoutS,
)
from .payments import Charge, Payment

__all__ = [
    "Capture",
    "Hold",
    "HoldCapture",
    "HoldCreate",
    "HoldPage",
]

HoldStatus = Literal["authorized", "captured", "released", "expired"]


class Hold(Output):
    id: str  # hold_...
    customer_id: str
    merchant_id: str
    amount: Money  # authorized
    restricted: Money  # the part reserved from carrier-billed money
    captured: Money
    status: HoldStatus  # expired as soon as its reserve lapsed
    description: str | None
    expires_at: str
    resolved_at: str | None
    payment_id: str | None  # the payment its capture made
    mandate_id: str | None
    created_at: str


class HoldCreate(Charge):
    """As for a payment: a merchant's key needs a mandate, the operator's names the
    merchant. ``timeout_s`` left out: the platform's default."""

    timeout_s: TimeoutS | UnsetType = UNSET
    description: Description | None = None


class HoldCapture(Input):
    amount: Money  # 1..the authorized amount, in the hold's asset


class Capture(Output):
    hold: Hold
    payment: Payment


class HoldPage(Output):
    data: list[Hold]
    next_cursor: Cursor
