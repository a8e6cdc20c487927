"""Idempotency-Key: a retried POST gets the first answer, and nothing happens twice.

The first response to a (principal, key) is stored by the same write unit as the operation
it answers (:func:`idempotent` wraps the service's Operation): the unit looks the key up,
and either replays the stored response without running the operation (same request) or
refuses (422 ``idempotency_key_reused``: the key was used for a different request), or runs
the operation and stores its response. So a crash can never leave money moved without its
stored response, and a retry after a timeout is answered with the original outcome. Units
run one at a time under the ledger's clock lock, in every process, so two retries cannot
both miss the row. Within a process a duplicate that arrives while the first is still in
flight is refused at once (409 ``idempotency_key_in_use``) instead of queueing behind it.

A request too large for one unit (a batch of payments) is several units queued together
(:class:`IdempotentParts`): each looks the key up the same way (:func:`stored_answer`), and
the last stores the answer in its own transaction, with its payments, made of every unit's
result; the answer is stored compactly there and rendered off the writer's thread.

What is stored is the first *answer of the operation*: a success, or the service's refusal
(Stripe's rule). A request refused before any operation ran (bad JSON, a missing scope, a
rate limit) stores nothing: fixing it and retrying with the same key is fine. Stored rows
are kept ``IDEMPOTENCY_KEEP_S`` (24 h) and then purged by :func:`purge_expired`.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Final, Generic, TypeVar

from litestar import Request
from litestar.params import HeaderParameter

from centime.http.problems import ApiCode, ProblemError
from centime.ledger import Ledger
from centime.ledger.port import Fetch
from centime.ledger.units import UnitContext
from centime.limits import (
    IDEMPOTENCY_IN_FLIGHT_MAX,
    IDEMPOTENCY_KEEP_S,
    IDEMPOTENCY_KEY_LEN_MAX,
    IDEMPOTENCY_PURGE_MAX,
)
from centime.platform.context import Operation
from centime.wire import FieldError

__all__ = [
    "HEADER",
    "IdempotencyKey",
    "IdempotencyKeyRequired",
    "IdempotentParts",
    "InFlight",
    "KeyReused",
    "Stored",
    "check_key",
    "idempotency_key_of",
    "idempotent",
    "key_is_valid",
    "purge_expired",
    "request_hash",
    "required_key_of",
    "store_answers",
    "stored_answer",
]

T = TypeVar("T")

HEADER: Final = "Idempotency-Key"
NS_PER_S: Final = 1_000_000_000
KEY_PATTERN: Final = rf"^[\x20-\x7e]{{1,{IDEMPOTENCY_KEY_LEN_MAX}}}$"

# A write route's parameter: ``idempotency_key: IdempotencyKey = None`` where the header is
# optional, ``idempotency_key: IdempotencyKeyRequired`` on every route that moves money.
# Declared so the OpenAPI document shows it and Litestar checks it; ``writes`` declares it
# for its routes (centime.api.routes.declare), whose handlers and execute() read the value
# with ``idempotency_key_of``.
_DESCRIPTION: Final = (
    "Makes the request safe to retry: the first answer is stored and replayed for the same"
    " key and request (24 h); a new UUID per logical request will do."
)
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(name=HEADER, required=False, pattern=KEY_PATTERN, description=_DESCRIPTION),
]
IdempotencyKeyRequired = Annotated[
    str,
    HeaderParameter(name=HEADER, required=True, pattern=KEY_PATTERN, description=_DESCRIPTION),
]


def _key_missing() -> ProblemError:
    return ProblemError(
        ApiCode.IDEMPOTENCY_KEY_REQUIRED,
        f"this request moves money: send an {HEADER} header (a UUID will do)",
        errors=[FieldError(field=HEADER, detail="required")],
    )


def check_key(text: str | None, *, required: bool) -> str | None:
    """The header's key (1-255 printable ASCII characters), None when it may be left out
    and is; a 400 problem otherwise."""
    if text is None:
        if required:
            raise _key_missing()
        return None
    if not key_is_valid(text):
        raise ProblemError(
            ApiCode.INVALID_IDEMPOTENCY_KEY,
            f"{HEADER} is 1-{IDEMPOTENCY_KEY_LEN_MAX} printable ASCII characters",
            errors=[FieldError(field=HEADER, detail="not a valid key")],
        )
    return text


def key_is_valid(text: str) -> bool:
    """Whether ``text`` is a key: 1-255 printable ASCII characters (``KEY_PATTERN``)."""
    return 1 <= len(text) <= IDEMPOTENCY_KEY_LEN_MAX and all(" " <= c <= "~" for c in text)


def idempotency_key_of(request: Request[Any, Any, Any]) -> str | None:
    """The request's key, None when it was left out: the route declared the header
    (``writes``), so Litestar checked it before the handler ran."""
    return check_key(request.headers.get(HEADER), required=False)


def required_key_of(request: Request[Any, Any, Any]) -> str:
    """The key of a request to a route that requires one (``IdempotencyKeyRequired``)."""
    key = idempotency_key_of(request)
    if key is None:
        raise _key_missing()
    return key


def request_hash(method: str, path: str, body: bytes) -> bytes:
    """SHA-256 of the request (method, path, body), each part length-prefixed so that no
    two requests share an encoding."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


@dataclass(frozen=True, slots=True)
class Stored:
    """The response to send: the first one, stored (``replayed``: this request did not
    run the operation, an earlier one did)."""

    status_code: int
    body: bytes
    replayed: bool


@dataclass(frozen=True, slots=True)
class KeyReused:
    """The key was first used for a different request."""


def stored_answer(
    fetch: Fetch, principal: str, key: str, fingerprint: bytes
) -> Stored | KeyReused | None:
    """The stored answer of (principal, key) for this request, KeyReused when it was stored
    for another one, None when there is none (``fetch``: a unit's, or a reader's to answer
    a retry before doing anything)."""
    rows = fetch(
        "SELECT request_hash, status_code, body FROM idempotency_keys"
        " WHERE principal = ? AND key = ?",
        (principal, key),
    )
    if not rows:
        return None
    stored_hash, status_code, body = rows[0]
    if bytes(stored_hash) != fingerprint:
        return KeyReused()
    return Stored(int(status_code), bytes(body), replayed=True)


def _store(
    ctx: UnitContext, principal: str, key: str, fingerprint: bytes, answer: tuple[int, bytes]
) -> None:
    status_code, body = answer
    ctx.execute(
        "INSERT INTO idempotency_keys"
        " (principal, key, request_hash, status_code, body, created_ns)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (principal, key, fingerprint, status_code, body, ctx.now_ns),
    )


def store_answers(ctx: UnitContext, rows: Sequence[tuple[str, str, bytes, int, bytes]]) -> None:
    """Store the first answers of several requests in the unit's transaction, one statement:
    each row (principal, key, fingerprint, status, body)."""
    now_ns = ctx.now_ns
    ctx.executemany(
        "INSERT INTO idempotency_keys"
        " (principal, key, request_hash, status_code, body, created_ns)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(*row, now_ns) for row in rows],
    )


def idempotent(
    operation: Operation[T],
    principal: str,
    key: str,
    fingerprint: bytes,
    render: Callable[[T], tuple[int, bytes]],
    stored_render: Callable[[T], tuple[int, bytes]] | None = None,
) -> Operation[Stored | KeyReused]:
    """``operation`` answered once per (principal, key): run and stored with its response,
    or replayed. ``render`` makes the response (status, body) of the result, in the unit,
    so it must be pure; ``stored_render`` what is kept and replayed when that must differ
    (a created API key's secret is shown once and never stored)."""

    def wrap(ctx: UnitContext, inner: Callable[[UnitContext], T]) -> Stored | KeyReused:
        found = stored_answer(ctx.fetch, principal, key, fingerprint)
        if found is not None:
            return found
        result = inner(ctx)
        status_code, body = render(result)
        # Rendered once: the writer's time is the scarce one.
        kept = (status_code, body) if stored_render is None else stored_render(result)
        _store(ctx, principal, key, fingerprint, kept)
        return Stored(status_code, body, replayed=False)

    return operation.then(wrap)


class IdempotentParts(Generic[T]):
    """A request too large for one write unit (a batch of payments), run as ``parts`` (units
    queued together, in order) and answered once per (principal, key), like
    :func:`idempotent`: each part first looks the key up (stored: the part does nothing and
    answers that, :class:`Stored` or :class:`KeyReused`), and the last part stores what
    ``keep`` makes of every part's result in its own transaction, with its payments.

    The last part reads the earlier parts' results as the writer left them: a part of an
    earlier group committed before the last one ran (the writer answers a group's futures
    before it takes the next), and one of the same group commits with it. If an earlier
    part failed, nothing is stored (the request's answer is that failure; a retry runs
    again, and meets what was committed). ``keep`` runs on the writer's thread: it makes the
    compact row only, never the response."""

    def __init__(
        self,
        parts: Sequence[Operation[T]],
        principal: str,
        key: str,
        fingerprint: bytes,
        keep: Callable[[list[T]], tuple[int, bytes]],
    ) -> None:
        if not parts:
            raise ValueError("an idempotent request has at least one part")
        self._identity = (principal, key, fingerprint)
        self._keep = keep
        self._results: list[tuple[T] | None] = [None] * len(parts)  # (result,) once run
        self._futures: list[Future[Any]] = []
        self.units = [
            Operation(self._part(index, part), part.events_max, part.overlap)
            for index, part in enumerate(parts)
        ]

    def submit(self, ledger: Ledger) -> list[Future[T | Stored | KeyReused]]:
        """Queue every part (waiting for room in the writer's queue: call it from a worker
        thread), in order; their futures."""
        for unit in self.units:
            self._futures.append(
                ledger.submit_unit(unit.unit, unit.events_max, overlap=unit.overlap)
            )
        return list(self._futures)

    def _part(
        self, index: int, part: Operation[T]
    ) -> Callable[[UnitContext], T | Stored | KeyReused]:
        last = index == len(self._results) - 1

        def unit(ctx: UnitContext) -> T | Stored | KeyReused:
            found = stored_answer(ctx.fetch, *self._identity)
            if found is not None:
                return found
            result = part.unit(ctx)
            self._results[index] = (result,)
            if last:
                earlier = self._settled(index)
                if earlier is not None:
                    _store(ctx, *self._identity, self._keep([*earlier, result]))
            return result

        return unit

    def _settled(self, last: int) -> list[T] | None:
        """The results of the parts before ``last``, as this transaction will commit them;
        None when one of them failed."""
        results: list[T] = []
        for future, result in zip(self._futures[:last], self._results, strict=False):
            if future.done() and future.exception() is not None:
                return None
            if result is None:
                return None
            results.append(result[0])
        return results


class InFlight:
    """The (principal, key) pairs whose first request is running in this process."""

    def __init__(self, limit: int = IDEMPOTENCY_IN_FLIGHT_MAX) -> None:
        self._held: set[tuple[str, str]] = set()
        self._limit = limit
        self._lock = threading.Lock()

    @contextmanager
    def claim(self, principal: str, key: str) -> Iterator[None]:
        """Hold the pair while the request runs; 409 if it is already held."""
        pair = (principal, key)
        with self._lock:
            if pair in self._held:
                raise ProblemError(
                    ApiCode.IDEMPOTENCY_KEY_IN_USE,
                    "a request with this Idempotency-Key is still running; retry later",
                )
            if len(self._held) >= self._limit:
                raise ProblemError(
                    ApiCode.RATE_LIMITED,
                    "too many requests in flight; retry later",
                    headers={"Retry-After": "1"},
                )
            self._held.add(pair)
        try:
            yield
        finally:
            with self._lock:
                self._held.discard(pair)

    def __contains__(self, pair: object) -> bool:
        with self._lock:
            return pair in self._held


def purge_expired(
    keep_s: int = IDEMPOTENCY_KEEP_S, rows_max: int = IDEMPOTENCY_PURGE_MAX
) -> Operation[int]:
    """Delete at most ``rows_max`` stored responses older than ``keep_s``, oldest first;
    the number deleted (run again while it is ``rows_max``)."""

    def unit(ctx: UnitContext) -> int:
        cutoff_ns = ctx.now_ns - keep_s * NS_PER_S
        rows = ctx.fetch(
            "SELECT principal, key FROM idempotency_keys WHERE created_ns < ?"
            " ORDER BY created_ns LIMIT ?",
            (cutoff_ns, rows_max),
        )
        ctx.executemany("DELETE FROM idempotency_keys WHERE principal = ? AND key = ?", rows)
        return len(rows)

    return Operation(unit, 0)
