"""Webhook delivery: outbox events to merchants' endpoints, signed per Standard Webhooks.

One tick of :class:`WebhookDelivery` (the worker's ``webhooks`` job):

1. **Fan out** (one write unit): walk the outbox after the persistent cursor in
   ``(created_ns, id)`` order (at most WEBHOOK_FANOUT_EVENTS_MAX events), make one
   delivery per (event, enabled endpoint of the event's owner subscribed to its type,
   made before the event), and move the cursor, all in one transaction: an event is fanned
   out once, and none is skipped (``outbox.emit``: ``created_ns`` grows in commit order).
2. **Send** (no unit open): the deliveries due (``pending``, ``next_attempt_ns`` passed, the
   endpoint enabled), at most WEBHOOK_SENDS_PER_TICK_MAX, WEBHOOK_SEND_CONCURRENCY at once,
   each a POST with the Standard Webhooks headers: ``webhook-id`` (the event's id, the same
   for every attempt and every endpoint: receivers drop duplicates by it),
   ``webhook-timestamp`` (seconds, when sent), ``webhook-signature`` (``v1,`` + base64 of
   HMAC-SHA256 over ``id.timestamp.body`` keyed with the base64-decoded secret; two,
   space-separated, during a rotation's overlap). The body is ``{"type", "timestamp",
   "data"}``. Timeouts are WEBHOOK_TIMEOUT_S; redirects are not followed (a 3xx is a
   failure). Before connecting, the endpoint's host is resolved and every address checked
   against the operator's policy (:mod:`centime.platform.events.webhook_targets`: public
   addresses over https by default), and the connection goes to the address checked (DNS
   rebinding cannot switch it). The answer's body is never read.
3. **Record** (one write unit): an attempt row per send (the delivery log: attempt, status
   code, latency and a generic error class, :data:`ERROR_UNREACHABLE` for every connection
   failure alike or :data:`ERROR_FORBIDDEN`; the details go to the server's log only, so
   the log cannot be used to read or map internal services); a 2xx ends the delivery; a
   failure schedules the
   next attempt on WEBHOOK_RETRY_DELAYS_S or, past the last, fails the delivery. A 410
   Gone disables the endpoint at once; an endpoint whose attempts all failed for
   WEBHOOK_FAILING_DISABLE_S is disabled.

At least once: a crash between a send and its record sends again; nothing is lost.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import ssl
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

import httpx

from centime.clock import Clock
from centime.ledger.units import UnitContext
from centime.limits import (
    SQL_IN_CHUNK,
    WEBHOOK_FAILING_DISABLE_S,
    WEBHOOK_FANOUT_EVENTS_MAX,
    WEBHOOK_RETRY_DELAYS_S,
    WEBHOOK_SEND_CONCURRENCY,
    WEBHOOK_SENDS_PER_TICK_MAX,
    WEBHOOK_TIMEOUT_S,
)
from centime.platform.context import Operation, Platform
from centime.platform.events import (
    ENDPOINT_COLUMNS,
    NS_PER_S,
    Endpoint,
    Forbidden,
    Resolver,
    SecretBox,
    TargetPolicy,
    endpoint_row,
    resolve_target,
    secret_box,
    secret_key,
    system_resolver,
    target_policy,
)
from centime.platform.ids import format_id, new_id
from centime.version import __version__
from centime.wire import rfc3339

__all__ = [
    "ERROR_FORBIDDEN",
    "ERROR_UNREACHABLE",
    "Outcome",
    "Prepared",
    "TickResult",
    "WebhookDelivery",
    "sign",
]

log = logging.getLogger("centime.webhooks")

# What the merchant's delivery log says when no status came back: one text for every
# connection failure (refused, timeout, DNS, TLS alike: the log must not map a network).
ERROR_UNREACHABLE: Final = "connection failed"
ERROR_FORBIDDEN: Final = "destination not permitted (https to a public address only)"
_USER_AGENT: Final = f"centime-webhooks/{__version__}"


def sign(secret: str, message_id: str, timestamp_s: int, body: bytes) -> str:
    """One Standard Webhooks signature: ``v1,`` + base64(HMAC-SHA256(key, id.ts.body))."""
    signed = f"{message_id}.{timestamp_s}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


@dataclass(frozen=True, slots=True)
class Prepared:
    """One attempt, ready to send."""

    delivery_id: int
    endpoint_id: int
    event_id: int
    attempts: int  # made before this one (since the last re-delivery)
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class Outcome:
    prepared: Prepared
    status_code: int | None  # None: no answer (timeout, refused, ...)
    latency_ms: int
    error: str | None  # ERROR_UNREACHABLE, ERROR_FORBIDDEN, or None (a status came back)

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True, slots=True)
class TickResult:
    fanned_out: int  # deliveries made
    sent: int
    succeeded: int
    disabled: int  # endpoints disabled


# ------------------------------------------------------------------ 1. fan out


def fan_out(platform: Platform, limit: int = WEBHOOK_FANOUT_EVENTS_MAX) -> int:
    """Make the deliveries of the next outbox events; how many were made."""
    size = max(1, min(limit, WEBHOOK_FANOUT_EVENTS_MAX))

    def unit(ctx: UnitContext) -> int:
        cursor_ns, cursor_id = ctx.fetch(
            "SELECT cursor_ns, cursor_id FROM webhook_state WHERE id = 1"
        )[0]
        events = ctx.fetch(
            "SELECT id, type, owner_id, created_ns FROM outbox_events"
            " WHERE created_ns > ? OR (created_ns = ? AND id > ?)"
            " ORDER BY created_ns, id LIMIT ?",
            (cursor_ns, cursor_ns, cursor_id, size),
        )
        if not events:
            return 0
        endpoints = _listening(ctx, {int(e[2]) for e in events})
        rows = []
        now = ctx.now_ns
        for event_id, event_type, owner_id, created_ns in events:
            if event_type == "webhook.test":  # delivered to its one endpoint when made
                continue
            for endpoint in endpoints.get(int(owner_id), ()):
                if event_type in endpoint.event_types and endpoint.created_ns <= created_ns:
                    rows.append((new_id(), endpoint.id, event_id, owner_id, now, now, now))
        if rows:
            ctx.executemany(
                "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, merchant_id, status,"
                " attempts, next_attempt_ns, last_status_code, created_ns, updated_ns)"
                " VALUES (?, ?, ?, ?, 'pending', 0, ?, NULL, ?, ?)",
                rows,
            )
        last = events[-1]
        ctx.execute(
            "UPDATE webhook_state SET cursor_ns = ?, cursor_id = ? WHERE id = 1",
            (int(last[3]), int(last[0])),
        )
        return len(rows)

    return platform.execute(Operation(unit, 0))


def _listening(ctx: UnitContext, owners: set[int]) -> dict[int, list[Endpoint]]:
    found: dict[int, list[Endpoint]] = {}
    ordered = sorted(owners)
    for start in range(0, len(ordered), SQL_IN_CHUNK):
        chunk = ordered[start : start + SQL_IN_CHUNK]
        for row in ctx.fetch(
            f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints"
            f" WHERE enabled = 1 AND merchant_id IN ({', '.join('?' * len(chunk))})",
            chunk,
        ):
            endpoint = endpoint_row(row)
            found.setdefault(endpoint.merchant_id, []).append(endpoint)
    return found


# ------------------------------------------------------------------ 2. send


def due(
    platform: Platform, box: SecretBox, sign_clock: Clock, limit: int = WEBHOOK_SENDS_PER_TICK_MAX
) -> list[Prepared]:
    """The attempts due now, signed (secrets opened here, never logged)."""
    size = max(1, min(limit, WEBHOOK_SENDS_PER_TICK_MAX))
    now_ns = platform.clock.now_ns()
    with platform.read() as fetch:
        rows = fetch(
            "SELECT d.id, d.attempts, e.id, e.type, e.created_ns, e.data, "
            + ", ".join(f"p.{c.strip()}" for c in ENDPOINT_COLUMNS.split(","))
            + " FROM webhook_deliveries d"
            " JOIN outbox_events e ON e.id = d.event_id"
            " JOIN webhook_endpoints p ON p.id = d.endpoint_id"
            " WHERE d.status = 'pending' AND d.next_attempt_ns <= ? AND p.enabled = 1"
            " ORDER BY d.next_attempt_ns, d.id LIMIT ?",
            (now_ns, size),
        )
    prepared = []
    for row in rows:
        delivery_id, attempts, event_id, event_type, created_ns, data = row[:6]
        endpoint = endpoint_row(row[6:])
        body = (
            '{"type":'
            + json.dumps(event_type)
            + ',"timestamp":"'
            + rfc3339(int(created_ns))
            + '","data":'
            + str(data)
            + "}"
        ).encode()
        message_id = format_id("evt", int(event_id))
        timestamp_s = sign_clock.now_ns() // NS_PER_S
        signatures = " ".join(
            sign(secret, message_id, timestamp_s, body)
            for secret in endpoint.signing_secrets(box, now_ns)
        )
        headers = {
            "content-type": "application/json",
            "user-agent": _USER_AGENT,
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp_s),
            "webhook-signature": signatures,
        }
        prepared.append(
            Prepared(
                int(delivery_id),
                endpoint.id,
                int(event_id),
                int(attempts),
                endpoint.url,
                body,
                headers,
            )
        )
    return prepared


def send(
    client: httpx.Client,
    attempt: Prepared,
    policy: TargetPolicy,
    resolver: Resolver = system_resolver,
) -> Outcome:
    """POST one attempt to the address its host resolves to, once every address it resolves
    to passed the policy; the answer's status only (its body is never read)."""
    started = time.monotonic()
    status: int | None = None
    error: str | None = None
    try:
        target = resolve_target(attempt.url, policy, resolver)
        if isinstance(target, Forbidden):
            error = ERROR_FORBIDDEN
            log.warning("webhook %s not sent: %s", _name(attempt), target.reason)
        else:
            with client.stream(
                "POST",
                target.url,
                content=attempt.body,
                headers={**attempt.headers, **target.headers},
                extensions=target.extensions,
            ) as response:
                status = response.status_code
    except Exception as failure:  # any failure is this attempt's (logged), never the tick's
        error = ERROR_UNREACHABLE
        log.info("webhook %s failed: %s: %s", _name(attempt), type(failure).__name__, failure)
    latency_ms = int((time.monotonic() - started) * 1000)
    return Outcome(attempt, status, latency_ms, error)


def _name(attempt: Prepared) -> str:
    return f"{format_id('we', attempt.endpoint_id)} ({format_id('wd', attempt.delivery_id)})"


# ------------------------------------------------------------------ 3. record


def record(platform: Platform, outcomes: Sequence[Outcome]) -> int:
    """Write the attempts and their consequences in one unit; endpoints disabled."""

    def unit(ctx: UnitContext) -> int:
        now = ctx.now_ns
        ctx.executemany(
            "INSERT INTO webhook_attempts (id, delivery_id, endpoint_id, event_id, attempt,"
            " status_code, latency_ms, error, created_ns)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    new_id(),
                    o.prepared.delivery_id,
                    o.prepared.endpoint_id,
                    o.prepared.event_id,
                    o.prepared.attempts + 1,
                    o.status_code,
                    o.latency_ms,
                    o.error,
                    now,
                )
                for o in outcomes
            ],
        )
        for outcome in outcomes:
            _record_delivery(ctx, outcome, now)
        return _record_endpoints(ctx, outcomes, now)

    return platform.execute(Operation(unit, 0))


def _record_delivery(ctx: UnitContext, outcome: Outcome, now: int) -> None:
    attempt = outcome.prepared
    made = attempt.attempts + 1
    if outcome.ok:
        status, next_ns = "succeeded", None
    elif made < len(WEBHOOK_RETRY_DELAYS_S):
        status, next_ns = "pending", now + WEBHOOK_RETRY_DELAYS_S[made] * NS_PER_S
    else:
        status, next_ns = "failed", None
    # Only the delivery as it was sent: a re-delivery meanwhile started it over.
    ctx.execute(
        "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_ns = ?,"
        " last_status_code = ?, updated_ns = ? WHERE id = ? AND status = 'pending'"
        " AND attempts = ?",
        (status, made, next_ns, outcome.status_code, now, attempt.delivery_id, attempt.attempts),
    )


def _record_endpoints(ctx: UnitContext, outcomes: Sequence[Outcome], now: int) -> int:
    by_endpoint: dict[int, list[Outcome]] = {}
    for outcome in outcomes:
        by_endpoint.setdefault(outcome.prepared.endpoint_id, []).append(outcome)
    disabled = 0
    for endpoint_id, sent in by_endpoint.items():
        rows = ctx.fetch(
            "SELECT enabled, failures, failing_since_ns FROM webhook_endpoints WHERE id = ?",
            (endpoint_id,),
        )
        if not rows:
            continue  # deleted meanwhile
        enabled, failures, failing_since = bool(rows[0][0]), int(rows[0][1]), rows[0][2]
        reason = None
        for outcome in sent:
            if outcome.ok:
                failures, failing_since = 0, None
                continue
            failures += 1
            failing_since = now if failing_since is None else int(failing_since)
            if outcome.status_code == 410:
                reason = "gone"
            elif now - failing_since >= WEBHOOK_FAILING_DISABLE_S * NS_PER_S:
                reason = reason or "failing"
        if enabled and reason is not None:
            disabled += 1
            log.warning("webhook endpoint %s disabled: %s", format_id("we", endpoint_id), reason)
            ctx.execute(
                "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?, failures = ?,"
                " failing_since_ns = ?, updated_ns = ? WHERE id = ?",
                (reason, failures, failing_since, now, endpoint_id),
            )
            ctx.execute(
                "UPDATE webhook_state SET subscriptions_version = ? WHERE id = 1", (new_id(),)
            )
        else:
            ctx.execute(
                "UPDATE webhook_endpoints SET failures = ?, failing_since_ns = ? WHERE id = ?",
                (failures, failing_since, endpoint_id),
            )
    return disabled


# ------------------------------------------------------------------ the job


class WebhookDelivery:
    """The worker's webhook job: ``delivery(platform)`` runs one bounded tick.

    ``sign_clock`` stamps ``webhook-timestamp`` (receivers compare it with their own clock:
    the platform's clock unless a test runs the platform on a fake one); ``transport`` is
    httpx's (tests may give one; the default sends over the network); ``resolver`` answers
    a host's addresses (the system's by default); ``verify`` is httpx's TLS verification
    (tests give their own authority's context; the default trusts the system's)."""

    def __init__(
        self,
        box: SecretBox | None = None,
        sign_clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver = system_resolver,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self._box = box
        self._sign_clock = sign_clock
        self._resolver = resolver
        self._client = httpx.Client(
            timeout=httpx.Timeout(WEBHOOK_TIMEOUT_S),
            follow_redirects=False,
            verify=verify,
            transport=transport,
            limits=httpx.Limits(max_connections=WEBHOOK_SEND_CONCURRENCY * 2),
            trust_env=False,
        )
        self._pool = ThreadPoolExecutor(WEBHOOK_SEND_CONCURRENCY, "centime-webhook")

    def __call__(self, platform: Platform) -> TickResult:
        made = fan_out(platform)
        box = self._box or secret_box(platform)
        attempts = due(platform, box, self._sign_clock or platform.clock)
        if not attempts:
            return TickResult(made, 0, 0, 0)
        policy = target_policy(platform)
        outcomes = list(
            self._pool.map(lambda a: send(self._client, a, policy, self._resolver), attempts)
        )
        disabled = record(platform, outcomes)
        return TickResult(made, len(outcomes), sum(o.ok for o in outcomes), disabled)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._client.close()

    def __enter__(self) -> WebhookDelivery:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
