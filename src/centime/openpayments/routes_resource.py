"""The resource server: ``{base}/op/incoming-payments``, ``/quotes``,
``/outgoing-payments``, ``/outgoing-payment-grant``. Every request but the public view of
an incoming payment carries an access token (``Authorization: GNAP ...``) and is signed
with the key of the grant that token belongs to."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final, TypeVar

import isodate
from anyio import to_thread
from litestar import Request, Response, get, post
from litestar.params import FromPath

from centime.platform.errors import Refusal
from centime.platform.review import InReview, decide

from .access import limits_of
from .addresses import Wallet
from .amounts import amount_json, parse_amount_for
from .errors import OpError
from .grants import Grant
from .http_auth import access_token, signed_request
from .incoming import (
    INCOMING,
    IncomingPayment,
    complete_incoming,
    create_incoming,
)
from .listing import Cursor, cursor_of, parse_cursor
from .outgoing import (
    OUTGOING,
    Order,
    OutgoingPayment,
    Source,
    grant_spent,
    outgoing_id,
    pay,
)
from .quotes import QUOTES, Quote, create_quote
from .routes_auth import json_response, read_json
from .signatures import SignedRequest
from .state import OpenPaymentsState, op_state
from .wire import incoming_json, outgoing_json, public_incoming_json, quote_json

__all__ = ["resource_routes"]

METADATA_BYTES_MAX: Final = 4096
PAGE_MAX: Final = 100


def _allowed(
    grant: Grant, kind: str, action: str, wallet: Wallet | None, state: OpenPaymentsState
) -> tuple[dict[str, Any], bool]:
    """The access item allowing ``action`` on ``kind`` (for ``wallet``), and whether it
    reaches every client's resources (``-all``); 403 otherwise."""
    for item in grant.access:
        if item["type"] != kind:
            continue
        identifier = item.get("identifier")
        if (
            identifier is not None
            and wallet is not None
            and state.urls.parse_wallet(identifier) != wallet
        ):
            continue
        actions = set(item["actions"])
        if f"{action}-all" in actions:
            return item, True
        if action in actions:
            return item, False
    raise OpError(403, "forbidden", f"the access token does not allow {kind} {action}")


def _wallet(state: OpenPaymentsState, url: object) -> Wallet:
    wallet = state.urls.parse_wallet(url)
    if wallet is None:
        raise OpError(400, "invalid_request", "walletAddress: a wallet address of this server")
    return wallet


def _metadata(body: dict[str, Any]) -> str | None:
    raw = body.get("metadata")
    if raw is None:
        return None
    text = json.dumps(raw, separators=(",", ":"))
    if not isinstance(raw, dict) or len(text) > METADATA_BYTES_MAX:
        raise OpError(
            400, "invalid_request", f"metadata: an object of at most {METADATA_BYTES_MAX} bytes"
        )
    return text


def _expires_ns(raw: object) -> int | None:
    if raw is None:
        return None
    try:
        moment = isodate.parse_datetime(raw) if type(raw) is str and len(raw) < 40 else None
    except (isodate.ISO8601Error, ValueError):
        moment = None
    if moment is None or moment.tzinfo is None:
        raise OpError(400, "invalid_request", "expiresAt: an RFC 3339 time with a zone")
    return int(moment.timestamp()) * 1_000_000_000 + int(moment.microsecond) * 1000


async def _granted(
    request: Request[Any, Any, Any],
) -> tuple[OpenPaymentsState, SignedRequest, Grant]:
    """The request, its signature checked, and the grant of its access token (401 without)."""
    state = op_state(request)
    signed = await signed_request(request, state)
    _, grant = await access_token(state, signed)
    return state, signed, grant


T = TypeVar("T", IncomingPayment, OutgoingPayment, Quote)


def _visible(state: OpenPaymentsState, grant: Grant, kind: str, action: str, found: T | None) -> T:
    """What the path names, if the grant may ``action`` it: 403 without that access; 404
    when there is none, or another client's and the grant is not ``{action}-all``."""
    _, every = _allowed(grant, kind, action, None if found is None else found.wallet, state)
    if found is None or (not every and found.client != grant.client):
        raise OpError(404, "not_found", f"no such {kind.replace('-', ' ')}")
    return found


async def _run(state: OpenPaymentsState, operation: Any) -> Any:
    result = await to_thread.run_sync(state.platform.execute, operation)
    if isinstance(result, OpError):
        raise result
    return result


@post("/incoming-payments", status_code=201)
async def create_incoming_payment(request: Request[Any, Any, Any]) -> Response[bytes]:
    state, signed, grant = await _granted(request)
    body = read_json(signed.body)
    if not set(body) <= {"walletAddress", "incomingAmount", "expiresAt", "metadata"}:
        raise OpError(400, "invalid_request", "walletAddress, incomingAmount, expiresAt, metadata")
    wallet = _wallet(state, body.get("walletAddress"))
    _allowed(grant, "incoming-payment", "create", wallet, state)
    amount = body.get("incomingAmount")
    incoming = None if amount is None else parse_amount_for(amount, "incomingAmount", wallet.asset)
    op = create_incoming(
        wallet, incoming, _expires_ns(body.get("expiresAt")), _metadata(body), grant.client
    )
    payment = await _run(state, op)
    return json_response(incoming_json(state.urls, payment, 0), 201)


def _id(raw: FromPath[str]) -> str:
    return raw[:36].lower()


@get("/incoming-payments/{payment_id:str}")
async def read_incoming_payment(
    request: Request[Any, Any, Any], payment_id: str
) -> Response[bytes]:
    state = op_state(request)
    found = await to_thread.run_sync(INCOMING.get, state.platform, _id(payment_id))
    if "authorization" not in request.headers:
        if found is None:
            raise OpError(404, "not_found", "no such incoming payment")
        return json_response(public_incoming_json(state.urls, found))
    _, grant = await access_token(state, await signed_request(request, state))
    found = _visible(state, grant, "incoming-payment", "read", found)
    return json_response(incoming_json(state.urls, found, 0))


@post("/incoming-payments/{payment_id:str}/complete", status_code=200)
async def complete_incoming_payment(
    request: Request[Any, Any, Any], payment_id: str
) -> Response[bytes]:
    state, _, grant = await _granted(request)
    found = await to_thread.run_sync(INCOMING.get, state.platform, _id(payment_id))
    _allowed(grant, "incoming-payment", "complete", found.wallet if found else None, state)
    if found is None or found.client != grant.client:  # only the client that made it
        raise OpError(404, "not_found", "no such incoming payment")
    payment = await _run(state, complete_incoming(found.id, grant.client))
    return json_response(incoming_json(state.urls, payment, 0, methods=False))


def _page(request: Request[Any, Any, Any]) -> tuple[int, Cursor | None]:
    first_text = request.query_params.get("first", "20")
    if (
        not first_text.isdigit()
        or not 1 <= int(first_text) <= PAGE_MAX
        or "last" in request.query_params
    ):
        raise OpError(
            400, "invalid_request", f"first: 1..{PAGE_MAX} (paging backwards is not offered)"
        )
    cursor = request.query_params.get("cursor")
    if cursor is None:
        return int(first_text), None
    parsed = parse_cursor(cursor)
    if parsed is None:
        raise OpError(400, "invalid_request", "cursor: as a page's endCursor gave it")
    return int(first_text), parsed


@get("/incoming-payments")
async def list_incoming_payments(request: Request[Any, Any, Any]) -> Response[bytes]:
    return await _listed(
        request,
        "incoming-payment",
        INCOMING.page,
        lambda urls, p: incoming_json(urls, p, 0, methods=False),
    )


@post("/quotes", status_code=201)
async def create_quote_route(request: Request[Any, Any, Any]) -> Response[bytes]:
    state, signed, grant = await _granted(request)
    body = read_json(signed.body)
    if (
        not set(body) <= {"walletAddress", "receiver", "method", "debitAmount", "receiveAmount"}
        or body.get("method") != "ilp"
        or ("debitAmount" in body and "receiveAmount" in body)
    ):
        raise OpError(
            400,
            "invalid_request",
            "walletAddress, receiver, method ilp, and debitAmount or receiveAmount",
        )
    wallet = _wallet(state, body.get("walletAddress"))
    _allowed(grant, "quote", "create", wallet, state)
    if wallet.kind != "customer":
        raise OpError(400, "invalid_request", "only a customer's wallet pays")
    receiver = _receiver(state, body.get("receiver"))
    raw = body.get("debitAmount", body.get("receiveAmount"))
    amount = None if raw is None else parse_amount_for(raw, "amount", wallet.asset)
    quote = await _run(state, create_quote(wallet, receiver, amount, grant.client))
    return json_response(quote_json(state.urls, quote), 201)


def _receiver(state: OpenPaymentsState, url: object) -> str:
    found = state.urls.parse_resource(url, "incoming-payments")
    if found is None:
        # No Interledger connector: money leaves centime only through payouts.
        raise OpError(
            400,
            "invalid_receiver",
            "receiver: only incoming payments of centime"
            " wallets can be paid (no peering with other providers yet)",
        )
    return found


@get("/quotes/{quote_id:str}")
async def read_quote(request: Request[Any, Any, Any], quote_id: FromPath[str]) -> Response[bytes]:
    state, _, grant = await _granted(request)
    found = await to_thread.run_sync(QUOTES.get, state.platform, _id(quote_id))
    return json_response(quote_json(state.urls, _visible(state, grant, "quote", "read", found)))


def _outgoing_item(
    grant: Grant, state: OpenPaymentsState, wallet: Wallet, action: str
) -> tuple[dict[str, Any], bool]:
    return _allowed(grant, "outgoing-payment", action, wallet, state)


@post("/outgoing-payments", status_code=201)
async def create_outgoing_payment(request: Request[Any, Any, Any]) -> Response[bytes]:
    state, signed, grant = await _granted(request)
    body = read_json(signed.body)
    wallet = _wallet(state, body.get("walletAddress"))
    item, _ = _outgoing_item(grant, state, wallet, "create")
    source, receiver_url, hint = await _source(state, body, wallet)
    signature = next((v for k, v in signed.headers if k.lower() == "signature"), "")
    incoming = await to_thread.run_sync(
        INCOMING.get,
        state.platform,
        state.urls.parse_resource(receiver_url, "incoming-payments") or "",
    )
    if incoming is None:
        raise OpError(400, "invalid_receiver", "no such incoming payment")
    order = Order(
        payment_id=outgoing_id(signature),
        sender=wallet,
        grant=grant,
        limits=limits_of(state.urls, item, wallet.asset),
        source=source,
        receiver_url=receiver_url,
        metadata=_metadata(body),
        client=grant.client,
    )
    result = await to_thread.run_sync(
        lambda: pay(state.platform, order, incoming.wallet, hint, decide)
    )
    if isinstance(result, OpError):
        raise result
    if isinstance(result, Refusal | InReview):
        detail = result.detail if isinstance(result, Refusal) else "held for review"
        raise OpError(403, "request_denied", f"the payment was refused: {detail}")
    window = limits_of(state.urls, item, wallet.asset).interval
    spent = await to_thread.run_sync(lambda: _spent(state, grant, window))
    return json_response(outgoing_json(state.urls, result, spent), 201)


def _spent(state: OpenPaymentsState, grant: Grant, interval: Any) -> Any:
    window = None if interval is None else interval.window_ns(state.platform.clock.now_ns())
    with state.platform.read() as fetch:
        return grant_spent(fetch, grant.id, window)


async def _source(
    state: OpenPaymentsState, body: dict[str, Any], wallet: Wallet
) -> tuple[Source, str, int]:
    if "quoteId" in body:
        if not set(body) <= {"walletAddress", "quoteId", "metadata"}:
            raise OpError(400, "invalid_request", "walletAddress, quoteId, metadata")
        quote_id = state.urls.parse_resource(body["quoteId"], "quotes")
        quote = (
            None
            if quote_id is None
            else await to_thread.run_sync(QUOTES.get, state.platform, quote_id)
        )
        if quote is None or quote.wallet != wallet:
            raise OpError(400, "invalid_request", "quoteId: no such quote for this wallet address")
        return (
            Source(quote_id=quote.id),
            state.urls.resource("incoming-payments", quote.receiver),
            quote.debit,
        )
    if (
        not set(body) <= {"walletAddress", "incomingPayment", "debitAmount", "metadata"}
        or "debitAmount" not in body
    ):
        raise OpError(400, "invalid_request", "quoteId, or incomingPayment and debitAmount")
    receiver = _receiver(state, body.get("incomingPayment"))
    debit = parse_amount_for(body["debitAmount"], "debitAmount", wallet.asset)
    source = Source(incoming_id=receiver, debit=debit)
    return source, state.urls.resource("incoming-payments", receiver), debit


@get("/outgoing-payments/{payment_id:str}")
async def read_outgoing_payment(
    request: Request[Any, Any, Any], payment_id: str
) -> Response[bytes]:
    state, _, grant = await _granted(request)
    found = await to_thread.run_sync(OUTGOING.get, state.platform, _id(payment_id))
    found = _visible(state, grant, "outgoing-payment", "read", found)
    return json_response(outgoing_json(state.urls, found))


@get("/outgoing-payments")
async def list_outgoing_payments(request: Request[Any, Any, Any]) -> Response[bytes]:
    return await _listed(request, "outgoing-payment", OUTGOING.page, outgoing_json)


async def _listed(
    request: Request[Any, Any, Any],
    kind: str,
    lister: Callable[..., list[Any]],
    render: Callable[[Any, Any], dict[str, Any]],
) -> Response[bytes]:
    """One page of a wallet's incoming or outgoing payments: every client's under a
    ``list-all`` grant, else only those the grant's client made."""
    state, _, grant = await _granted(request)
    wallet = _wallet(state, request.query_params.get("wallet-address"))
    _, every = _allowed(grant, kind, "list", wallet, state)
    first, before = _page(request)
    client = None if every else grant.client
    found = await to_thread.run_sync(lambda: lister(state.platform, wallet, client, before, first))
    more, found = len(found) > first, found[:first]
    result = [render(state.urls, p) for p in found]
    return json_response({"pagination": _pagination(found, more, before), "result": result})


def _pagination(found: list[Any], more: bool, before: Cursor | None) -> dict[str, Any]:
    pagination: dict[str, Any] = {"hasNextPage": more, "hasPreviousPage": before is not None}
    if found:
        pagination["startCursor"] = cursor_of(found[0].created_ns, found[0].id)
        pagination["endCursor"] = cursor_of(found[-1].created_ns, found[-1].id)
    return pagination


@get("/outgoing-payment-grant")
async def outgoing_payment_grant(request: Request[Any, Any, Any]) -> Response[bytes]:
    state, _, grant = await _granted(request)
    item = next((i for i in grant.access if i["type"] == "outgoing-payment"), None)
    if item is None:
        raise OpError(403, "forbidden", "not an outgoing-payment grant")
    wallet = _wallet(state, item["identifier"])
    limits = limits_of(state.urls, item, wallet.asset)
    spent = await to_thread.run_sync(lambda: _spent(state, grant, limits.interval))
    return json_response(
        {
            "spentDebitAmount": amount_json(spent.debit, wallet.asset),
            "spentReceiveAmount": amount_json(spent.receive, wallet.asset),
        }
    )


resource_routes = [
    create_incoming_payment,
    read_incoming_payment,
    complete_incoming_payment,
    list_incoming_payments,
    create_quote_route,
    read_quote,
    create_outgoing_payment,
    read_outgoing_payment,
    outgoing_payment_grant,
]
