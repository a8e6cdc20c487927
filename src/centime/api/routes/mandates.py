"""Mandates: a customer's consent that a merchant may charge it, up to a bound per day.

- ``POST /v1/mandates`` and ``POST /v1/mandates/{id}/revoke``: the operator's key
  (``payments``), acting for the customer (the customer apps are the operator's). An
  ``Idempotency-Key`` (optional: a mandate moves no money) makes the mandate's id derived
  from it.
- ``GET /v1/mandates``, ``GET /v1/mandates/{id}`` (``read``): a merchant's key sees the
  mandates granted to it (another's is 404), the operator's every one.
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Request, Response
from litestar.params import FromPath, JSONBody

from centime import wire
from centime.platform.errors import Code
from centime.platform.ids import format_id, new_id
from centime.platform.payments import mandates

from ..execute import execute
from ..idempotency import idempotency_key_of
from ..pagination import API_PAGE_SIZE_DEFAULT, CursorParam, LimitParam, page_of
from ..params import body_id, must_find, path_id
from ..state import api_state, principal_of
from .acting import CustomerQuery, MerchantQuery, listing, operation_id, query_id, visible_merchant
from .declare import OPERATOR_PAYMENTS, READ, reads, writes

__all__ = ["mandate_out", "mandate_routes"]


def mandate_out(m: mandates.Mandate, day: int) -> wire.Mandate:
    """The mandate as of UTC day ``day`` (what was charged under it that day)."""
    asset = m.asset
    return wire.Mandate(
        id=format_id("man", m.id),
        customer_id=format_id("cus", m.customer_id),
        merchant_id=format_id("mer", m.merchant_id),
        amount_max_daily=wire.money(m.amount_max_daily, asset),
        spent_today=wire.money(m.spent_on(day), asset),
        status=m.status.value,
        created_at=wire.rfc3339(m.created_ns),
        revoked_at=None if m.revoked_ns is None else wire.rfc3339(m.revoked_ns),
    )


def _today(request: Request[Any, Any, Any]) -> int:
    return mandates.utc_day(api_state(request).platform.clock.now_ns())


@writes("/mandates", OPERATOR_PAYMENTS, 404, status_code=201)
async def create_mandate(
    request: Request[Any, Any, Any], data: JSONBody[wire.MandateCreate]
) -> Response[wire.Mandate]:
    """The customer allows the merchant to charge it up to ``amount_max_daily`` per UTC
    day (payments and the authorized amounts of holds count)."""
    principal = principal_of(request)
    asset, amount = wire.parse_money(data.amount_max_daily, "amount_max_daily", allow_zero=False)
    key = idempotency_key_of(request)
    mandate_id = new_id() if key is None else operation_id("mandate", principal, key)
    operation = mandates.create_mandate(
        api_state(request).platform,
        body_id("cus", data.customer_id, "customer_id"),
        body_id("mer", data.merchant_id, "merchant_id"),
        asset,
        amount,
        mandate_id,
    )
    day = _today(request)
    return await execute(request, operation, lambda m: mandate_out(m, day), status_code=201)


@writes("/mandates/{mandate_id:str}/revoke", OPERATOR_PAYMENTS, 404, status_code=200, body=False)
async def revoke_mandate(
    request: Request[Any, Any, Any], mandate_id: FromPath[str]
) -> Response[wire.Mandate]:
    """Withdraw the consent, at once and for good (revoking again answers it as it is)."""
    operation = mandates.revoke_mandate(
        api_state(request).platform, path_id("man", mandate_id, Code.MANDATE_NOT_FOUND)
    )
    day = _today(request)
    return await execute(request, operation, lambda m: mandate_out(m, day))


@reads("/mandates", READ, 404)
def list_mandates(
    request: Request[Any, Any, Any],
    customer_id: CustomerQuery = None,
    merchant_id: MerchantQuery = None,
    limit: LimitParam = API_PAGE_SIZE_DEFAULT,
    cursor: CursorParam = None,
) -> wire.MandatePage:
    """Mandates newest first: those granted to the calling merchant, or (the operator)
    every one; of a customer and/or to a merchant."""
    merchant = visible_merchant(principal_of(request), merchant_id)
    customer = query_id("cus", customer_id, "customer_id")
    name = listing("mandates", customer, merchant)
    day = _today(request)
    return page_of(
        request,
        wire.MandatePage,
        name,
        cursor,
        limit,
        mandates.list_mandates,
        lambda m: mandate_out(m, day),
        customer,
        merchant,
    )


@reads("/mandates/{mandate_id:str}", READ, 404)
def get_mandate(request: Request[Any, Any, Any], mandate_id: FromPath[str]) -> wire.Mandate:
    found = mandates.get_mandate(
        api_state(request).platform,
        path_id("man", mandate_id, Code.MANDATE_NOT_FOUND),
        merchant_id=visible_merchant(principal_of(request)),
    )
    return mandate_out(must_find(found, Code.MANDATE_NOT_FOUND, "no such mandate"), _today(request))


mandate_routes: Final = [create_mandate, revoke_mandate, list_mandates, get_mandate]
