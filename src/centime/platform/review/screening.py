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

from ..context import Operation
from ..errors import Refusal
from .decisions import (
    Subject,
    blocked,
    fresh_step_up,
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

__all__ = ["gate", "payout_gate"]

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

    # Only an allowed operation keeps its leave to overlap other processes' groups: the
    # other paths read and write review cases, which rely on running alone.
    overlap = operation.overlap if action is Action.ALLOW else None
    return Operation(unit, max(operation.events_max, REVIEW_EVENTS_MAX), overlap)


def payout_gate(
    operation: Operation[T | Refusal],
    event: RiskEvent,
    decision: Decision,
    subject: Subject,
    *,
    stepped_up_at_ns: int | None = None,
) -> Operation[T | Refusal]:
    """``operation`` (a payout's) as ``decision`` allows it: first thing in its unit, the
    decision is recorded; ALLOW (or STEP_UP with a fresh step-up) runs it, anything else
    answers the refusal. REVIEW is answered RISK_BLOCKED here (the safe side): holding a
    payout for review would need its plan and its approval."""
    action = decision.action

    def unit(ctx: UnitContext) -> T | Refusal:
        stepped = action is Action.STEP_UP and fresh_step_up(stepped_up_at_ns, ctx.now_ns)
        record_decision(ctx, event, decision, subject, stepped_up=stepped)
        if action is Action.ALLOW or stepped:
            return operation.unit(ctx)
        return step_up_required(decision) if action is Action.STEP_UP else blocked(decision)

    return Operation(unit, operation.events_max)
