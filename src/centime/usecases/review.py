"""An analyst's approval of a case: the held request decoded into its own type and run
(centime.platform.review.service holds, voids and resolves; this module knows the requests)."""

from __future__ import annotations

from centime.platform.context import Platform
from centime.platform.errors import Code, Refusal
from centime.platform.review import Case, approve_held, mark_approved, read_case, settled_answer

from .derive import operation
from .plans import decode
from .requests import MoneyRequest, SignupRequest, TopUpRequest
from .run import charge_topup

__all__ = ["approve_case", "held_request"]


def held_request(case: Case) -> MoneyRequest | SignupRequest:
    """The request the case holds, as its type (a sign-up's: rebuilt from the case)."""
    kind = case.subject.kind
    if kind in ("customer", "merchant"):
        return SignupRequest(
            "customer" if kind == "customer" else "merchant", case.subject.id, case.asset
        )
    return decode(kind, case.request)


def approve_case(platform: Platform, case_id: int, analyst: str) -> Case | Refusal:
    """Approve: the held request goes ahead with its own ids (centime.platform.review.service's
    note); a sign-up's party becomes active; a top-up is created and charged, then the case
    is marked approved."""
    case = read_case(platform, case_id)
    if case is None:
        return Refusal(Code.CASE_NOT_FOUND, "no such case")
    request = held_request(case)
    match request:
        case SignupRequest():
            return approve_held(platform, case, None, analyst)
        case TopUpRequest():
            return _approve_topup(platform, case, request, analyst)
        case _:
            return approve_held(platform, case, operation(platform, request), analyst)


def _approve_topup(
    platform: Platform, case: Case, request: TopUpRequest, analyst: str
) -> Case | Refusal:
    done = settled_answer(case)
    if done is not None:
        return done
    provider = platform.providers.funding.get(platform.config.funding_provider)
    if provider is None:
        return Refusal(Code.PROVIDER_UNAVAILABLE, "no funding provider is configured")
    # Created (or found: idempotent by its id) before the case is marked.
    created = charge_topup(platform, provider, request)
    if isinstance(created, Refusal):
        return created
    return mark_approved(platform, case, analyst)
