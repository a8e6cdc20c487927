"""Transfers between customers (centime.api.routes.transfers)."""

from __future__ import annotations

from .common import (
    Cursor,
    CustomerId,
    Description,
    Input,
    Money,
    Output,
)

__all__ = [
    "Transfer",
    "TransferCreate",
    "TransferPage",
]


class Transfer(Output):
    id: str  # tr_...
    sender_id: str
    recipient_id: str
    amount: Money
    note: str | None
    created_at: str


class TransferCreate(Input):
    sender_id: CustomerId
    recipient_id: CustomerId
    amount: Money
    note: Description | None = None


class TransferPage(Output):
    data: list[Transfer]
    next_cursor: Cursor
