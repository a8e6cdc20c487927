"""A merchant's batch of payments: one request for the whole batch, screened with one call,
run in write units of BATCH_PAYMENTS_MAX that answer what the screen did not allow, record
every decision with one statement, and hold the REVIEW payments in the same unit.

The per-payment work is kept small (the batch endpoint is benchmarked): the payments are
the payments service's items (validated by the service), a held one becomes a
:class:`~centime.usecases.requests.PaymentRequest` only to be planned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from centime.ledger.units import UnitContext
from centime.limits import BATCH_PAYMENTS_MAX
from centime.platform import payments
from centime.platform.context import Operation, Platform
from centime.platform.errors import Refusal
from centime.platform.ids import format_id, new_id_block
from centime.platform.payments import Payment, PaymentItem
from centime.platform.review import (
    REVIEW_EVENTS_MAX,
    InReview,
    blocked,
    case_for_subject,
    hold_for_review,
    in_review,
    record_unstamped,
    step_up_required,
    unstamped_rows,
)
from centime.risk.types import Action, Decision, RiskEvent

from .plans import review_plan
from .requests import PaymentRequest

__all__ = ["BatchResult", "PaymentBatchRequest", "guarded_batch", "screened_batch_refusals"]

BatchResult = list[Payment | Refusal | InReview] | Refusal
_new_tuple: Final = tuple.__new__
_BATCH_INDEX_MASK: Final = (1 << 13) - 1  # a unit's payments: at most BATCH_PAYMENTS_MAX
if BATCH_PAYMENTS_MAX > _BATCH_INDEX_MASK + 1:
    raise RuntimeError("limits.BATCH_PAYMENTS_MAX no longer fits a batch's decision ids")


@dataclass(frozen=True, slots=True)
class PaymentBatchRequest:
    """Payments to one merchant, each with its id (``payment_id`` set), run in units of
    ``unit_size`` (at most BATCH_PAYMENTS_MAX) payments."""

    merchant_id: int
    items: Sequence[PaymentItem]
    charged_by_merchant: bool
    unit_size: int = BATCH_PAYMENTS_MAX

    def events(
        self, now_ns: int, customer_texts: Sequence[str], device: str | None, ip: str | None
    ) -> list[RiskEvent]:
        """The risk events of the payments (``customer_texts``: their payers' id texts)."""
        payee = format_id("mer", self.merchant_id)
        # RiskEvent(...) as the tuple of its nine fields: its NamedTuple __new__ is a Python
        # call per payment, and a batch makes thousands.
        return [
            _new_tuple(
                RiskEvent,
                (now_ns, "payment", item.amount, item.asset, customer, payee, device, ip, None),
            )
            for item, customer in zip(self.items, customer_texts, strict=True)
        ]

    def operations(
        self, platform: Platform, events: Sequence[RiskEvent], decisions: Sequence[Decision]
    ) -> list[Operation[BatchResult]]:
        """The batch's units, ``unit_size`` payments each, as the decisions allow."""
        size = self.unit_size
        operations: list[Operation[BatchResult]] = []
        for start in range(0, len(self.items), size):
            items = self.items[start : start + size]
            answers = decisions[start : start + size]
            operation = payments.create_payments_batch(
                platform,
                self.merchant_id,
                items,
                charged_by_merchant=self.charged_by_merchant,
                risk_refusals=screened_batch_refusals(answers),
            )
            chunk = PaymentBatchRequest(self.merchant_id, items, self.charged_by_merchant)
            operations.append(
                guarded_batch(operation, chunk, events[start : start + size], answers)
            )
        return operations


def screened_batch_refusals(decisions: Sequence[Decision]) -> list[Refusal | None]:
    """What the batch service refuses up front: every payment the screen did not ALLOW
    (REVIEW ones are held afterwards, in the same unit, by :func:`guarded_batch`)."""
    out: list[Refusal | None] = []
    for decision in decisions:
        action = decision.action
        if action is Action.ALLOW:
            out.append(None)
        elif action is Action.STEP_UP:
            out.append(step_up_required(decision))  # a merchant's batch cannot step up
        else:  # BLOCK, and REVIEW until held below
            out.append(blocked(decision))
    return out


def _decision_rows(
    request: PaymentBatchRequest,
    events: Sequence[RiskEvent | None],
    decisions: Sequence[Decision | None],
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The decisions' rows, built on the caller's thread (the writer's time is the scarce
    one; the unit only stamps them with its time): those recorded as they are, and those
    of the payments held for review (recorded with their case, or with the others when the
    whole batch is refused). Consecutive ids of a block reserved from the process's
    time-ordered ids: the rows land together in the table's B-tree instead of at 8189
    random places, and no other id of this process falls among them (the odds against
    another process's: ``centime.platform.ids``)."""
    allowed: list[tuple[int, RiskEvent, Decision, int]] = []
    held: list[tuple[int, RiskEvent, Decision, int]] = []
    items = request.items
    for index, (event, decision) in enumerate(zip(events, decisions, strict=True)):
        if event is None or decision is None:
            continue
        screened = (index, event, decision, items[index].payment_id or 0)
        (held if decision.action is Action.REVIEW else allowed).append(screened)
    base_id = new_id_block(_BATCH_INDEX_MASK.bit_length())
    return unstamped_rows("payment", base_id, allowed), unstamped_rows("payment", base_id, held)


def guarded_batch(
    operation: Operation[list[Payment | Refusal] | Refusal],
    request: PaymentBatchRequest,
    events: Sequence[RiskEvent | None],
    decisions: Sequence[Decision | None],
) -> Operation[BatchResult]:
    """A batch unit (built with :func:`screened_batch_refusals` as its up-front refusals)
    that also records every decision with one statement and holds the REVIEW payments,
    after the allowed ones, in the same unit. ``events[i]`` / ``decisions[i]`` is None for
    an item refused before it was screened (malformed)."""
    reviewed = [i for i, d in enumerate(decisions) if d is not None and d.action is Action.REVIEW]
    rows, held_rows = _decision_rows(request, events, decisions)

    def wrap(
        ctx: UnitContext, inner: Callable[[UnitContext], list[Payment | Refusal] | Refusal]
    ) -> BatchResult:
        results = inner(ctx)
        if isinstance(results, Refusal):  # the merchant cannot be paid: nothing held either
            record_unstamped(ctx, rows + held_rows)
            return results
        out: list[Payment | Refusal | InReview] = list(results)
        record_unstamped(ctx, rows)
        for index in reviewed:
            out[index] = _hold_one(ctx, request, index, events[index], decisions[index])
        return out

    return Operation(
        lambda ctx: wrap(ctx, operation.unit),
        operation.events_max + REVIEW_EVENTS_MAX * len(reviewed),
        # Holding a payment for review reads and writes review cases: such a unit runs
        # alone; the decisions' rows are inserts under new ids.
        None if reviewed else operation.overlap,
    )


def _hold_one(
    ctx: UnitContext,
    request: PaymentBatchRequest,
    index: int,
    event: RiskEvent | None,
    decision: Decision | None,
) -> Refusal | InReview:
    if event is None or decision is None:
        raise ValueError("a reviewed payment without its event")
    item = request.items[index]
    plan = review_plan(
        PaymentRequest(
            item.customer_id,
            request.merchant_id,
            item.asset,
            item.amount,
            item.payment_id or 0,
            item.description,
            item.reference,
            item.mandate_id,
            request.charged_by_merchant,
        )
    )
    case = case_for_subject(ctx, plan.subject)
    if case is not None:
        return in_review(case, decision.reasons)
    return hold_for_review(ctx, plan, event, decision)
