"""Prometheus metrics of the HTTP app: requests by route, method and status, and latency.

Routes are labelled by their template (``/v1/customers/{customer_id}``), never the raw
path, so the number of series stays bounded whatever clients send; requests that match no
route share the label ``unmatched``. Each app has its own registry (tests build many apps).
"""

from __future__ import annotations

import time
from typing import Any, Final

from litestar.connection import ASGIConnection
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from .problems import request_id

__all__ = ["METRICS_STATE", "Metrics", "metrics_of"]

# The app state's key of the app's Metrics (the API's /metrics and the console read it).
METRICS_STATE: Final = "metrics"

_START: Final = "centime.start_s"
# Latency buckets from 1 ms: the targets are p99 under 25 ms for a payment.
_BUCKETS_S: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.requests = Counter(
            "centime_http_requests",
            "HTTP requests answered.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "centime_http_request_duration_seconds",
            "From routing to the response's first byte.",
            ["route", "method"],
            buckets=_BUCKETS_S,
            registry=self.registry,
        )

    def started(self, scope: Scope) -> None:
        """Note that a routed request started now (what ``middleware`` does)."""
        raw: Any = scope
        raw[_START] = time.perf_counter()

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """Notes when a routed request started (Litestar runs it for matched routes)."""

        async def timed(scope: Scope, receive: Receive, send: Send) -> None:
            raw: Any = scope
            raw[_START] = time.perf_counter()
            await app(scope, receive, send)

        return timed

    async def before_send(self, message: Message, scope: Scope) -> None:
        """Counts every response (unmatched routes too) and tags it with the request id."""
        if message["type"] != "http.response.start":
            return
        raw: Any = scope
        route = raw.get("path_template") or "unmatched"
        method = raw.get("method", "")
        self.requests.labels(route, method, str(message["status"])).inc()
        started = raw.get(_START)
        if started is not None:
            self.latency.labels(route, method).observe(time.perf_counter() - started)
        headers = list(message.get("headers") or [])
        headers.append((b"x-request-id", request_id(scope).encode("latin-1")))
        message["headers"] = headers

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def metrics_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Metrics:
    """The metrics of the app serving ``connection``."""
    metrics: Metrics = connection.app.state[METRICS_STATE]
    return metrics
