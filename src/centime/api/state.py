"""What every request handler reaches: the app's services and the verified caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar.connection import ASGIConnection

from centime.auth import KeyVerifier, Principal
from centime.http.metrics import Metrics
from centime.http.ratelimit import FailureLimit, TokenBuckets
from centime.platform.context import Platform

from .idempotency import InFlight
from .payment_queue import PaymentQueue
from .screen_queue import ScreenQueue

__all__ = ["ApiState", "api_state", "principal_of"]

# Kept in the ASGI scope itself: Litestar's ``connection.state`` builds a State object (and
# an RLock) on every access, which showed as 7% of the event loop's time per request.
_PRINCIPAL = "centime.principal"


@dataclass(frozen=True)
class ApiState:
    platform: Platform
    verifier: KeyVerifier
    buckets: TokenBuckets
    in_flight: InFlight
    metrics: Metrics
    # The risk screen's single decisions, grouped (centime.api.screen_queue).
    screens: ScreenQueue
    # Single payments of concurrent requests, run in shared units (centime.api.payment_queue).
    payments: PaymentQueue
    # Failed authentications per client address (429 once a source guesses too much).
    failures: FailureLimit = field(default_factory=FailureLimit)


def api_state(connection: ASGIConnection[Any, Any, Any, Any]) -> ApiState:
    state: ApiState = connection.app.state["api"]
    return state


def set_principal(connection: ASGIConnection[Any, Any, Any, Any], principal: Principal) -> None:
    scope: Any = connection.scope
    scope[_PRINCIPAL] = principal


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The caller, as the authentication guard verified it (every /v1 route has one)."""
    scope: Any = connection.scope
    principal: Principal = scope[_PRINCIPAL]
    return principal
