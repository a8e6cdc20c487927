"""The wallet address server: ``GET {base}/op/wallets/{party}/{asset}`` (public details)
and ``.../jwks.json`` (the owner's client keys). Open to anyone, as the specification
says; a wallet that does not exist (or whose owner is closed) is 404."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from litestar import Request, Response, get
from litestar.params import FromPath

from centime.money import ASSETS
from centime.platform.parties import Status, get_customer, get_merchant

from .addresses import Wallet, wallet_from_parts
from .errors import OpError
from .keys import jwk_of, list_keys
from .routes_auth import json_response
from .state import OpenPaymentsState, op_state

__all__ = ["wallet_routes"]

CACHE = {"Cache-Control": "public, max-age=60"}


def _wallet(state: OpenPaymentsState, party: str, asset: str) -> tuple[Wallet, str | None]:
    wallet = wallet_from_parts(party, asset)
    if wallet is None:
        raise OpError(404, "not_found", "no such wallet address")
    if wallet.kind == "customer":
        found: Any = get_customer(state.platform, wallet.party_id)
        name = None  # a person's name is not published: the address is shared, not its owner
    else:
        found = get_merchant(state.platform, wallet.party_id)
        name = found.name if found is not None else None
    if found is None or found.status is Status.CLOSED:
        raise OpError(404, "not_found", "no such wallet address")
    return wallet, name


async def _resolve(
    request: Request[Any, Any, Any], party: str, asset: str
) -> tuple[OpenPaymentsState, Wallet, str | None]:
    """The server's state and the wallet the path names (with its public name), or 404; both
    routes of a wallet address start with it (the lookup reads the store: off the loop)."""
    state = op_state(request)
    wallet, name = await to_thread.run_sync(_wallet, state, party, asset)
    return state, wallet, name


@get("/wallets/{party:str}/{asset:str}")
async def wallet_address(
    request: Request[Any, Any, Any], party: FromPath[str], asset: FromPath[str]
) -> Response[bytes]:
    state, wallet, name = await _resolve(request, party, asset)
    body: dict[str, Any] = {"id": state.urls.wallet(wallet)}
    if name is not None:
        body["publicName"] = name
    body.update(
        {
            "assetCode": wallet.asset,
            "assetScale": _scale(wallet.asset),
            "authServer": state.urls.auth_server,
            "resourceServer": state.urls.resource_server,
        }
    )
    response = json_response(body)
    response.headers.update(CACHE)
    return response


def _scale(asset: str) -> int:
    return ASSETS[asset].scale


@get("/wallets/{party:str}/{asset:str}/jwks.json")
async def jwks(
    request: Request[Any, Any, Any], party: FromPath[str], asset: FromPath[str]
) -> Response[bytes]:
    state, wallet, _ = await _resolve(request, party, asset)
    keys = await to_thread.run_sync(list_keys, state.platform, wallet.kind, wallet.party_id)
    return json_response({"keys": [jwk_of(key) for key in keys]})


wallet_routes = [wallet_address, jwks]
