"""Webhook endpoints, deliveries and their log (centime.api.routes.webhooks)."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import UNSET, Meta, UnsetType

from centime.limits import (
    WEBHOOK_ROTATION_OVERLAP_DEFAULT_S,
    WEBHOOK_ROTATION_OVERLAP_MAX_S,
    WEBHOOK_URL_LEN_MAX,
)

from .common import (
    Cursor,
    Description,
    Input,
    Output,
)

__all__ = [
    "EventType",
    "WebhookAttempt",
    "WebhookAttemptPage",
    "WebhookDelivery",
    "WebhookDeliveryPage",
    "WebhookEndpoint",
    "WebhookEndpointCreate",
    "WebhookEndpointCreated",
    "WebhookEndpointPage",
    "WebhookEndpointUpdate",
    "WebhookSecretRotate",
]

# ------------------------------------------------------------------ webhooks
# Endpoints, their deliveries and delivery log (centime.api.routes.webhooks).

# Endpoints belong to merchants: the customers' own events (top-ups, transfers between
# people) are never theirs to subscribe to (outbox.CUSTOMER_ONLY_TYPES).
EventType = Literal[
    "payment.created",
    "payment.refunded",
    "hold.created",
    "hold.captured",
    "hold.released",
    "hold.expired",
    "mandate.created",
    "mandate.revoked",
    "payout.requested",
    "payout.pending",
    "payout.paid",
    "payout.failed",
    "payout.returned",
    "referral.rewarded",
    "review.opened",
    "review.approved",
    "review.declined",
]
EventTypes = Annotated[list[EventType], Meta(min_length=1, max_length=64)]
WebhookUrl = Annotated[
    str, Meta(min_length=1, max_length=WEBHOOK_URL_LEN_MAX, pattern=r"^https?://[^\s]+$")
]


class WebhookEndpoint(Output):
    id: str  # we_...
    merchant_id: str
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None  # "gone" (a 410), "failing", "merchant" (turned off)
    failures: int  # attempts failed in a row
    secret_rotating_until: str | None  # the previous secret signs too until then
    created_at: str
    updated_at: str


class WebhookEndpointCreated(WebhookEndpoint):
    """The endpoint's signing secret (``whsec_...``), shown this once: ``secret`` is null
    when an idempotent retry replays the answer (the secret is never stored in clear)."""

    secret: str | None


class WebhookEndpointCreate(Input):
    url: WebhookUrl
    event_types: EventTypes
    description: Description | None = None
    merchant_id: str | UnsetType = UNSET  # the operator's keys name the merchant


class WebhookEndpointUpdate(Input):
    """Fields left out stay as they are; ``enabled: true`` clears the failure record."""

    url: WebhookUrl | UnsetType = UNSET
    event_types: EventTypes | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET


class WebhookSecretRotate(Input):
    # How long the current secret keeps signing beside the new one (seconds).
    overlap_s: Annotated[int, Meta(ge=0, le=WEBHOOK_ROTATION_OVERLAP_MAX_S)] = (
        WEBHOOK_ROTATION_OVERLAP_DEFAULT_S
    )


class WebhookEndpointPage(Output):
    data: list[WebhookEndpoint]
    next_cursor: Cursor


class WebhookDelivery(Output):
    id: str  # wd_...
    endpoint_id: str
    event_id: str  # evt_...: the webhook-id header
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    next_attempt_at: str | None
    last_status_code: int | None
    created_at: str
    updated_at: str


class WebhookDeliveryPage(Output):
    data: list[WebhookDelivery]
    next_cursor: Cursor


class WebhookAttempt(Output):
    id: str  # wa_...
    delivery_id: str
    event_id: str
    attempt: int
    status_code: int | None  # null: no answer
    latency_ms: int
    # null when a status came back; else "connection failed" (whatever the cause: refused,
    # timeout, DNS, TLS) or "destination not permitted ..." (not a public https address)
    error: str | None
    created_at: str


class WebhookAttemptPage(Output):
    data: list[WebhookAttempt]
    next_cursor: Cursor
