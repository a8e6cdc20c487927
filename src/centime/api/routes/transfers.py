"""Transfers between customers: real time, wallet to wallet, within the sender's tier.

The operator's keys only (the customer apps act for their customers): ``POST
/v1/transfers`` (``payments``; ``Idempotency-Key`` required, the transfer's id derived
from it), ``GET /v1/transfers`` and ``GET /v1/transfers/{id}`` (``read``). Only the
sender's wallet pays: carrier-billed money that is not settled yet is never sent to
another person (402 ``restricted_funds`` when only it would cover the amount).
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Request, Response
from litestar.params import JSONBody

from centime import usecases, wire
from centime.platform.errors import Code
from centime.platform.payments import p2p

from ..execute import execute
from ..idempotency import required_key_of
from ..params import body_id
from ..screen import IN_REVIEW, screened_operation
from ..state import principal_of
from .acting import operation_id
from .declare import OPERATOR_PAYMENTS, OPERATOR_READ, writes
from .listings import CUSTOMER, finds, lists
from .render import converter

__all__ = ["transfer_out", "transfer_routes"]


transfer_out: Final = converter(p2p.P2PTransfer, wire.Transfer, "tr")


@writes(
    "/transfers", OPERATOR_PAYMENTS, 402, 404, status_code=201, also=IN_REVIEW, key_required=True
)
async def create_transfer(
    request: Request[Any, Any, Any], data: JSONBody[wire.TransferCreate]
) -> Response[wire.Transfer]:
    """Send money from one customer's wallet to another's."""
    asset, amount = wire.parse_money(data.amount, "amount", allow_zero=False)
    principal = principal_of(request)
    use_case = usecases.TransferRequest(
        sender_id=body_id("cus", data.sender_id, "sender_id"),
        recipient_id=body_id("cus", data.recipient_id, "recipient_id"),
        asset=asset,
        amount=amount,
        transfer_id=operation_id("transfer", principal, required_key_of(request)),
        note=data.note,
    )
    guarded = await screened_operation(request, use_case)
    return await execute(request, guarded, transfer_out, status_code=201)


list_transfers = lists(
    "/transfers",
    OPERATOR_READ,
    wire.TransferPage,
    p2p.list_p2p_transfers,
    transfer_out,
    CUSTOMER,
    name="list_transfers",
    doc="Transfers newest first: every one, or those a customer sent or received.",
)
get_transfer = finds(
    "/transfers/{transfer_id:str}",
    OPERATOR_READ,
    wire.Transfer,
    "tr",
    p2p.get_p2p_transfer,
    transfer_out,
    Code.TRANSFER_NOT_FOUND,
    name="get_transfer",
    detail="no such transfer",
)


transfer_routes: Final = [create_transfer, list_transfers, get_transfer]
