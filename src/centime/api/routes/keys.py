"""API keys over HTTP: create (the secret shown once), list one's own, revoke.

The operator's admin keys make keys for the operator or any merchant and revoke any key; a
merchant's admin keys make keys for that merchant only, with scopes it holds itself, and
revoke only its own (another's is 404).
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Request, Response
from litestar.params import FromPath, JSONBody

from centime import wire
from centime.auth import ApiKey, NewKey, OwnerKind, Principal, keys
from centime.http.problems import ApiCode, ProblemError
from centime.platform.errors import Code
from centime.platform.ids import format_id

from ..execute import execute
from ..pagination import API_PAGE_SIZE_DEFAULT, CursorParam, LimitParam, page_of
from ..params import body_id, path_id
from ..state import api_state, principal_of
from .declare import ADMIN, reads, writes
from .render import converter

__all__ = ["key_routes"]


def _owner_text(key: ApiKey) -> str:
    return "operator" if key.owner_kind == "operator" else format_id("mer", key.owner_id)


key_out: Final = converter(
    ApiKey,
    wire.ApiKey,
    "key",
    computed={"owner": _owner_text, "scopes": lambda key: sorted(s.value for s in key.scopes)},
)


def _created(new: NewKey, secret: str | None) -> wire.ApiKeyCreated:
    return wire.extended(key_out(new.key), wire.ApiKeyCreated, secret=secret)


def _owner_for(principal: Principal, merchant_id: str | wire.UnsetType) -> tuple[OwnerKind, int]:
    """Whose key the caller asks for: its own owner's, or (the operator) a merchant's."""
    if isinstance(merchant_id, wire.UnsetType):
        return principal.kind, principal.owner_id
    wanted = body_id("mer", merchant_id, "merchant_id")
    if not principal.is_operator and wanted != principal.owner_id:
        raise ProblemError(Code.MERCHANT_NOT_FOUND, "no such merchant")
    return "merchant", wanted


@writes("/api-keys", ADMIN, 404, status_code=201)
async def create_api_key(
    request: Request[Any, Any, Any], data: JSONBody[wire.ApiKeyCreate]
) -> Response[wire.ApiKeyCreated]:
    """A new key; its ``secret`` is in this response only. Replayed by an idempotent retry
    without the secret (it is never stored)."""
    principal = principal_of(request)
    owner_kind, owner_id = _owner_for(principal, data.merchant_id)
    scopes = keys.parse_scopes(data.scopes)
    if scopes is None:  # the wire type allows only scope names; kept for other callers
        raise ProblemError(ApiCode.INVALID_REQUEST, "unknown scope")
    if not all(principal.allows(scope) for scope in scopes):
        raise ProblemError(ApiCode.FORBIDDEN, "a key can only grant scopes its maker holds")
    operation = keys.create_key(
        api_state(request).platform, owner_kind, owner_id, data.name, scopes
    )
    return await execute(
        request,
        operation,
        lambda new: _created(new, new.token),
        status_code=201,
        stored_to_wire=lambda new: _created(new, None),
    )


@reads("/api-keys", ADMIN)
def list_api_keys(
    request: Request[Any, Any, Any],
    limit: LimitParam = API_PAGE_SIZE_DEFAULT,
    cursor: CursorParam = None,
) -> wire.ApiKeyPage:
    """The caller's owner's keys, revoked ones too, newest first (never their secrets)."""
    principal = principal_of(request)
    return page_of(
        request,
        wire.ApiKeyPage,
        "api-keys",
        cursor,
        limit,
        keys.list_keys,
        key_out,
        principal.kind,
        principal.owner_id,
    )


@writes("/api-keys/{key_id:str}/revoke", ADMIN, 404, status_code=200, body=False)
async def revoke_api_key(
    request: Request[Any, Any, Any], key_id: FromPath[str]
) -> Response[wire.ApiKey]:
    """Revoke a key, at once (revoking again answers the key as it is)."""
    principal = principal_of(request)
    target = path_id("key", key_id, Code.API_KEY_NOT_FOUND)
    owner = None if principal.is_operator else (principal.kind, principal.owner_id)
    state = api_state(request)
    try:
        operation = keys.revoke_key(state.platform, target, owner)
        return await execute(request, operation, key_out)
    finally:
        state.verifier.forget(target)  # after the commit: nothing can cache it again


key_routes: Final = [create_api_key, list_api_keys, revoke_api_key]
