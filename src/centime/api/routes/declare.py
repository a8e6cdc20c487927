"""How a /v1 route is declared: who may call it, and the problems it may answer.

The conventions every route module followed by hand, said once:

- the guards: one list per (scope, operator only), shared by every module;
- a read (``reads``) is a plain function run in a thread (``sync_to_thread``) that answers
  200 or one of the problems it names;
- a write (``writes``) takes an ``Idempotency-Key`` (``key_required``: a route that moves
  money needs one) and may answer 409 (the key reused with another body) and 422
  (refused); with a JSON ``body`` also 413 (too large) and 415 (not JSON). Its other
  problems (402, 404, 503...) it names itself. ``writes`` declares the header for the
  handler, which reads it (if at all) with ``idempotency_key_of``, as ``execute`` does.

A route that declares something else (a media type, a larger body, a risk review's 202)
says so with ``**options`` or its own decorator.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from litestar import get, post
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec
from litestar.types import Guard

from centime.auth import Scope
from centime.http.problems import problems

from ..guards import requires
from ..idempotency import IdempotencyKey, IdempotencyKeyRequired

__all__ = [
    "ADMIN",
    "OPERATOR_ADMIN",
    "OPERATOR_PAYMENTS",
    "OPERATOR_READ",
    "PAYMENTS",
    "PAYOUTS",
    "READ",
    "REFUNDS",
    "REVIEW",
    "reads",
    "write_problems",
    "writes",
]

READ: Final[list[Guard]] = [requires(Scope.READ)]
ADMIN: Final[list[Guard]] = [requires(Scope.ADMIN)]
PAYMENTS: Final[list[Guard]] = [requires(Scope.PAYMENTS)]
PAYOUTS: Final[list[Guard]] = [requires(Scope.PAYOUTS)]
REFUNDS: Final[list[Guard]] = [requires(Scope.REFUNDS)]
OPERATOR_READ: Final[list[Guard]] = [requires(Scope.READ, operator=True)]
OPERATOR_ADMIN: Final[list[Guard]] = [requires(Scope.ADMIN, operator=True)]
OPERATOR_PAYMENTS: Final[list[Guard]] = [requires(Scope.PAYMENTS, operator=True)]
REVIEW: Final[list[Guard]] = [requires(Scope.REVIEW, operator=True)]

_IDEMPOTENT: Final = (409, 422)
_JSON_BODY: Final = (413, 415)


def reads(path: str, guards: list[Guard], *statuses: int, **options: Any) -> get:
    """A GET run in a thread, answering 200 or one of ``statuses``."""
    return get(path, guards=guards, sync_to_thread=True, responses=problems(*statuses), **options)


def write_problems(*statuses: int, body: bool = True) -> set[int]:
    """A write's problems: ``statuses`` and those of its idempotency key (and of its body)."""
    return {*statuses, *_IDEMPOTENT, *(_JSON_BODY if body else ())}


Handler = Callable[..., Awaitable[Any]]


def _taking_key(handler: Handler, required: bool) -> Handler:
    """``handler`` with the ``Idempotency-Key`` header among the parameters Litestar reads
    from its signature (so it is documented and checked), where the hand-written ones had
    it: after the handler's own, before those with a default (another optional header)."""

    @functools.wraps(handler)
    async def declared(*args: Any, idempotency_key: str | None = None, **kwargs: Any) -> Any:
        # Dropped here: the handler (and execute) read it with idempotency_key_of(request).
        return await handler(*args, **kwargs)

    annotation = IdempotencyKeyRequired if required else IdempotencyKey
    key = inspect.Parameter(
        "idempotency_key",
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        default=inspect.Parameter.empty if required else None,
        annotation=annotation,
    )
    signature = inspect.signature(handler)
    parameters = list(signature.parameters.values())
    defaults = [i for i, p in enumerate(parameters) if p.default is not p.empty]
    parameters.insert(defaults[0] if defaults else len(parameters), key)
    declared.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    declared.__annotations__ = {**handler.__annotations__, "idempotency_key": annotation}
    return declared


def writes(
    path: str,
    guards: list[Guard],
    *statuses: int,
    status_code: int | None = None,
    body: bool = True,
    key_required: bool = False,
    method: Callable[..., HTTPRouteHandler] = post,
    also: Mapping[int, ResponseSpec] | None = None,
    **options: Any,
) -> Callable[[Handler], HTTPRouteHandler]:
    """A POST (or ``method``) answering ``status_code`` (the method's own by default), one of
    ``write_problems`` or one of the answers ``also`` documents (a review's 202); its
    handler takes the ``Idempotency-Key`` header (which must be sent: ``key_required``)."""
    responses = {**problems(*write_problems(*statuses, body=body)), **(also or {})}
    if status_code is not None:
        options["status_code"] = status_code
    route = method(path, guards=guards, responses=responses, **options)
    return lambda handler: route(_taking_key(handler, key_required))
