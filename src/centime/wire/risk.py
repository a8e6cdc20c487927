"""The risk screen's answers, cases and labels (centime.api.routes.risk)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta

from centime.limits import (
    RISK_LABEL_ID_LEN_MAX,
    RISK_LABEL_PARTY_LEN_MAX,
    RISK_LABELS_BATCH_MAX,
)

from .common import (
    TEXT_PATTERN,
    Cursor,
    Input,
    Money,
    Output,
)

__all__ = [
    "InReview",
    "RiskCase",
    "RiskCaseDetail",
    "RiskCaseLabel",
    "RiskCasePage",
    "RiskDecision",
    "RiskLabelIn",
    "RiskLabelsIn",
    "RiskLabelsRecorded",
]

# ------------------------------------------------------------------ risk


class InReview(Output, kw_only=True):
    """``202``: the risk screen held the request for an analyst. Nothing is refused and
    nothing happened yet: the money is reserved (a top-up is not charged, a sign-up's party
    is frozen) until the case is approved (the object is then made, with ``id``) or
    declined (the money is the payer's again)."""

    status: Literal["in_review"] = "in_review"
    case_id: str  # case_...
    object: str  # payment, transfer, hold, topup, customer, merchant
    id: str  # the id the object has (sign-ups) or will have once approved
    amount: Money
    reasons: list[str]  # reason codes a person can read, worst first
    created_at: str


RiskCaseStatus = Literal["open", "approved", "declined"]
RiskLabel = Literal["fraud", "not_fraud"]


class RiskCase(Output):
    id: str  # case_...
    status: RiskCaseStatus
    object: str  # what is held: payment, transfer, hold, topup, customer, merchant
    object_id: str  # its id (made on approval, for money movements)
    party_id: str  # the customer or merchant whose money or account it is
    amount: Money  # held (a top-up: asked for; a sign-up: 0)
    label: RiskLabel | None
    created_at: str
    resolved_at: str | None
    resolved_by: str | None  # the analyst's key


class RiskDecision(Output):
    """A decision of the risk screen as recorded: the event it was asked about and its
    answer (reason codes, never the model's internals beyond them)."""

    id: str  # rsk_...
    type: str  # the event: payment, transfer, topup, topup_carrier, signup...
    payer: str
    payee: str
    amount: Money
    device: str | None
    ip: str | None
    instrument: str | None  # a fingerprint (fp_...)
    action: str  # allow, review, step_up, block
    score: int  # 0-99
    reasons: list[str]
    model_version: str | None
    rules_version: str
    stepped_up: bool
    features: dict[str, Any] | None  # what the screen computed, when it exposes them
    at: str


class RiskCaseDetail(RiskCase):
    """A case with its evidence."""

    decision: RiskDecision | None
    recent: list[RiskDecision]  # the payer's latest decisions, newest first
    related: list[str]  # other payers seen with the same devices, IPs or instruments


class RiskCasePage(Output):
    data: list[RiskCase]
    next_cursor: Cursor


class RiskCaseLabel(Input):
    label: RiskLabel


class RiskLabelIn(Input):
    """A label the operator learnt (a processor's chargeback, a dispute, an import): its
    event named by time, payer and payee; ``id`` makes it idempotent per source."""

    id: Annotated[str, Meta(min_length=1, max_length=RISK_LABEL_ID_LEN_MAX, pattern=TEXT_PATTERN)]
    source: Literal["chargeback", "dispute", "import"]
    event_at: Annotated[str, Meta(min_length=1, max_length=40)]  # RFC 3339
    payer: Annotated[
        str, Meta(min_length=1, max_length=RISK_LABEL_PARTY_LEN_MAX, pattern=TEXT_PATTERN)
    ]
    label: RiskLabel
    payee: Annotated[str, Meta(max_length=RISK_LABEL_PARTY_LEN_MAX, pattern=TEXT_PATTERN)] = ""


class RiskLabelsIn(Input):
    labels: Annotated[list[RiskLabelIn], Meta(min_length=1, max_length=RISK_LABELS_BATCH_MAX)]


class RiskLabelsRecorded(Output):
    recorded: int  # new labels, counted by the risk engine from now on
    duplicates: int  # already recorded under the same source and id: unchanged
