"""Metered holds: authorize up to an amount, capture the final amount, release the rest.

- ``POST /v1/holds`` (``payments``): as for a payment, a merchant's key reserves a
  customer's money only under the customer's mandate (the authorized amount counts against
  its day); the operator's key authorizes for the customer and names the merchant.
- ``POST /v1/holds/{id}/capture`` (``payments``): capture an amount (1..authorized, in
  the hold's asset): a payment is made of it, the rest goes back to the customer.
- ``POST /v1/holds/{id}/release`` (``payments``): give the whole reserve back.
- ``GET /v1/holds``, ``GET /v1/holds/{id}`` (``read``). A hold whose reserve lapsed reads
  ``expired`` at once.

A merchant's key sees and resolves only its own holds (another's is 404). Every POST
requires ``Idempotency-Key``; a new hold's id is derived from it.
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Request, Response
from litestar.params import FromPath, JSONBody

from centime import usecases, wire
from centime.platform.errors import Code
from centime.platform.payments import holds

from ..execute import execute
from ..idempotency import required_key_of
from ..params import body_id, must_find, path_id
from ..screen import IN_REVIEW, screened_operation
from ..state import api_state, principal_of
from .acting import acting_merchant, operation_id, require_mandate, visible_merchant
from .declare import PAYMENTS, READ, reads, writes
from .listings import CUSTOMER, MERCHANT, lists
from .payments import payment_out
from .render import converter

__all__ = ["hold_out", "hold_routes"]


hold_out: Final = converter(
    holds.Hold, wire.Hold, "hold", renamed={"restricted": "restricted_amount"}
)


def capture_out(c: holds.Capture) -> wire.Capture:
    return wire.Capture(hold=hold_out(c.hold), payment=payment_out(c.payment))


def _visible_hold(request: Request[Any, Any, Any], text: str) -> holds.Hold:
    found = holds.get_hold(
        api_state(request).platform,
        path_id("hold", text, Code.HOLD_NOT_FOUND),
        visible_merchant(principal_of(request)),
    )
    return must_find(found, Code.HOLD_NOT_FOUND, "no such hold")


@writes("/holds", PAYMENTS, 402, 404, status_code=201, also=IN_REVIEW, key_required=True)
async def create_hold(
    request: Request[Any, Any, Any], data: JSONBody[wire.HoldCreate]
) -> Response[wire.Hold]:
    """Reserve up to ``amount`` of the customer's money for the merchant (restricted money
    first) until ``timeout_s`` passes."""
    principal = principal_of(request)
    merchant_id = acting_merchant(principal, data.merchant_id, "merchant_id")
    mandate_id = require_mandate(principal, data.mandate_id, "mandate_id")
    asset, amount = wire.parse_money(data.amount, "amount", allow_zero=False)
    timeout_s = None if isinstance(data.timeout_s, wire.UnsetType) else data.timeout_s
    use_case = usecases.HoldRequest(
        customer_id=body_id("cus", data.customer_id, "customer_id"),
        merchant_id=merchant_id,
        asset=asset,
        amount=amount,
        hold_id=operation_id("hold", principal, required_key_of(request)),
        timeout_s=timeout_s,
        description=data.description,
        mandate_id=mandate_id,
        charged_by_merchant=not principal.is_operator,
    )
    guarded = await screened_operation(request, use_case)
    return await execute(request, guarded, hold_out, status_code=201)


@writes("/holds/{hold_id:str}/capture", PAYMENTS, 402, 404, status_code=200, key_required=True)
async def capture_hold(
    request: Request[Any, Any, Any], hold_id: FromPath[str], data: JSONBody[wire.HoldCapture]
) -> Response[wire.Capture]:
    """Capture ``amount`` of the hold: the merchant is paid it (less the fee) as a payment,
    and the rest of the reserve goes back to the customer."""
    principal = principal_of(request)
    asset, amount = wire.parse_money(data.amount, "amount", allow_zero=False)
    # The hold is read (and its merchant and asset checked) in the operation's unit.
    use_case = usecases.CaptureRequest(
        path_id("hold", hold_id, Code.HOLD_NOT_FOUND),
        amount,
        None if principal.is_operator else principal.owner_id,
        asset,
    )
    operation = usecases.operation(api_state(request).platform, use_case)
    return await execute(request, operation, capture_out)


@writes(
    "/holds/{hold_id:str}/release", PAYMENTS, 404, status_code=200, body=False, key_required=True
)
async def release_hold(
    request: Request[Any, Any, Any], hold_id: FromPath[str]
) -> Response[wire.Hold]:
    """Give the whole reserve back to the customer; nothing is paid."""
    principal = principal_of(request)
    operation = holds.release_hold(
        api_state(request).platform,
        path_id("hold", hold_id, Code.HOLD_NOT_FOUND),
        None if principal.is_operator else principal.owner_id,
    )
    return await execute(request, operation, hold_out)


list_holds = lists(
    "/holds",
    READ,
    wire.HoldPage,
    holds.list_holds,
    hold_out,
    MERCHANT,
    CUSTOMER,
    name="list_holds",
    doc="Holds newest first: a merchant's own, the operator's every one.",
    statuses=(404,),
)


@reads("/holds/{hold_id:str}", READ, 404)
def get_hold(request: Request[Any, Any, Any], hold_id: FromPath[str]) -> wire.Hold:
    return hold_out(_visible_hold(request, hold_id))


hold_routes: Final = [create_hold, capture_hold, release_hold, list_holds, get_hold]
