"""Top-ups of a customer's balance (centime.api.routes.topups)."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from centime.limits import (
    INSTRUMENT_LEN_MAX,
)

from .common import (
    TEXT_PATTERN,
    Cursor,
    CustomerId,
    Input,
    Money,
    Output,
)

__all__ = [
    "TopUp",
    "TopUpCreate",
    "TopUpPage",
]

TopUpStatus = Literal["pending", "succeeded", "declined", "failed", "charged_back"]
TopUpMethod = Literal["card", "bank_transfer", "carrier"]


class TopUp(Output):
    id: str  # top_...
    customer_id: str
    amount: Money
    method: TopUpMethod
    instrument: str  # the provider's token: never the card, account or phone number
    provider: str
    status: TopUpStatus
    # pending and never answered by the provider: POST .../retry charges it again
    awaiting_retry: bool
    failure_code: str | None  # the provider's, when declined or failed
    failure_message: str | None
    restricted: bool  # carrier-billed: restricted until the carrier settles
    settles_at: str | None
    settled_at: str | None
    released: Money  # moved from restricted to the wallet at settlement
    charged_back: Money
    created_at: str
    updated_at: str
    # Pricing: the bonus the promotions budget paid, the rule, and the rule set's version.
    bonus: Money | None = None
    bonus_rule: str | None = None
    pricing_version: int | None = None
    instrument_last4: str | None = None  # the number's last four characters, for display


class TopUpCreate(Input):
    customer_id: CustomerId
    amount: Money
    method: TopUpMethod
    instrument: Annotated[
        str, Meta(min_length=1, max_length=INSTRUMENT_LEN_MAX, pattern=TEXT_PATTERN)
    ]


class TopUpPage(Output):
    data: list[TopUp]
    next_cursor: Cursor
