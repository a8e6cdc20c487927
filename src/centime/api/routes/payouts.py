"""Payouts: a merchant's bank accounts, its payout schedule, instant payouts and the list of
its payouts (:mod:`centime.platform.payouts.service`, docs/payouts.md).

Every route takes the ``payouts`` scope. A merchant's key acts for its own merchant; the
operator's key names the merchant (``merchant_id`` in the body, or the query of a read) and
sees every payout.

- ``POST /v1/payout-methods``: register a bank account with the payout rail and keep its
  token, fingerprint, last four characters and holder (never the number); locks payouts for
  ``payout_method_lock_s``. ``GET /v1/payout-methods``, ``POST .../{id}/remove``. Adding and
  removing also need a ``Centime-Confirmation`` token (centime.auth.confirmations): a person
  of the merchant confirmed with a passkey lately; an API key alone cannot move payouts.
- ``GET /v1/payout-schedules/{asset}``, ``POST /v1/payout-schedules``: the schedule.
- ``POST /v1/payout-quotes``: the price of an instant payout, valid a short while;
  ``POST /v1/payouts/instant`` pays a quote exactly as quoted (once, however often sent).
- ``GET /v1/payouts``, ``GET /v1/payouts/{id}``.

Adding a method and confirming a quote call the rail between two write units, so, as for
top-ups, their ids are derived (from the Idempotency-Key, and from the quote) and the
services answer what exists under them, instead of the stored-response wrapper. The rail is
called in a worker thread, never on the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final

import msgspec
from anyio import to_thread
from litestar import Request, Response
from litestar.params import FromPath, HeaderParameter, JSONBody

from centime import usecases, wire
from centime.auth import Principal
from centime.auth.confirmations import spend_confirmation
from centime.http.problems import PROBLEM_JSON, ApiCode, ProblemError, refusal_problem
from centime.ledger.units import UnitContext
from centime.money import ASSETS
from centime.platform import payouts
from centime.platform.context import Operation, Platform
from centime.platform.errors import Code, Refusal
from centime.platform.ids import format_id
from centime.platform.payouts import instant as instant_payouts
from centime.platform.payouts import methods as payout_methods
from centime.platform.payouts import schedules as payout_schedules

from ..execute import execute
from ..idempotency import required_key_of
from ..params import body_id, must_find, path_id
from ..state import api_state, principal_of
from .acting import MerchantQuery, acting_merchant, operation_id, optional_id, visible_merchant
from .declare import PAYOUTS, reads, writes
from .listings import MERCHANT, OWN_MERCHANT, finds, lists
from .render import converter

__all__ = ["payout_out", "payout_routes"]


# The header that carries a web-minted confirmation (centime.auth.confirmations).
Confirmation = Annotated[
    str | None,
    HeaderParameter(
        name="Centime-Confirmation",
        required=False,
        max_length=100,
        description="A one-time confirmation a person of the merchant (or an operator"
        " admin) made on the web with a passkey: needed to add or remove a bank account.",
    ),
]


# The platform's method statuses beyond these two read as removed on the wire.
method_out: Final = converter(
    payout_methods.PayoutMethod,
    wire.PayoutMethod,
    "pm",
    computed={"status": lambda m: "active" if m.status == "active" else "removed"},
)

payout_out: Final = converter(payouts.Payout, wire.Payout, "po")

quote_out: Final = converter(instant_payouts.Quote, wire.PayoutQuote, "quo")


def schedule_out(s: payout_schedules.PayoutSchedule, now_ns: int) -> wire.PayoutSchedule:
    next_date = payout_schedules.next_payout_date(s, payout_schedules.day_of(now_ns))
    return wire.PayoutSchedule(
        merchant_id=format_id("mer", s.merchant_id),
        asset=s.asset,
        frequency=s.frequency.value,
        weekday=s.weekday,
        month_day=s.month_day,
        minimum_amount=wire.money(s.minimum_amount, s.asset),
        reserve_bp=s.reserve_bp,
        reserve_days=s.reserve_days,
        method_id=optional_id("pm", s.method_id),
        next_date=next_date.isoformat(),
        updated_at=wire.rfc3339(s.updated_ns),
    )


def _answer(result: msgspec.Struct | Refusal, status: int) -> Response[Any]:
    if isinstance(result, Refusal):
        code, body = refusal_problem(result)
        return Response(body, status_code=code, media_type=PROBLEM_JSON)
    return Response(msgspec.json.encode(result), status_code=status, media_type="application/json")


def _read_merchant(principal: Principal, named: str | None) -> int:
    """The merchant a read of methods or a schedule is about: the operator names one."""
    merchant = visible_merchant(principal, named)
    if merchant is None:
        detail = "required with the operator's key"
        raise ProblemError(
            ApiCode.INVALID_REQUEST,
            f"merchant_id: {detail}",
            errors=[wire.FieldError(field="merchant_id", detail=detail)],
        )
    return merchant


# ------------------------------------------------------------------ payout methods


def _spend(
    platform: Platform, token: str | None, merchant_id: int, used_for: str
) -> Refusal | None:
    result: Refusal | None = platform.execute(
        Operation(lambda ctx: spend_confirmation(ctx, token, merchant_id, used_for), 0)
    )
    return result


def _add_method(
    platform: Platform,
    merchant_id: int,
    holder: str,
    number: str,
    method_id: int,
    confirmation: str | None,
) -> msgspec.Struct | Refusal:
    # The confirmation is spent on this method's id first: a retry (same id) passes again.
    refusal = _spend(platform, confirmation, merchant_id, f"add:{method_id}")
    if refusal is not None:
        return refusal
    made = payout_methods.add_payout_method(platform, merchant_id, holder, number, method_id)
    return made if isinstance(made, Refusal) else method_out(made)


@writes("/payout-methods", PAYOUTS, 402, 403, 404, 503, status_code=201, key_required=True)
async def add_payout_method(
    request: Request[Any, Any, Any],
    data: JSONBody[wire.PayoutMethodCreate],
    confirmation: Confirmation = None,
) -> Response[wire.PayoutMethod]:
    """Add a bank account (registered with the payout rail). Locks payouts for a while.
    Needs a ``Centime-Confirmation`` a person of the merchant made with a passkey (403
    ``step_up_required`` without one)."""
    principal = principal_of(request)
    state = api_state(request)
    merchant_id = acting_merchant(principal, data.merchant_id, "merchant_id")
    key = required_key_of(request)
    method_id = operation_id("payout-method", principal, key)
    with state.in_flight.claim(principal.owner, key):
        result = await to_thread.run_sync(
            _add_method,
            state.platform,
            merchant_id,
            data.holder_name,
            data.account_number,
            method_id,
            confirmation,
        )
    return _answer(result, 201)


@reads("/payout-methods", PAYOUTS, 404)
def list_payout_methods(
    request: Request[Any, Any, Any], merchant_id: MerchantQuery = None
) -> wire.PayoutMethodList:
    """The merchant's active bank accounts, newest first."""
    merchant = _read_merchant(principal_of(request), merchant_id)
    found = payout_methods.list_payout_methods(api_state(request).platform, merchant)
    return wire.PayoutMethodList(data=[method_out(m) for m in found])


def _confirmed(
    operation: Operation[payout_methods.PayoutMethod | Refusal],
    token: str | None,
    merchant_id: int,
    used_for: str,
) -> Operation[payout_methods.PayoutMethod | Refusal]:
    """``operation`` once ``token`` is spent on it, in the same unit."""

    def wrap(
        ctx: UnitContext, inner: Callable[[UnitContext], payout_methods.PayoutMethod | Refusal]
    ) -> payout_methods.PayoutMethod | Refusal:
        refusal = spend_confirmation(ctx, token, merchant_id, used_for)
        return refusal if refusal is not None else inner(ctx)

    return operation.then(wrap)


@writes("/payout-methods/{method_id:str}/remove", PAYOUTS, 403, 404, status_code=200, body=False)
async def remove_payout_method(
    request: Request[Any, Any, Any],
    method_id: FromPath[str],
    confirmation: Confirmation = None,
) -> Response[wire.PayoutMethod]:
    """Remove a bank account (payouts on their way still arrive). Locks payouts. Needs a
    ``Centime-Confirmation``, as adding one does."""
    principal = principal_of(request)
    platform = api_state(request).platform
    target = path_id("pm", method_id, Code.PAYOUT_METHOD_NOT_FOUND)
    owner = principal.owner_id
    if principal.is_operator:
        found = await to_thread.run_sync(payout_methods.get_payout_method, platform, target)
        owner = found.merchant_id if found is not None else 0
    operation = _confirmed(
        payout_methods.remove_payout_method(platform, owner, target),
        confirmation,
        owner,
        f"remove:{target}",
    )
    return await execute(request, operation, method_out)


# ------------------------------------------------------------------ schedules


@reads("/payout-schedules/{asset:str}", PAYOUTS, 404)
def get_payout_schedule(
    request: Request[Any, Any, Any], asset: FromPath[str], merchant_id: MerchantQuery = None
) -> wire.PayoutSchedule:
    """The merchant's payout schedule in ``asset`` and its next date."""
    merchant = _read_merchant(principal_of(request), merchant_id)
    platform = api_state(request).platform
    found = None
    if asset in ASSETS:
        found = payout_schedules.get_schedule(platform, merchant, asset)
    return schedule_out(
        must_find(found, Code.PAYOUT_SCHEDULE_NOT_FOUND, "no payout schedule in this asset"),
        platform.clock.now_ns(),
    )


@writes("/payout-schedules", PAYOUTS, 404, status_code=200)
async def set_payout_schedule(
    request: Request[Any, Any, Any], data: JSONBody[wire.PayoutScheduleSet]
) -> Response[wire.PayoutSchedule]:
    """Create or replace the merchant's schedule in ``minimum_amount``'s asset."""
    principal = principal_of(request)
    platform = api_state(request).platform
    merchant_id = acting_merchant(principal, data.merchant_id, "merchant_id")
    asset, minimum = wire.parse_money(data.minimum_amount, "minimum_amount")
    method = None if data.method_id is None else body_id("pm", data.method_id, "method_id")
    asked = payout_schedules.PayoutSchedule(
        merchant_id,
        asset,
        payout_schedules.Frequency(data.frequency),
        weekday=data.weekday,
        month_day=data.month_day,
        minimum_amount=minimum,
        reserve_bp=data.reserve_bp,
        reserve_days=data.reserve_days,
        method_id=method,
    )
    operation = payout_schedules.set_schedule(platform, asked)
    return await execute(request, operation, lambda s: schedule_out(s, platform.clock.now_ns()))


# ------------------------------------------------------------------ instant payouts


@writes("/payout-quotes", PAYOUTS, 402, 404, status_code=201, key_required=True)
async def quote_instant_payout(
    request: Request[Any, Any, Any], data: JSONBody[wire.PayoutQuoteCreate]
) -> Response[wire.PayoutQuote]:
    """The price of paying ``amount`` out now: the fee, what arrives, until when it holds."""
    principal = principal_of(request)
    merchant_id = acting_merchant(principal, data.merchant_id, "merchant_id")
    asset, amount = wire.parse_money(data.amount, "amount", allow_zero=False)
    method = None if data.method_id is None else body_id("pm", data.method_id, "method_id")
    operation = instant_payouts.quote_instant_payout(
        api_state(request).platform,
        payouts.PayoutAsk(merchant_id, asset, amount, method),
        quote_id=operation_id("payout-quote", principal, required_key_of(request)),
    )
    return await execute(request, operation, quote_out, status_code=201)


def _confirm(platform: Platform, merchant_id: int, quote_id: int) -> msgspec.Struct | Refusal:
    made = usecases.pay_out(platform, usecases.InstantPayoutRequest(merchant_id, quote_id))
    return made if isinstance(made, Refusal) else payout_out(made)


@writes("/payouts/instant", PAYOUTS, 402, 404, status_code=201, key_required=True)
async def instant_payout(
    request: Request[Any, Any, Any], data: JSONBody[wire.InstantPayoutCreate]
) -> Response[wire.Payout]:
    """Pay a quote out now, exactly as quoted (``409 quote_expired`` past its validity). A
    quote is paid once: confirming it again answers the same payout."""
    principal = principal_of(request)
    state = api_state(request)
    merchant_id = acting_merchant(principal, data.merchant_id, "merchant_id")
    quote_id = body_id("quo", data.quote_id, "quote_id")
    with state.in_flight.claim(principal.owner, required_key_of(request)):
        result = await to_thread.run_sync(_confirm, state.platform, merchant_id, quote_id)
    return _answer(result, 201)


# ------------------------------------------------------------------ reads


list_payouts = lists(
    "/payouts",
    PAYOUTS,
    wire.PayoutPage,
    payouts.list_payouts,
    payout_out,
    MERCHANT,
    name="list_payouts",
    doc="Payouts newest first: a merchant's own, the operator's every one (or a merchant's).",
    statuses=(404,),
)
get_payout = finds(
    "/payouts/{payout_id:str}",
    PAYOUTS,
    wire.Payout,
    "po",
    payouts.get_payout,
    payout_out,
    Code.PAYOUT_NOT_FOUND,
    OWN_MERCHANT,
    name="get_payout",
    detail="no such payout",
)


payout_routes: Final = [
    add_payout_method,
    list_payout_methods,
    remove_payout_method,
    get_payout_schedule,
    set_payout_schedule,
    quote_instant_payout,
    instant_payout,
    list_payouts,
    get_payout,
]
