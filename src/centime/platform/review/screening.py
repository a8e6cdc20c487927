"""The gate between a decision and the operation it is about.

The use cases (centime.usecases) describe a movement as a RiskEvent, ask for a decision
OUTSIDE any unit and off the ledger's writer thread
(:func:`centime.platform.review.decisions.decide`,
fail closed), build the service's Operation and its review plan, and run ``gate(...)`` of
them instead of the operation itself.

What the gated operation does, in ONE write unit:

- ALLOW: the operation, and the decision recorded with it.
- STEP_UP: with ``stepped_up_at_ns`` (engine time of a passkey assertion the caller has
  verified: the web app's step-up) at most STEP_UP_FRESH_S old, as ALLOW (the decision is
  recorded ``stepped_up``); otherwise STEP_UP_REQUIRED, recorded.
- BLOCK: RISK_BLOCKED naming the reason codes, recorded; nothing else changes.
- REVIEW: the money is held and a case opened (centime.platform.review.service); the answer is an
  :class:`~centime.platform.review.service.InReview`.

Retries: when the decision is not ALLOW and the subject already exists (the operation ran
under this id before) the operation runs to answer it as stored; when a case for it exists,
the case is answered (in review, or as decided). The API's idempotency keys answer most
retries before any of this.
"""

from __future__ import annotations

from typing import TypeVar

from centime.ledger.units import UnitContext
from centime.risk.types import Action, Decision, RiskEvent

from ..context import Operation, Platform
from ..errors import Refusal
from ..ids import format_id, valid_id
from .decisions import (
    Subject,
    blocked,
    decide,
    device_text,
    fresh_step_up,
    ip_text,
    record_decision,
    step_up_required,
)
from .service import (
    REVIEW_EVENTS_MAX,
    SUBJECT_TABLES,
    InReview,
    ReviewPlan,
    case_for_subject,
    hold_for_review,
    in_review,
)

__all__ = ["gate", "payout_decision", "payout_gate"]

T = TypeVar("T")


def _exists(ctx: UnitContext, subject: Subject) -> bool:
    table = SUBJECT_TABLES.get(subject.kind)
    if table is None:
        return False
    return bool(ctx.fetch(f"SELECT 1 FROM {table} WHERE id = ?", (subject.id,)))


def gate(
    operation: Operation[T | Refusal],
    event: RiskEvent,
    decision: Decision,
    plan: ReviewPlan,
    *,
    stepped_up_at_ns: int | None = None,
) -> Operation[T | Refusal | InReview]:
    """``operation`` as ``decision`` allows it (see the module's note); ``plan`` names the
    subject and what a REVIEW holds."""
    action = decision.action
    subject = plan.subject

    def unit(ctx: UnitContext) -> T | Refusal | InReview:
        stepped = action is Action.STEP_UP and fresh_step_up(stepped_up_at_ns, ctx.now_ns)
        if action is Action.ALLOW or stepped:
            result = operation.unit(ctx)
            record_decision(ctx, event, decision, subject, stepped_up=stepped)
            return result
        case = case_for_subject(ctx, subject)
        if case is not None:
            return in_review(case, decision.reasons)
        if _exists(ctx, subject):  # done before: the service answers it as stored
            return operation.unit(ctx)
        if action is Action.REVIEW:
            signup = operation if subject.kind in ("customer", "merchant") else None
            return hold_for_review(ctx, plan, event, decision, signup)
        record_decision(ctx, event, decision, subject)
        return step_up_required(decision) if action is Action.STEP_UP else blocked(decision)

    return Operation(unit, max(operation.events_max, REVIEW_EVENTS_MAX))


def _event(
    platform: Platform,
    type_: str,
    amount: int,
    asset: str,
    payer: str,
    payee: str,
    device: str | None,
    ip: str | None,
) -> RiskEvent:
    return RiskEvent(
        platform.clock.now_ns(),
        type_,
        amount,
        asset,
        payer,
        payee,
        device_text(device),
        ip_text(ip),
    )


def payout_decision(
    platform: Platform,
    merchant_id: int,
    asset: str,
    amount: int,
    payout_account: str,
    *,
    instant: bool = False,
    device: str | None = None,
    ip: str | None = None,
) -> tuple[RiskEvent, Decision]:
    """The hook for payouts (built elsewhere): the event and decision of a payout request
    (``payout_account``: the bank details' fingerprint). Call it before the payout's unit,
    outside it, then act on the decision with :func:`payout_gate` inside the unit."""
    event = _event(
        platform,
        "payout_instant" if instant else "payout",
        amount,
        asset,
        _text("mer", merchant_id),
        payout_account,
        device,
        ip,
    )
    return event, decide(platform.screen, event)


def payout_gate(
    ctx: UnitContext,
    event: RiskEvent,
    decision: Decision,
    subject: Subject,
    stepped_up_at_ns: int | None = None,
) -> Refusal | None:
    """Inside a payout's (or payout-method change's) unit, first thing: None to go on (the
    decision is recorded in the unit), or the refusal to answer (recorded too). REVIEW is
    answered RISK_BLOCKED here (the safe side): holding a payout for review would need a
    payout request in centime.usecases, its plan and its approval."""
    action = decision.action
    stepped = action is Action.STEP_UP and fresh_step_up(stepped_up_at_ns, ctx.now_ns)
    record_decision(ctx, event, decision, subject, stepped_up=stepped)
    if action is Action.ALLOW or stepped:
        return None
    return step_up_required(decision) if action is Action.STEP_UP else blocked(decision)


def _text(prefix: str, value: int) -> str:
    return format_id(prefix, value) if valid_id(value) else str(value)
