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
from litestar.params import FromPath, JSONBody

from centime import usecases, wire
from centime.platform.errors import Code
from centime.platform.ids import format_id
from centime.platform.payments import p2p

from ..execute import execute
from ..idempotency import IdempotencyKeyRequired
from ..pagination import API_PAGE_SIZE_DEFAULT, CursorParam, LimitParam, page_of
from ..params import body_id, must_find, path_id
from ..screen import IN_REVIEW, screened_operation
from ..state import api_state, principal_of
from .acting import CustomerQuery, listing, operation_id, query_id
from .declare import OPERATOR_PAYMENTS, OPERATOR_READ, reads, writes

__all__ = ["transfer_out", "transfer_routes"]


def transfer_out(t: p2p.P2PTransfer) -> wire.Transfer:
    return wire.Transfer(
        id=format_id("tr", t.id),
        sender_id=format_id("cus", t.sender_id),
        recipient_id=format_id("cus", t.recipient_id),
        amount=wire.money(t.amount, t.asset),
        note=t.note,
        created_at=wire.rfc3339(t.created_ns),
    )


@writes("/transfers", OPERATOR_PAYMENTS, 402, 404, status_code=201, also=IN_REVIEW)
async def create_transfer(
    request: Request[Any, Any, Any],
    data: JSONBody[wire.TransferCreate],
    idempotency_key: IdempotencyKeyRequired,
) -> Response[wire.Transfer]:
    """Send money from one customer's wallet to another's."""
    asset, amount = wire.parse_money(data.amount, "amount", allow_zero=False)
    principal = principal_of(request)
    use_case = usecases.TransferRequest(
        sender_id=body_id("cus", data.sender_id, "sender_id"),
        recipient_id=body_id("cus", data.recipient_id, "recipient_id"),
        asset=asset,
        amount=amount,
        transfer_id=operation_id("transfer", principal, idempotency_key),
        note=data.note,
    )
    guarded = await screened_operation(request, use_case)
    return await execute(
        request, guarded, transfer_out, status_code=201, idempotency_key=idempotency_key
    )


@reads("/transfers", OPERATOR_READ)
def list_transfers(
    request: Request[Any, Any, Any],
    customer_id: CustomerQuery = None,
    limit: LimitParam = API_PAGE_SIZE_DEFAULT,
    cursor: CursorParam = None,
) -> wire.TransferPage:
    """Transfers newest first: every one, or those a customer sent or received."""
    customer = query_id("cus", customer_id, "customer_id")
    name = listing("transfers", customer)
    return page_of(
        request,
        wire.TransferPage,
        name,
        cursor,
        limit,
        p2p.list_p2p_transfers,
        transfer_out,
        customer,
    )


@reads("/transfers/{transfer_id:str}", OPERATOR_READ, 404)
def get_transfer(request: Request[Any, Any, Any], transfer_id: FromPath[str]) -> wire.Transfer:
    found = p2p.get_p2p_transfer(
        api_state(request).platform, path_id("tr", transfer_id, Code.TRANSFER_NOT_FOUND)
    )
    return transfer_out(must_find(found, Code.TRANSFER_NOT_FOUND, "no such transfer"))


transfer_routes: Final = [create_transfer, list_transfers, get_transfer]
