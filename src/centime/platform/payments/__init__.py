"""Payments: paying a merchant (single, batch, under a mandate), metered holds and their
captures, refunds, transfers between people, payment links and proofs."""

from .holds import (
    AUTHORIZE_EVENTS_MAX,
    CAPTURE_EVENTS_MAX,
    RELEASE_EVENTS_MAX,
    Capture,
    Hold,
    HoldStatus,
    authorize_hold,
    capture_hold,
    check_authorize,
    check_capture,
    expire_holds,
    get_hold,
    list_holds,
    release_hold,
)
from .links import settle_due_budgets
from .mandates import Mandate, create_mandate, get_mandate, revoke_mandate, utc_day
from .p2p import P2PTransfer, check_send, get_p2p_transfer, list_p2p_transfers, send
from .proofs import Carried, carried_by, proof_status, proofs_of
from .refunds import Refund, check_refund, refund_payment, refund_split
from .requests import HoldRequest, PaymentItem, PaymentRequest, TransferRequest
from .service import (
    PAYMENT_EVENTS_MAX,
    Payment,
    check_payment,
    create_payment,
    create_payments_batch,
    get_payment,
    list_payments,
    split_restricted_first,
)

__all__ = [
    "AUTHORIZE_EVENTS_MAX",
    "CAPTURE_EVENTS_MAX",
    "PAYMENT_EVENTS_MAX",
    "RELEASE_EVENTS_MAX",
    "Capture",
    "Carried",
    "Hold",
    "HoldRequest",
    "HoldStatus",
    "Mandate",
    "P2PTransfer",
    "Payment",
    "PaymentItem",
    "PaymentRequest",
    "Refund",
    "TransferRequest",
    "authorize_hold",
    "capture_hold",
    "carried_by",
    "check_authorize",
    "check_capture",
    "check_payment",
    "check_refund",
    "check_send",
    "create_mandate",
    "create_payment",
    "create_payments_batch",
    "expire_holds",
    "get_hold",
    "get_mandate",
    "get_p2p_transfer",
    "get_payment",
    "list_holds",
    "list_p2p_transfers",
    "list_payments",
    "proof_status",
    "proofs_of",
    "refund_payment",
    "refund_split",
    "release_hold",
    "revoke_mandate",
    "send",
    "settle_due_budgets",
    "split_restricted_first",
    "utc_day",
]
