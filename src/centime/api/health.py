"""Operations endpoints: liveness and readiness (no key needed), Prometheus metrics (an
operator's key with the ``read`` scope: the figures describe every tenant's traffic)."""

from __future__ import annotations

import asyncio
from typing import Any

from anyio import to_thread
from litestar import Request, Response, get
from prometheus_client import CONTENT_TYPE_LATEST

from centime.auth import Scope
from centime.http.problems import ApiCode, ProblemError, problems
from centime.limits import API_READY_TIMEOUT_S
from centime.wire import Health

from .guards import requires
from .state import api_state

__all__ = ["health_routes"]


@get("/healthz", tags=["operations"], responses=problems(public=True))
async def healthz() -> Health:
    """The process is up and serving."""
    return Health(status="ok")


def _store_answers(request: Request[Any, Any, Any]) -> None:
    with api_state(request).platform.read() as fetch:
        fetch("SELECT 1", ())


@get("/readyz", tags=["operations"], responses=problems(503, public=True))
async def readyz(request: Request[Any, Any, Any]) -> Health:
    """The store answers a query and the ledger's writer runs a (no-op) write unit."""
    ledger = api_state(request).platform.ledger
    try:
        async with asyncio.timeout(API_READY_TIMEOUT_S):
            await to_thread.run_sync(_store_answers, request)
            # Through the writer's queue and a group transaction: proves the writer thread
            # is alive and the store takes writes, not merely that the thread object exists.
            future = ledger.submit_unit(_noop, 0, wait=False)
            await asyncio.shield(asyncio.wrap_future(future))
    except Exception as error:  # any failure means: not ready, and say which
        raise ProblemError(ApiCode.NOT_READY, f"not ready: {type(error).__name__}") from error
    return Health(status="ready")


def _noop(_: object) -> None:
    return None


@get(
    "/metrics",
    tags=["operations"],
    media_type=CONTENT_TYPE_LATEST,
    guards=[requires(Scope.READ, operator=True)],
    responses=problems(),
    security=[{"api_key": []}],
)  # app.SECURITY_SCHEME: app imports this module
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus text exposition, for an operator's key with the ``read`` scope (scrape
    with ``authorization: Bearer <key>``)."""
    return Response(api_state(request).metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


health_routes = [healthz, readyz, metrics]
