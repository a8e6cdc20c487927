"""Running a service's operation for a request: the one place routes hand work to the
ledger's writer, with idempotency, and render the outcome.

A route parses its input, builds the service's :class:`Operation`, and returns
``await execute(request, operation, to_wire)``: the operation runs in the writer's group
commit without blocking the event loop (many requests in flight share one commit), a
refusal becomes its problem document, a result becomes ``to_wire(result)`` as JSON.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Final, TypeVar, cast

import msgspec
from litestar import Request, Response

from centime.http.problems import PROBLEM_JSON, ApiCode, ProblemError, refusal_problem
from centime.ledger import LedgerBusyError
from centime.platform.context import Operation
from centime.platform.errors import Refusal
from centime.platform.review import InReview

from .idempotency import HEADER, KeyReused, idempotency_key_of, idempotent, request_hash
from .screen import in_review_body
from .state import api_state, principal_of

__all__ = ["answer", "execute", "fingerprint_of", "key_reused", "rendering", "submit"]

T = TypeVar("T")

REPLAYED_HEADER = "Idempotent-Replayed"
BUSY_HEADERS: Final = {"Retry-After": "1"}


async def submit(request: Request[Any, Any, Any], operation: Operation[T]) -> T:
    """The operation's result once it is durable (the event loop keeps serving meanwhile).

    Shielded: a cancelled request (a client that went away) must not cancel the writer's
    future, which the writer completes after the commit whatever happens."""
    ledger = api_state(request).platform.ledger
    try:
        # Never waits for room in the writer's queue: that would block the event loop.
        future = ledger.submit_unit(
            operation.unit, operation.events_max, wait=False, overlap=operation.overlap
        )
    except LedgerBusyError:
        raise ProblemError(
            ApiCode.BUSY, "the server is at capacity; retry shortly", headers=BUSY_HEADERS
        ) from None
    result: T = await asyncio.shield(asyncio.wrap_future(future))
    return result


def answer(status_code: int, body: bytes, replayed: bool = False) -> Response[Any]:
    """An outcome as rendered (a problem document at 400 and above), marked when replayed."""
    return Response(
        body,
        status_code=status_code,
        media_type=PROBLEM_JSON if status_code >= 400 else "application/json",
        headers={REPLAYED_HEADER: "true"} if replayed else {},
    )


def rendering(
    to_wire: Callable[[T], msgspec.Struct], status_code: int
) -> Callable[[T | Refusal | InReview], tuple[int, bytes]]:
    """An outcome's answer (status, body): ``to_wire`` of a result at ``status_code``, a
    refusal's problem, or the 202 of a payment held for review. Pure: a unit may run it."""

    def rendered(result: T | Refusal | InReview) -> tuple[int, bytes]:
        if isinstance(result, Refusal):
            return refusal_problem(result)
        if isinstance(result, InReview):  # held by the risk screen: 202 in_review
            return in_review_body(result)
        return status_code, msgspec.json.encode(to_wire(result))

    return rendered


async def fingerprint_of(request: Request[Any, Any, Any]) -> bytes:
    """The request's hash, as its stored answer keeps it (method, path and query, body)."""
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return request_hash(request.method, path, await request.body())


def key_reused() -> ProblemError:
    return ProblemError(
        ApiCode.IDEMPOTENCY_KEY_REUSED,
        f"this {HEADER} was used for a different request; use a new key",
    )


async def execute(
    request: Request[Any, Any, Any],
    operation: Operation[T | Refusal] | Operation[T | Refusal | InReview],
    to_wire: Callable[[T], msgspec.Struct],
    *,
    status_code: int = 200,
    stored_to_wire: Callable[[T], msgspec.Struct] | None = None,
    keyed: bool = True,
) -> Response[Any]:
    """Run ``operation`` and answer with its outcome. When the request has an
    Idempotency-Key (a route declared with ``writes`` takes one; one that moves money
    requires it) and is ``keyed``, the first outcome is stored with the operation and
    replayed for a retry; ``stored_to_wire`` renders what is stored when it must differ
    from the live answer. A route that declares no key says ``keyed=False``.
    A result the risk screen held (:class:`~centime.platform.review.service.InReview`) is answered
    ``202`` with the case (centime.api.screen)."""
    key = idempotency_key_of(request) if keyed else None
    # A use case behind the risk screen may also answer InReview (centime.usecases).
    guarded = cast("Operation[T | Refusal | InReview]", operation)

    def render(
        wire: Callable[[T], msgspec.Struct],
    ) -> Callable[[T | Refusal | InReview], tuple[int, bytes]]:
        return rendering(wire, status_code)

    if key is None:
        status, body = render(to_wire)(await submit(request, guarded))
        return answer(status, body)
    owner = principal_of(request).owner
    fingerprint = await fingerprint_of(request)
    wrapped = idempotent(
        guarded,
        owner,
        key,
        fingerprint,
        render(to_wire),
        render(stored_to_wire) if stored_to_wire else None,
    )
    with api_state(request).in_flight.claim(owner, key):
        outcome = await submit(request, wrapped)
    if isinstance(outcome, KeyReused):
        raise key_reused()
    return answer(outcome.status_code, outcome.body, outcome.replayed)
