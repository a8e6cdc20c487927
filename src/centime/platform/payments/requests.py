"""The requests of the payments context: what its services take (a payment, a transfer
between customers, a hold and its capture, a refund), each one frozen value.

They are also the use cases' requests (centime.usecases.requests): an entry point builds
one, the use case screens it, a review stores it by its fields and runs it as it is when
approved. An id a request gets by default is drawn when it is built, so that a retry or a
review runs it again under the same id (idempotent).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ids import new_id

__all__ = [
    "CaptureRequest",
    "HoldRequest",
    "PaymentItem",
    "PaymentRequest",
    "RefundRequest",
    "TransferRequest",
]


@dataclass(frozen=True, slots=True)
class PaymentItem:
    """One payment of a batch (the batch names the merchant)."""

    customer_id: int
    asset: str
    amount: int
    description: str | None = None
    reference: str | None = None
    payment_id: int | None = None  # given: the request is idempotent under this id
    mandate_id: int | None = None
    promo_code: str | None = None  # a promotion code (single payments only)


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """A customer pays a merchant (centime.platform.payments.service.create_payment)."""

    customer_id: int
    merchant_id: int
    asset: str
    amount: int
    payment_id: int = field(default_factory=new_id)  # given: idempotent under it
    description: str | None = None
    reference: str | None = None
    mandate_id: int | None = None
    charged_by_merchant: bool = False  # the merchant's own request: a mandate is required
    promo_code: str | None = None

    @property
    def item(self) -> PaymentItem:
        """The payment as a batch item (a single payment is a batch of one)."""
        return PaymentItem(
            self.customer_id,
            self.asset,
            self.amount,
            self.description,
            self.reference,
            self.payment_id,
            self.mandate_id,
            self.promo_code,
        )


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """A customer sends money to another (centime.platform.payments.p2p.send)."""

    sender_id: int
    recipient_id: int
    asset: str
    amount: int
    transfer_id: int = field(default_factory=new_id)  # given: idempotent under it
    note: str | None = None


@dataclass(frozen=True, slots=True)
class HoldRequest:
    """A merchant's metered hold on a customer's money (centime.platform.payments.holds)."""

    customer_id: int
    merchant_id: int
    asset: str
    amount: int
    hold_id: int = field(default_factory=new_id)  # given: idempotent under it
    timeout_s: int | None = None  # None: the configured default
    description: str | None = None
    mandate_id: int | None = None
    charged_by_merchant: bool = False


@dataclass(frozen=True, slots=True)
class CaptureRequest:
    """A merchant captures ``amount`` of its hold (centime.platform.payments.holds.capture_hold):
    paid as a payment, the rest of the reserve back to the customer. ``merchant_id`` given:
    the hold must be that merchant's; ``asset`` given: the amount must be in the hold's."""

    hold_id: int
    amount: int
    merchant_id: int | None = None
    asset: str | None = None


@dataclass(frozen=True, slots=True)
class RefundRequest:
    """A payment refunded, all of what is left (``amount`` None) or part of it
    (centime.platform.payments.refunds.refund_payment); ``merchant_id`` and ``asset`` as for a
    capture."""

    payment_id: int
    amount: int | None = None
    reason: str | None = None
    merchant_id: int | None = None
    refund_id: int = field(default_factory=new_id)  # given: idempotent under it
    asset: str | None = None
