"""A lean path for ``POST /v1/payments``: the same work as the Litestar route, less machinery.

Litestar's per-request machinery (routing, the guards' handler copies, the signature model,
the kwargs extraction, the request and response objects) cost about 0.15 ms of the event
loop's 0.36 ms per single payment (docs/benchmarks.md). This ASGI wrapper sits where
Litestar's own exception handler sits (inside ``Litestar.__call__``, so the app's
``before_send`` hooks still see every message: the metrics, the request id, the localized
problem documents), and for ``POST /v1/payments`` runs the route's own pieces directly: the
route's guards (authentication with the same key verifier and cache, the per-key rate
limit, the failed-authentication limit per address, the scope), the strict body decoding,
and the route's handler function (authorization, Idempotency-Key, the screen, the payment
queue). Errors are answered by the app's own exception handlers, so a refusal's document is
the one Litestar would have sent.

It falls back to Litestar, before doing anything that counts (a rate-limit token, a failed
authentication) and before reading the body, for any request it does not take: another path
or method, a repeated header or one in capitals, a query string or an escaped path, no, a
bad or an over-long ``Content-Length`` (or one over the app's limit, or 0),
``Transfer-Encoding``, a body that is not ``application/json``, a missing or malformed
``Idempotency-Key``, an invalid Host header. Otherwise it runs the route's guards first, as
Litestar does (a refused request's body is never read), and from then on answers the request
itself whatever the body turns out to be (Litestar would run the guards a second time),
reading it as Litestar's ``Request.stream`` does. The app builds it only when the route is
as plain as it assumes (no hooks, no response headers, the metrics middleware alone, debug
off, Litestar's exception handler middleware with no after_exception hooks);
``CENTIME_LEAN_PAYMENTS=0`` (or false/off/no) turns it off (``create_app(lean_payments=)``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable
from typing import Any, Final, cast

from litestar import Litestar, Response
from litestar._asgi.utils import is_valid_host  # Litestar's own Host check, not copied
from litestar.datastructures import Address
from litestar.exceptions import InternalServerException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.handlers import HTTPRouteHandler
from litestar.middleware._internal.exceptions.middleware import (
    ExceptionHandlerMiddleware,
    get_exception_handler,
)
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, HTTPResponseStartEvent, Receive, Scope, Send
from litestar.utils import is_async_callable

from centime import wire
from centime.http.metrics import Metrics

from .body import ApiRequest, decode_strict
from .idempotency import key_is_valid

__all__ = ["LEAN_ENV", "ROUTE", "LeanPayments", "install"]

ROUTE: Final = "/v1/payments"
LEAN_ENV: Final = "CENTIME_LEAN_PAYMENTS"

_JSON: Final = "application/json"
# Headers whose value the lean path reads, or which mean a request it does not take.
_CONTENT_TYPE: Final = b"content-type"
_CONTENT_LENGTH: Final = b"content-length"
_KEY: Final = b"idempotency-key"
_HOST: Final = b"host"
_CHUNKED: Final = b"transfer-encoding"
_OFF: Final = frozenset({"0", "false", "off", "no"})
_ON: Final = frozenset({"1", "true", "on", "yes"})

log = logging.getLogger(__name__)


def _length_if_plain(headers: list[tuple[bytes, bytes]], max_bytes: int) -> int | None:
    """The body's announced length when the lean path may take the request, else None:
    every header once, a JSON body of at most ``max_bytes``, a well-formed key, a valid
    Host."""
    found = dict(headers)
    if len(found) != len(headers) or _CHUNKED in found:
        return None
    if any(name != name.lower() for name in found):  # ASGI's are lower case; else Litestar
        return None
    media = found.get(_CONTENT_TYPE, b"").decode("latin-1").split(";", 1)[0].strip().lower()
    key = found.get(_KEY)
    host = found.get(_HOST)
    length = found.get(_CONTENT_LENGTH, b"")
    if media != _JSON or key is None or not key_is_valid(key.decode("latin-1")):
        return None
    # More than ten digits is no length the app accepts, and int() refuses 4300 digits.
    if (host is not None and not is_valid_host(host)) or not length.isdigit() or len(length) > 10:
        return None
    announced = int(length)
    # No body is a missing ``data`` parameter to Litestar (not a JSON error): its answer.
    return announced if 0 < announced <= max_bytes else None


class _Headers:
    """A request's headers as the route reads them (``get``, any case), each name once:
    the lean path takes no request that repeats one."""

    __slots__ = ("_by_name",)

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._by_name = {name.decode("latin-1"): value.decode("latin-1") for name, value in raw}

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._by_name.get(name.lower(), default)


class _Url:
    __slots__ = ("path", "query")

    def __init__(self) -> None:
        self.path = ROUTE  # the lean path takes no query string nor root path
        self.query = ""


class LeanRequest:
    """What the route's guard, handler and exception handlers read of a request, without
    Litestar's Request (its connection state, headers and URL objects cost a fifth of the
    path's time): the scope, the app, the headers, the client, the URL, the method, the
    body."""

    __slots__ = ("_body", "app", "client", "headers", "scope")
    method: Final = "POST"
    url: Final = _Url()

    def __init__(self, scope: Any, body: bytes = b"") -> None:
        self.scope = scope
        self.app: Litestar = scope["app"]
        self.headers = _Headers(scope["headers"])
        client = scope.get("client")
        self.client = Address(*client) if client else None
        self._body = body

    async def body(self) -> bytes:
        return self._body

    def set_body(self, body: bytes) -> None:
        self._body = body


async def _read(receive: Receive, max_bytes: int) -> bytes:
    """The body, read as Litestar's ``Request.stream`` reads it: whatever the client sends
    until its last message (Content-Length is the server's to enforce), a 413 past
    ``max_bytes``, a 500 if the client leaves first."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Any = await receive()
        if message["type"] == "http.disconnect":
            raise InternalServerException("client disconnected prematurely")
        if message["type"] != "http.request":
            continue
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise RequestEntityTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _encoded(response: Response[Any]) -> list[tuple[bytes, bytes]]:
    """The response's headers as Litestar encodes them: its own (lower-cased), then the
    content type and length."""
    body = cast("bytes", response.content)
    return [
        *(
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in response.headers.items()
        ),
        (b"content-type", str(response.media_type).encode("latin-1")),
        (b"content-length", str(len(body)).encode("latin-1")),
    ]


class LeanPayments:
    """The ASGI app in front of Litestar's exception handler and router (see the module)."""

    def __init__(self, inner: ASGIApp, handler: HTTPRouteHandler, metrics: Metrics, max_bytes: int):
        self.inner = inner
        self.enabled = True  # tests turn it off on one app to compare both paths
        self.served = 0  # requests answered here, not by Litestar (the tests' check)
        self._handler = handler
        self._guards = handler.resolve_guards()
        self._metrics = metrics
        self._max_bytes = max_bytes
        # The route's handlers (its own, its router's and the app's), as Litestar looks them up.
        self._on_error: Any = handler.resolve_exception_handlers()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw: Any = scope
        if (
            not self.enabled
            or raw["type"] != "http"
            or raw["path"] != ROUTE
            or raw["method"] != "POST"
            or raw.get("root_path")
            or raw.get("query_string")
            or raw.get("raw_path", ROUTE.encode()) != ROUTE.encode()
        ):
            return await self.inner(scope, receive, send)
        if _length_if_plain(raw["headers"], self._max_bytes) is None:
            return await self.inner(scope, receive, send)
        # Timed from here, as Litestar's metrics middleware times from before its guards.
        self._metrics.started(scope)
        # From here on the lean path answers, whatever comes: the guards count (a rate-limit
        # token, a failed authentication), and Litestar would run them a second time.
        self.served += 1
        await self._serve(raw, receive, send)

    async def _serve(self, scope: Any, receive: Receive, send: Send) -> None:
        # What Litestar's router notes in the scope.
        scope.setdefault("path_params", {})
        scope["route_handler"] = self._handler
        scope["path_template"] = ROUTE
        request = LeanRequest(scope)
        try:
            response = await self._respond(request, receive)
        except Exception as error:  # as Litestar's exception handler answers it
            response = self._handle(request, error)
        if not isinstance(response.content, bytes) or response.cookies or response.background:
            full = ApiRequest(scope, receive=receive, send=send)
            await response.to_asgi_response(app=None, request=full)(scope, receive, send)
            return
        start: HTTPResponseStartEvent = {
            "type": "http.response.start",
            "status": response.status_code or self._handler.status_code,
            "headers": _encoded(response),
        }
        await send(start)
        await send({"type": "http.response.body", "body": response.content, "more_body": False})

    async def _respond(self, request: LeanRequest, receive: Receive) -> Response[Any]:
        """The route's guards, then (as Litestar: never for a refused request, so that an
        anonymous client makes the app read nothing) its body, decoded as Litestar's
        signature would, then its handler."""
        for guard in self._guards:
            # A guard reads a connection's headers, client, app and scope: LeanRequest's.
            await cast("Awaitable[None]", guard(cast("Any", request), self._handler))
        body = await _read(receive, self._max_bytes)
        request.set_body(body)
        key = request.headers.get("idempotency-key")
        if not body:  # Litestar's missing ``data``: its own signature model's refusal
            self._refuse_no_data(request, receive, key)
        data = decode_strict(body, wire.PaymentCreate)
        made = await self._handler.fn(request=request, data=data, idempotency_key=key)
        return cast("Response[Any]", made)

    def _refuse_no_data(self, request: LeanRequest, receive: Receive, key: str | None) -> None:
        connection = ApiRequest(request.scope, receive=receive)
        kwargs = {"request": connection, "idempotency_key": key}
        self._handler.signature_model.parse_values_from_connection_kwargs(connection, kwargs)

    def _handle(self, request: LeanRequest, error: Exception) -> Response[Any]:
        handler = get_exception_handler(self._on_error, error)
        if handler is not None:
            return handler(cast("Any", request), error)
        raise error  # not an Exception handled by the app: as Litestar, let it out


def _payment_handler(app: Litestar) -> HTTPRouteHandler | None:
    for route in app.routes:
        if isinstance(route, HTTPRoute) and route.path == ROUTE:
            found = route.route_handler_map.get("POST")
            return found[0] if found else None
    return None


def _plain(app: Litestar, handler: HTTPRouteHandler, metrics: Metrics, max_bytes: int) -> bool:
    """Whether the route is as plain as the lean path assumes: nothing runs around it but
    the metrics middleware and the app's before_send hooks."""
    return (
        not app.debug
        and isinstance(app.asgi_handler, ExceptionHandlerMiddleware)
        and not app.after_exception
        and app.cors_config is None
        and handler.resolve_before_request() is None
        and not any(layer.after_request for layer in handler.ownership_layers)
        and handler.resolve_request_class() is ApiRequest
        and handler.resolve_request_max_body_size() == max_bytes
        and all(is_async_callable(guard) for guard in handler.resolve_guards())
        and not handler.cache
        and handler.resolve_after_response() is None
        and not handler.resolve_response_headers()
        and not handler.resolve_response_cookies()
        and handler.resolve_middleware() == [metrics.middleware]
        and not handler.has_sync_callable
    )


def enabled_by_env(value: str | None) -> bool:
    """``CENTIME_LEAN_PAYMENTS``: 0/false/off/no (any case) turn the lean path off,
    1/true/on/yes (or no value) on; anything else is refused at start, not guessed."""
    if value is None:
        return True
    word = value.strip().lower()
    if word in _OFF or word in _ON:
        return word in _ON
    raise ValueError(f"{LEAN_ENV}={value!r}: expected one of 0/false/off/no or 1/true/on/yes")


def install(
    app: Litestar, metrics: Metrics, max_bytes: int, *, enabled: bool | None = None
) -> LeanPayments | None:
    """Put the lean path in front of ``app``'s router (None: turned off, by ``enabled`` or
    else ``CENTIME_LEAN_PAYMENTS``, or the route is not plain: Litestar answers every
    request as before). Logs once whether it is installed, and why not."""
    if enabled is None:
        enabled = enabled_by_env(os.environ.get(LEAN_ENV))
    handler = _payment_handler(app)
    why = (
        "turned off"
        if not enabled
        else "no POST route"
        if handler is None
        else "the route is not plain"
        if not _plain(app, handler, metrics, max_bytes)
        else ""
    )
    if why or handler is None:
        log.info("lean path of POST %s not installed: %s", ROUTE, why)
        return None
    lean = LeanPayments(app.asgi_handler, handler, metrics, max_bytes)
    app.asgi_handler = lean
    log.info("lean path of POST %s installed", ROUTE)
    return lean
