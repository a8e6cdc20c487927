"""Payouts a merchant asks for, as use cases: a typed request validated once
(centime.usecases.requests), then the payouts service (centime.platform.payouts).

- :class:`PayoutRequest`: a free payout now (what a scheduled run pays): reserved, then
  sent to the rail. Not screened, as the scheduled run is not.
- :class:`InstantPayoutRequest`: a quote paid out now. The risk screen is asked first,
  outside any unit and off the writer thread (a ``payout_instant`` event to the method's
  fingerprint); its answer is acted on first thing in the confirmation's unit
  (:func:`centime.platform.review.screening.payout_gate`: BLOCK and REVIEW refuse, STEP_UP
  needs a step-up of the last minutes, ``origin.stepped_up_at_ns``). A quote already paid
  answers its payout without asking again.

The API route (``POST /v1/payouts/instant``) and the dashboard's confirmation call
:func:`pay_out`; the scheduled run is a job of the payouts service itself.
"""

from __future__ import annotations

from centime.platform.context import Operation, Platform
from centime.platform.errors import Refusal
from centime.platform.payouts import (
    Payout,
    confirm_quote,
    get_quote,
    instant_payout_id,
    payout_account,
    request_payout,
    send_requested,
)
from centime.platform.review import Subject, decide, payout_gate

from .derive import NOBODY, Origin, instant_payout_event
from .requests import AnyPayoutRequest, InstantPayoutRequest, PayoutRequest, refusal

__all__ = ["pay_out"]


def pay_out(
    platform: Platform, request: AnyPayoutRequest, origin: Origin = NOBODY
) -> Payout | Refusal:
    """The payout the request asks for (module note), sent to the rail; or why not."""
    invalid = refusal(request, platform.config)
    if invalid is not None:
        return invalid
    if isinstance(request, PayoutRequest):
        return request_payout(
            platform,
            request.merchant_id,
            request.asset,
            request.amount,
            request.payout_id,
            request.method_id,
        )
    return send_requested(platform, platform.execute(_confirmation(platform, request, origin)))


def _confirmation(
    platform: Platform, request: InstantPayoutRequest, origin: Origin
) -> Operation[Payout | Refusal]:
    """The quote's confirmation behind the screen's answer; a quote paid already (or not
    the merchant's: the unit answers QUOTE_NOT_FOUND) is not asked about again."""
    operation = confirm_quote(platform, request.merchant_id, request.quote_id)
    quote = get_quote(platform, request.quote_id, request.merchant_id)
    if quote is None or quote.payout_id is not None:
        return operation
    account = payout_account(platform, quote)
    now_ns = platform.clock.now_ns()
    event = instant_payout_event(
        quote.merchant_id, quote.asset, quote.amount, account, now_ns, origin
    )
    subject = Subject("payout", instant_payout_id(quote.id), "merchant", quote.merchant_id)
    decision = decide(platform.screen, event)
    return payout_gate(
        operation, event, decision, subject, stepped_up_at_ns=origin.stepped_up_at_ns
    )
