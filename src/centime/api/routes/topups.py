"""Top-ups: money into a customer's wallet from a card, a bank account or a phone bill,
through the configured funding provider (``PlatformConfig.funding_provider``).

The operator's keys only (the customer apps act for their customers):

- ``POST /v1/topups`` (``payments``): records the top-up, charges the provider, records its
  answer, and answers ``201`` with the top-up as it then is. The charge is asynchronous, as
  with every real provider: the top-up is ``pending`` until the provider's event says it
  ``succeeded`` (the money is credited then) or ``failed``. A provider that refuses the
  charge outright is not an error of the request: the answer is still ``201``, with
  ``status: "declined"`` and the provider's ``failure_code`` and ``failure_message`` (the
  top-up exists and can be read; ``provider_declined`` is never answered here). A provider
  that cannot be reached leaves it ``pending`` with ``awaiting_retry: true``: nothing was
  charged for sure, and a retry (the same request again, or ``POST .../retry``) charges it
  again under the same provider idempotency key (the top-up's id), so it is collected at
  most once. Refusals of the request itself (limits of the customer's tier, a frozen
  customer) are problem documents and record nothing. The risk screen decides first: a
  REVIEW charges nothing until an analyst approves (``202`` with the case; the top-up is
  created and charged then, under the id it was told), a BLOCK is ``422 risk_blocked``.
- ``POST /v1/topups/{id}/retry`` (``payments``): charge again a top-up the provider never
  answered for (``503 provider_unavailable`` once the attempts are used up).
- ``GET /v1/topups``, ``GET /v1/topups/{id}`` (``read``).

Idempotency: a top-up calls the provider between two write units, so the stored-response
wrapper cannot cover it; instead its id is derived from (caller, ``Idempotency-Key``), and
the service answers an existing top-up under that id (charging it again only if the
provider never answered) instead of making a second one. The same key with a different
request is ``422 idempotency_key_reused``. The provider is called in a worker thread, never
on the event loop.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
from anyio import to_thread
from litestar import Request, Response
from litestar.params import FromPath, JSONBody

from centime import usecases, wire
from centime.http.problems import PROBLEM_JSON, ApiCode, ProblemError, refusal_problem
from centime.platform.context import Platform
from centime.platform.errors import Code, Refusal
from centime.platform.funding import fingerprint, instrument_key, topups
from centime.platform.review import InReview
from centime.providers import FundingProvider, Method

from ..execute import REPLAYED_HEADER
from ..idempotency import required_key_of
from ..params import body_id, path_id
from ..screen import IN_REVIEW, in_review_body, origin
from ..state import api_state, principal_of
from .acting import operation_id
from .declare import OPERATOR_PAYMENTS, OPERATOR_READ, writes
from .listings import CUSTOMER, finds, lists
from .render import converter

__all__ = ["topup_out", "topup_routes"]


# A top-up without a card's digits has "" in the store; the wire says null.
topup_out: Final = converter(
    topups.TopUp,
    wire.TopUp,
    "top",
    computed={"instrument_last4": lambda t: t.instrument_last4 or None},
)


def _provider(platform: Platform, name: str) -> FundingProvider:
    provider = platform.providers.funding.get(name)
    if provider is None:
        raise ProblemError(Code.PROVIDER_UNAVAILABLE, f"no funding provider {name!r} is set up")
    return provider


def _answer(
    result: topups.TopUp | Refusal | InReview, status: int, replayed: bool = False
) -> Response[Any]:
    if isinstance(result, Refusal):
        status, body = refusal_problem(result)
        return Response(body, status_code=status, media_type=PROBLEM_JSON)
    if isinstance(result, InReview):
        status, body = in_review_body(result)
        return Response(body, status_code=status, media_type="application/json")
    return Response(
        msgspec.json.encode(topup_out(result)),
        status_code=status,
        media_type="application/json",
        headers={REPLAYED_HEADER: "true"} if replayed else {},
    )


def _create(
    platform: Platform,
    topup_id: int,
    customer_id: int,
    asset: str,
    amount: int,
    method: Method,
    instrument: str,
    origin_: tuple[str | None, str | None],
) -> tuple[topups.TopUp | Refusal | InReview, bool]:
    """The top-up of this request (made now, or the one its key made before), and whether
    it existed before. Runs in a worker thread: it waits for the risk screen, two units and
    the provider. A new top-up is screened first (centime.usecases.topup)."""
    provider = _provider(platform, platform.config.funding_provider)
    existing = topups.get_topup(platform, topup_id)
    if existing is not None and (
        existing.customer_id,
        existing.asset,
        existing.amount,
        existing.method,
        existing.instrument_fingerprint,
    ) != (
        customer_id,
        asset,
        amount,
        method,
        fingerprint(instrument_key(platform), method, instrument),
    ):
        raise ProblemError(
            ApiCode.IDEMPOTENCY_KEY_REUSED,
            "this Idempotency-Key was used for a different request; use a new key",
        )
    if existing is not None:
        made = topups.create_topup(
            platform, provider, customer_id, asset, amount, method, instrument, topup_id
        )
        return made, True
    device, ip = origin_
    use_case = usecases.TopUpRequest(customer_id, asset, amount, method.value, instrument, topup_id)
    return usecases.topup(platform, provider, use_case, usecases.Origin(device, ip)), False


@writes(
    "/topups", OPERATOR_PAYMENTS, 403, 404, 503, status_code=201, also=IN_REVIEW, key_required=True
)
async def create_topup(
    request: Request[Any, Any, Any], data: JSONBody[wire.TopUpCreate]
) -> Response[wire.TopUp]:
    """Top up a customer's wallet (carrier-billed money lands in its restricted balance
    until the carrier settles it). A decline is ``201`` with ``status: "declined"``."""
    principal = principal_of(request)
    state = api_state(request)
    asset, amount = wire.parse_money(data.amount, "amount", allow_zero=False)
    customer_id = body_id("cus", data.customer_id, "customer_id")
    key = required_key_of(request)
    topup_id = operation_id("topup", principal, key)
    with state.in_flight.claim(principal.owner, key):
        result, replayed = await to_thread.run_sync(
            _create,
            state.platform,
            topup_id,
            customer_id,
            asset,
            amount,
            Method(data.method),
            data.instrument,
            origin(request, principal),
        )
    return _answer(result, 201, replayed)


def _retry(platform: Platform, topup_id: int) -> topups.TopUp | Refusal:
    found = topups.get_topup(platform, topup_id)
    if found is None:
        return Refusal(Code.TOPUP_NOT_FOUND, "no such top-up")
    return topups.retry_topup(platform, _provider(platform, found.provider), topup_id)


@writes(
    "/topups/{topup_id:str}/retry",
    OPERATOR_PAYMENTS,
    404,
    503,
    status_code=200,
    body=False,
    key_required=True,
)
async def retry_topup(
    request: Request[Any, Any, Any], topup_id: FromPath[str]
) -> Response[wire.TopUp]:
    """Charge again a pending top-up the provider never answered for; one the provider
    accepted is answered as it is (its outcome comes as the provider's event). Safe to
    repeat: the provider collects a top-up at most once."""
    principal = principal_of(request)
    state = api_state(request)
    target = path_id("top", topup_id, Code.TOPUP_NOT_FOUND)
    with state.in_flight.claim(principal.owner, required_key_of(request)):
        result = await to_thread.run_sync(_retry, state.platform, target)
    return _answer(result, 200)


list_topups = lists(
    "/topups",
    OPERATOR_READ,
    wire.TopUpPage,
    topups.list_topups,
    topup_out,
    CUSTOMER,
    name="list_topups",
    doc="Top-ups newest first: every one, or a customer's.",
)
get_topup = finds(
    "/topups/{topup_id:str}",
    OPERATOR_READ,
    wire.TopUp,
    "top",
    topups.get_topup,
    topup_out,
    Code.TOPUP_NOT_FOUND,
    name="get_topup",
    detail="no such top-up",
)


topup_routes: Final = [create_topup, retry_topup, list_topups, get_topup]
