"""The Litestar application: one composition root for HTTP. Errors are RFC 9457 problem
documents; every input is bounded (query integers by range, no request bodies yet)."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.exceptions import HTTPException, ValidationException

from centime.audit import AuditLog
from centime.ledger import Ledger

from .audit import audit_routes, problem

__all__ = ["create_app"]


def _validation(_: Request[Any, Any, Any], error: ValidationException) -> Response[Any]:
    detail = "; ".join(
        str(item.get("message", item)) if isinstance(item, dict) else str(item)
        for item in (error.extra if isinstance(error.extra, list) else [error.detail])
    )
    return problem(400, "Invalid request", detail or "invalid request")


def _http(_: Request[Any, Any, Any], error: HTTPException) -> Response[Any]:
    return problem(error.status_code, "Error", str(error.detail))


def create_app(ledger: Ledger, audit: AuditLog | None = None) -> Litestar:
    """The HTTP app over ``ledger`` (its store serves the audit endpoints; ``audit`` is the
    log the ledger writes with, if any: the endpoints read whatever the store holds)."""
    return Litestar(
        route_handlers=[audit_routes],
        state=State({"store": ledger.store, "ledger": ledger, "audit": audit}),
        exception_handlers={ValidationException: _validation, HTTPException: _http},
        openapi_config=None,
    )
