"""The review queue: cases the risk screen opened, for the operator's analysts.

Operator keys with the ``review`` scope (``admin`` has it too). ``review`` reaches these
routes and nothing else: it cannot change pricing, fees or parties, beyond freezing the
party of a case (``POST .../freeze``, the parties' own freeze).

- ``GET /v1/risk/cases?status=open|approved|declined|all``: newest first, cursor pages.
- ``GET /v1/risk/cases/{id}``: a case with its evidence: the decision (event, features,
  score, reasons, model and rules versions), the payer's recent decisions, the other payers
  seen on the same devices, IPs and instruments.
- ``POST /v1/risk/cases/{id}/approve`` | ``/decline``: the held operation goes ahead / the
  money is the payer's again (one unit each; centime.platform.review.service). Idempotent by the
  case's state: approving an approved case answers it as it is; approving a declined one
  is ``409 case_not_open``. An approval the service refuses now (the money was spent
  meanwhile, a party was frozen) answers that refusal and leaves the case open.
- ``POST /v1/risk/cases/{id}/freeze``: freeze the case's customer or merchant.
- ``POST /v1/risk/cases/{id}/label`` ``{"label": "fraud" | "not_fraud"}``: for training
  (``centime risk export-labels``) and the engine's label feedback.
- ``POST /v1/risk/labels`` ``{"labels": [{"id", "source", "event_at", "payer", "payee",
  "label"}]}``: chargebacks, disputes and imports into the label store
  (centime.platform.risk_labels), idempotent by source and id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final, Literal

from anyio import to_thread
from litestar import Request, post
from litestar.params import FromPath, JSONBody, Parameter

from centime import usecases, wire
from centime.http.problems import ProblemError, problems
from centime.money import ASSETS
from centime.platform import review
from centime.platform.errors import Code, Refusal
from centime.platform.ids import format_id
from centime.platform.review import DecisionRecord

from ..idempotency import IdempotencyKey, check_key, idempotency_key_of
from ..pagination import API_PAGE_SIZE_DEFAULT, CursorParam, LimitParam, page_of
from ..params import must_find, path_id
from ..state import api_state, principal_of
from .declare import REVIEW, reads, writes

__all__ = ["case_out", "risk_routes"]

_PREFIX: Final = review.ID_PREFIXES  # kinds registered later included

StatusQuery = Annotated[
    Literal["open", "approved", "declined", "all"],
    Parameter(description="Which cases (default: the open ones)."),
]


def _time(ns: int | None) -> str | None:
    return None if ns is None else wire.rfc3339(ns)


def _money(amount: int, asset: str) -> wire.Money:
    return wire.money(amount, asset if asset in ASSETS else "USD")


def case_out(case: review.Case) -> wire.RiskCase:
    s = case.subject
    return wire.RiskCase(
        id=format_id("case", case.id),
        status=case.status,  # type: ignore[arg-type]
        object=s.kind,
        object_id=format_id(_PREFIX[s.kind], s.id),
        party_id=format_id("cus" if s.party_kind == "customer" else "mer", s.party_id),
        amount=_money(case.amount, case.asset),
        label=case.label,  # type: ignore[arg-type]
        created_at=wire.rfc3339(case.created_ns),
        resolved_at=_time(case.resolved_ns),
        resolved_by=case.resolved_by,
    )


def decision_out(d: DecisionRecord) -> wire.RiskDecision:
    e = d.event
    return wire.RiskDecision(
        id=format_id("rsk", d.id),
        type=e.type,
        payer=e.payer,
        payee=e.payee,
        amount=_money(e.amount, e.asset),
        device=e.device,
        ip=e.ip,
        instrument=e.instrument,
        action=d.action,
        score=d.score,
        reasons=list(d.reasons),
        model_version=d.model_version,
        rules_version=d.rules_version,
        stepped_up=d.stepped_up,
        features=d.features,
        at=wire.rfc3339(d.created_ns),
    )


def detail_out(evidence: review.CaseEvidence) -> wire.RiskCaseDetail:
    return wire.extended(
        case_out(evidence.case),
        wire.RiskCaseDetail,
        decision=None if evidence.decision is None else decision_out(evidence.decision),
        recent=[decision_out(d) for d in evidence.recent],
        related=evidence.related,
    )


def _case_id(text: str, idempotency_key: str | None = None) -> int:
    """The case the path names. An ``Idempotency-Key`` is accepted (and checked) as on
    every POST, but not needed: the actions are idempotent by the case's state."""
    check_key(idempotency_key, required=False)
    return path_id("case", text, Code.CASE_NOT_FOUND)


def _answer(result: review.Case | Refusal) -> wire.RiskCase:
    if isinstance(result, Refusal):
        raise ProblemError(result.code, result.detail)
    return case_out(result)


def _analyst(request: Request[Any, Any, Any]) -> str:
    return format_id("key", principal_of(request).key_id)


async def _act(
    request: Request[Any, Any, Any],
    case_id: str,
    idempotency_key: str | None,
    action: Callable[..., Any],
    *args: object,
) -> wire.RiskCase:
    """``action(platform, case, *args)`` on the case the path names, off the event loop."""
    platform = api_state(request).platform
    target = _case_id(case_id, idempotency_key)
    return _answer(await to_thread.run_sync(action, platform, target, *args))


@reads("/risk/cases", REVIEW)
def list_cases(
    request: Request[Any, Any, Any],
    status: StatusQuery = "open",
    limit: LimitParam = API_PAGE_SIZE_DEFAULT,
    cursor: CursorParam = None,
) -> wire.RiskCasePage:
    """The review queue, newest first: the open cases (or those of another status)."""
    name = f"risk_cases:{status}"
    return page_of(
        request,
        wire.RiskCasePage,
        name,
        cursor,
        limit,
        review.list_cases,
        case_out,
        None if status == "all" else status,
    )


@reads("/risk/cases/{case_id:str}", REVIEW, 404)
def get_case(request: Request[Any, Any, Any], case_id: FromPath[str]) -> wire.RiskCaseDetail:
    """A case with its evidence."""
    found = review.get_case(api_state(request).platform, _case_id(case_id))
    return detail_out(must_find(found, Code.CASE_NOT_FOUND, "no such case"))


@writes("/risk/cases/{case_id:str}/approve", REVIEW, 402, 404, 503, status_code=200, body=False)
async def approve_case(request: Request[Any, Any, Any], case_id: FromPath[str]) -> wire.RiskCase:
    """The held operation goes ahead (the service checks it again)."""
    return await _act(
        request, case_id, idempotency_key_of(request), usecases.approve_case, _analyst(request)
    )


@post(
    "/risk/cases/{case_id:str}/decline",
    guards=REVIEW,
    status_code=200,
    responses=problems(404, 409),
)
async def decline_case(
    request: Request[Any, Any, Any], case_id: FromPath[str], idempotency_key: IdempotencyKey = None
) -> wire.RiskCase:
    """The held money is the payer's again (a held sign-up's party is closed)."""
    return await _act(request, case_id, idempotency_key, review.decline_case, _analyst(request))


@post(
    "/risk/cases/{case_id:str}/freeze", guards=REVIEW, status_code=200, responses=problems(404, 409)
)
async def freeze_party(
    request: Request[Any, Any, Any], case_id: FromPath[str], idempotency_key: IdempotencyKey = None
) -> wire.RiskCase:
    """Freeze the case's customer or merchant (nothing moves its money until unfrozen)."""
    return await _act(request, case_id, idempotency_key, review.freeze_case_party)


@post(
    "/risk/cases/{case_id:str}/label",
    guards=REVIEW,
    status_code=200,
    responses=problems(404, 413, 415),
)
async def label_case(
    request: Request[Any, Any, Any],
    case_id: FromPath[str],
    data: JSONBody[wire.RiskCaseLabel],
    idempotency_key: IdempotencyKey = None,
) -> wire.RiskCase:
    """Label the case fraud or not_fraud (kept for training)."""
    return await _act(request, case_id, idempotency_key, review.label_case, data.label)


@post("/risk/labels", guards=REVIEW, status_code=200, responses=problems(400, 413, 415))
async def record_labels(
    request: Request[Any, Any, Any],
    data: JSONBody[wire.RiskLabelsIn],
    idempotency_key: IdempotencyKey = None,
) -> wire.RiskLabelsRecorded:
    """Labels the operator learnt (chargebacks, disputes, imports), arrived now: stored once
    per source and id (a retry is answered as a duplicate), and counted by the risk engine's
    label-feedback features from now on. All or none: one bad label refuses the request.
    An ``Idempotency-Key`` is accepted (and checked) but not needed: labels are idempotent
    by their source and id."""
    check_key(idempotency_key, required=False)
    from centime.platform.review import LabelIn
    from centime.platform.review import record_labels as record
    from centime.risk.simulate import parse_timestamp

    labels = []
    for i, item in enumerate(data.labels):
        try:
            event_ns = parse_timestamp(item.event_at)
        except ValueError:
            raise ProblemError(
                Code.INVALID_REQUEST, f"label {i}: event_at is an RFC 3339 time"
            ) from None
        labels.append(LabelIn(item.source, item.id, event_ns, item.payer, item.payee, item.label))
    platform = api_state(request).platform
    result = await to_thread.run_sync(record, platform, labels)
    if isinstance(result, Refusal):
        raise ProblemError(result.code, result.detail)
    return wire.RiskLabelsRecorded(recorded=result.new, duplicates=result.duplicates)


risk_routes: Final = [
    list_cases,
    get_case,
    approve_case,
    decline_case,
    freeze_party,
    label_case,
    record_labels,
]
