"""The gate between a decision and the operation it is about.

An entry point (an API route, the simulator, a web app) that moves money for a person:

1. describes it as a RiskEvent and asks for a decision, OUTSIDE any unit and off the
   ledger's writer thread (:func:`centime.platform.decisions.decide`, fail closed);
2. builds the service's Operation as usual;
3. runs ``guarded(...)`` of both instead of the operation itself.

What the guarded operation does, in ONE write unit:

- ALLOW: the operation, and the decision recorded with it.
- STEP_UP: with ``stepped_up_at_ns`` (engine time of a passkey assertion the caller has
  verified: the web app's step-up) at most STEP_UP_FRESH_S old, as ALLOW (the decision is
  recorded ``stepped_up``); otherwise STEP_UP_REQUIRED, recorded.
- BLOCK: RISK_BLOCKED naming the reason codes, recorded; nothing else changes.
- REVIEW: the money is held and a case opened (centime.platform.review); the answer is an
  :class:`~centime.platform.review.InReview`.

Retries: when the decision is not ALLOW and the subject already exists (the operation ran
under this id before) the operation runs to answer it as stored; when a case for it exists,
the case is answered (in review, or as decided). The API's idempotency keys answer most
retries before any of this.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

from centime.ledger.units import UnitContext
from centime.limits import BATCH_PAYMENTS_MAX
from centime.providers.funding import Method, ProviderUnavailable, instrument_problem
from centime.risk.types import Action, Decision, RiskEvent

from . import holds, p2p, parties, payments
from .context import Operation, Platform
from .decisions import (
    Subject,
    blocked,
    decide,
    decision_row,
    device_text,
    fresh_step_up,
    ip_text,
    observe,
    record_decision,
    record_decisions,
    step_up_required,
)
from .errors import Code, Refusal
from .ids import format_id, new_id, valid_id
from .instruments import Vaulted, vault
from .payments import Payment, PaymentItem
from .review import (
    REVIEW_EVENTS_MAX,
    SUBJECT_TABLES,
    InReview,
    ReviewPlan,
    case_for_subject,
    hold_for_review,
    in_review,
)
from .topups import TopUp, TopUpStatus, create_topup

__all__ = [
    "authorize",
    "guarded",
    "guarded_batch",
    "hold_plan",
    "pay",
    "payment_plan",
    "payout_decision",
    "payout_gate",
    "payout_method_decision",
    "screened_batch_refusals",
    "send",
    "signup_customer",
    "signup_merchant",
    "signup_plan",
    "topup",
    "topup_event",
    "topup_plan",
    "transfer_plan",
]

T = TypeVar("T")


def _exists(ctx: UnitContext, subject: Subject) -> bool:
    table = SUBJECT_TABLES.get(subject.kind)
    if table is None:
        return False
    return bool(ctx.fetch(f"SELECT 1 FROM {table} WHERE id = ?", (subject.id,)))


def guarded(
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


# ------------------------------------------------------------------ batches of payments


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


BatchResult = list[Payment | Refusal | InReview] | Refusal
_BATCH_INDEX_MASK: Final = (1 << 13) - 1  # a unit's payments: at most BATCH_PAYMENTS_MAX
if BATCH_PAYMENTS_MAX > _BATCH_INDEX_MASK + 1:
    raise RuntimeError("limits.BATCH_PAYMENTS_MAX no longer fits a batch's decision ids")


def guarded_batch(
    operation: Operation[list[Payment | Refusal] | Refusal],
    items: Sequence[PaymentItem],
    payment_ids: Sequence[int],
    merchant_id: int,
    charged_by_merchant: bool,
    events: Sequence[RiskEvent | None],
    decisions: Sequence[Decision | None],
) -> Operation[BatchResult]:
    """A batch unit (built with :func:`screened_batch_refusals` as its up-front refusals)
    that also records every decision with one statement and holds the REVIEW payments,
    after the allowed ones, in the same unit. ``events[i]`` / ``decisions[i]`` is None for
    an item refused before it was screened (malformed)."""
    reviewed = [i for i, d in enumerate(decisions) if d is not None and d.action is Action.REVIEW]

    # The decisions' rows are built here, on the caller's thread (the writer's time is the
    # scarce one); the unit only stamps them with its time.
    rows: list[tuple[Any, ...]] = []  # recorded here (a held payment's: with its case)
    held_rows: list[tuple[Any, ...]] = []  # ... those too if the whole batch is refused
    # Consecutive ids from a random base: the rows land together in the table's B-tree
    # instead of at 8189 random places (the batch endpoint is benchmarked).
    base_id = (new_id() | _BATCH_INDEX_MASK) ^ _BATCH_INDEX_MASK or _BATCH_INDEX_MASK + 1
    for index, (event, decision) in enumerate(zip(events, decisions, strict=True)):
        if event is None or decision is None:
            continue
        item = items[index]
        subject = Subject("payment", payment_ids[index], "customer", item.customer_id)
        row = decision_row(0, event, decision, subject, decision_id=base_id | index)
        (held_rows if decision.action is Action.REVIEW else rows).append(row)

    def wrap(
        ctx: UnitContext, inner: Callable[[UnitContext], list[Payment | Refusal] | Refusal]
    ) -> BatchResult:
        results = inner(ctx)
        now_ns = ctx.now_ns
        if isinstance(results, Refusal):  # the merchant cannot be paid: nothing held either
            record_decisions(ctx, [(row[0], now_ns, *row[2:]) for row in rows + held_rows])
            return results
        out: list[Payment | Refusal | InReview] = list(results)
        record_decisions(ctx, [(row[0], now_ns, *row[2:]) for row in rows])
        for index in reviewed:
            out[index] = _hold_one(
                ctx,
                items[index],
                payment_ids[index],
                merchant_id,
                charged_by_merchant,
                events[index],
                decisions[index],
            )
        return out

    return Operation(
        lambda ctx: wrap(ctx, operation.unit),
        operation.events_max + REVIEW_EVENTS_MAX * len(reviewed),
    )


def _hold_one(
    ctx: UnitContext,
    item: PaymentItem,
    payment_id: int,
    merchant_id: int,
    charged_by_merchant: bool,
    event: RiskEvent | None,
    decision: Decision | None,
) -> Refusal | InReview:
    if event is None or decision is None:
        raise ValueError("a reviewed payment without its event")
    plan = payment_plan(item.customer_id, merchant_id, item, payment_id, charged_by_merchant)
    case = case_for_subject(ctx, plan.subject)
    if case is not None:
        return in_review(case, decision.reasons)
    return hold_for_review(ctx, plan, event, decision)


# ------------------------------------------------------------------ plans


def payment_plan(
    customer_id: int,
    merchant_id: int,
    item: PaymentItem,
    payment_id: int,
    charged_by_merchant: bool,
) -> ReviewPlan:
    request: dict[str, Any] = {
        "customer_id": customer_id,
        "merchant_id": merchant_id,
        "asset": item.asset,
        "amount": item.amount,
        "description": item.description,
        "reference": item.reference,
        "payment_id": payment_id,
        "mandate_id": item.mandate_id,
        "charged_by_merchant": charged_by_merchant,
    }
    subject = Subject("payment", payment_id, "customer", customer_id)
    return ReviewPlan(subject, item.asset, item.amount, request)


def transfer_plan(
    sender_id: int,
    recipient_id: int,
    asset: str,
    amount: int,
    note: str | None,
    transfer_id: int,
) -> ReviewPlan:
    request: dict[str, Any] = {
        "sender_id": sender_id,
        "recipient_id": recipient_id,
        "asset": asset,
        "amount": amount,
        "note": note,
        "transfer_id": transfer_id,
    }
    return ReviewPlan(
        Subject("transfer", transfer_id, "customer", sender_id), asset, amount, request
    )


def hold_plan(
    customer_id: int,
    merchant_id: int,
    asset: str,
    amount: int,
    timeout_s: int | None,
    description: str | None,
    mandate_id: int | None,
    hold_id: int,
    charged_by_merchant: bool,
) -> ReviewPlan:
    request: dict[str, Any] = {
        "customer_id": customer_id,
        "merchant_id": merchant_id,
        "asset": asset,
        "amount": amount,
        "timeout_s": timeout_s,
        "description": description,
        "mandate_id": mandate_id,
        "hold_id": hold_id,
        "charged_by_merchant": charged_by_merchant,
    }
    return ReviewPlan(Subject("hold", hold_id, "customer", customer_id), asset, amount, request)


def topup_plan(
    customer_id: int, asset: str, amount: int, method: str, instrument: Vaulted, topup_id: int
) -> ReviewPlan:
    """The vaulted instrument only: the plan is stored (and shown to analysts)."""
    request: dict[str, Any] = {
        "customer_id": customer_id,
        "asset": asset,
        "amount": amount,
        "method": method,
        "instrument": instrument.token,
        "instrument_fingerprint": instrument.fingerprint,
        "instrument_last4": instrument.last4,
        "topup_id": topup_id,
    }
    return ReviewPlan(Subject("topup", topup_id, "customer", customer_id), asset, amount, request)


def signup_plan(kind: str, party_id: int, asset: str) -> ReviewPlan:
    """A sign-up (``kind``: customer or merchant) holds no money: the party is frozen."""
    return ReviewPlan(Subject(kind, party_id, kind, party_id), asset, 0, {})


# ------------------------------------------------------------------ whole calls
#
# Each asks the screen (on the calling thread), then runs the guarded operation: what the
# simulator and the web apps call. The API does the same in steps (the decision in a worker
# thread, the unit through its idempotency layer).


def _event(
    platform: Platform,
    type_: str,
    amount: int,
    asset: str,
    payer: str,
    payee: str,
    device: str | None,
    ip: str | None,
    instrument: str | None = None,
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
        instrument,
    )


def pay(
    platform: Platform,
    customer_id: int,
    merchant_id: int,
    asset: str,
    amount: int,
    *,
    description: str | None = None,
    reference: str | None = None,
    payment_id: int | None = None,
    mandate_id: int | None = None,
    charged_by_merchant: bool = False,
    device: str | None = None,
    ip: str | None = None,
    stepped_up_at_ns: int | None = None,
    event: RiskEvent | None = None,
) -> Payment | Refusal | InReview:
    """A screened payment (centime.platform.payments.create_payment). ``event`` given: the
    screen is asked about it as it is (the simulator's own devices and instruments)."""
    payment_id = new_id() if payment_id is None else payment_id
    event = event or _event(
        platform,
        "payment",
        amount,
        asset,
        _text("cus", customer_id),
        _text("mer", merchant_id),
        device,
        ip,
    )
    decision = decide(platform.screen, event)
    item = PaymentItem(customer_id, asset, amount, description, reference, payment_id, mandate_id)
    operation = payments.create_payment(
        platform,
        customer_id,
        merchant_id,
        asset,
        amount,
        description,
        reference,
        payment_id=payment_id,
        mandate_id=mandate_id,
        charged_by_merchant=charged_by_merchant,
    )
    plan = payment_plan(customer_id, merchant_id, item, payment_id, charged_by_merchant)
    return platform.execute(
        guarded(operation, event, decision, plan, stepped_up_at_ns=stepped_up_at_ns)
    )


def send(
    platform: Platform,
    sender_id: int,
    recipient_id: int,
    asset: str,
    amount: int,
    *,
    note: str | None = None,
    transfer_id: int | None = None,
    device: str | None = None,
    ip: str | None = None,
    stepped_up_at_ns: int | None = None,
    event: RiskEvent | None = None,
) -> p2p.P2PTransfer | Refusal | InReview:
    """A screened transfer between customers (centime.platform.p2p.send)."""
    transfer_id = new_id() if transfer_id is None else transfer_id
    event = event or _event(
        platform,
        "transfer",
        amount,
        asset,
        _text("cus", sender_id),
        _text("cus", recipient_id),
        device,
        ip,
    )
    decision = decide(platform.screen, event)
    operation = p2p.send(platform, sender_id, recipient_id, asset, amount, note, transfer_id)
    plan = transfer_plan(sender_id, recipient_id, asset, amount, note, transfer_id)
    return platform.execute(
        guarded(operation, event, decision, plan, stepped_up_at_ns=stepped_up_at_ns)
    )


def authorize(
    platform: Platform,
    customer_id: int,
    merchant_id: int,
    asset: str,
    amount: int,
    *,
    timeout_s: int | None = None,
    description: str | None = None,
    mandate_id: int | None = None,
    hold_id: int | None = None,
    charged_by_merchant: bool = False,
    device: str | None = None,
    ip: str | None = None,
    stepped_up_at_ns: int | None = None,
) -> holds.Hold | Refusal | InReview:
    """A screened metered hold (centime.platform.holds.authorize_hold)."""
    hold_id = new_id() if hold_id is None else hold_id
    event = _event(
        platform,
        "payment",
        amount,
        asset,
        _text("cus", customer_id),
        _text("mer", merchant_id),
        device,
        ip,
    )
    decision = decide(platform.screen, event)
    operation = holds.authorize_hold(
        platform,
        customer_id,
        merchant_id,
        asset,
        amount,
        timeout_s,
        description,
        mandate_id,
        hold_id,
        charged_by_merchant=charged_by_merchant,
    )
    plan = hold_plan(
        customer_id,
        merchant_id,
        asset,
        amount,
        timeout_s,
        description,
        mandate_id,
        hold_id,
        charged_by_merchant,
    )
    return platform.execute(
        guarded(operation, event, decision, plan, stepped_up_at_ns=stepped_up_at_ns)
    )


def topup_event(
    platform: Platform,
    customer_id: int,
    asset: str,
    amount: int,
    method: str,
    instrument: Vaulted,
    device: str | None = None,
    ip: str | None = None,
) -> RiskEvent:
    """The event of a top-up: ``topup_carrier`` for carrier billing, the instrument as its
    keyed fingerprint (centime.platform.instruments)."""
    kind = "topup_carrier" if method == "carrier" else "topup"
    payer = _text("cus", customer_id)
    return _event(platform, kind, amount, asset, payer, payer, device, ip, instrument.fingerprint)


_PROCEED: Final = object()


def topup(
    platform: Platform,
    provider: Any,
    customer_id: int,
    asset: str,
    amount: int,
    method: str,
    instrument: str | Vaulted,
    *,
    topup_id: int | None = None,
    event: RiskEvent | None = None,
    decision: Decision | None = None,
    device: str | None = None,
    ip: str | None = None,
    stepped_up_at_ns: int | None = None,
) -> TopUp | Refusal | InReview:
    """A screened top-up (centime.platform.topups.create_topup). Its decision is recorded
    in a unit of its own, just before the top-up's first unit (the top-up is several units
    around the provider's call); REVIEW charges nothing until approved. ``event`` and
    ``decision`` given (the API decides in a worker thread): used instead of asking. The
    instrument is vaulted first: the screen, the plan and the top-up see only its token,
    fingerprint and last four."""
    topup_id = new_id() if topup_id is None else topup_id
    vaulted = _vault(platform, provider, method, instrument)
    if isinstance(vaulted, Refusal):
        return vaulted
    instrument = vaulted
    if event is None or decision is None:
        event = topup_event(platform, customer_id, asset, amount, method, instrument, device, ip)
        decision = decide(platform.screen, event)
    plan = topup_plan(customer_id, asset, amount, str(method), instrument, topup_id)
    proceed: Operation[Any] = Operation(lambda ctx: _PROCEED, 0)
    gate = guarded(proceed, event, decision, plan, stepped_up_at_ns=stepped_up_at_ns)
    outcome = platform.execute(gate)
    if outcome is not _PROCEED:
        answer: Refusal | InReview = outcome
        return answer
    made = create_topup(
        platform, provider, customer_id, asset, amount, method, instrument, topup_id
    )
    if isinstance(made, TopUp) and made.status is TopUpStatus.DECLINED:
        observe(platform.screen, event._replace(type="topup_declined"))
    return made


def _vault(
    platform: Platform, provider: Any, method: str, instrument: str | Vaulted
) -> Vaulted | Refusal:
    """The instrument vaulted (or why it cannot be): the shape checked first, so a malformed
    one is refused before the provider sees it."""
    if isinstance(instrument, Vaulted):
        return instrument
    try:
        chosen = Method(method)
    except ValueError:
        return Refusal(Code.INVALID_REQUEST, f"method must be one of {', '.join(_METHODS)}")
    problem = instrument_problem(chosen, instrument)
    if problem is not None:
        return Refusal(Code.INVALID_REQUEST, problem)
    try:
        return vault(platform, provider, chosen, instrument)
    except ProviderUnavailable:
        return Refusal(Code.PROVIDER_UNAVAILABLE, "the funding provider is unavailable")


_METHODS: Final = tuple(m.value for m in Method)


def signup_customer(
    platform: Platform,
    name: str,
    email: str | None = None,
    kyc_tier: int = 1,
    *,
    referrer: str = "",
    device: str | None = None,
    ip: str | None = None,
    asset: str = "USD",
    event: RiskEvent | None = None,
) -> parties.Customer | Refusal | InReview:
    """A screened sign-up of a customer (REVIEW: created frozen, a case opened). ``event``
    given: asked as it is, its payer replaced by the new customer's id."""
    customer_id = new_id()
    payer = _text("cus", customer_id)
    if event is None:
        event = _event(platform, "signup", 0, asset, payer, referrer, device, ip)
    else:
        event = event._replace(payer=payer)
    decision = decide(platform.screen, event)
    operation = parties.create_customer(platform, name, email, kyc_tier, customer_id)
    return platform.execute(
        guarded(operation, event, decision, signup_plan("customer", customer_id, asset))
    )


def signup_merchant(
    platform: Platform,
    name: str,
    email: str | None = None,
    kyc_tier: int = 1,
    *,
    device: str | None = None,
    ip: str | None = None,
    asset: str = "USD",
    event: RiskEvent | None = None,
) -> parties.Merchant | Refusal | InReview:
    """A screened sign-up of a merchant (``event``: as for a customer's)."""
    merchant_id = new_id()
    payer = _text("mer", merchant_id)
    if event is None:
        event = _event(platform, "signup", 0, asset, payer, "", device, ip)
    else:
        event = event._replace(payer=payer)
    decision = decide(platform.screen, event)
    operation = parties.create_merchant(platform, name, email, kyc_tier, merchant_id=merchant_id)
    return platform.execute(
        guarded(operation, event, decision, signup_plan("merchant", merchant_id, asset))
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


def payout_method_decision(
    platform: Platform,
    merchant_id: int,
    payout_account: str,
    asset: str = "USD",
    *,
    device: str | None = None,
    ip: str | None = None,
) -> tuple[RiskEvent, Decision]:
    """The hook for a payout-method change: as :func:`payout_decision`, amount 0."""
    event = _event(
        platform,
        "payout_method_change",
        0,
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
    answered RISK_BLOCKED here (the safe side). To HOLD a payout for review instead,
    register the kind once (``review.register_kind("payout", "po", "payouts", "earnings",
    approve)``, ``approve(platform, request)`` building the payout's Operation) and run the
    payout as ``guarded(operation, event, decision, ReviewPlan(Subject("payout", payout_id,
    "merchant", merchant_id), asset, amount, request))``: the merchant's available earnings
    are then reserved until an analyst decides."""
    action = decision.action
    stepped = action is Action.STEP_UP and fresh_step_up(stepped_up_at_ns, ctx.now_ns)
    record_decision(ctx, event, decision, subject, stepped_up=stepped)
    if action is Action.ALLOW or stepped:
        return None
    return step_up_required(decision) if action is Action.STEP_UP else blocked(decision)


def _text(prefix: str, value: int) -> str:
    return format_id(prefix, value) if valid_id(value) else str(value)
