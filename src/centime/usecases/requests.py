"""One typed request per money movement a person starts, validated once.

A request is a frozen value: the entry point (an API route, a web page, the simulator)
builds it from what it was given, ids included, and :func:`refusal` says why it cannot
move money before anything is asked or written. Everything else is derived from it
(centime.usecases.derive): the risk event, the service's operation, the review plan.

The checks are the services' own (they check again, inside their units, for callers that
do not come through here): one definition, applied first here. The requests of payments,
transfers, holds, captures and refunds are the payments context's own
(centime.platform.payments.requests): its services take them as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from centime.platform.config import PlatformConfig
from centime.platform.errors import Code, Refusal
from centime.platform.funding import Vaulted, check_request
from centime.platform.ids import new_id, valid_id
from centime.platform.payments import (
    CaptureRequest,
    HoldRequest,
    PaymentRequest,
    RefundRequest,
    TransferRequest,
    check_authorize,
    check_capture,
    check_payment,
    check_refund,
    check_send,
)
from centime.platform.payouts import check_payout_request
from centime.providers.funding import Method, instrument_problem

__all__ = [
    "AnyPayoutRequest",
    "CaptureRequest",
    "FollowUpRequest",
    "HoldRequest",
    "InstantPayoutRequest",
    "MoneyRequest",
    "PaymentRequest",
    "PayoutRequest",
    "RefundRequest",
    "SignupRequest",
    "TopUpRequest",
    "TransferRequest",
    "refusal",
]


@dataclass(frozen=True, slots=True)
class TopUpRequest:
    """Money into a customer's wallet from a card, a bank account or a phone bill
    (centime.platform.funding.topups). ``instrument`` as the customer gave it, or vaulted (what a
    review plan keeps: only the vaulted one is ever stored)."""

    customer_id: int
    asset: str
    amount: int
    method: str
    instrument: str | Vaulted
    topup_id: int = field(default_factory=new_id)  # given: idempotent under it


@dataclass(frozen=True, slots=True)
class PayoutRequest:
    """A free payout of ``amount`` of a merchant's earnings now, to its method (None: its
    newest active one): what a scheduled run pays (centime.platform.payouts.service
    .request_payout). Not screened, as a scheduled run is not."""

    merchant_id: int
    asset: str
    amount: int
    payout_id: int = field(default_factory=new_id)  # given: idempotent under it
    method_id: int | None = None


@dataclass(frozen=True, slots=True)
class InstantPayoutRequest:
    """A merchant pays its quote out now, exactly as quoted, for the quote's fee
    (centime.platform.payouts.instant): screened first (a ``payout_instant`` event to the
    method's fingerprint). A quote confirmed again answers its payout, paid once."""

    merchant_id: int
    quote_id: int


AnyPayoutRequest = PayoutRequest | InstantPayoutRequest
PartyKind = Literal["customer", "merchant"]


@dataclass(frozen=True, slots=True)
class SignupRequest:
    """A new customer or merchant: moves no money (a REVIEW creates the party frozen)."""

    kind: PartyKind
    party_id: int = field(default_factory=new_id)
    asset: str = "USD"  # the event names an asset anyway
    referrer: str = ""  # who referred it, as the screen sees it


MoneyRequest = PaymentRequest | TransferRequest | HoldRequest | TopUpRequest
# Movements of money already screened (a hold's, a payment's): no event, no review.
FollowUpRequest = CaptureRequest | RefundRequest
_METHODS: Final = tuple(m.value for m in Method)


def refusal(
    request: MoneyRequest | FollowUpRequest | SignupRequest | AnyPayoutRequest,
    config: PlatformConfig,
) -> Refusal | None:
    """Why ``request`` cannot move money (the refusal its service would answer), or None
    (``config``: the platform's, which bounds a hold's timeout)."""
    match request:
        case PaymentRequest():
            return check_payment(request.item) or (
                None
                if valid_id(request.merchant_id)
                else Refusal(Code.MERCHANT_NOT_FOUND, "no such merchant")
            )
        case TransferRequest():
            return check_send(request)
        case HoldRequest():
            return check_authorize(request, config)
        case TopUpRequest():
            return _topup_refusal(request)
        case CaptureRequest():
            return check_capture(request.amount)
        case RefundRequest():
            return check_refund(request)
        case PayoutRequest():
            return _payout_refusal(request)
        case InstantPayoutRequest():
            if valid_id(request.quote_id) and valid_id(request.merchant_id):
                return None
            return Refusal(Code.QUOTE_NOT_FOUND, "no such quote")
        case SignupRequest():
            if request.kind not in ("customer", "merchant") or not valid_id(request.party_id):
                return Refusal(Code.INVALID_REQUEST, "a sign-up names a new customer or merchant")
            return None


def _payout_refusal(request: PayoutRequest) -> Refusal | None:
    checked = check_payout_request(request.asset, request.amount)
    if checked is not None:
        return checked
    if not valid_id(request.payout_id):
        return Refusal(Code.INVALID_REQUEST, "payout_id must be a positive id")
    return None


def _topup_refusal(request: TopUpRequest) -> Refusal | None:
    """The method and the instrument's shape first (a malformed instrument is refused
    before a provider sees it), then the amount."""
    if request.method not in _METHODS:
        return Refusal(Code.INVALID_REQUEST, f"method must be one of {', '.join(_METHODS)}")
    given = None if isinstance(request.instrument, Vaulted) else request.instrument
    if given is not None:
        problem = instrument_problem(Method(request.method), given)
        if problem is not None:
            return Refusal(Code.INVALID_REQUEST, problem)
    checked = check_request(request.asset, request.amount, request.method, None)[1]
    if checked is not None:
        return checked
    if not valid_id(request.topup_id):
        return Refusal(Code.INVALID_REQUEST, "topup_id must be a positive id")
    return None
