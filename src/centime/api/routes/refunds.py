"""Refunds: a merchant gives back all or part of a payment, any number of times.

- ``POST /v1/payments/{id}/refunds`` (``refunds``): a merchant's key refunds its own
  payments (another's is 404), the operator's any. ``amount`` left out: the remainder.
  ``Idempotency-Key`` is required; the refund's id is derived from it.
- ``GET /v1/refunds``, ``GET /v1/refunds/{id}`` (``read``): a merchant's own, or every one
  for the operator; filtered by payment.
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Request, Response
from litestar.params import FromPath, JSONBody

from centime import usecases, wire
from centime.platform.errors import Code
from centime.platform.ids import format_id
from centime.platform.payments import refunds

from ..execute import execute
from ..idempotency import IdempotencyKeyRequired
from ..pagination import API_PAGE_SIZE_DEFAULT, CursorParam, LimitParam, page_of
from ..params import must_find, path_id
from ..state import api_state, principal_of
from .acting import PaymentQuery, listing, operation_id, query_id, visible_merchant
from .declare import READ, REFUNDS, reads, writes

__all__ = ["refund_out", "refund_routes"]


def refund_out(r: refunds.Refund) -> wire.Refund:
    asset = r.asset
    return wire.Refund(
        id=format_id("ref", r.id),
        payment_id=format_id("pay", r.payment_id),
        customer_id=format_id("cus", r.customer_id),
        merchant_id=format_id("mer", r.merchant_id),
        amount=wire.money(r.amount, asset),
        fee_returned=wire.money(r.fee_returned, asset),
        restricted=wire.money(r.restricted_amount, asset),
        reason=r.reason,
        created_at=wire.rfc3339(r.created_ns),
    )


@writes("/payments/{payment_id:str}/refunds", REFUNDS, 402, 404, status_code=201)
async def refund_payment(
    request: Request[Any, Any, Any],
    payment_id: FromPath[str],
    data: JSONBody[wire.RefundCreate],
    idempotency_key: IdempotencyKeyRequired,
) -> Response[wire.Refund]:
    """Refund the payment: ``amount`` (in the payment's asset) or all that is not refunded
    yet. The fee goes back in proportion (rounded down); restricted money goes back as
    restricted money."""
    principal = principal_of(request)
    asset = amount = None
    if not isinstance(data.amount, wire.UnsetType):
        asset, amount = wire.parse_money(data.amount, "amount", allow_zero=False)
    # The payment is read (and its merchant and asset checked) in the operation's unit.
    use_case = usecases.RefundRequest(
        path_id("pay", payment_id, Code.PAYMENT_NOT_FOUND),
        amount,
        data.reason,
        merchant_id=None if principal.is_operator else principal.owner_id,
        refund_id=operation_id("refund", principal, idempotency_key),
        asset=asset,
    )
    operation = usecases.operation(api_state(request).platform, use_case)
    return await execute(
        request, operation, refund_out, status_code=201, idempotency_key=idempotency_key
    )


@reads("/refunds", READ, 404)
def list_refunds(
    request: Request[Any, Any, Any],
    payment_id: PaymentQuery = None,
    limit: LimitParam = API_PAGE_SIZE_DEFAULT,
    cursor: CursorParam = None,
) -> wire.RefundPage:
    """Refunds newest first: a merchant's own, the operator's every one; of one payment."""
    merchant = visible_merchant(principal_of(request))
    payment = query_id("pay", payment_id, "payment_id")
    name = listing("refunds", merchant, payment)
    return page_of(
        request,
        wire.RefundPage,
        name,
        cursor,
        limit,
        refunds.list_refunds,
        refund_out,
        payment,
        merchant,
    )


@reads("/refunds/{refund_id:str}", READ, 404)
def get_refund(request: Request[Any, Any, Any], refund_id: FromPath[str]) -> wire.Refund:
    found = refunds.get_refund(
        api_state(request).platform,
        path_id("ref", refund_id, Code.REFUND_NOT_FOUND),
        visible_merchant(principal_of(request)),
    )
    return refund_out(must_find(found, Code.REFUND_NOT_FOUND, "no such refund"))


refund_routes: Final = [refund_payment, list_refunds, get_refund]
