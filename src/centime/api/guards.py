"""Authentication and authorisation, as Litestar guards (they run before the body is read).

Every ``/v1`` route is behind :func:`authenticate` (the router's guard): a valid,
unrevoked API key in ``Authorization: Bearer ck_...`` (401 otherwise), within its rate
limit (429 otherwise). A client address that presented too many invalid keys is answered
429 with Retry-After before its key is looked at (:class:`FailureLimit`; a key verified
moments ago, in the cache, still passes): 3,000 guesses from one address get about 20
answers of 401, then 429.

Each route then says what it needs with :func:`requires`: a scope,
and whether only the operator's keys may call it (403 otherwise). Whether a *resource* is
the caller's is the route's business, answered 404 when it is not (another merchant's
payment does not exist, as far as the caller can tell).
"""

from __future__ import annotations

import math
from typing import Any, Final

from anyio import to_thread
from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from centime.auth import Principal, Scope
from centime.http.problems import ApiCode, ProblemError

from .state import api_state, principal_of, set_principal

__all__ = ["authenticate", "check_every_route_authorizes", "is_authorizing", "requires"]

_BEARER: Final = "bearer "
_CHALLENGE: Final = {"WWW-Authenticate": 'Bearer realm="centime"'}


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    header = connection.headers.get("authorization", "")
    if not header[: len(_BEARER)].lower() == _BEARER:
        raise ProblemError(
            ApiCode.UNAUTHORIZED,
            "an API key is required: Authorization: Bearer ck_...",
            headers=_CHALLENGE,
        )
    token = header[len(_BEARER) :].strip()
    state = api_state(connection)
    source = connection.client.host if connection.client is not None else "unknown"
    cached = state.verifier.from_cache(token)
    principal = cached if isinstance(cached, Principal) else None
    if principal is None:
        # A key verified moments ago passes even from a failing address (a merchant behind
        # the same NAT as a guesser keeps working); anything else from it waits.
        _refuse_a_guessing_source(state.failures.wait_s(source))
    if cached is None:  # not cached: read the key's row, off the event loop
        principal = await to_thread.run_sync(state.verifier.verify, token)
    if principal is None:
        state.failures.failed(source)
        raise ProblemError(
            ApiCode.UNAUTHORIZED, "the API key is not valid, or was revoked", headers=_CHALLENGE
        )
    wait_s = state.buckets.take(principal.key_id)
    if wait_s > 0:
        raise ProblemError(
            ApiCode.RATE_LIMITED,
            "too many requests for this API key; retry after the Retry-After seconds",
            headers={"Retry-After": str(max(1, math.ceil(wait_s)))},
        )
    set_principal(connection, principal)


def _refuse_a_guessing_source(wait_s: float) -> None:
    if wait_s > 0:
        raise ProblemError(
            ApiCode.RATE_LIMITED,
            "too many failed authentications from this address; retry after the"
            " Retry-After seconds",
            headers={"Retry-After": str(max(1, math.ceil(wait_s)))},
        )


def requires(scope: Scope, *, operator: bool = False) -> Guard:
    """A guard: the key has ``scope`` (``admin`` has every scope), and, with ``operator``,
    is the operator's."""

    # One guard per route that authenticates and authorizes: Litestar copies the route
    # handler for every guard it calls (copy() was 13% of the event loop's time with two).
    # Async: Litestar runs a sync guard in a worker thread.
    async def guard(
        connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
    ) -> None:
        await authenticate(connection, handler)
        principal = principal_of(connection)
        if operator and not principal.is_operator:
            raise ProblemError(ApiCode.FORBIDDEN, "only the operator's keys may do this")
        if not principal.allows(scope):
            raise ProblemError(ApiCode.FORBIDDEN, f"this key lacks the {scope.value!r} scope")

    guard.centime_authorizes = True  # type: ignore[attr-defined]
    return guard


def is_authorizing(guard: object) -> bool:
    """Whether ``guard`` came from :func:`requires` (create_app checks every /v1 route)."""
    return getattr(guard, "centime_authorizes", False) is True


def check_every_route_authorizes(app: Litestar) -> None:
    """Fail closed: each /v1 route (but the public audit endpoints) must carry a guard from
    ``requires``, which authenticates and checks the scope; a route without one would be
    open to anyone, so the app refuses to start."""
    for route in app.routes:
        if not route.path.startswith("/v1/") or route.path.startswith("/v1/audit/"):
            continue
        for handler in getattr(route, "route_handlers", ()):
            if "OPTIONS" in handler.http_methods and len(handler.http_methods) == 1:
                continue
            if not any(is_authorizing(g) for g in handler.resolve_guards()):
                raise RuntimeError(f"{route.path} has no requires() guard: it would be open")
