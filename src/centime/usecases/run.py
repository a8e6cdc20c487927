"""The imperative shell of the use cases: ask the screen, then run the request through
the gate (centime.platform.review.screening: ALLOW runs it, STEP_UP needs a fresh step-up, BLOCK
refuses, REVIEW holds the money and opens a case), all in the request's write unit.

An invalid request (:func:`centime.usecases.requests.refusal`) is answered before the
screen is asked and before anything is written.

- :func:`guarded`: the gated operation, for callers that run units themselves (the API,
  through its idempotency layer; Open Payments);
- :func:`run`: the same, executed (a decision already made);
- :func:`screened`: ask the screen on the calling thread, then :func:`run` (the web
  apps, the simulator, the demo);
- :func:`topup`: a top-up, several units around the provider's call.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final

from centime.platform import parties, payments
from centime.platform.context import Operation, Platform
from centime.platform.errors import Code, Refusal
from centime.platform.funding import TopUp, TopUpStatus, Vaulted, create_topup, vault
from centime.platform.payments import holds, p2p
from centime.platform.review import InReview, decide, gate, observe
from centime.providers.funding import FundingProvider, Method, ProviderUnavailable
from centime.risk.types import Decision, RiskEvent

from .derive import NOBODY, Origin, operation, refused, risk_event
from .plans import review_plan
from .requests import (
    HoldRequest,
    PaymentRequest,
    SignupRequest,
    TopUpRequest,
    TransferRequest,
    refusal,
)

__all__ = ["Screened", "guarded", "run", "screen", "screened", "topup"]

Gated = PaymentRequest | TransferRequest | HoldRequest


@dataclass(frozen=True, slots=True)
class Screened:
    """The screen's answer on a request: the event it was asked about, its decision, and
    when the person last stepped up (None: never, as far as the caller knows)."""

    event: RiskEvent
    decision: Decision
    stepped_up_at_ns: int | None = None


def screen(
    platform: Platform,
    request: Gated | SignupRequest | TopUpRequest,
    origin: Origin = NOBODY,
    event: RiskEvent | None = None,
) -> Screened:
    """Ask the screen (CPU work: on the calling thread, never the writer's). ``event``
    given: asked about as it is (the simulator's own devices and instruments)."""
    asked = event or risk_event(request, platform.clock.now_ns(), origin)
    return Screened(asked, decide(platform.screen, asked), origin.stepped_up_at_ns)


def guarded(
    platform: Platform,
    request: Gated | SignupRequest,
    answer: Screened,
    signup: Operation[Any] | None = None,
) -> Operation[Any]:
    """The request's operation as the decision allows it, in one unit (``signup``: a
    sign-up's party creation, which its caller builds: referrals, passkeys)."""
    invalid = refusal(request, platform.config)
    if invalid is not None:
        return refused(invalid)
    if isinstance(request, SignupRequest):
        if signup is None:
            raise ValueError("a sign-up is guarded with the operation that creates its party")
        inner = signup
    else:
        inner = operation(platform, request)
    plan = review_plan(request)
    return gate(
        inner, answer.event, answer.decision, plan, stepped_up_at_ns=answer.stepped_up_at_ns
    )


def run(platform: Platform, request: Gated, answer: Screened) -> Any:
    """:func:`guarded`, executed: the service's result, a Refusal, or InReview."""
    return platform.execute(guarded(platform, request, answer))


def screened(
    platform: Platform,
    request: Gated,
    origin: Origin = NOBODY,
    event: RiskEvent | None = None,
) -> Any:
    """Ask the screen, then run: what the web apps and the simulator call."""
    invalid = refusal(request, platform.config)
    if invalid is not None:
        return invalid
    return run(platform, request, screen(platform, request, origin, event))


def pay(
    platform: Platform,
    request: PaymentRequest,
    origin: Origin = NOBODY,
    event: RiskEvent | None = None,
) -> payments.Payment | Refusal | InReview:
    """A screened payment (typed :func:`screened`)."""
    made: payments.Payment | Refusal | InReview = screened(platform, request, origin, event)
    return made


def send(
    platform: Platform,
    request: TransferRequest,
    origin: Origin = NOBODY,
    event: RiskEvent | None = None,
) -> p2p.P2PTransfer | Refusal | InReview:
    """A screened transfer between customers (typed :func:`screened`)."""
    made: p2p.P2PTransfer | Refusal | InReview = screened(platform, request, origin, event)
    return made


def authorize(
    platform: Platform, request: HoldRequest, origin: Origin = NOBODY
) -> holds.Hold | Refusal | InReview:
    """A screened metered hold (typed :func:`screened`)."""
    made: holds.Hold | Refusal | InReview = screened(platform, request, origin)
    return made


def signup(
    platform: Platform,
    request: SignupRequest,
    create: Operation[Any],
    origin: Origin = NOBODY,
    event: RiskEvent | None = None,
) -> Any:
    """A screened sign-up: ``create`` makes the party (a REVIEW: frozen, a case opened).
    ``event`` given: asked as it is, its payer replaced by the new party's id."""
    if event is not None:
        event = event._replace(payer=risk_event(request, 0, origin).payer)
    answer = screen(platform, request, origin, event)
    return platform.execute(guarded(platform, request, answer, create))


def signup_customer(
    platform: Platform,
    request: SignupRequest,
    name: str,
    email: str | None = None,
    kyc_tier: int = 1,
    origin: Origin = NOBODY,
    event: RiskEvent | None = None,
) -> parties.Customer | Refusal | InReview:
    """A screened sign-up of a customer (``request.kind`` is ``customer``)."""
    create = parties.create_customer(platform, name, email, kyc_tier, request.party_id)
    made: parties.Customer | Refusal | InReview = signup(platform, request, create, origin, event)
    return made


def signup_merchant(
    platform: Platform,
    request: SignupRequest,
    name: str,
    email: str | None = None,
    kyc_tier: int = 1,
    origin: Origin = NOBODY,
    event: RiskEvent | None = None,
) -> parties.Merchant | Refusal | InReview:
    """A screened sign-up of a merchant (``request.kind`` is ``merchant``)."""
    create = parties.create_merchant(platform, name, email, kyc_tier, merchant_id=request.party_id)
    made: parties.Merchant | Refusal | InReview = signup(platform, request, create, origin, event)
    return made


# ------------------------------------------------------------------ top-ups

_PROCEED: Final = object()


def topup(
    platform: Platform,
    provider: FundingProvider,
    request: TopUpRequest,
    origin: Origin = NOBODY,
    event: RiskEvent | None = None,
) -> TopUp | Refusal | InReview:
    """A screened top-up (centime.platform.funding.topups.create_topup). The instrument is
    vaulted first: the screen, the plan and the top-up see only its token, fingerprint
    and last four. The decision is recorded in a unit of its own, just before the
    top-up's first unit (the top-up is several units around the provider's call); REVIEW
    charges nothing until approved. ``event`` given: asked about as it is."""
    invalid = refusal(request, platform.config)
    if invalid is not None:
        return invalid
    vaulted = _vault(platform, provider, request)
    if isinstance(vaulted, Refusal):
        return vaulted
    request = vaulted
    answer = screen(platform, request, origin, event)
    proceed: Operation[Any] = Operation(lambda ctx: _PROCEED, 0)
    gated = gate(
        proceed,
        answer.event,
        answer.decision,
        review_plan(request),
        stepped_up_at_ns=answer.stepped_up_at_ns,
    )
    outcome = platform.execute(gated)
    if outcome is not _PROCEED:
        held: Refusal | InReview = outcome
        return held
    made = charge_topup(platform, provider, request)
    if isinstance(made, TopUp) and made.status is TopUpStatus.DECLINED:
        observe(platform.screen, answer.event._replace(type="topup_declined"))
    return made


def charge_topup(
    platform: Platform, provider: FundingProvider, request: TopUpRequest
) -> TopUp | Refusal:
    """The top-up created and charged, past the screen (or found: idempotent by its id);
    an instrument not vaulted yet (a plan older than migration 0012) is vaulted now."""
    return create_topup(
        platform,
        provider,
        request.customer_id,
        request.asset,
        request.amount,
        request.method,
        request.instrument,
        request.topup_id,
    )


def _vault(
    platform: Platform, provider: FundingProvider, request: TopUpRequest
) -> TopUpRequest | Refusal:
    """The request with its instrument vaulted (or why it cannot be)."""
    if isinstance(request.instrument, Vaulted):
        return request
    try:
        vaulted = vault(platform, provider, Method(request.method), request.instrument)
    except ProviderUnavailable:
        return Refusal(Code.PROVIDER_UNAVAILABLE, "the funding provider is unavailable")
    return replace(request, instrument=vaulted)
