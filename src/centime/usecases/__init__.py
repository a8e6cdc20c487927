"""The use cases that move money for a person: one typed request per movement (top-up,
payment, batch of payments, hold, transfer between people; and the screened sign-ups),
validated once, from which the risk event, the service's ledger operation and the typed
review plan are derived; a thin shell runs it through the risk screen's gate.

Payouts (:mod:`centime.usecases.payouts`): :class:`PayoutRequest` (a free payout now) and
:class:`InstantPayoutRequest` (a quote paid out, screened first) through :func:`pay_out`.

The path of one payment: the API route (centime.api.routes.payments) parses the body into
a :class:`PaymentRequest`; :func:`refusal` answers a malformed one before anything is
asked or written; :func:`risk_event` is what the screen decides on (in a worker thread);
:func:`guarded` is the payment's operation (centime.platform.payments.service) behind the gate
(centime.platform.review.screening) with its :func:`review_plan`; the API's idempotency layer
runs it in one write unit. An analyst's approval of a held one decodes the stored request
(centime.usecases.plans) into the same type and runs it (centime.usecases.review).
"""

from __future__ import annotations

from .batch import BatchResult, PaymentBatchRequest, guarded_batch, screened_batch_refusals
from .derive import Origin, instant_payout_event, operation, risk_event
from .payouts import pay_out
from .plans import ENCODING_VERSION, PlanError, decode, encode, review_plan
from .requests import (
    AnyPayoutRequest,
    CaptureRequest,
    FollowUpRequest,
    HoldRequest,
    InstantPayoutRequest,
    MoneyRequest,
    PaymentRequest,
    PayoutRequest,
    RefundRequest,
    SignupRequest,
    TopUpRequest,
    TransferRequest,
    refusal,
)
from .review import approve_case, held_request
from .run import (
    Screened,
    authorize,
    guarded,
    pay,
    run,
    screen,
    screened,
    send,
    signup,
    signup_customer,
    signup_merchant,
    topup,
)

__all__ = [
    "ENCODING_VERSION",
    "AnyPayoutRequest",
    "BatchResult",
    "CaptureRequest",
    "FollowUpRequest",
    "HoldRequest",
    "InstantPayoutRequest",
    "MoneyRequest",
    "Origin",
    "PaymentBatchRequest",
    "PaymentRequest",
    "PayoutRequest",
    "PlanError",
    "RefundRequest",
    "Screened",
    "SignupRequest",
    "TopUpRequest",
    "TransferRequest",
    "approve_case",
    "authorize",
    "decode",
    "encode",
    "guarded",
    "guarded_batch",
    "held_request",
    "instant_payout_event",
    "operation",
    "pay",
    "pay_out",
    "refusal",
    "review_plan",
    "risk_event",
    "run",
    "screen",
    "screened",
    "screened_batch_refusals",
    "send",
    "signup",
    "signup_customer",
    "signup_merchant",
    "topup",
]
