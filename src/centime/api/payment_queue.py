"""Single payments of concurrent requests, run together in one write unit.

Like the risk screen's grouped decisions (centime.api.screen_queue) and the ledger's group
commit: a payment the screen allowed joins whatever other allowed payments to the same
merchant were asked in the same turn of the event loop, and they run as one write unit,
which does for each payment what its own unit would have done, with one statement per kind
of row instead of one per payment:

- each payment's ``Idempotency-Key`` is looked up first; a stored answer is replayed (or
  refused as reused) and that payment does nothing else;
- the others are paid by one call of the payments service (a batch of them: each payment
  checked against the balances, the mandates' day totals and the month's volume as the
  payments before it left them, exactly as one unit after the other would), their decisions
  recorded, their answers rendered and stored, all in the unit's transaction.

A payment the screen did not allow (a review, a step-up, a block), one with a promotion code
(a code's per-customer count is read per unit) or one that cannot be paid at all (malformed)
runs alone, as before. Should the shared unit raise (a bug: the ledger refused a chain the
unit had checked), nothing of it was written, and each payment runs again in a unit of its
own, so one payment's failure stays its own.

Event-loop side only (no lock): one queue per running loop.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass
from typing import Any, Final

from centime import usecases
from centime.http.problems import ApiCode, ProblemError
from centime.ledger import LedgerBusyError
from centime.ledger.units import UnitContext
from centime.platform import payments
from centime.platform.context import Operation, Platform
from centime.platform.errors import Refusal
from centime.platform.review import decision_row, record_decisions
from centime.risk.types import Action
from centime.usecases.plans import subject

from .idempotency import KeyReused, Stored, idempotent, store_answers, stored_answer

__all__ = [
    "PAYMENT_GROUP_MAX",
    "PaymentQueue",
    "Render",
    "SinglePayment",
    "alone",
    "joins",
    "shared",
]

log = logging.getLogger(__name__)

# Payments of one shared unit at most (a unit's events are bounded by its payers: two legs
# each, and the per-asset fee transfers).
PAYMENT_GROUP_MAX: Final = 256
BUSY_HEADERS: Final = {"Retry-After": "1"}

Render = Callable[[Any], tuple[int, bytes]]
Answer = Stored | KeyReused


@dataclass(frozen=True, slots=True)
class SinglePayment:
    """One request's payment, screened: what its own unit would have run, and under which
    key its answer is stored."""

    request: usecases.PaymentRequest
    screened: usecases.Screened
    owner: str
    key: str
    fingerprint: bytes
    render: Render  # its answer (status, body) from its result, made in the unit (pure)


def joins(platform: Platform, payment: SinglePayment) -> bool:
    """Whether the payment may share a unit: allowed by the screen, well formed, no code."""
    return (
        payment.screened.decision.action is Action.ALLOW
        and payment.request.promo_code is None
        and usecases.refusal(payment.request, platform.config) is None
    )


def alone(platform: Platform, payment: SinglePayment) -> Operation[Answer]:
    """The payment's own unit, as a request runs it that shares none."""
    return idempotent(
        usecases.guarded(platform, payment.request, payment.screened),
        payment.owner,
        payment.key,
        payment.fingerprint,
        payment.render,
    )


def shared(platform: Platform, group: list[SinglePayment]) -> Operation[list[Answer]]:
    """One unit for ``group`` (payments that :func:`joins`, to one merchant, each its own
    payment id): each payment's answer, as its own unit would have given it."""
    first = group[0].request
    merchant_id, by_merchant = first.merchant_id, first.charged_by_merchant
    items = [p.request.item for p in group]
    # Built for every payment of the group: the bound on the events and the accounts to
    # lock first hold for any part of it.
    whole = payments.create_payments_batch(
        platform, merchant_id, items, charged_by_merchant=by_merchant
    )

    def unit(ctx: UnitContext) -> list[Answer]:
        found = [stored_answer(ctx.fetch, p.owner, p.key, p.fingerprint) for p in group]
        answers: list[Answer | None] = list(found)
        todo = [i for i, answer in enumerate(found) if answer is None]
        if not todo:
            return [a for a in answers if a is not None]
        paying = whole
        if len(todo) < len(group):
            paying = payments.create_payments_batch(
                platform, merchant_id, [items[i] for i in todo], charged_by_merchant=by_merchant
            )
        results = paying.unit(ctx)
        now_ns = ctx.now_ns
        record_decisions(
            ctx,
            [
                decision_row(
                    now_ns,
                    group[i].screened.event,
                    group[i].screened.decision,
                    subject(group[i].request),
                )
                for i in todo
            ],
        )
        rows: list[tuple[str, str, bytes, int, bytes]] = []
        for n, i in enumerate(todo):
            result = results if isinstance(results, Refusal) else results[n]
            status, body = group[i].render(result)
            answers[i] = Stored(status, body, replayed=False)
            rows.append((group[i].owner, group[i].key, group[i].fingerprint, status, body))
        store_answers(ctx, rows)
        return [a for a in answers if a is not None]

    return Operation(unit, whole.events_max, whole.overlap)


class PaymentQueue:
    """Single payments of one platform, grouped per turn of the event loop (see the
    module's note)."""

    def __init__(self, platform: Platform, group_max: int = PAYMENT_GROUP_MAX) -> None:
        self._platform = platform
        self._group_max = group_max
        self._waiting: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, list[tuple[SinglePayment, asyncio.Future[Answer]]]
        ] = weakref.WeakKeyDictionary()

    async def pay(self, payment: SinglePayment) -> Answer:
        """The payment's answer once it is durable: stored now, or replayed."""
        loop = asyncio.get_running_loop()
        if not joins(self._platform, payment):
            return await self._submit_alone(loop, payment)
        future: asyncio.Future[Answer] = loop.create_future()
        waiting = self._waiting.get(loop)
        if waiting is None:
            waiting = self._waiting[loop] = []
            loop.call_soon(self._flush, loop)
        waiting.append((payment, future))
        # Shielded: a client that goes away must not cancel what the writer completes.
        return await asyncio.shield(future)

    async def _submit_alone(
        self, loop: asyncio.AbstractEventLoop, payment: SinglePayment
    ) -> Answer:
        future: asyncio.Future[Answer] = loop.create_future()
        self._alone(loop, payment, future)
        return await asyncio.shield(future)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        """Submit what waited: one shared unit per merchant and group of at most
        ``group_max`` payments with distinct ids."""
        waiting = self._waiting.pop(loop, [])
        groups: dict[tuple[int, bool], list[tuple[SinglePayment, asyncio.Future[Answer]]]] = {}
        ids: dict[tuple[int, bool], set[int]] = {}
        for entry in waiting:
            request = entry[0].request
            kind = (request.merchant_id, request.charged_by_merchant)
            group = groups.setdefault(kind, [])
            seen = ids.setdefault(kind, set())
            if len(group) >= self._group_max or request.payment_id in seen:
                self._submit(loop, group)
                group = groups[kind] = []
                seen = ids[kind] = set()
            group.append(entry)
            seen.add(request.payment_id)
        for group in groups.values():
            if group:
                self._submit(loop, group)

    def _submit(
        self,
        loop: asyncio.AbstractEventLoop,
        group: list[tuple[SinglePayment, asyncio.Future[Answer]]],
    ) -> None:
        if len(group) == 1:
            self._alone(loop, *group[0])
            return
        futures = [f for _, f in group]
        try:
            operation = shared(self._platform, [p for p, _ in group])
            done = self._platform.ledger.submit_unit(
                operation.unit, operation.events_max, wait=False, overlap=operation.overlap
            )
        except LedgerBusyError:
            _fail_busy(futures)
            return
        except Exception:  # not submitted (a bug, a closed ledger): each on its own
            log.exception("a shared payment unit could not be submitted")
            for entry in group:
                self._alone(loop, *entry)
            return

        def settle(result: Future[list[Answer]]) -> None:
            error = _error_of(result)
            if error is not None:  # nothing of the unit was written: each runs alone
                log.error("a shared payment unit failed: each payment runs alone", exc_info=error)
                for entry in group:
                    self._alone(loop, *entry)
                return
            for future, answer in zip(futures, result.result(), strict=True):
                if not future.done():
                    future.set_result(answer)

        done.add_done_callback(lambda result: loop.call_soon_threadsafe(settle, result))

    def _alone(
        self,
        loop: asyncio.AbstractEventLoop,
        payment: SinglePayment,
        future: asyncio.Future[Answer],
    ) -> None:
        try:
            operation = alone(self._platform, payment)
            done = self._platform.ledger.submit_unit(
                operation.unit, operation.events_max, wait=False, overlap=operation.overlap
            )
        except LedgerBusyError:
            _fail_busy([future])
            return
        except Exception as error:  # answered (a 500), never left waiting
            if not future.done():
                future.set_exception(error)
            return

        def settle(result: Future[Answer]) -> None:
            if future.done():
                return
            error = _error_of(result)
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result.result())

        done.add_done_callback(lambda result: loop.call_soon_threadsafe(settle, result))


def _error_of(result: Future[Any]) -> BaseException | None:
    """The unit's exception, or None when it returned; a cancelled unit is an error too
    (``exception()`` would raise inside the loop's callback and leave requests waiting)."""
    if result.cancelled():
        return CancelledError("the write unit was cancelled")
    return result.exception()


def _fail_busy(futures: list[asyncio.Future[Answer]]) -> None:
    for future in futures:
        if not future.done():
            future.set_exception(
                ProblemError(
                    ApiCode.BUSY, "the server is at capacity; retry shortly", headers=BUSY_HEADERS
                )
            )
