"""The customer's side of Open Payments in the web wallet: consenting to a grant that
spends from the wallet, and registering client keys. Both need a passkey confirmed within
the last few minutes (the web apps' step-up): consenting lets an app move money, and a key
lets an app act as the customer's client.

- ``GET /op/consent/{interact_id}``: where an app redirects the customer (the grant's
  ``interact.redirect``); shows the client, the access and the limits.
- ``POST /op/consent/{interact_id}``: allow or refuse; then back to the app's finish URI
  with ``hash`` and ``interact_ref`` (the hash: base64 of SHA-256 over the client's nonce,
  our nonce, the interact_ref and the grant endpoint URI, each on its own line).
- ``GET /op/keys``: the signed-in customer's or merchant's keys; ``POST /op/keys`` (the
  page's form, or JSON ``{kid, x}`` with the CSRF header): register an Ed25519 key;
  ``POST /op/keys/{kid}/revoke``.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Final
from urllib.parse import quote, urlencode

from anyio import to_thread
from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from centime.auth.passkeys import UserKind
from centime.money import ASSETS
from centime.platform.errors import Refusal
from centime.web.common import CSP, Viewer, check_csrf, formats_of, page, viewer
from centime.web.messages import N_

from .addresses import Wallet
from .grants import Grant, decide_grant, load_grant_by_interaction
from .keys import jwk_of, list_keys, register_key, revoke_key
from .routes_auth import json_response
from .state import OpenPaymentsState, op_state

__all__ = ["consent_routes", "interaction_hash"]

NO_REQUEST: Final = N_("No such request to answer.")
# The consent form's answer redirects to the app's finish URI, on its own site: a
# form-action limited to this origin would stop the browser there.
CONSENT_CSP: Final = CSP.replace(" form-action 'self';", "")


def interaction_hash(
    client_nonce: str, server_nonce: str, interact_ref: str, grant_uri: str
) -> str:
    base = f"{client_nonce}\n{server_nonce}\n{interact_ref}\n{grant_uri}"
    return base64.b64encode(hashlib.sha256(base.encode()).digest()).decode()


def _shown_limit(value: Any, request: Request[Any, Any, Any]) -> str:
    """A limit as the reader writes it: an amount in its currency (when it is one of ours at
    our scale, exactly), anything else as sent."""
    if isinstance(value, dict):
        asset = ASSETS.get(str(value.get("assetCode")))
        text = str(value.get("value", ""))
        if asset is not None and value.get("assetScale") == asset.scale and text.isdigit():
            return formats_of(request).money(int(text), asset.code)
        return f"{text} (scale {value.get('assetScale')}) {value.get('assetCode')}"
    return str(value)


def _access(grant: Grant, request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    """What the grant asks for: per access, its type, actions and limits (the page words
    them in the reader's language)."""
    return [
        {
            "type": item["type"],
            "actions": list(item["actions"]),
            "limits": [
                (key, _shown_limit(value, request))
                for key, value in sorted((item.get("limits") or {}).items())
            ],
        }
        for item in grant.access
    ]


async def _customer_grant(
    request: Request[Any, Any, Any], interact_id: str
) -> tuple[OpenPaymentsState, Viewer | None, Grant | None]:
    state = op_state(request)
    me = await viewer(request)
    grant = await to_thread.run_sync(load_grant_by_interaction, state.platform, interact_id[:36])
    if me is None or me.user.kind is not UserKind.CUSTOMER:
        return state, None, grant
    if grant is None or (grant.party_kind, grant.party_id) != ("customer", me.user.party_id):
        return state, me, None
    return state, me, grant


def _page(
    state: OpenPaymentsState,
    request: Request[Any, Any, Any],
    me: Viewer,
    grant: Grant,
    status_code: int = 200,
    error: str | None = None,
) -> Response[str]:
    wallet = Wallet("customer", grant.party_id or 0, "USD")
    identifier = next(
        (i["identifier"] for i in grant.access if i["type"] == "outgoing-payment"),
        state.urls.wallet(wallet),
    )
    response = page(
        request,
        "op_consent.html",
        me,
        status_code,
        client=grant.client,
        wallet=identifier,
        access=_access(grant, request),
        error=error,
        interact_id=grant.interact_id,
    )
    response.headers["Content-Security-Policy"] = CONSENT_CSP
    return response


@get("/consent/{interact_id:str}")
async def consent_page(
    request: Request[Any, Any, Any], interact_id: FromPath[str]
) -> Response[Any]:
    state, me, grant = await _customer_grant(request, interact_id)
    if me is None:
        return Redirect(f"/app?signin=1&next={quote(request.url.path)}", status_code=303)
    if grant is None or grant.status != "pending":
        return page(request, "op_consent.html", me, 404, error=NO_REQUEST)
    return _page(state, request, me, grant)


@post("/consent/{interact_id:str}", status_code=303)
async def consent_answer(
    request: Request[Any, Any, Any], interact_id: FromPath[str]
) -> Response[Any]:
    fields = await check_csrf(request)
    state, me, grant = await _customer_grant(request, interact_id)
    if me is None or grant is None:
        return page(request, "op_consent.html", me, 404, error=NO_REQUEST)
    accept = fields.get("decision") == "accept"
    if accept and not me.fresh:
        return Redirect(f"/stepup?next={quote(request.url.path)}", status_code=303)
    op = decide_grant(grant.interact_id or "", "customer", me.user.party_id, accept)
    decided = await to_thread.run_sync(state.platform.execute, op)
    if not isinstance(decided, Grant):
        return _page(state, request, me, grant, decided.status, decided.description)
    if decided.finish_uri is None:
        return page(request, "op_consent.html", me, done=True)
    params = (
        {"result": "grant_rejected"}
        if not accept
        else {
            "hash": interaction_hash(
                decided.finish_nonce or "",
                decided.interact_nonce or "",
                decided.interact_ref or "",
                state.urls.auth_server,
            ),
            "interact_ref": decided.interact_ref or "",
        }
    )
    joiner = "&" if "?" in decided.finish_uri else "?"
    return Redirect(decided.finish_uri + joiner + urlencode(params), status_code=303)


def _keys_page(
    request: Request[Any, Any, Any],
    state: OpenPaymentsState,
    me: Viewer,
    status_code: int = 200,
    error: str | None = None,
) -> Response[str]:
    kind = me.user.kind.value
    keys = list_keys(state.platform, kind, me.user.party_id)
    wallet = state.urls.wallet(Wallet(kind, me.user.party_id, "USD"))
    ok = request.query_params.get("ok")
    return page(
        request, "op_keys.html", me, status_code, keys=keys, wallet=wallet, error=error, ok=ok
    )


async def _key_owner(request: Request[Any, Any, Any]) -> Viewer | None:
    me = await viewer(request)
    if me is None or me.user.kind not in (UserKind.CUSTOMER, UserKind.MERCHANT):
        return None
    return me


@get("/keys")
async def keys_page(request: Request[Any, Any, Any]) -> Response[Any]:
    me = await _key_owner(request)
    if me is None:
        return Redirect("/app?signin=1", status_code=303)
    state = op_state(request)
    return await to_thread.run_sync(lambda: _keys_page(request, state, me))


@post("/keys", status_code=201)
async def add_key(request: Request[Any, Any, Any]) -> Response[Any]:
    """A form of the keys page, or JSON ``{kid, x}`` from a script (CSRF header)."""
    fields = await check_csrf(request)
    state = op_state(request)
    me = await _key_owner(request)
    form = request.headers.get("content-type", "").startswith("application/x-www-form")
    if me is None:
        return json_response({"error": {"code": "unauthorized", "description": "sign in"}}, 401)
    if not me.fresh:
        if form:
            return Redirect("/stepup?next=/op/keys", status_code=303)
        return json_response(
            {
                "error": {
                    "code": "step_up_required",
                    "description": "confirm with your passkey first",
                }
            },
            401,
        )
    body: Any = fields if form else await request.json()
    kid, x = (body.get("kid"), body.get("x")) if isinstance(body, dict) else (None, None)
    op = register_key(state.platform, me.user.kind.value, me.user.party_id, str(kid), str(x))
    made = await to_thread.run_sync(state.platform.execute, op)
    if isinstance(made, Refusal):
        if form:
            return _keys_page(request, state, me, 400, made.detail)
        return json_response(
            {"error": {"code": "invalid_request", "description": made.detail}}, 400
        )
    if form:
        return Redirect("/op/keys?ok=added", status_code=303)
    return json_response(jwk_of(made), 201)


@post("/keys/{kid:str}/revoke", status_code=303)
async def revoke_key_page(request: Request[Any, Any, Any], kid: FromPath[str]) -> Response[Any]:
    await check_csrf(request)
    state = op_state(request)
    me = await _key_owner(request)
    if me is None:
        return Redirect("/app?signin=1", status_code=303)
    op = revoke_key(state.platform, me.user.kind.value, me.user.party_id, kid[:64])
    await to_thread.run_sync(state.platform.execute, op)
    return Redirect("/op/keys?ok=revoked", status_code=303)


consent_routes = [consent_page, consent_answer, keys_page, add_key, revoke_key_page]
