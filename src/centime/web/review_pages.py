"""The operator console's review queue: the open risk cases with their reasons, a case's
evidence, and an analyst's decisions (approve, decline, freeze the party, label), through
``centime.platform.review.service``. Analysts and admins may act on cases (the API's ``review``
scope); the decision counts of the last days are drawn as the console's other chart."""

from __future__ import annotations

from typing import Any, Final

from litestar import Request, Response, get, post
from litestar.params import FromPath

from centime import usecases
from centime.auth.passkeys import UserKind, get_user
from centime.clock import NS_PER_DAY
from centime.platform import review
from centime.platform.errors import Refusal
from centime.platform.ids import format_id, parse_id
from centime.platform.parties import get_customer, get_merchant

from .chart import Bar, bars
from .common import Viewer, done, page, page_for, posted, run, web_state
from .messages import N_

__all__ = ["case_party_names", "count_bars", "decision_counts", "open_cases", "review_routes"]

CASES_SHOWN_MAX: Final = 20
NAMES_MAX: Final = 50  # parties named on one page
COUNT_DAYS: Final = 14
ACTIONS: Final = ("allow", "step_up", "review", "block")


def open_cases(platform: Any) -> list[review.Case]:
    return review.list_cases(platform, review.CaseStatus.OPEN, None, CASES_SHOWN_MAX).items


def _name_of(platform: Any, ref: str) -> str | None:
    """A party's name from its public id (``cus_...``, ``mer_...``; ``opr_...``: the
    operator who decided), or None."""
    if ref.startswith("opr_"):
        user_id = parse_id("opr", ref)
        user = get_user(platform, user_id) if user_id is not None else None
        return user.name if user else None
    for prefix, lookup in (("cus", get_customer), ("mer", get_merchant)):
        if ref.startswith(f"{prefix}_"):
            parsed = parse_id(prefix, ref)
            found = lookup(platform, parsed) if parsed is not None else None
            return found.name if found else None
    return None


def names_of(platform: Any, refs: list[str]) -> dict[str, str]:
    """The names of the parties among ``refs`` (others are left out)."""
    found: dict[str, str] = {}
    for ref in refs[:NAMES_MAX]:
        if ref and ref not in found:
            name = _name_of(platform, ref)
            if name is not None:
                found[ref] = name
    return found


def _party_ref(case: review.Case) -> str:
    prefix = "cus" if case.subject.party_kind == "customer" else "mer"
    return format_id(prefix, case.subject.party_id)


def case_party_names(platform: Any, cases: list[review.Case]) -> dict[int, str]:
    """Per case id, the name of the party whose movement it holds."""
    names = names_of(platform, [_party_ref(c) for c in cases])
    return {c.id: names.get(_party_ref(c), _party_ref(c)) for c in cases}


def decision_counts(platform: Any) -> dict[str, int]:
    """How many risk decisions of each action the last COUNT_DAYS days (one grouped read)."""
    now = platform.clock.now_ns()
    with platform.read() as fetch:
        rows = fetch(
            "SELECT action, COUNT(*) FROM risk_decisions WHERE created_ns >= ? GROUP BY action",
            (now - COUNT_DAYS * NS_PER_DAY,),
        )
    found = {str(action): int(n) for action, n in rows}
    others = sorted(set(found) - set(ACTIONS))
    return {action: found.get(action, 0) for action in (*ACTIONS, *others)}


def count_bars(counts: dict[str, int]) -> list[Bar]:
    """The decision counts as SVG bars (``bars``), labelled with the exact count."""
    return bars(list(counts.values()), [f"{action}: {n}" for action, n in counts.items()])


def _case_page(
    request: Request[Any, Any, Any],
    me: Viewer,
    case_ref: str,
    status_code: int = 200,
    **context: Any,
) -> Response[str]:
    platform = web_state(request).platform
    evidence = review.get_case(platform, parse_id("case", case_ref) or 0)
    if evidence is None:
        return page(request, "case.html", me, 404, error=N_("No such case."))
    party_ref = _party_ref(evidence.case)
    decision = evidence.decision
    refs = [party_ref, *evidence.related, evidence.case.resolved_by or ""]
    if decision is not None:
        refs += [decision.event.payer, decision.event.payee]
    names = names_of(platform, refs)
    return page(
        request,
        "case.html",
        me,
        status_code,
        evidence=evidence,
        case_ref=case_ref,
        labels=review.Label.ALL,
        ok=request.query_params.get("ok"),
        format_id=format_id,
        names=names,
        party_ref=party_ref,
        party_name=names.get(party_ref, party_ref),
        **context,
    )


@get("/console/cases/{case_id:str}")
async def case(request: Request[Any, Any, Any], case_id: FromPath[str]) -> Response[Any]:
    return await page_for(request, UserKind.OPERATOR, lambda me: _case_page(request, me, case_id))


@post("/console/cases/{case_id:str}/{action:str}")
async def decide(
    request: Request[Any, Any, Any], case_id: FromPath[str], action: FromPath[str]
) -> Response[Any]:
    """approve (the held operation goes ahead, checked again), decline (the money is the
    payer's again), freeze (the case's party), label (fraud or not_fraud)."""
    fields, me, platform = await posted(request, UserKind.OPERATOR)
    parsed = parse_id("case", case_id) or 0
    analyst = format_id("opr", me.user.id)  # the operator's web user: who decided
    result: review.Case | Refusal
    if action == "approve":
        result = await run(request, lambda: usecases.approve_case(platform, parsed, analyst))
    elif action == "decline":
        result = await run(request, lambda: review.decline_case(platform, parsed, analyst))
    elif action == "freeze":
        result = await run(request, lambda: review.freeze_case_party(platform, parsed))
    elif action == "label":
        label = fields.get("label", "")[:20]
        result = await run(request, lambda: review.label_case(platform, parsed, label))
    else:
        return await run(
            request, lambda: _case_page(request, me, case_id, 404, error=N_("No such action."))
        )
    if isinstance(result, Refusal):
        refusal = result
        status = 404 if refusal.code.value.endswith("not_found") else 409
        return await run(request, lambda: _case_page(request, me, case_id, status, error=refusal))
    return done(f"/console/cases/{case_id}", f"case_{action}")


review_routes: Final = [case, decide]
