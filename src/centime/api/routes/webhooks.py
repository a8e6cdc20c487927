"""Webhook endpoints over HTTP: register, change, remove, rotate the secret, send a test
event, read the deliveries and the delivery log, re-deliver.

Every route needs the ``admin`` scope. A merchant's key manages its own endpoints (another
merchant's are 404, never 403); the operator's key names the merchant when it creates one
and reaches every endpoint. Secrets are in the answers of ``POST /v1/webhook-endpoints``
and ``POST /v1/webhook-endpoints/{id}/rotate-secret`` only, once (an idempotent replay
answers ``secret: null``).
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Request, Response, delete, patch
from litestar.params import FromPath, JSONBody

from centime import wire
from centime.http.problems import problems
from centime.platform.errors import Code
from centime.platform.events import webhooks

from ..execute import execute
from ..idempotency import idempotency_key_of
from ..params import must_find, path_id
from ..state import api_state, principal_of
from .acting import acting_merchant, operation_id
from .declare import ADMIN, reads, writes
from .listings import OWN_MERCHANT, in_path, lists
from .render import converter

__all__ = ["endpoint_out", "webhook_routes"]


def _rotating_until(e: webhooks.Endpoint) -> str | None:
    """Until when the previous secret still signs (None: no rotation under way)."""
    rotating = e.previous_expires_ns if e.secret_previous is not None else None
    return None if rotating is None else wire.rfc3339(rotating)


endpoint_out: Final = converter(
    webhooks.Endpoint,
    wire.WebhookEndpoint,
    "we",
    computed={
        "event_types": lambda e: sorted(e.event_types),
        "secret_rotating_until": _rotating_until,
    },
)


def _with_secret(made: webhooks.NewSecret, shown: bool) -> wire.WebhookEndpointCreated:
    secret = made.secret if shown else None
    return wire.extended(endpoint_out(made.endpoint), wire.WebhookEndpointCreated, secret=secret)


delivery_out: Final = converter(webhooks.Delivery, wire.WebhookDelivery, "wd")

attempt_out: Final = converter(webhooks.Attempt, wire.WebhookAttempt, "wa")


def _owner(request: Request[Any, Any, Any]) -> int | None:
    """Whose endpoints the caller reaches: a merchant's own; the operator every one."""
    principal = principal_of(request)
    return None if principal.is_operator else principal.owner_id


def _endpoint_id(text: str) -> int:
    return path_id("we", text, Code.WEBHOOK_ENDPOINT_NOT_FOUND)


def _visible(request: Request[Any, Any, Any], text: str) -> webhooks.Endpoint:
    found = webhooks.get_endpoint(api_state(request).platform, _endpoint_id(text), _owner(request))
    return must_find(found, Code.WEBHOOK_ENDPOINT_NOT_FOUND, "no such webhook endpoint")


@writes("/webhook-endpoints", ADMIN, 404, status_code=201)
async def create_webhook_endpoint(
    request: Request[Any, Any, Any], data: JSONBody[wire.WebhookEndpointCreate]
) -> Response[wire.WebhookEndpointCreated]:
    """Register an endpoint for the event types given; its signing secret is in this
    answer only."""
    principal = principal_of(request)
    merchant_id = acting_merchant(principal, data.merchant_id, "merchant_id")
    key = idempotency_key_of(request)
    endpoint_id = None if key is None else operation_id("webhook-endpoint", principal, key)
    operation = webhooks.create_endpoint(
        api_state(request).platform,
        merchant_id,
        data.url,
        data.event_types,
        data.description,
        endpoint_id=endpoint_id,
    )
    return await execute(
        request,
        operation,
        lambda made: _with_secret(made, bool(made.secret)),
        status_code=201,
        stored_to_wire=lambda made: _with_secret(made, False),
    )


list_webhook_endpoints = lists(
    "/webhook-endpoints",
    ADMIN,
    wire.WebhookEndpointPage,
    webhooks.list_endpoints,
    endpoint_out,
    OWN_MERCHANT,
    name="list_webhook_endpoints",
    doc="The caller's endpoints (the operator's key: every merchant's), newest first.",
)


@reads("/webhook-endpoints/{endpoint_id:str}", ADMIN, 404)
def get_webhook_endpoint(
    request: Request[Any, Any, Any], endpoint_id: FromPath[str]
) -> wire.WebhookEndpoint:
    return endpoint_out(_visible(request, endpoint_id))


@writes("/webhook-endpoints/{endpoint_id:str}", ADMIN, 404, method=patch)
async def update_webhook_endpoint(
    request: Request[Any, Any, Any],
    endpoint_id: FromPath[str],
    data: JSONBody[wire.WebhookEndpointUpdate],
) -> Response[wire.WebhookEndpoint]:
    """Change the URL, the event types, the description; disable or enable again."""
    operation = webhooks.update_endpoint(
        api_state(request).platform,
        _owner(request),
        _endpoint_id(endpoint_id),
        url=None if isinstance(data.url, wire.UnsetType) else data.url,
        event_types=None if isinstance(data.event_types, wire.UnsetType) else data.event_types,
        description=None if isinstance(data.description, wire.UnsetType) else data.description,
        enabled=None if isinstance(data.enabled, wire.UnsetType) else data.enabled,
    )
    return await execute(request, operation, endpoint_out)


@delete(
    "/webhook-endpoints/{endpoint_id:str}", guards=ADMIN, status_code=200, responses=problems(404)
)
async def delete_webhook_endpoint(
    request: Request[Any, Any, Any], endpoint_id: FromPath[str]
) -> Response[wire.WebhookEndpoint]:
    """Remove the endpoint, its pending deliveries and its log."""
    operation = webhooks.delete_endpoint(
        api_state(request).platform, _owner(request), _endpoint_id(endpoint_id)
    )
    return await execute(request, operation, endpoint_out, keyed=False)


@writes("/webhook-endpoints/{endpoint_id:str}/rotate-secret", ADMIN, 404, status_code=200)
async def rotate_webhook_secret(
    request: Request[Any, Any, Any],
    endpoint_id: FromPath[str],
    data: JSONBody[wire.WebhookSecretRotate],
) -> Response[wire.WebhookEndpointCreated]:
    """A new secret (in this answer only); the current one keeps signing beside it for
    ``overlap_s`` seconds (both signatures are sent meanwhile)."""
    operation = webhooks.rotate_secret(
        api_state(request).platform, _owner(request), _endpoint_id(endpoint_id), data.overlap_s
    )
    return await execute(
        request,
        operation,
        lambda made: _with_secret(made, True),
        stored_to_wire=lambda made: _with_secret(made, False),
    )


@writes("/webhook-endpoints/{endpoint_id:str}/test", ADMIN, 404, status_code=202, body=False)
async def send_webhook_test(
    request: Request[Any, Any, Any], endpoint_id: FromPath[str]
) -> Response[wire.WebhookDelivery]:
    """Send a ``webhook.test`` event to this endpoint only (it must be enabled)."""
    operation = webhooks.send_test_event(
        api_state(request).platform, _owner(request), _endpoint_id(endpoint_id)
    )
    return await execute(request, operation, delivery_out, status_code=202)


# The endpoint the path names, if the caller's (404 otherwise): its deliveries' listing key.
_ENDPOINT: Final = in_path("endpoint_id", lambda request, text: _visible(request, text).id)

list_webhook_deliveries = lists(
    "/webhook-endpoints/{endpoint_id:str}/deliveries",
    ADMIN,
    wire.WebhookDeliveryPage,
    webhooks.list_deliveries,
    delivery_out,
    _ENDPOINT,
    name="list_webhook_deliveries",
    doc="The endpoint's deliveries (one per event), newest first.",
    statuses=(404,),
    listed="webhook-deliveries",
)
list_webhook_attempts = lists(
    "/webhook-endpoints/{endpoint_id:str}/attempts",
    ADMIN,
    wire.WebhookAttemptPage,
    webhooks.list_attempts,
    attempt_out,
    _ENDPOINT,
    name="list_webhook_attempts",
    doc="""The endpoint's delivery log: every attempt with its status code, latency, error and
    the answer's first bytes, newest first.""",
    statuses=(404,),
    listed="webhook-attempts",
)


@writes("/webhook-deliveries/{delivery_id:str}/redeliver", ADMIN, 404, status_code=202, body=False)
async def redeliver_webhook(
    request: Request[Any, Any, Any], delivery_id: FromPath[str]
) -> Response[wire.WebhookDelivery]:
    """Send the delivery's event again, now, with the retry schedule started over (the same
    ``webhook-id``)."""
    operation = webhooks.redeliver(
        api_state(request).platform,
        _owner(request),
        path_id("wd", delivery_id, Code.WEBHOOK_DELIVERY_NOT_FOUND),
    )
    return await execute(request, operation, delivery_out, status_code=202)


webhook_routes: Final = [
    create_webhook_endpoint,
    list_webhook_endpoints,
    get_webhook_endpoint,
    update_webhook_endpoint,
    delete_webhook_endpoint,
    rotate_webhook_secret,
    send_webhook_test,
    list_webhook_deliveries,
    list_webhook_attempts,
    redeliver_webhook,
]
