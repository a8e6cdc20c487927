"""Every error is an RFC 9457 problem document (``application/problem+json``):

    {"type": "https://centime.dev/problems/<code>", "title": ..., "status": ...,
     "detail": ..., "code": "<code>", "errors": [{"field": ..., "detail": ...}]}

``code`` is stable and machine-readable: a service's refusal code
(:class:`centime.platform.errors.Code`), or one of the HTTP layer's own
(:class:`ApiCode`). :data:`REFUSAL_STATUS` is the one table from refusal codes to HTTP
statuses. An unexpected exception is a 500 that says nothing but the request id it was
logged under.
"""

from __future__ import annotations

import enum
import logging
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ExceptionHandlersMap, Scope

from centime.limits import REQUEST_ID_LEN_MAX
from centime.platform.errors import Code, Refusal
from centime.wire import FieldError, Problem, WireError

__all__ = [
    "PROBLEM_JSON",
    "REFUSAL_STATUS",
    "ApiCode",
    "ProblemError",
    "exception_handlers",
    "problem_body",
    "problem_response",
    "problems",
    "refusal_problem",
    "request_id",
    "status_of",
]

log = logging.getLogger("centime.api")

PROBLEM_JSON: Final = "application/problem+json"
PROBLEM_TYPE: Final = "https://centime.dev/problems/"


class ApiCode(enum.Enum):
    """The HTTP layer's own problem codes (the services' are centime.platform.errors.Code)."""

    INVALID_REQUEST = "invalid_request"  # the same code as Code.INVALID_REQUEST
    INVALID_CURSOR = "invalid_cursor"
    IDEMPOTENCY_KEY_REQUIRED = "idempotency_key_required"
    INVALID_IDEMPOTENCY_KEY = "invalid_idempotency_key"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"  # same key, different request
    IDEMPOTENCY_KEY_IN_USE = "idempotency_key_in_use"  # same key, first still running
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    BODY_TOO_LARGE = "body_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"
    NOT_READY = "not_ready"
    BUSY = "busy"  # the ledger's writer queue is full: retry after Retry-After


API_STATUS: Final[Mapping[ApiCode, int]] = {
    ApiCode.INVALID_REQUEST: 400,
    ApiCode.INVALID_CURSOR: 400,
    ApiCode.IDEMPOTENCY_KEY_REQUIRED: 400,
    ApiCode.INVALID_IDEMPOTENCY_KEY: 400,
    ApiCode.IDEMPOTENCY_KEY_REUSED: 422,
    ApiCode.IDEMPOTENCY_KEY_IN_USE: 409,
    ApiCode.UNAUTHORIZED: 401,
    ApiCode.FORBIDDEN: 403,
    ApiCode.NOT_FOUND: 404,
    ApiCode.METHOD_NOT_ALLOWED: 405,
    ApiCode.BODY_TOO_LARGE: 413,
    ApiCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ApiCode.RATE_LIMITED: 429,
    ApiCode.INTERNAL_ERROR: 500,
    ApiCode.NOT_READY: 503,
    ApiCode.BUSY: 503,
}

# The one table from refusal codes to HTTP statuses (tests/api/test_errors.py checks that
# every Code is in it). 400: the request's fields; 404: what it names does not exist (or is
# not the caller's to see); 409: the state of a party or object forbids it now (it may not
# later); 402: not enough usable money, or the provider would not pay; 422: a business
# rule or a limit says no to this request as it is; 503: a provider could not be reached.
REFUSAL_STATUS: Final[Mapping[Code, int]] = {
    Code.INVALID_AMOUNT: 400,
    Code.UNKNOWN_ASSET: 400,
    Code.INVALID_REQUEST: 400,
    Code.CUSTOMER_NOT_FOUND: 404,
    Code.MERCHANT_NOT_FOUND: 404,
    Code.TOPUP_NOT_FOUND: 404,
    Code.PAYMENT_NOT_FOUND: 404,
    Code.HOLD_NOT_FOUND: 404,
    Code.TRANSFER_NOT_FOUND: 404,
    Code.REFUND_NOT_FOUND: 404,
    Code.MANDATE_NOT_FOUND: 404,
    Code.API_KEY_NOT_FOUND: 404,
    Code.CUSTOMER_FROZEN: 409,
    Code.CUSTOMER_CLOSED: 409,
    Code.MERCHANT_FROZEN: 409,
    Code.MERCHANT_CLOSED: 409,
    Code.RECIPIENT_UNAVAILABLE: 409,
    Code.EMAIL_TAKEN: 409,
    Code.BALANCE_NOT_ZERO: 409,
    Code.INVALID_STATUS_CHANGE: 409,
    Code.HOLD_NOT_AUTHORIZED: 409,
    Code.TOPUP_NOT_PENDING: 409,
    Code.TOPUP_NOT_SUCCEEDED: 409,
    Code.MANDATE_REVOKED: 409,
    Code.INSUFFICIENT_FUNDS: 402,
    Code.RESTRICTED_FUNDS: 402,
    Code.PROVIDER_DECLINED: 402,
    Code.SAME_CUSTOMER: 422,
    Code.TIER_LIMIT_EXCEEDED: 422,
    Code.TIER_FORBIDS: 422,
    Code.REFUND_EXCEEDS_PAYMENT: 422,
    Code.CAPTURE_EXCEEDS_HOLD: 422,
    Code.MANDATE_LIMIT_EXCEEDED: 422,
    Code.API_KEY_LIMIT_REACHED: 422,
    # Pricing, promotions and referrals (issue 4).
    Code.PRICING_RULES_INVALID: 422,
    Code.PRICING_VERSION_NOT_FOUND: 404,
    Code.PROMO_CODE_NOT_FOUND: 404,
    Code.PROMO_CODE_TAKEN: 409,
    Code.PROMO_CODE_INVALID: 422,
    Code.PROMO_CODE_EXPIRED: 422,
    Code.PROMO_CODE_USED_UP: 409,
    Code.PROMOTIONS_BUDGET_SPENT: 409,
    Code.REFERRAL_CODE_INVALID: 422,
    Code.REFERRAL_OWN_CODE: 422,
    Code.REFERRAL_ALREADY_ATTRIBUTED: 409,
    Code.PROVIDER_UNAVAILABLE: 503,
    # Risk: a refusal by the screen is a business rule (422); a step-up is a permission the
    # caller can obtain (403, with code step_up_required); cases as any resource.
    Code.RISK_BLOCKED: 422,
    Code.STEP_UP_REQUIRED: 403,
    Code.CASE_NOT_FOUND: 404,
    Code.CASE_NOT_OPEN: 409,
    # Webhooks and reports.
    Code.INVALID_WEBHOOK_URL: 400,
    Code.INVALID_PERIOD: 400,
    Code.WEBHOOK_ENDPOINT_NOT_FOUND: 404,
    Code.WEBHOOK_DELIVERY_NOT_FOUND: 404,
    Code.WEBHOOK_ENDPOINT_DISABLED: 409,
    Code.WEBHOOK_ENDPOINT_LIMIT_REACHED: 422,
    # Payouts.
    Code.PAYOUT_NOT_FOUND: 404,
    Code.PAYOUT_METHOD_NOT_FOUND: 404,
    Code.PAYOUT_SCHEDULE_NOT_FOUND: 404,
    Code.QUOTE_NOT_FOUND: 404,
    Code.PAYOUTS_LOCKED: 409,
    Code.QUOTE_EXPIRED: 409,
    Code.PAYOUT_METHOD_REQUIRED: 409,
    Code.PAYOUT_METHOD_LIMIT_REACHED: 422,
    Code.QUOTE_LIMIT_REACHED: 422,
    Code.PAYOUT_TOO_SMALL: 422,
    # Web (issue 6).
    Code.PASSKEY_REFUSED: 401,
    Code.PASSKEY_NOT_FOUND: 404,
    Code.PASSKEY_LIMIT_REACHED: 422,
    Code.LAST_PASSKEY: 409,
    Code.LINK_NOT_FOUND: 404,
    Code.LINK_INACTIVE: 409,
    Code.BUDGET_NOT_FOUND: 404,
    Code.BUDGET_EXCEEDED: 402,
}

_BY_VALUE: Final = {
    **{code.value: status for code, status in REFUSAL_STATUS.items()},
    **{code.value: status for code, status in API_STATUS.items()},
}


def status_of(code: str) -> int:
    """The HTTP status of a problem code. A code missing from the tables (a refusal code
    added without a row: the test catches it) is a 404 if it says so, else a 422."""
    status = _BY_VALUE.get(code)
    if status is None:
        log.error("problem code %r has no HTTP status in centime.http.problems", code)
        status = 404 if code.endswith("_not_found") else 422
    return status


class ProblemError(Exception):
    """Raised anywhere in request handling to answer with a problem document."""

    def __init__(
        self,
        code: ApiCode | Code | str,
        detail: str,
        *,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code if isinstance(code, str) else code.value
        self.status = status_of(self.code)
        self.detail = detail
        self.errors = list(errors)
        self.headers = dict(headers or {})


def problem_body(code: str, detail: str, errors: Sequence[FieldError] = ()) -> bytes:
    status = status_of(code)
    title = code.replace("_", " ").capitalize()
    return msgspec.json.encode(
        Problem(
            type=PROBLEM_TYPE + code,
            title=title,
            status=status,
            detail=detail,
            code=code,
            errors=list(errors),
        )
    )


def problem_response(
    code: ApiCode | Code | str,
    detail: str,
    *,
    errors: Sequence[FieldError] = (),
    headers: Mapping[str, str] | None = None,
) -> Response[Any]:
    text = code if isinstance(code, str) else code.value
    return Response(
        problem_body(text, detail, errors),
        status_code=status_of(text),
        media_type=PROBLEM_JSON,
        headers=dict(headers or {}),
    )


def refusal_problem(refusal: Refusal) -> tuple[int, bytes]:
    """(status, body) of a service's refusal."""
    return status_of(refusal.code.value), problem_body(refusal.code.value, refusal.detail)


# ------------------------------------------------------------------ request ids

_REQUEST_ID: Final = re.compile(rf"[A-Za-z0-9._-]{{1,{REQUEST_ID_LEN_MAX}}}")
_SCOPE_KEY: Final = "centime.request_id"


def request_id(scope: Scope) -> str:
    """The request's id: the client's X-Request-Id if it is short and plain, else a new
    one; the same for the whole request (kept in the ASGI scope)."""
    raw: Any = scope
    found = raw.get(_SCOPE_KEY)
    if found is None:
        # Not os.urandom: its getrandom() call lets go of the GIL, and under load the event
        # loop then waited for the writer's thread to hand it back (up to the 5 ms switch
        # interval) on every response. An id correlates logs; it guards nothing, and
        # random's generator (reseeded in a forked child) is unique enough for that.
        found = f"{random.getrandbits(128):032x}"
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                text = value.decode("latin-1")
                if _REQUEST_ID.fullmatch(text):
                    found = text
                break
        raw[_SCOPE_KEY] = found
    return str(found)


# ------------------------------------------------------------------ exception handlers

_HTTP_CODES: Final = {
    400: ApiCode.INVALID_REQUEST,
    401: ApiCode.UNAUTHORIZED,
    403: ApiCode.FORBIDDEN,
    404: ApiCode.NOT_FOUND,
    405: ApiCode.METHOD_NOT_ALLOWED,
    413: ApiCode.BODY_TOO_LARGE,
    415: ApiCode.UNSUPPORTED_MEDIA_TYPE,
    429: ApiCode.RATE_LIMITED,
}


def _on_problem(_: Request[Any, Any, Any], error: ProblemError) -> Response[Any]:
    return problem_response(error.code, error.detail, errors=error.errors, headers=error.headers)


def _on_wire(_: Request[Any, Any, Any], error: WireError) -> Response[Any]:
    field = FieldError(field=error.field, detail=error.detail)
    return problem_response(error.code, error.detail, errors=[field])


def _on_validation(_: Request[Any, Any, Any], error: ValidationException) -> Response[Any]:
    """Litestar's validation of query, path and header parameters (bodies are decoded
    strictly by centime.api.body, which raises ProblemError itself)."""
    if not isinstance(error.extra, list):  # a missing required parameter
        detail = str(error.detail)
        if "'Idempotency-Key'" in detail:
            return problem_response(
                ApiCode.IDEMPOTENCY_KEY_REQUIRED,
                "this request moves money: send an Idempotency-Key header (a UUID will do)",
                errors=[FieldError(field="Idempotency-Key", detail="required")],
            )
        return problem_response(ApiCode.INVALID_REQUEST, detail)
    errors = []
    code = ApiCode.INVALID_REQUEST
    for item in error.extra:
        if not isinstance(item, dict):
            continue
        field = str(item.get("key") or item.get("source") or "request")
        detail = str(item.get("message", "invalid"))
        if field == "data" and item.get("source") == "body":
            field, detail = "body", "a JSON body is required"
        elif field == "idempotency_key":
            field, code = "Idempotency-Key", ApiCode.INVALID_IDEMPOTENCY_KEY
            detail = "1-255 printable ASCII characters"
        errors.append(FieldError(field=field, detail=detail))
    detail = "; ".join(f"{e.field}: {e.detail}" for e in errors) or "invalid request"
    return problem_response(code, detail, errors=errors)


def _on_http(request: Request[Any, Any, Any], error: HTTPException) -> Response[Any]:
    status = error.status_code
    if status >= 500:
        return _on_exception(request, error)
    code = _HTTP_CODES.get(status)
    if code is None:  # a status no table names: keep it, with a generic code
        body = msgspec.json.encode(
            Problem(
                type="about:blank",
                title=str(error.detail),
                status=status,
                detail=str(error.detail),
                code=f"http_{status}",
            )
        )
        return Response(body, status_code=status, media_type=PROBLEM_JSON)
    detail = {
        ApiCode.NOT_FOUND: f"no route {request.url.path}",
        ApiCode.METHOD_NOT_ALLOWED: f"{request.method} is not allowed here",
        ApiCode.BODY_TOO_LARGE: "the request body is larger than this endpoint accepts",
    }.get(code, str(error.detail))
    headers = {k: v for k, v in (error.headers or {}).items() if k.lower() == "allow"}
    return problem_response(code, detail, headers=headers)


def _on_exception(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    rid = request_id(request.scope)
    log.error(
        "request %s %s failed (request id %s)",
        request.method,
        request.url.path,
        rid,
        exc_info=error,
    )
    return problem_response(ApiCode.INTERNAL_ERROR, f"an internal error occurred; request id {rid}")


def exception_handlers() -> ExceptionHandlersMap:
    return {
        ProblemError: _on_problem,
        WireError: _on_wire,
        ValidationException: _on_validation,
        HTTPException: _on_http,
        Exception: _on_exception,
    }


# ------------------------------------------------------------------ OpenAPI


def problems(*statuses: int, public: bool = False) -> dict[int, ResponseSpec]:
    """The problem responses a route declares in the OpenAPI document: 400 and 500 always,
    401, 403, 429 and 503 (``busy``: the writer's queue is full) unless the route is
    ``public`` (no key), plus ``statuses``."""
    wanted = sorted({400, 500, *(() if public else (401, 403, 429, 503)), *statuses})
    return {
        status: ResponseSpec(
            data_container=Problem,
            description="A problem document (RFC 9457); `code` says which.",
            media_type=PROBLEM_JSON,
            generate_examples=False,
        )
        for status in wanted
    }
