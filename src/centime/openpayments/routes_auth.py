"""The authorization server (GNAP, as Open Payments profiles it): ``{base}/op/auth``.

``POST /`` a grant request; ``POST /continue/{id}`` and ``DELETE /continue/{id}``;
``POST /token/{id}`` (rotate) and ``DELETE /token/{id}`` (revoke). Every request is signed
(:mod:`centime.openpayments.http_auth`).
"""

from __future__ import annotations

from typing import Any

import msgspec
from anyio import to_thread
from litestar import Request, Response, delete, post
from litestar.params import FromPath

from .access import check_access, needs_interaction, wallet_of_access
from .errors import OpError
from .grants import (
    CONTINUE_WAIT_S,
    TOKEN_TTL_S,
    Grant,
    Issued,
    cancel_grant,
    continue_grant,
    create_grant,
    load_grant,
    revoke_token,
    rotate_token,
    token_grant,
)
from .http_auth import gnap_token, signed_request, verify_for_client, verify_for_grant
from .state import OpenPaymentsState, op_state

__all__ = ["auth_routes", "json_response", "read_json"]


def json_response(body: object, status_code: int = 200) -> Response[bytes]:
    return Response(
        msgspec.json.encode(body), status_code=status_code, media_type="application/json"
    )


def read_json(body: bytes) -> dict[str, Any]:
    try:
        decoded = msgspec.json.decode(body) if body else {}
    except msgspec.DecodeError:
        raise OpError(400, "invalid_request", "the body is not JSON") from None
    if not isinstance(decoded, dict):
        raise OpError(400, "invalid_request", "the body is a JSON object")
    return decoded


async def _run(state: OpenPaymentsState, operation: Any) -> Any:
    return await to_thread.run_sync(state.platform.execute, operation)


def _continue(state: OpenPaymentsState, grant: Grant, token: str | None) -> dict[str, Any]:
    block: dict[str, Any] = {
        "access_token": {"value": token or ""},
        "uri": state.urls.continue_uri(grant.id),
    }
    if token is None:
        block.pop("access_token")
    return block


def _token(state: OpenPaymentsState, issued: Issued) -> dict[str, Any]:
    return {
        "value": issued.token_value,
        "manage": state.urls.manage_uri(issued.token_id or ""),
        "expires_in": TOKEN_TTL_S,
        "access": issued.grant.access,
    }


def _interact(body: dict[str, Any]) -> dict[str, str] | None:
    interact = body.get("interact")
    if not isinstance(interact, dict) or "redirect" not in (interact.get("start") or []):
        raise OpError(
            400, "invalid_request", "outgoing-payment access needs interact.start with redirect"
        )
    finish = interact.get("finish")
    if finish is None:
        return None
    if (
        not isinstance(finish, dict)
        or finish.get("method") != "redirect"
        or not all(
            type(finish.get(k)) is str and 0 < len(finish[k]) <= 1024 for k in ("uri", "nonce")
        )
        or not str(finish["uri"]).startswith(("https://", "http://"))
    ):
        raise OpError(400, "invalid_request", "interact.finish: method redirect, uri, nonce")
    return {"uri": finish["uri"], "nonce": finish["nonce"]}


@post("/auth", status_code=200)
async def grant_request(request: Request[Any, Any, Any]) -> Response[bytes]:
    state = op_state(request)
    signed = await signed_request(request, state)
    body = read_json(signed.body)
    client = body.get("client")
    if type(client) is not str or not client.startswith(("https://", "http://")):
        raise OpError(400, "invalid_client", "client: the client's wallet address")
    if "subject" in body:
        raise OpError(400, "invalid_request", "subject information is not offered")
    token_request = body.get("access_token")
    if not isinstance(token_request, dict):
        raise OpError(400, "invalid_request", "access_token.access is required")
    kid = await verify_for_client(state, signed, client)
    access = check_access(state.urls, token_request.get("access"))
    interactive = needs_interaction(access)
    finish = _interact(body) if interactive else None
    wallet = wallet_of_access(state.urls, access)
    issued: Issued = await _run(
        state, create_grant(client, kid, access, wallet, finish, interactive)
    )
    answer: dict[str, Any] = {"continue": _continue(state, issued.grant, issued.continue_token)}
    if interactive:
        answer["interact"] = {
            "redirect": state.urls.interact_uri(issued.grant.interact_id or ""),
            "finish": issued.grant.interact_nonce,
        }
        answer["continue"]["wait"] = CONTINUE_WAIT_S
    else:
        answer["access_token"] = _token(state, issued)
    return json_response(answer)


async def _grant_of_continuation(
    request: Request[Any, Any, Any], grant_id: str
) -> tuple[OpenPaymentsState, Grant, dict[str, Any]]:
    state = op_state(request)
    signed = await signed_request(request, state)
    grant = await to_thread.run_sync(load_grant, state.platform, grant_id[:36])
    token = gnap_token(signed)
    if grant is None or token is None or not grant.continue_token_matches(token):
        raise OpError(401, "invalid_continuation", "unknown grant or continuation token")
    await verify_for_grant(state, signed, grant)
    return state, grant, read_json(signed.body)


@post("/auth/continue/{grant_id:str}", status_code=200)
async def continue_request(
    request: Request[Any, Any, Any], grant_id: FromPath[str]
) -> Response[bytes]:
    state, grant, body = await _grant_of_continuation(request, grant_id)
    ref = body.get("interact_ref")
    if ref is not None and (type(ref) is not str or len(ref) > 64):
        raise OpError(400, "invalid_request", "interact_ref is a string")
    result = await _run(state, continue_grant(grant.id, ref))
    if isinstance(result, OpError):
        raise result
    answer: dict[str, Any] = {
        "continue": {
            **_continue(state, grant, None),
            "access_token": {"value": gnap_token_of(request)},
        }
    }
    if result.token_value is None:
        answer["continue"]["wait"] = CONTINUE_WAIT_S
    else:
        answer["access_token"] = _token(state, result)
    return json_response(answer)


def gnap_token_of(request: Request[Any, Any, Any]) -> str:
    return request.headers.get("authorization", "")[5:].strip()


@delete("/auth/continue/{grant_id:str}", status_code=204)
async def cancel_request(request: Request[Any, Any, Any], grant_id: FromPath[str]) -> None:
    state, grant, _ = await _grant_of_continuation(request, grant_id)
    await _run(state, cancel_grant(grant.id))


async def _token_of_management(
    request: Request[Any, Any, Any], token_id: str
) -> tuple[OpenPaymentsState, Grant]:
    state = op_state(request)
    signed = await signed_request(request, state)
    value = gnap_token(signed)
    now_ns = state.platform.clock.now_ns()
    found = (
        None
        if value is None
        else await to_thread.run_sync(
            lambda: token_grant(state.platform, value, now_ns, token_id[:36], allow_expired=True)
        )
    )
    if found is None:
        raise OpError(401, "invalid_client", "unknown or revoked access token")
    await verify_for_grant(state, signed, found[1])
    return state, found[1]


@post("/auth/token/{token_id:str}", status_code=200)
async def rotate(request: Request[Any, Any, Any], token_id: FromPath[str]) -> Response[bytes]:
    state, grant = await _token_of_management(request, token_id)
    result = await _run(state, rotate_token(token_id, grant.id))
    if isinstance(result, OpError):
        raise result
    return json_response({"access_token": _token(state, result)})


@delete("/auth/token/{token_id:str}", status_code=204)
async def revoke(request: Request[Any, Any, Any], token_id: FromPath[str]) -> None:
    state, _ = await _token_of_management(request, token_id)
    await _run(state, revoke_token(token_id))


auth_routes = [grant_request, continue_request, cancel_request, rotate, revoke]
