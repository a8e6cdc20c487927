"""The Litestar application: the one composition root for HTTP.

``create_app(platform)`` wires the services to the routes: ``/v1`` (every route behind an
API key, :mod:`centime.api.routes`), the public audit endpoints, ``/healthz``, ``/readyz``,
``/metrics``, and the OpenAPI 3.1 document at ``/openapi.json`` with a docs UI at ``/docs``.
Errors are problem documents (:mod:`centime.api.errors`), bodies are decoded strictly and
bounded in size, keys are rate limited.
"""

from __future__ import annotations

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from centime import __version__
from centime.audit import AuditLog
from centime.auth import KeyVerifier
from centime.limits import (
    API_BODY_MAX_BYTES,
    API_KEY_CACHE_TTL_S,
    API_RATE_BURST,
    API_RATE_PER_KEY_PER_S,
)
from centime.platform.context import Platform

from .audit import audit_routes
from .body import ApiRequest
from .errors import exception_handlers
from .guards import authenticate
from .health import health_routes
from .idempotency import InFlight
from .metrics import Metrics
from .ratelimit import TokenBuckets
from .routes import api_routes
from .state import ApiState

__all__ = ["create_app"]

SECURITY_SCHEME = "api_key"


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="centime API",
        version=__version__,
        description=(
            "Micropayments on an exact ledger. Authenticate with `Authorization: Bearer"
            " ck_...`; send an `Idempotency-Key` with every POST; amounts are"
            ' `{"value": "125", "asset": "USD", "scale": 6}`; errors are RFC 9457 problem'
            " documents with a stable `code`."
        ),
        path="/",
        render_plugins=[JsonRenderPlugin(path="/openapi.json"), SwaggerRenderPlugin(path="/docs")],
        components=Components(
            security_schemes={
                SECURITY_SCHEME: SecurityScheme(
                    type="http", scheme="bearer", description="An API key: ck_..."
                )
            }
        ),
        create_examples=False,
    )


def create_app(
    platform: Platform,
    audit: AuditLog | None = None,
    *,
    rate_per_s: float = API_RATE_PER_KEY_PER_S,
    rate_burst: int = API_RATE_BURST,
    key_cache_ttl_s: float = API_KEY_CACHE_TTL_S,
    debug: bool = False,
) -> Litestar:
    """The HTTP app over ``platform`` (its ledger's store also serves the audit endpoints;
    ``audit`` is the log the ledger writes with, if any)."""
    metrics = Metrics()
    api = ApiState(
        platform=platform,
        verifier=KeyVerifier(platform, cache_ttl_s=key_cache_ttl_s),
        buckets=TokenBuckets(rate_per_s, rate_burst),
        in_flight=InFlight(),
        metrics=metrics,
    )
    v1 = Router(
        path="/v1",
        guards=[authenticate],
        route_handlers=api_routes,
        security=[{SECURITY_SCHEME: []}],
    )
    ledger = platform.ledger
    return Litestar(
        route_handlers=[audit_routes, v1, *health_routes],
        state=State({"store": ledger.store, "ledger": ledger, "audit": audit, "api": api}),
        exception_handlers=exception_handlers(),
        request_class=ApiRequest,
        request_max_body_size=API_BODY_MAX_BYTES,
        middleware=[metrics.middleware],
        before_send=[metrics.before_send],
        openapi_config=openapi_config(),
        debug=debug,
    )
