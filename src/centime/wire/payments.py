"""Payments, batches, refunds and mandates (centime.api.routes.payments and its neighbours)."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import UNSET, Meta, UnsetType

from centime.limits import (
    API_BATCH_PAYMENTS_MAX,
)

from .common import (
    Cursor,
    CustomerId,
    Description,
    Input,
    MandateId,
    MerchantId,
    Money,
    Output,
    Reference,
)

__all__ = [
    "BatchError",
    "BatchPayment",
    "BatchResult",
    "Charge",
    "Mandate",
    "MandateCreate",
    "MandatePage",
    "Payment",
    "PaymentBatch",
    "PaymentBatchCreate",
    "PaymentCreate",
    "PaymentPage",
    "Refund",
    "RefundCreate",
    "RefundPage",
]

MandateStatus = Literal["active", "revoked"]


class Payment(Output):
    id: str  # pay_...
    customer_id: str
    merchant_id: str
    amount: Money
    fee: Money  # the platform's, split off the merchant's earnings in the same chain
    restricted: Money  # the part paid from carrier-billed money
    refunded: Money
    fee_refunded: Money
    description: str | None
    reference: str | None
    hold_id: str | None  # the metered hold whose capture made it
    mandate_id: str | None  # the consent the merchant charged under
    created_at: str
    # Pricing (docs/pricing.md): the rule set's version and the fee rule that priced it, and
    # a promotion code's discount (paid by the promotions budget, not the customer).
    pricing_version: int | None = None
    fee_rule: str | None = None
    discount: Money | None = None
    promo_code_id: str | None = None


class Charge(Input):
    """What a payment and a hold both take: ``amount`` of a customer's money for a merchant,
    by the rules PaymentCreate says."""

    customer_id: CustomerId
    amount: Money
    merchant_id: MerchantId | UnsetType = UNSET
    mandate_id: MandateId | None = None


class PaymentCreate(Charge):
    """A payment of a customer to a merchant. A merchant's key charges under a mandate
    (``mandate_id`` required) and is itself the merchant (``merchant_id`` left out, or its
    own); the operator's key pays for the customer and names the merchant."""

    description: Description | None = None
    reference: Reference | None = None
    promo_code: Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{3,32}$")] | None = None


class PaymentPage(Output):
    data: list[Payment]
    next_cursor: Cursor


class BatchPayment(Input):
    """One payment of a batch (the batch names the merchant)."""

    customer_id: CustomerId
    amount: Money
    mandate_id: MandateId | None = None
    description: Description | None = None
    reference: Reference | None = None


class PaymentBatchCreate(Input):
    payments: Annotated[list[BatchPayment], Meta(min_length=1, max_length=API_BATCH_PAYMENTS_MAX)]
    merchant_id: MerchantId | UnsetType = UNSET  # as for a single payment


class BatchError(Output):
    code: str  # the refusal's code, as a problem document's
    detail: str


class BatchResult(Output, omit_defaults=True):
    """One payment's outcome, in the order sent: ``status`` 201 with the new payment's
    ``id`` and ``fee`` (the rest is what was sent; ``GET /v1/payments/{id}`` has all of
    it), or the HTTP status its refusal would have had alone, with the ``error``. Lean on
    purpose: a batch answers thousands of payments at once."""

    status: int
    id: str | None = None  # pay_... (201; 202: the id it will have once approved)
    fee: Money | None = None
    error: BatchError | None = None
    case_id: str | None = None  # 202: held for review (case_...)


class PaymentBatch(Output):
    results: list[BatchResult]  # in the order of the request's payments
    created: int  # how many were paid
    refused: int


class Refund(Output):
    id: str  # ref_...
    payment_id: str
    customer_id: str
    merchant_id: str
    amount: Money
    fee_returned: Money  # the part of the payment's fee the platform gave back
    restricted: Money  # returned as restricted (carrier-billed) money
    reason: str | None
    created_at: str


class RefundCreate(Input):
    """``amount`` left out: all of the payment not refunded yet."""

    amount: Money | UnsetType = UNSET
    reason: Description | None = None


class RefundPage(Output):
    data: list[Refund]
    next_cursor: Cursor


class Mandate(Output):
    id: str  # man_...
    customer_id: str
    merchant_id: str
    amount_max_daily: Money
    spent_today: Money  # charged under it on the current UTC day
    status: MandateStatus
    created_at: str
    revoked_at: str | None


class MandateCreate(Input):
    customer_id: CustomerId
    merchant_id: MerchantId
    amount_max_daily: Money


class MandatePage(Output):
    data: list[Mandate]
    next_cursor: Cursor
