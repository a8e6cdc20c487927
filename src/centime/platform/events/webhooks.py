"""Webhook endpoints of merchants: where the outbox's events are sent, and signed with what.

An endpoint is a merchant's URL and the event types it subscribed to (a subset of
``outbox.SUBSCRIBABLE_TYPES``), at most WEBHOOK_ENDPOINTS_PER_MERCHANT_MAX per merchant.
URLs are ``https://`` to a public address (``http://`` and private ranges only where the
operator allows them: :mod:`centime.platform.events.webhook_targets`, which also checks every
address again when an attempt is sent). No credentials in a URL, no fragment, at most
WEBHOOK_URL_LEN_MAX characters.

Secrets follow Standard Webhooks: ``whsec_`` + base64 of WEBHOOK_SECRET_BYTES random bytes,
shown once (when the endpoint is made or its secret rotated). The worker needs the secret
itself to sign, so it cannot be stored as a hash: it is encrypted at rest with AES-256-GCM
(:class:`SecretBox`) under a key the composition root gives (``CENTIME_WEBHOOK_KEY``, or a
key file, see :func:`secret_box_from_env`), with the endpoint's id as associated data (a
ciphertext copied to another endpoint does not decrypt). It is never logged. Rotating makes
a new secret and keeps the previous one signing for an overlap (both signatures are sent)
that ends at ``previous_expires_ns``.

Who is told: events are written to the outbox for their ``owner_id``. Merchant events
(payments, refunds, holds, mandates) are written only while the merchant has an enabled
endpoint subscribed to the type (:func:`subscribed`): a merchant without endpoints costs
the hot paths one primary-key read per unit, not a row per payment. Whether a merchant
subscribed is cached per ``subscriptions_version``, which every change of an endpoint sets
to a new random value in the same unit; a unit reads the version under the ledger's clock
lock, so an endpoint whose change committed before the unit started is always seen.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from centime.keyfile import required_key
from centime.ledger.units import UnitContext
from centime.limits import (
    DESCRIPTION_LEN_MAX,
    WEBHOOK_ENDPOINTS_PER_MERCHANT_MAX,
    WEBHOOK_ROTATION_OVERLAP_DEFAULT_S,
    WEBHOOK_ROTATION_OVERLAP_MAX_S,
    WEBHOOK_SECRET_BYTES,
    WEBHOOK_URL_LEN_MAX,
)

from ..context import Operation, Platform
from ..errors import Code, Refusal
from ..ids import format_id, new_id, valid_id
from ..pages import Cursor, Page, given
from ..parties.service import active_merchant
from ..rows import Rows, Table
from .outbox import SUBSCRIBABLE_TYPES, emit
from .webhook_targets import TargetPolicy, target_policy, url_problem

__all__ = [
    "SECRET_PREFIX",
    "Attempt",
    "Delivery",
    "Endpoint",
    "NewSecret",
    "SecretBox",
    "create_endpoint",
    "delete_endpoint",
    "get_delivery",
    "get_endpoint",
    "install_secret_box",
    "list_attempts",
    "list_deliveries",
    "list_endpoints",
    "redeliver",
    "rotate_secret",
    "secret_box",
    "secret_box_from_env",
    "send_test_event",
    "subscribed",
    "update_endpoint",
]

SECRET_PREFIX: Final = "whsec_"
NS_PER_S: Final = 1_000_000_000
_KEY_ENV: Final = "CENTIME_WEBHOOK_KEY"
_KEY_FILE_ENV: Final = "CENTIME_WEBHOOK_KEY_FILE"


# ------------------------------------------------------------------ secrets at rest


class SecretBox:
    """AES-256-GCM for endpoint secrets: ``v1.`` + base64(nonce || ciphertext), the
    endpoint's id as associated data."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("a webhook secret key is 32 bytes")
        self._aead = AESGCM(key)

    def seal(self, endpoint_id: int, secret: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, secret.encode(), str(endpoint_id).encode())
        return "v1." + base64.b64encode(nonce + sealed).decode()

    def open(self, endpoint_id: int, stored: str) -> str:
        """The secret; raises ValueError if it was not sealed for this endpoint with this
        key (a broken invariant: the key changed, or the row was tampered with)."""
        version, _, text = stored.partition(".")
        if version != "v1":
            raise ValueError("unknown secret format")
        try:
            raw = base64.b64decode(text, validate=True)
            plain = self._aead.decrypt(raw[:12], raw[12:], str(endpoint_id).encode())
        except (InvalidTag, binascii.Error) as error:
            raise ValueError("the endpoint's secret does not open with this key") from error
        return plain.decode()

    def __repr__(self) -> str:  # never the key
        return "SecretBox(<key>)"


def secret_box_from_env(default_key_file: Path | None = None) -> SecretBox:
    """The box the environment configures: ``CENTIME_WEBHOOK_KEY`` (base64 of 32 bytes), or
    the key file ``CENTIME_WEBHOOK_KEY_FILE`` names, or ``default_key_file`` (made with 32
    random bytes, mode 0600, when missing). Raises RuntimeError when none is given."""
    try:
        return SecretBox(required_key(_KEY_ENV, _KEY_FILE_ENV, default_key_file))
    except RuntimeError as missing:
        raise RuntimeError(f"webhooks need the secrets' key: {missing}") from None


def install_secret_box(platform: Platform, box: SecretBox) -> None:
    """The composition root gives the platform its box (``centime serve``, the tests)."""
    platform.providers.webhook_box = box


def secret_box(platform: Platform) -> SecretBox:
    """The platform's box: the one installed, else the environment's (then kept)."""
    box = platform.providers.webhook_box
    if box is None:
        box = secret_box_from_env()
        install_secret_box(platform, box)
    return box


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(WEBHOOK_SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret: its base64-decoded bytes."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


# ------------------------------------------------------------------ values


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: int
    merchant_id: int
    url: str
    description: str | None
    event_types: frozenset[str]
    enabled: bool
    disabled_reason: str | None  # "gone" (a 410), "failing", "merchant" (turned off)
    secret: str  # sealed
    secret_previous: str | None  # sealed
    previous_expires_ns: int | None
    failing_since_ns: int | None
    failures: int
    created_ns: int
    updated_ns: int

    def signing_secrets(self, box: SecretBox, now_ns: int) -> list[str]:
        """The secrets that sign now: the current one, and the previous one during the
        rotation's overlap."""
        found = [box.open(self.id, self.secret)]
        if (
            self.secret_previous is not None
            and self.previous_expires_ns is not None
            and now_ns < self.previous_expires_ns
        ):
            found.append(box.open(self.id, self.secret_previous))
        return found


@dataclass(frozen=True, slots=True)
class NewSecret:
    """An endpoint with its secret in clear: answered once, never stored so."""

    endpoint: Endpoint
    secret: str = field(repr=False)  # never in a log line


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    endpoint_id: int
    event_id: int
    merchant_id: int
    status: str  # pending, succeeded, failed
    attempts: int
    next_attempt_ns: int | None
    last_status_code: int | None
    created_ns: int
    updated_ns: int
    event_type: str = ""


@dataclass(frozen=True, slots=True)
class Attempt:
    id: int
    delivery_id: int
    endpoint_id: int
    event_id: int
    attempt: int
    status_code: int | None
    latency_ms: int
    error: str | None  # a generic class (webhook_delivery's ERROR_*), never the answer
    created_ns: int


ENDPOINT_COLUMNS: Final = (
    "id, merchant_id, url, description, event_types, enabled, disabled_reason, secret,"
    " secret_previous, previous_expires_ns, failing_since_ns, failures, created_ns, updated_ns"
)
DELIVERY_COLUMNS: Final = (
    "id, endpoint_id, event_id, merchant_id, status, attempts, next_attempt_ns,"
    " last_status_code, created_ns, updated_ns"
)


def endpoint_row(row: Sequence[Any]) -> Endpoint:
    values = list(row)
    values[4] = frozenset(str(values[4]).split())
    values[5] = bool(values[5])
    return Endpoint(*values)


def delivery_row(row: Sequence[Any]) -> Delivery:
    return Delivery(*row)  # event_type is no column: the dashboard reads it from the event


def _stored(e: Endpoint) -> dict[str, Any]:
    """The endpoint's row, column by column (its fields): the event types as one sorted,
    space-separated string, ``enabled`` as 1 or 0."""
    row = {f.name: getattr(e, f.name) for f in fields(e)}
    row["event_types"] = " ".join(sorted(e.event_types))
    row["enabled"] = int(e.enabled)
    return row


_ENDPOINTS: Final = Rows("webhook_endpoints", ENDPOINT_COLUMNS, endpoint_row)
_DELIVERIES: Final = Rows("webhook_deliveries", DELIVERY_COLUMNS, delivery_row)
_ATTEMPTS: Final = Table(Attempt, "webhook_attempts")
# The columns of an endpoint that may change: all but its id, merchant and creation time.
_CHANGING: Final = [
    f.name for f in fields(Endpoint) if f.name not in ("id", "merchant_id", "created_ns")
]
_SAVE_SQL: Final = (
    f"UPDATE webhook_endpoints SET {', '.join(f'{c} = ?' for c in _CHANGING)} WHERE id = ?"
)
_Owned = TypeVar("_Owned", Endpoint, Delivery)


def _owned(found: _Owned | None, merchant_id: int | None) -> _Owned | None:
    """``found`` when it is ``merchant_id``'s (None: when it exists)."""
    return found if found is None or merchant_id in (None, found.merchant_id) else None


# ------------------------------------------------------------------ who subscribed


class _Subscriptions:
    """Per subscriptions version, each merchant's subscribed types (enabled endpoints).
    A version's view is filled as units ask for merchants; every endpoint change makes a
    new version, so a view never goes stale, it is only replaced."""

    VERSIONS_MAX: Final = 4
    OWNERS_MAX: Final = 100_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._views: dict[int, dict[int, frozenset[str]]] = {}

    def types(self, ctx: UnitContext, owner_ids: Collection[int]) -> dict[int, frozenset[str]]:
        rows = ctx.fetch("SELECT subscriptions_version FROM webhook_state WHERE id = 1")
        version = int(rows[0][0])
        with self._lock:
            view = self._views.get(version)
            if view is None or len(view) > self.OWNERS_MAX:
                if len(self._views) >= self.VERSIONS_MAX:
                    self._views.clear()
                view = self._views[version] = {}
            missing = [o for o in owner_ids if o not in view]
        if missing:
            found: dict[int, set[str]] = {o: set() for o in missing}
            for start in range(0, len(missing), 500):
                chunk = missing[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                for owner, types in ctx.fetch(
                    "SELECT merchant_id, event_types FROM webhook_endpoints"
                    f" WHERE enabled = 1 AND merchant_id IN ({marks})",
                    chunk,
                ):
                    found[int(owner)].update(str(types).split())
            with self._lock:
                for owner, types_found in found.items():
                    view[owner] = frozenset(types_found)
        return {o: view[o] for o in owner_ids}


_SUBSCRIPTIONS: Final = _Subscriptions()


def subscribed(ctx: UnitContext, owner_id: int, event_type: str) -> bool:
    """Whether ``owner_id`` has an enabled endpoint subscribed to ``event_type``, as of the
    unit's transaction (cached per subscriptions version; see the module's docstring)."""
    return event_type in _SUBSCRIPTIONS.types(ctx, (owner_id,))[owner_id]


def notify(ctx: UnitContext, event_type: str, owner_id: int, data: dict[str, object]) -> None:
    """Emit the event when someone listens for it (:func:`subscribed`)."""
    if subscribed(ctx, owner_id, event_type):
        emit(ctx, event_type, owner_id, data)


def _new_version(ctx: UnitContext) -> None:
    ctx.execute("UPDATE webhook_state SET subscriptions_version = ? WHERE id = 1", (new_id(),))


# ------------------------------------------------------------------ input checks


def check_url(url: object, policy: TargetPolicy | None = None) -> Refusal | None:
    """None for a URL an endpoint may have under the operator's ``policy`` (the default:
    public https only; see :mod:`centime.platform.events.webhook_targets`)."""
    if type(url) is not str or not url or len(url) > WEBHOOK_URL_LEN_MAX:
        return _bad_url(f"a URL of 1..{WEBHOOK_URL_LEN_MAX} characters")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return _bad_url("no spaces or control characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        return _bad_url("not a URL")
    if parts.scheme not in ("https", "http") or not host:
        return _bad_url("an https:// URL with a host")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return _bad_url("no credentials in the URL")
    if parts.fragment:
        return _bad_url("no fragment")
    problem = url_problem(url, policy or TargetPolicy())
    return None if problem is None else _bad_url(problem)


def _bad_url(detail: str) -> Refusal:
    return Refusal(Code.INVALID_WEBHOOK_URL, f"url: {detail}")


def check_types(event_types: object) -> frozenset[str] | Refusal:
    if not isinstance(event_types, list | tuple | frozenset | set) or not event_types:
        return Refusal(Code.INVALID_REQUEST, "event_types: at least one event type")
    if len(event_types) > len(SUBSCRIBABLE_TYPES):
        return Refusal(Code.INVALID_REQUEST, "event_types: too many")
    wanted = frozenset(event_types)
    unknown = sorted(t for t in wanted if t not in SUBSCRIBABLE_TYPES)
    if unknown:
        return Refusal(
            Code.INVALID_REQUEST, f"event_types: unknown types {', '.join(map(str, unknown[:5]))}"
        )
    return wanted


def _check_description(description: object) -> Refusal | None:
    if description is None:
        return None
    if type(description) is not str or len(description) > DESCRIPTION_LEN_MAX:
        return Refusal(
            Code.INVALID_REQUEST, f"description: at most {DESCRIPTION_LEN_MAX} characters"
        )
    return None


# ------------------------------------------------------------------ endpoints


def _load(ctx: UnitContext, endpoint_id: int, merchant_id: int | None) -> Endpoint | None:
    """The endpoint, in the unit, when it is ``merchant_id``'s (None: anyone's)."""
    found = _ENDPOINTS.load(ctx.fetch, endpoint_id) if valid_id(endpoint_id) else None
    return _owned(found, merchant_id)


def _not_found() -> Refusal:
    return Refusal(Code.WEBHOOK_ENDPOINT_NOT_FOUND, "no such webhook endpoint")


_Done = TypeVar("_Done")


def _on_endpoint(
    merchant_id: int | None,
    endpoint_id: int,
    act: Callable[[UnitContext, Endpoint], _Done | Refusal],
    refusal_in: Refusal | None = None,
) -> Operation[_Done | Refusal]:
    """The operation that does ``act`` to the endpoint in its unit, when it is the
    merchant's (None: anyone's); else it answers WEBHOOK_ENDPOINT_NOT_FOUND, or
    ``refusal_in`` (what the request's checks refused) before anything."""

    def unit(ctx: UnitContext) -> _Done | Refusal:
        if refusal_in is not None:
            return refusal_in
        found = _load(ctx, endpoint_id, merchant_id)
        return _not_found() if found is None else act(ctx, found)

    return Operation(unit, 0)


def _save(ctx: UnitContext, e: Endpoint) -> None:
    row = _stored(e)
    ctx.execute(_SAVE_SQL, (*[row[c] for c in _CHANGING], e.id))
    _new_version(ctx)


def create_endpoint(
    platform: Platform,
    merchant_id: int,
    url: str,
    event_types: Iterable[str],
    description: str | None = None,
    endpoint_id: int | None = None,
) -> Operation[NewSecret | Refusal]:
    """A new enabled endpoint of the merchant, with a new secret (answered once).
    ``endpoint_id`` given (derived from an Idempotency-Key): a retry answers the stored
    endpoint, without its secret (it is never shown twice)."""
    types = check_types(list(event_types) if not isinstance(event_types, str) else event_types)
    refusal_in = check_url(url, target_policy(platform)) or _check_description(description)
    if refusal_in is None and isinstance(types, Refusal):
        refusal_in = types
    if refusal_in is None and not valid_id(merchant_id):
        refusal_in = Refusal(Code.MERCHANT_NOT_FOUND, "no such merchant")
    new = new_id() if endpoint_id is None else endpoint_id
    box = secret_box(platform) if refusal_in is None else None

    def unit(ctx: UnitContext) -> NewSecret | Refusal:
        if refusal_in is not None or box is None or isinstance(types, Refusal):
            return refusal_in or Refusal(Code.INVALID_REQUEST, "bad endpoint")
        stored = _load(ctx, new, merchant_id)
        if stored is not None:
            return NewSecret(stored, "")
        merchant = active_merchant(ctx, merchant_id)
        if isinstance(merchant, Refusal):
            return merchant
        count = ctx.fetch(
            "SELECT COUNT(*) FROM webhook_endpoints WHERE merchant_id = ?", (merchant_id,)
        )[0][0]
        if int(count) >= WEBHOOK_ENDPOINTS_PER_MERCHANT_MAX:
            return Refusal(
                Code.WEBHOOK_ENDPOINT_LIMIT_REACHED,
                f"a merchant has at most {WEBHOOK_ENDPOINTS_PER_MERCHANT_MAX} endpoints",
            )
        secret = new_secret()
        now = ctx.now_ns
        endpoint = Endpoint(
            new,
            merchant_id,
            url,
            description,
            types,
            True,
            None,
            box.seal(new, secret),
            None,
            None,
            None,
            0,
            now,
            now,
        )
        _insert_endpoint(ctx, endpoint)
        _new_version(ctx)
        return NewSecret(endpoint, secret)

    return Operation(unit, 0)


def _insert_endpoint(ctx: UnitContext, e: Endpoint) -> None:
    row = _stored(e)
    marks = ", ".join("?" * len(row))
    ctx.execute(
        f"INSERT INTO webhook_endpoints ({', '.join(row)}) VALUES ({marks})", tuple(row.values())
    )


def update_endpoint(
    platform: Platform,
    merchant_id: int | None,
    endpoint_id: int,
    *,
    url: str | None = None,
    event_types: Iterable[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
) -> Operation[Endpoint | Refusal]:
    """Change what is given. Enabling again clears the endpoint's failure record."""
    refusal_in = None if url is None else check_url(url, target_policy(platform))
    types = None if event_types is None else check_types(list(event_types))
    if refusal_in is None and isinstance(types, Refusal):
        refusal_in = types
    refusal_in = refusal_in or _check_description(description)

    def update(ctx: UnitContext, found: Endpoint) -> Endpoint:
        changed = replace(
            found,
            url=found.url if url is None else url,
            event_types=found.event_types if not isinstance(types, frozenset) else types,
            description=found.description if description is None else description,
            updated_ns=ctx.now_ns,
        )
        if enabled is True and not found.enabled:
            changed = replace(
                changed, enabled=True, disabled_reason=None, failures=0, failing_since_ns=None
            )
        elif enabled is False and found.enabled:
            changed = replace(changed, enabled=False, disabled_reason="merchant")
        _save(ctx, changed)
        return changed

    return _on_endpoint(merchant_id, endpoint_id, update, refusal_in)


def delete_endpoint(
    platform: Platform, merchant_id: int | None, endpoint_id: int
) -> Operation[Endpoint | Refusal]:
    """Remove the endpoint (its pending deliveries are dropped; the log goes with it)."""

    def delete(ctx: UnitContext, found: Endpoint) -> Endpoint:
        ctx.execute("DELETE FROM webhook_endpoints WHERE id = ?", (endpoint_id,))
        ctx.execute("DELETE FROM webhook_deliveries WHERE endpoint_id = ?", (endpoint_id,))
        ctx.execute("DELETE FROM webhook_attempts WHERE endpoint_id = ?", (endpoint_id,))
        _new_version(ctx)
        return found

    return _on_endpoint(merchant_id, endpoint_id, delete)


def rotate_secret(
    platform: Platform,
    merchant_id: int | None,
    endpoint_id: int,
    overlap_s: int = WEBHOOK_ROTATION_OVERLAP_DEFAULT_S,
) -> Operation[NewSecret | Refusal]:
    """A new secret (answered once); the current one keeps signing beside it for
    ``overlap_s`` seconds (0..WEBHOOK_ROTATION_OVERLAP_MAX_S), then only the new one signs.
    A secret still in its overlap from an earlier rotation stops signing now."""
    refusal_in = None
    if type(overlap_s) is not int or not 0 <= overlap_s <= WEBHOOK_ROTATION_OVERLAP_MAX_S:
        refusal_in = Refusal(
            Code.INVALID_REQUEST, f"overlap_s: 0..{WEBHOOK_ROTATION_OVERLAP_MAX_S} seconds"
        )
    box = secret_box(platform)

    def rotate(ctx: UnitContext, found: Endpoint) -> NewSecret:
        secret = new_secret()
        rotated = replace(
            found,
            secret=box.seal(found.id, secret),
            secret_previous=found.secret if overlap_s else None,
            previous_expires_ns=ctx.now_ns + overlap_s * NS_PER_S if overlap_s else None,
            updated_ns=ctx.now_ns,
        )
        _save(ctx, rotated)
        return NewSecret(rotated, secret)

    return _on_endpoint(merchant_id, endpoint_id, rotate, refusal_in)


def get_endpoint(
    platform: Platform, endpoint_id: int, merchant_id: int | None = None
) -> Endpoint | None:
    return _ENDPOINTS.by_id(platform, endpoint_id, given(merchant_id=merchant_id))


def list_endpoints(
    platform: Platform,
    merchant_id: int | None = None,
    cursor: Cursor | None = None,
    limit: int = 100,
) -> Page[Endpoint]:
    return _ENDPOINTS.page(platform, given(merchant_id=merchant_id), cursor, limit)


# ------------------------------------------------------------------ deliveries


def list_deliveries(
    platform: Platform, endpoint_id: int, cursor: Cursor | None = None, limit: int = 100
) -> Page[Delivery]:
    """An endpoint's deliveries, newest first (the caller checked it may see the endpoint)."""
    return _DELIVERIES.page(platform, [("endpoint_id", endpoint_id)], cursor, limit)


def list_attempts(
    platform: Platform, endpoint_id: int, cursor: Cursor | None = None, limit: int = 100
) -> Page[Attempt]:
    """An endpoint's delivery log: every attempt, newest first."""
    return _ATTEMPTS.page(platform, [("endpoint_id", endpoint_id)], cursor, limit)


def get_delivery(
    platform: Platform, delivery_id: int, merchant_id: int | None = None
) -> Delivery | None:
    return _DELIVERIES.by_id(platform, delivery_id, given(merchant_id=merchant_id))


def _delivery_in(ctx: UnitContext, delivery_id: int, merchant_id: int | None) -> Delivery | None:
    found = _DELIVERIES.load(ctx.fetch, delivery_id) if valid_id(delivery_id) else None
    return _owned(found, merchant_id)


def redeliver(
    platform: Platform, merchant_id: int | None, delivery_id: int
) -> Operation[Delivery | Refusal]:
    """Send a delivery's event again: the delivery is pending, due now, with the retry
    schedule started over (same ``webhook-id``: receivers that have it drop it). Its
    endpoint must be enabled."""

    def unit(ctx: UnitContext) -> Delivery | Refusal:
        found = _delivery_in(ctx, delivery_id, merchant_id)
        if found is None:
            return Refusal(Code.WEBHOOK_DELIVERY_NOT_FOUND, "no such webhook delivery")
        endpoint = _load(ctx, found.endpoint_id, merchant_id)
        if endpoint is None or not endpoint.enabled:
            return Refusal(Code.WEBHOOK_ENDPOINT_DISABLED, "the endpoint is disabled")
        again = replace(
            found, status="pending", attempts=0, next_attempt_ns=ctx.now_ns, updated_ns=ctx.now_ns
        )
        ctx.execute(
            "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_ns = ?,"
            " updated_ns = ? WHERE id = ?",
            ("pending", 0, ctx.now_ns, ctx.now_ns, found.id),
        )
        return again

    return Operation(unit, 0)


def insert_delivery(ctx: UnitContext, endpoint_id: int, event_id: int, merchant_id: int) -> int:
    delivery_id = new_id()
    ctx.execute(
        f"INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS})"
        " VALUES (?, ?, ?, ?, 'pending', 0, ?, NULL, ?, ?)",
        (delivery_id, endpoint_id, event_id, merchant_id, ctx.now_ns, ctx.now_ns, ctx.now_ns),
    )
    return delivery_id


def send_test_event(
    platform: Platform, merchant_id: int | None, endpoint_id: int
) -> Operation[Delivery | Refusal]:
    """A ``webhook.test`` event, delivered to this endpoint only (it must be enabled)."""

    def send(ctx: UnitContext, found: Endpoint) -> Delivery | Refusal:
        if not found.enabled:
            return Refusal(Code.WEBHOOK_ENDPOINT_DISABLED, "the endpoint is disabled")
        data = {"endpoint_id": format_id("we", found.id)}
        event_id = emit(ctx, "webhook.test", found.merchant_id, data)
        delivery_id = insert_delivery(ctx, found.id, event_id, found.merchant_id)
        return Delivery(
            delivery_id,
            found.id,
            event_id,
            found.merchant_id,
            "pending",
            0,
            ctx.now_ns,
            None,
            ctx.now_ns,
            ctx.now_ns,
            "webhook.test",
        )

    return _on_endpoint(merchant_id, endpoint_id, send)
