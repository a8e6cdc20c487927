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
from centime.platform.context import Platform
from centime.platform.errors import Code
from centime.platform.pages import Cursor
from centime.platform.payments import refunds

from ..execute import execute
from ..idempotency import required_key_of
from ..pagination import Listed
from ..params import path_id
from ..state import api_state, principal_of
from .acting import operation_id
from .declare import READ, REFUNDS, writes
from .listings import OWN_MERCHANT, PAYMENT, finds, lists
from .render import converter

__all__ = ["refund_out", "refund_routes"]


refund_out: Final = converter(
    refunds.Refund, wire.Refund, "ref", renamed={"restricted": "restricted_amount"}
)


@writes("/payments/{payment_id:str}/refunds", REFUNDS, 402, 404, status_code=201, key_required=True)
async def refund_payment(
    request: Request[Any, Any, Any], payment_id: FromPath[str], data: JSONBody[wire.RefundCreate]
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
        refund_id=operation_id("refund", principal, required_key_of(request)),
        asset=asset,
    )
    operation = usecases.operation(api_state(request).platform, use_case)
    return await execute(request, operation, refund_out, status_code=201)


def _refunds(
    platform: Platform, merchant: int | None, payment: int | None, at: Cursor | None, limit: int
) -> Listed[refunds.Refund]:
    # The cursor's name lists the merchant first (as it always did), the platform the payment.
    return refunds.list_refunds(platform, payment, merchant, at, limit)


list_refunds = lists(
    "/refunds",
    READ,
    wire.RefundPage,
    _refunds,
    refund_out,
    OWN_MERCHANT,
    PAYMENT,
    name="list_refunds",
    doc="Refunds newest first: a merchant's own, the operator's every one; of one payment.",
    statuses=(404,),
)
get_refund = finds(
    "/refunds/{refund_id:str}",
    READ,
    wire.Refund,
    "ref",
    refunds.get_refund,
    refund_out,
    Code.REFUND_NOT_FOUND,
    OWN_MERCHANT,
    name="get_refund",
    detail="no such refund",
)


refund_routes: Final = [refund_payment, list_refunds, get_refund]
