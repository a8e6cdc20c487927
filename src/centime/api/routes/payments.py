"""Payments: a customer pays a merchant; batches of them; reading them.

- ``POST /v1/payments``: a merchant's key (``payments``) charges a customer under the
  customer's mandate (``mandate_id`` required; the merchant is the key's owner); the
  operator's key (``payments``) pays for a customer and names the merchant (a mandate is
  optional: the customer is the one asking). ``Idempotency-Key`` is required; the payment's
  id is derived from it, so even a retry after the stored answer was purged finds the first
  payment instead of paying twice.
- ``POST /v1/payments/batch``: up to ``API_BATCH_PAYMENTS_MAX`` payments to one merchant,
  one result per payment in order (see :func:`create_payment_batch`).
- ``GET /v1/payments`` and ``GET /v1/payments/{id}`` (``read``): a merchant sees its own
  payments, the operator every one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Final, cast

import msgspec
from anyio import to_thread
from litestar import Request, Response
from litestar.params import FromPath, JSONBody

from centime import usecases, wire
from centime.auth import Principal
from centime.http.problems import (
    ApiCode,
    ProblemError,
    problem_body,
    status_of,
)
from centime.ledger import LedgerBusyError
from centime.limits import (
    AMOUNT_MAX,
    API_BATCH_BODY_MAX_BYTES,
    API_BATCH_PAYMENTS_MAX,
    BATCH_PAYMENTS_MAX,
)
from centime.money import ASSETS
from centime.platform import payments
from centime.platform.context import Platform
from centime.platform.errors import Code, Refusal
from centime.platform.ids import format_id
from centime.platform.review import InReview
from centime.platform.rows import frozen_maker
from centime.usecases.batch import BatchResult

from ..execute import BUSY_HEADERS, answer, execute, fingerprint_of, key_reused, rendering
from ..idempotency import (
    IdempotentParts,
    KeyReused,
    Stored,
    request_hash,
    required_key_of,
    stored_answer,
)
from ..params import body_id, path_id
from ..payment_queue import SinglePayment
from ..screen import IN_REVIEW, origin, screen_many, screened_operation, screened_request
from ..state import api_state, principal_of
from .acting import acting_merchant, operation_id, require_mandate
from .declare import PAYMENTS, READ, reads, writes
from .listings import CUSTOMER, MERCHANT, lists
from .render import converter

__all__ = ["payment_out", "payment_routes"]


payment_out: Final = converter(
    payments.Payment, wire.Payment, "pay", renamed={"restricted": "restricted_amount"}
)


def _not_found() -> ProblemError:
    return ProblemError(Code.PAYMENT_NOT_FOUND, "no such payment")


def visible_payment(request: Request[Any, Any, Any], text: str) -> payments.Payment:
    """The payment the path names, if the caller may see it (404 otherwise)."""
    principal = principal_of(request)
    merchant = None if principal.is_operator else principal.owner_id
    found = payments.get_payment(
        api_state(request).platform, path_id("pay", text, Code.PAYMENT_NOT_FOUND), merchant
    )
    if found is None:
        raise _not_found()
    return found


# ------------------------------------------------------------------ one payment


@writes("/payments", PAYMENTS, 402, 404, status_code=201, also=IN_REVIEW, key_required=True)
async def create_payment(
    request: Request[Any, Any, Any], data: JSONBody[wire.PaymentCreate]
) -> Response[wire.Payment]:
    """A customer pays a merchant; the platform's fee is split off in the same chain, and
    carrier-billed (restricted) money is spent first."""
    principal = principal_of(request)
    merchant_id = acting_merchant(principal, data.merchant_id, "merchant_id")
    mandate_id = require_mandate(principal, data.mandate_id, "mandate_id")
    asset, amount = wire.parse_money(data.amount, "amount", allow_zero=False)
    key = required_key_of(request)
    use_case = usecases.PaymentRequest(
        customer_id=body_id("cus", data.customer_id, "customer_id"),
        merchant_id=merchant_id,
        asset=asset,
        amount=amount,
        payment_id=operation_id("payment", principal, key),
        description=data.description,
        reference=data.reference,
        mandate_id=mandate_id,
        charged_by_merchant=not principal.is_operator,
        promo_code=data.promo_code,
    )
    state = api_state(request)
    if usecases.refusal(use_case, state.platform.config) is not None:  # the screen not asked
        return await execute(
            request, await screened_operation(request, use_case), payment_out, status_code=201
        )
    screened = await screened_request(request, use_case)
    owner = principal.owner
    payment = SinglePayment(use_case, screened, owner, key, await fingerprint_of(request), _RENDER)
    with state.in_flight.claim(owner, key):
        outcome = await state.payments.pay(payment)
    if isinstance(outcome, KeyReused):
        raise key_reused()
    return answer(outcome.status_code, outcome.body, outcome.replayed)


_RENDER: Final = rendering(payment_out, 201)


list_payments = lists(
    "/payments",
    READ,
    wire.PaymentPage,
    payments.list_payments,
    payment_out,
    MERCHANT,
    CUSTOMER,
    name="list_payments",
    doc="""Payments newest first: a merchant's key sees its own, the operator's every one;
    filtered by merchant and/or customer.""",
    statuses=(404,),
)


@reads("/payments/{payment_id:str}", READ, 404)
def get_payment(request: Request[Any, Any, Any], payment_id: FromPath[str]) -> wire.Payment:
    return payment_out(visible_payment(request, payment_id))


@reads("/payments/{payment_id:str}/proof", READ, 404)
def payment_proof(
    request: Request[Any, Any, Any], payment_id: FromPath[str]
) -> Response[dict[str, Any]]:
    """The audit log's inclusion proofs of the ledger transfers that carried the payment
    (``parts``: each ``{transfer_id, head, proof}``, or ``{transfer_id, pending}`` until a
    signed tree head covers it), with the operator's published ``keys``: check a part with
    ``centime audit check-proof``. The payment's merchant (or the operator) only."""
    from centime.audit import AuditReader
    from centime.platform.payments import carried_by, proofs_of

    principal = principal_of(request)
    platform = api_state(request).platform
    kind: Any = "operator" if principal.is_operator else "merchant"
    found = carried_by(platform, payment_id, kind, principal.owner_id)
    if found is None:
        raise _not_found()
    with platform.ledger.store.audit_reader() as fetch:
        keys = AuditReader(fetch).keyring().to_json()
    return Response({"id": found.public_id, "parts": proofs_of(platform, found), **keys})


# ------------------------------------------------------------------ batches


class _StoredBatch(msgspec.Struct, array_like=True):
    """What the idempotency row of a batch keeps: enough to answer a retry as the first
    request was answered (the refusals, by index, and the paid payments' fees in order;
    their ids are derived from the index), without the answer's size. ``whole``: the batch
    was refused as a whole (code, detail)."""

    refused: list[tuple[int, str, str]]
    fees: list[int]
    whole: tuple[str, str] | None = None
    reviewed: list[tuple[int, str]] = []  # (index, case_...): held by the risk screen


# A batch's payment ids: the batch's id (derived from the caller and its Idempotency-Key,
# bit 62 set so that no id is 0) with the payment's index in its low 15 bits flipped. One
# hash per batch instead of one per payment, and the ids' texts share their first digits:
# only the last three base32 digits (15 bits) differ, and are computed, not formatted.
_INDEX_BITS: Final = 15
if API_BATCH_PAYMENTS_MAX > 1 << _INDEX_BITS:
    raise RuntimeError("limits.API_BATCH_PAYMENTS_MAX no longer fits a batch id's low bits")
_HIGH_BIT: Final = 1 << 62
_DIGITS: Final = "0123456789abcdefghjkmnpqrstvwxyz"  # centime.platform.ids' base32

_STORED_ENCODER: Final = msgspec.json.Encoder()
_STORED_DECODER: Final = msgspec.json.Decoder(_StoredBatch)
_ENCODER: Final = msgspec.json.Encoder()
_new_item: Final = frozen_maker(payments.PaymentItem)  # PaymentItem(*every field), faster

# A payment of a batch as its answer needs it: (payment id, fee), why it was refused, or the
# case text of its review.
_Result = tuple[int, int] | Refusal | str


def indexed_id_text(head: str, low: int, index: int) -> str:
    """``format_id`` of ``base ^ index`` given the text of ``base`` but its last three
    digits (``head``) and its low 15 bits (``low``)."""
    flipped = low ^ index
    return head + _DIGITS[flipped >> 10] + _DIGITS[(flipped >> 5) & 31] + _DIGITS[flipped & 31]


class _Batch:
    """One batch request turned into the service's items, with what rendering the answer
    needs; the per-payment work is kept small (the endpoint is benchmarked): ids are parsed
    once per distinct text, a payment's id is the batch's with its index in the low bits."""

    def __init__(
        self, principal: Principal, key: str, merchant_id: int, body: wire.PaymentBatchCreate
    ) -> None:
        self.merchant_id = merchant_id
        self.key = key
        self.base_id = operation_id("batch", principal, key) | _HIGH_BIT
        self.id_head = format_id("pay", self.base_id)[:-3]  # every payment's id starts so
        self.id_low = self.base_id & ((1 << _INDEX_BITS) - 1)
        self.charged_by_merchant = not principal.is_operator
        self.ids: dict[str, dict[str, int]] = {"cus": {}, "man": {}}  # id text -> id
        self.items = [self._item(principal, i, p) for i, p in enumerate(body.payments)]

    def _id(self, prefix: str, text: str, index: int, name: str) -> int:
        ids = self.ids[prefix]
        found = ids.get(text)
        if found is None:
            found = ids[text] = body_id(prefix, text, f"payments[{index}].{name}")
        return found

    def _item(
        self, principal: Principal, index: int, wanted: wire.BatchPayment
    ) -> payments.PaymentItem:
        # The fields' names are made only to name a bad one (the endpoint is benchmarked).
        money = wanted.amount
        asset = ASSETS.get(money.asset)
        # The decoder checked the value's pattern, but a regex's $ also matches before a final
        # newline ("5\n"): the digits are checked again here, cheaply.
        text = money.value
        amount = int(text) if text.isascii() and text.isdigit() else 0
        if asset is None or money.scale != asset.scale or not 0 < amount <= AMOUNT_MAX:
            field = f"payments[{index}].amount"
            wire.parse_money(money, field, allow_zero=False)  # raises, naming it
        mandate = wanted.mandate_id
        if mandate is None:
            if self.charged_by_merchant:
                require_mandate(principal, None, f"payments[{index}].mandate_id")  # raises
            mandate_id = None
        else:
            mandate_id = self.ids["man"].get(mandate) or self._id(
                "man", mandate, index, "mandate_id"
            )
        customer = wanted.customer_id
        return _new_item(
            self.ids["cus"].get(customer) or self._id("cus", customer, index, "customer_id"),
            money.asset,
            amount,
            wanted.description,
            wanted.reference,
            self.base_id ^ index,
            mandate_id,
            None,
        )

    @property
    def use_case(self) -> usecases.PaymentBatchRequest:
        return usecases.PaymentBatchRequest(
            self.merchant_id, self.items, self.charged_by_merchant, BATCH_PAYMENTS_MAX
        )

    def render(self, results: Sequence[_Result]) -> bytes:
        """The answer, encoded once: the bytes msgspec makes of its PaymentBatch (checked
        byte for byte in tests/api/test_batch.py), a paid payment's object written as text
        from its id and its fee's JSON (encoded once per fee): both are ASCII that JSON
        writes as it is, and a batch answers thousands of paid payments, each a struct
        and a Money to make and encode otherwise. Refusals and reviews are encoded."""
        parts: list[str] = []
        created = refused = 0
        fees: dict[tuple[int, str], str] = {}  # fees repeat: each one's JSON once
        base, head, low, items = self.base_id, self.id_head, self.id_low, self.items
        for index, result in enumerate(results):
            if isinstance(result, Refusal):
                refused += 1
                code = result.code.value
                error = wire.BatchError(code=code, detail=result.detail)
                parts.append(_text(wire.BatchResult(status=status_of(code), error=error)))
                continue
            if isinstance(result, str):  # held for review: the case
                held = wire.BatchResult(
                    status=202, id=format_id("pay", base ^ index), case_id=result
                )
                parts.append(_text(held))
                continue
            created += 1
            payment_id, fee = result
            asset = items[index].asset
            fee_json = fees.get((fee, asset))
            if fee_json is None:
                fee_json = fees[fee, asset] = _text(wire.money(fee, asset))
            text = (
                indexed_id_text(head, low, index)
                if payment_id == base ^ index
                else format_id("pay", payment_id)
            )
            parts.append(f'{{"status":201,"id":"{text}","fee":{fee_json}}}')
        joined = ",".join(parts)
        return f'{{"results":[{joined}],"created":{created},"refused":{refused}}}'.encode()


def _text(struct: msgspec.Struct) -> str:
    return _ENCODER.encode(struct).decode()


def _stored_answer(
    platform: Platform, owner: str, key: str, fingerprint: bytes
) -> Stored | KeyReused | None:
    with platform.read() as fetch:
        return stored_answer(fetch, owner, key, fingerprint)


def _replay(batch: _Batch, body: bytes) -> tuple[int, bytes]:
    """The answer to a retried batch, from what its first answer kept."""
    stored = _STORED_DECODER.decode(body)
    if stored.whole is not None:
        code, detail = stored.whole
        return status_of(code), problem_body(code, detail)
    refused: dict[int, _Result] = {
        index: Refusal(Code(code), detail) for index, code, detail in stored.refused
    }
    refused.update(dict(stored.reviewed))
    fees = iter(stored.fees)
    results: list[_Result] = [
        refused[index] if index in refused else (batch.base_id ^ index, next(fees))
        for index in range(len(batch.items))
    ]
    return 200, batch.render(results)


def _results(batch: _Batch, outcomes: Sequence[BatchResult]) -> list[_Result] | Refusal:
    """One result per payment of a batch that ran, or the batch's refusal when every unit
    refused it whole (the merchant cannot be paid)."""
    whole = [o for o in outcomes if isinstance(o, Refusal)]
    if len(whole) == len(outcomes):
        return whole[0]
    results: list[_Result] = []
    for start, outcome in zip(
        range(0, len(batch.items), BATCH_PAYMENTS_MAX), outcomes, strict=True
    ):
        if isinstance(outcome, Refusal):  # a unit refused whole: each of its payments is
            results.extend([outcome] * len(batch.items[start : start + BATCH_PAYMENTS_MAX]))
            continue
        for result in outcome:
            if isinstance(result, Refusal):
                results.append(result)
            elif isinstance(result, InReview):
                results.append(format_id("case", result.case_id))
            else:
                results.append((result.id, result.fee))
    return results


def _keep(batch: _Batch) -> Callable[[list[BatchResult]], tuple[int, bytes]]:
    """What the batch's last unit stores as its idempotency row, from every unit's result:
    the compact row only, in one pass (the writer's thread runs it; the answer is rendered
    after, elsewhere)."""

    def keep(outcomes: list[BatchResult]) -> tuple[int, bytes]:
        if all(isinstance(o, Refusal) for o in outcomes):
            whole = cast("Refusal", outcomes[0])
            code = whole.code.value
            return status_of(code), _STORED_ENCODER.encode(
                _StoredBatch([], [], (code, whole.detail))
            )
        kept = _StoredBatch([], [])
        for start, outcome in zip(
            range(0, len(batch.items), BATCH_PAYMENTS_MAX), outcomes, strict=True
        ):
            if isinstance(outcome, Refusal):  # a unit refused whole: each of its payments
                count = len(batch.items[start : start + BATCH_PAYMENTS_MAX])
                why = (outcome.code.value, outcome.detail)
                kept.refused.extend((index, *why) for index in range(start, start + count))
                continue
            for index, result in enumerate(outcome, start):
                if isinstance(result, Refusal):
                    kept.refused.append((index, result.code.value, result.detail))
                elif isinstance(result, InReview):
                    kept.reviewed.append((index, format_id("case", result.case_id)))
                else:
                    kept.fees.append(result.fee)
        return 200, _STORED_ENCODER.encode(kept)

    return keep


def _answer(batch: _Batch, outcomes: Sequence[BatchResult]) -> tuple[int, bytes]:
    """The answer to a batch that ran (off the event loop and the writer)."""
    results = _results(batch, outcomes)
    if isinstance(results, Refusal):
        code = results.code.value
        return status_of(code), problem_body(code, results.detail)
    return 200, batch.render(results)


@writes(
    "/payments/batch",
    PAYMENTS,
    404,
    status_code=200,
    request_max_body_size=API_BATCH_BODY_MAX_BYTES,
    key_required=True,
)
async def create_payment_batch(
    request: Request[Any, Any, Any], data: JSONBody[wire.PaymentBatchCreate]
) -> Response[wire.PaymentBatch]:
    """Up to 8189 payments to one merchant (a merchant's key: each under a mandate), with
    one result per payment, in order: ``status`` 201 with the payment's ``id`` and ``fee``,
    or the status and the error its refusal would have had alone, or ``202`` with the
    ``id`` it will have and the ``case_id`` when the risk screen held it for review (one
    call of the screen for the whole batch). One payment's refusal does not stop the
    others. The whole batch is refused (a problem document) only when
    the merchant cannot be paid, and is a 400 naming the field when a payment is malformed.

    The payments run in write units of BATCH_PAYMENTS_MAX, submitted to the ledger's
    writer together.
    ``Idempotency-Key`` is required: each payment's id is derived from it and its index,
    and the first answer is kept (compactly: the refusals and the fees), so a retry is
    answered as the first request was and never pays twice. Should the server stop
    between the units' commits and the answer's, a retry pays what was left and answers
    the payments already made as they are.
    """
    principal = principal_of(request)
    key = required_key_of(request)
    platform = api_state(request).platform
    merchant_id = acting_merchant(principal, data.merchant_id, "merchant_id")
    # Off the event loop: the per-payment work, and hashing megabytes.
    batch = await to_thread.run_sync(_Batch, principal, key, merchant_id, data)
    raw = await request.body()
    fingerprint = await to_thread.run_sync(request_hash, request.method, request.url.path, raw)
    owner = principal.owner
    with api_state(request).in_flight.claim(owner, key):
        # Looked up first: a retry is answered without screening its payments again.
        found = await to_thread.run_sync(_stored_answer, platform, owner, key, fingerprint)
        outcomes = (
            [found]
            if found is not None
            else await _run_batch(
                request, batch, [p.customer_id for p in data.payments], fingerprint
            )
        )
    if any(isinstance(o, KeyReused) for o in outcomes):
        # The key was used for a different batch: before, or meanwhile by another process
        # (the in-flight check is per process; then this batch's payment ids, derived from
        # the key, met that batch's payments: nothing moved twice).
        raise _key_reused()
    replayed = next((o for o in outcomes if isinstance(o, Stored)), None)
    if replayed is not None:  # a retry, or another process ran it first
        status, body = await to_thread.run_sync(_replay, batch, replayed.body)
        return answer(status, body, replayed=True)
    ran = cast("list[BatchResult]", outcomes)
    status, body = await to_thread.run_sync(_answer, batch, ran)
    return answer(status, body)


def _key_reused() -> ProblemError:
    return ProblemError(
        ApiCode.IDEMPOTENCY_KEY_REUSED,
        "this Idempotency-Key was used for a different request; use a new key",
    )


async def _run_batch(
    request: Request[Any, Any, Any], batch: _Batch, customer_texts: list[str], fingerprint: bytes
) -> list[BatchResult | Stored | KeyReused]:
    """Screen the batch (one call of the screen, in a worker thread) and run its units
    (queued together to the writer, the last storing the idempotency row): each unit's
    outcome."""
    platform = api_state(request).platform
    principal = principal_of(request)
    device, ip = origin(request, principal)
    use_case = batch.use_case
    events = await to_thread.run_sync(
        use_case.events, platform.clock.now_ns(), customer_texts, device, ip
    )
    decisions = await screen_many(request, events)
    operations = await to_thread.run_sync(use_case.operations, platform, events, decisions)
    parts = IdempotentParts(operations, principal.owner, batch.key, fingerprint, _keep(batch))
    # Queued from a worker thread: a full writer queue makes it wait, not the event loop.
    try:
        futures = await to_thread.run_sync(parts.submit, platform.ledger)
    except LedgerBusyError:
        # Waited COMMIT_WAIT_MAX_S for room. Units already queued run and commit; a
        # retry with the same key meets their payments (ids are the batch's) and pays
        # only the rest.
        raise ProblemError(
            ApiCode.BUSY, "the server is at capacity; retry shortly", headers=BUSY_HEADERS
        ) from None
    # Shielded: a client that goes away must not cancel what the writer completes.
    return list(await asyncio.gather(*(asyncio.shield(asyncio.wrap_future(f)) for f in futures)))


payment_routes: Final = [
    create_payment,
    list_payments,
    get_payment,
    payment_proof,
    create_payment_batch,
]
