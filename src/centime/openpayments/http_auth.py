"""Who is asking: the request's signature, the client's keys, the access token.

- A grant request is signed with a key of the client it names (``client``: a wallet
  address; its keys are the JWKS there: read locally for a centime wallet, fetched safely
  otherwise).
- Every later request of the grant (continue, cancel, token rotation and revocation,
  resource requests) must be signed with the very key that asked for the grant (GNAP key
  binding), still listed by the client: a revoked key stops its grants working.
- State-changing requests are refused when their signature was seen before (a replay).
"""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from litestar import Request

from .errors import OpError
from .grants import Grant, token_grant
from .keys import list_keys, public_key
from .signatures import SignedRequest, verify_signature
from .state import OpenPaymentsState

__all__ = ["access_token", "client_keys", "signed_request", "verify_for_client", "verify_for_grant"]

BODY_BYTES_MAX = 64 * 1024


async def signed_request(
    request: Request[Any, Any, Any], state: OpenPaymentsState
) -> SignedRequest:
    body = await request.body()
    if len(body) > BODY_BYTES_MAX:
        raise OpError(413, "invalid_request", "the body is larger than 64 KiB")
    # raw_path is the path as sent (some servers leave the query on it: cut it off)
    raw = request.scope.get("raw_path", b"").decode("latin-1").partition("?")[0]
    path = raw or request.url.path
    query = request.scope.get("query_string", b"").decode("latin-1")
    target = f"{state.urls.base}{path}" + (f"?{query}" if query else "")
    headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"])
    return SignedRequest(request.method, target, headers, body)


async def client_keys(state: OpenPaymentsState, client: str) -> dict[str, Ed25519PublicKey]:
    wallet = state.urls.parse_wallet(client)
    if wallet is None:
        if state.urls.is_local(client):
            raise OpError(400, "invalid_client", "client: no such wallet address")
        return await state.fetcher.keys(client)
    found = await to_thread.run_sync(list_keys, state.platform, wallet.kind, wallet.party_id)
    keys = {key.kid: public_key(key.x) for key in found}
    return {kid: key for kid, key in keys.items() if key is not None}


def _check_replay(state: OpenPaymentsState, signed: SignedRequest) -> None:
    if signed.method in ("GET", "HEAD"):
        return  # safe to repeat: answered the same
    signature = next((v for k, v in signed.headers if k.lower() == "signature"), "")
    if not state.replay.first_use(signature):
        raise OpError(401, "invalid_client", "this signature was used before (a replay)")


async def verify_for_client(state: OpenPaymentsState, signed: SignedRequest, client: str) -> str:
    """The kid the request was signed with, one of ``client``'s keys."""
    keys = await client_keys(state, client)
    kid = verify_signature(signed, keys)
    _check_replay(state, signed)
    return kid


async def verify_for_grant(state: OpenPaymentsState, signed: SignedRequest, grant: Grant) -> None:
    keys = await client_keys(state, grant.client)
    bound = {grant.kid: keys[grant.kid]} if grant.kid in keys else {}
    verify_signature(signed, bound)
    _check_replay(state, signed)


def gnap_token(signed: SignedRequest) -> str | None:
    value = next((v for k, v in signed.headers if k.lower() == "authorization"), None)
    if value is None or not value.startswith("GNAP ") or len(value) > 200:
        return None
    return value[5:].strip() or None


async def access_token(state: OpenPaymentsState, signed: SignedRequest) -> tuple[str, Grant]:
    """``(token id, grant)`` of the request's access token, verified with the grant's key;
    401 when there is none in force."""
    value = gnap_token(signed)
    if value is None:
        raise OpError(401, "unauthorized", "an access token is required (Authorization: GNAP)")
    now_ns = state.platform.clock.now_ns()
    found = await to_thread.run_sync(lambda: token_grant(state.platform, value, now_ns))
    if found is None:
        raise OpError(401, "unauthorized", "the access token is unknown, expired or revoked")
    await verify_for_grant(state, signed, found[1])
    return found
