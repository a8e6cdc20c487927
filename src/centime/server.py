"""The one ASGI application: the REST API, the web pages, Open Payments and the docs.

``create_app(platform)`` wires the services to the routes: ``/v1`` (every route behind an
API key, :mod:`centime.api.routes`), the public audit endpoints, ``/healthz``, ``/readyz``,
``/metrics``, the OpenAPI 3.1 document at ``/openapi.json`` with a docs UI at ``/docs``, and
when asked the web apps (:mod:`centime.web`) and Open Payments (:mod:`centime.openpayments`).
It lives outside ``centime.api`` so that the web pages and the API are siblings, neither
importing the other: what they share is :mod:`centime.http`.

Errors are problem documents (:mod:`centime.http.problems`), bodies are decoded strictly and
bounded in size, keys are rate limited.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import msgspec
from litestar import Litestar, Router

# Litestar 2 keeps its msgspec Struct schema plugin private; it is extended below, not copied.
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.routes import HTTPRoute
from litestar.types import Message, Scope
from litestar.typing import FieldDefinition

from centime.api import lean
from centime.api.audit import audit_routes
from centime.api.body import ApiRequest
from centime.api.guards import check_every_route_authorizes
from centime.api.health import health_routes
from centime.api.idempotency import InFlight
from centime.api.payment_queue import PaymentQueue
from centime.api.routes import api_routes
from centime.api.screen_queue import ScreenQueue
from centime.api.state import ApiState
from centime.audit import AuditLog
from centime.auth import KeyVerifier
from centime.http.metrics import METRICS_STATE, Metrics
from centime.http.problems import exception_handlers
from centime.http.ratelimit import FailureLimit, RateStore, TokenBuckets
from centime.limits import (
    API_BODY_MAX_BYTES,
    API_KEY_CACHE_TTL_S,
    API_RATE_BURST,
    API_RATE_PER_KEY_PER_S,
)
from centime.openpayments import OpenPaymentsState, open_payments_router
from centime.platform.context import Platform
from centime.version import __version__
from centime.web import WebState, web_handlers
from centime.web.problem_text import localize_problems

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.openapi.spec import Schema

__all__ = ["create_app"]

SECURITY_SCHEME = "api_key"


DOCS_ASSETS: Final = "/docs-assets"


def _swagger() -> SwaggerRenderPlugin:
    """Swagger UI from the ``swagger-ui-bundle`` package, served by this app at
    ``/docs-assets``: the reference works offline (no CDN, no third-party favicon)."""
    return SwaggerRenderPlugin(
        path="/docs",
        js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{DOCS_ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{DOCS_ASSETS}/favicon-32x32.png'>",
    )


def docs_assets() -> Any:
    """The Swagger UI files the package ships (JavaScript, CSS, icons)."""
    from litestar.static_files import create_static_files_router
    from swagger_ui_bundle import swagger_ui_path

    return create_static_files_router(
        path=DOCS_ASSETS, directories=[swagger_ui_path], include_in_schema=False
    )


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
        render_plugins=[JsonRenderPlugin(path="/openapi.json"), _swagger()],
        components=Components(
            security_schemes={
                SECURITY_SCHEME: SecurityScheme(
                    type="http", scheme="bearer", description="An API key: ck_..."
                )
            }
        ),
        create_examples=False,
    )


class StrictStructSchemas(StructSchemaPlugin):
    """Request bodies refuse unknown fields (``wire.Input``, ``wire.Money``: msgspec's
    ``forbid_unknown_fields``), and the document says so (``additionalProperties: false``):
    Litestar's own plugin leaves that out, so the document allowed fields the server refuses
    with a 400."""

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        info = msgspec.inspect.type_info(field_definition.type_)
        if isinstance(info, msgspec.inspect.StructType) and info.forbid_unknown_fields:
            schema.additional_properties = False
        return schema


class AllowHeaders:
    """The ``Allow`` header of an OPTIONS answer: every method of the path.

    Litestar 2 builds a path's OPTIONS handler with the first handler registered on it and
    never updates it, so ``OPTIONS /v1/customers`` answered ``Allow: OPTIONS, POST`` without
    GET (litestar#4169, fixed in Litestar 3 only). The header is rewritten here from the
    app's routes, as they are once the app is built."""

    def __init__(self) -> None:
        self._by_template: dict[str, bytes] = {}

    def learn(self, app: Litestar) -> None:
        for route in app.routes:
            if isinstance(route, HTTPRoute):
                self._by_template[route.path_format] = ", ".join(sorted(route.methods)).encode()

    async def before_send(self, message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
            return
        raw: Any = scope
        allow = self._by_template.get(raw.get("path_template") or "")
        headers = list(message.get("headers") or [])
        if allow is None or not any(name.lower() == b"allow" for name, _ in headers):
            return  # not the OPTIONS handler's answer (a 401, say): nothing to correct
        headers = [(name, value) for name, value in headers if name.lower() != b"allow"]
        message["headers"] = [*headers, (b"allow", allow)]


def create_app(
    platform: Platform,
    audit: AuditLog | None = None,
    *,
    rate_per_s: float = API_RATE_PER_KEY_PER_S,
    rate_burst: int = API_RATE_BURST,
    key_cache_ttl_s: float = API_KEY_CACHE_TTL_S,
    debug: bool = False,
    web: WebState | None = None,
    auth_failures: FailureLimit | None = None,
    open_payments: OpenPaymentsState | None = None,
    rate_store: RateStore | None = None,
    lean_payments: bool | None = None,
) -> Litestar:
    """The HTTP app over ``platform`` (its ledger's store also serves the audit endpoints;
    ``audit`` is the log the ledger writes with, if any). ``web``: the web apps too, on the
    same app (their pages are left out of the OpenAPI document). ``auth_failures``: the
    limit on failed authentications per client address (the default's otherwise).
    ``open_payments``: the Open Payments servers under ``/op`` (centime.openpayments).
    ``rate_store``: where the rate limits keep their buckets (default: this process).
    ``lean_payments``: ``POST /v1/payments`` on the lean path (centime.api.lean; default:
    on unless ``CENTIME_LEAN_PAYMENTS=0``)."""
    metrics = Metrics()
    api = ApiState(
        platform=platform,
        verifier=KeyVerifier(platform, cache_ttl_s=key_cache_ttl_s),
        buckets=TokenBuckets(rate_per_s, rate_burst, store=rate_store),
        in_flight=InFlight(),
        metrics=metrics,
        screens=ScreenQueue(platform),
        payments=PaymentQueue(platform),
        failures=FailureLimit(store=rate_store) if auth_failures is None else auth_failures,
    )
    v1 = Router(path="/v1", route_handlers=api_routes, security=[{SECURITY_SCHEME: []}])
    ledger = platform.ledger
    allow = AllowHeaders()
    app = Litestar(
        route_handlers=[
            audit_routes,
            v1,
            *health_routes,
            docs_assets(),
            *(web_handlers() if web else []),
            *([open_payments_router()] if open_payments else []),
        ],
        state=State(
            {
                "store": ledger.store,
                "ledger": ledger,
                "audit": audit,
                "api": api,
                "web": web,
                "open_payments": open_payments,
                METRICS_STATE: metrics,
            }
        ),
        exception_handlers=exception_handlers(),
        request_class=ApiRequest,
        plugins=[StrictStructSchemas()],
        request_max_body_size=API_BODY_MAX_BYTES,
        middleware=[metrics.middleware],
        before_send=[metrics.before_send, allow.before_send, localize_problems],
        openapi_config=openapi_config(),
        debug=debug,
    )
    allow.learn(app)
    check_every_route_authorizes(app)
    lean.install(app, metrics, API_BODY_MAX_BYTES, enabled=lean_payments)
    return app
