"""What a request yields, as pure functions of it: the risk event the screen is asked
about, and the service's operation (its write unit). The review plan is
centime.usecases.plans'."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from centime.platform import payments
from centime.platform.context import Operation, Platform
from centime.platform.errors import Refusal
from centime.platform.funding import Vaulted
from centime.platform.ids import format_id, valid_id
from centime.platform.payments import holds, p2p, refunds
from centime.platform.review import device_text, ip_text
from centime.risk.types import RiskEvent

from .requests import (
    CaptureRequest,
    HoldRequest,
    MoneyRequest,
    PaymentRequest,
    RefundRequest,
    SignupRequest,
    TopUpRequest,
    TransferRequest,
)

__all__ = ["NOBODY", "Origin", "instant_payout_event", "operation", "refused", "risk_event"]

_PARTY_PREFIXES: Final = {"customer": "cus", "merchant": "mer"}


@dataclass(frozen=True, slots=True)
class Origin:
    """Who is behind a request, as the screen sees them: the device (the app's), the IP,
    and when they last stepped up (engine time of a passkey assertion the caller verified:
    the web app's; the API takes none)."""

    device: str | None = None
    ip: str | None = None
    stepped_up_at_ns: int | None = None


NOBODY: Final = Origin()  # no device, IP nor step-up known


def risk_event(request: MoneyRequest | SignupRequest, now_ns: int, origin: Origin) -> RiskEvent:
    """The event the screen decides on. A hold is a payment to come: the screen sees it
    as one. A top-up names its instrument by its keyed fingerprint (it must be vaulted)."""
    device, ip = device_text(origin.device), ip_text(origin.ip)
    match request:
        case PaymentRequest() | HoldRequest() | TransferRequest():
            kind, payer, payee = _sides(request)
            return RiskEvent(now_ns, kind, request.amount, request.asset, payer, payee, device, ip)
        case TopUpRequest():
            return _topup_event(request, now_ns, device, ip)
        case SignupRequest():
            payer = format_id(_PARTY_PREFIXES[request.kind], request.party_id)
            return RiskEvent(
                now_ns, "signup", 0, request.asset, payer, request.referrer, device, ip
            )


def instant_payout_event(
    merchant_id: int, asset: str, amount: int, account: str, now_ns: int, origin: Origin
) -> RiskEvent:
    """The event an instant payout is screened on: ``amount`` of ``asset`` from the
    merchant to its payout account (``account``: the method's keyed fingerprint)."""
    payer = format_id("mer", merchant_id) if valid_id(merchant_id) else str(merchant_id)
    device, ip = device_text(origin.device), ip_text(origin.ip)
    return RiskEvent(now_ns, "payout_instant", amount, asset, payer, account, device, ip)


def _sides(request: PaymentRequest | HoldRequest | TransferRequest) -> tuple[str, str, str]:
    """The event's type, payer and payee."""
    if isinstance(request, TransferRequest):
        sender, recipient = request.sender_id, request.recipient_id
        return "transfer", format_id("cus", sender), format_id("cus", recipient)
    return "payment", format_id("cus", request.customer_id), format_id("mer", request.merchant_id)


def _topup_event(
    request: TopUpRequest, now_ns: int, device: str | None, ip: str | None
) -> RiskEvent:
    if not isinstance(request.instrument, Vaulted):
        raise ValueError("a top-up is screened once its instrument is vaulted")
    kind = "topup_carrier" if request.method == "carrier" else "topup"
    payer = format_id("cus", request.customer_id)
    fingerprint = request.instrument.fingerprint
    return RiskEvent(
        now_ns, kind, request.amount, request.asset, payer, payer, device, ip, fingerprint
    )


def operation(
    platform: Platform,
    request: PaymentRequest | TransferRequest | HoldRequest | CaptureRequest | RefundRequest,
) -> Operation[Any]:
    """The service's write unit for the request, with the request's own id (a top-up is
    several units around the provider's call: centime.usecases.run.topup)."""
    made: Operation[Any]
    match request:
        case PaymentRequest():
            made = payments.create_payment(platform, request)
        case TransferRequest():
            made = p2p.send(platform, request)
        case HoldRequest():
            made = holds.authorize_hold(platform, request)
        case CaptureRequest():
            made = holds.capture_hold(platform, request)
        case RefundRequest():
            made = refunds.refund_payment(platform, request)
    return made


def refused(refusal: Refusal) -> Operation[Refusal]:
    """An operation that answers ``refusal`` and writes nothing."""
    return Operation(lambda ctx: refusal, 0)
