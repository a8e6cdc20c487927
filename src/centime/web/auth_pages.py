"""Sign-up, sign-in, step-up, recovery and passkey management (pages and the JSON steps
that ``static/passkey.js`` calls for the WebAuthn ceremonies).

Credential changes (add or remove a passkey, new recovery codes, an API confirmation) are
checked by the services themselves (:func:`centime.auth.passkeys.confirmation_refusal`):
these pages only pass the session along and show the refusal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from centime.auth import passkeys as pk
from centime.auth.confirmations import CONFIRMATION_TTL_S, mint_confirmation
from centime.auth.sessions import end_session
from centime.http.problems import REFUSAL_STATUS
from centime.platform.context import Operation
from centime.platform.errors import Code, Refusal

from .common import (
    Viewer,
    WebState,
    check_csrf,
    client_address,
    done,
    ended_cookie,
    locale_of,
    page,
    posted,
    refused,
    require,
    run,
    safe_next,
    session_cookie,
    signed_in,
    viewer,
    web_state,
)
from .lang import keep_language

__all__ = ["SignInFirst", "auth_routes", "home_of", "sign_in_first"]

JSON_BODY_MAX: Final = pk.CREDENTIAL_JSON_MAX_BYTES + 1024


_HOMES: Final = {
    pk.UserKind.CUSTOMER: "/wallet",
    pk.UserKind.MERCHANT: "/dashboard",
    pk.UserKind.OPERATOR: "/console",
}


def home_of(me: Viewer) -> str:
    return _HOMES[me.user.kind]


def _json(body: object, status_code: int = 200, cookie: Any = None) -> Response[Any]:
    return Response(
        msgspec.json.encode(body),
        status_code=status_code,
        media_type="application/json",
        cookies=[cookie] if cookie is not None else [],
        headers={"Cache-Control": "no-store"},
    )


def _problem(refusal: Refusal) -> Response[Any]:
    return _json(
        {"code": refusal.code.value, "detail": refusal.detail},
        REFUSAL_STATUS.get(refusal.code, 400),
    )


async def _body(request: Request[Any, Any, Any]) -> dict[str, Any]:
    await check_csrf(request)
    raw = await request.body()
    if len(raw) > JSON_BODY_MAX:
        return {}
    try:
        decoded = msgspec.json.decode(raw) if raw else {}
    except msgspec.DecodeError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


def _credential(body: dict[str, Any]) -> str | None:
    credential = body.get("credential")
    return msgspec.json.encode(credential).decode() if isinstance(credential, dict) else None


_client = client_address


def _throttled() -> Response[Any]:
    return _json(
        {"code": "rate_limited", "detail": "too many sign-in attempts; wait a few minutes"}, 429
    )


def _options(result: str | Refusal) -> Response[Any]:
    """A ceremony's options (JSON the service made), or the refusal as a JSON problem."""
    if isinstance(result, Refusal):
        return _problem(result)
    return Response(result, media_type="application/json", status_code=200)


class SignInFirst(Exception):  # noqa: N818 - answered as a 401, not an error
    """A script's step needs a signed-in person: a JSON 401 (a page would redirect)."""


def sign_in_first(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
    return _json({"code": "unauthorized", "detail": "sign in first"}, 401)


async def _signed_in_step(
    request: Request[Any, Any, Any],
) -> tuple[dict[str, Any], Viewer, WebState]:
    """A signed-in person's JSON step: its body (CSRF checked), the person, the state."""
    body = await _body(request)
    me = await viewer(request)
    if me is None:
        raise SignInFirst
    return body, me, web_state(request)


# ------------------------------------------------------------------ pages


@get("/app")
async def home(request: Request[Any, Any, Any]) -> Response[Any]:
    me = await viewer(request)
    if me is not None:
        return Redirect(home_of(me), status_code=303)
    return page(request, "home.html", None)


@get("/enroll/{token:str}")
async def enroll_page(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
    return page(request, "enroll.html", await viewer(request), token=token[:100])


@post("/signout")
async def signout(request: Request[Any, Any, Any]) -> Response[Any]:
    await check_csrf(request)
    state = web_state(request)
    me = await viewer(request)
    if me is not None:
        await run(request, lambda: state.platform.execute(end_session(state.platform, me.token)))
    return Redirect("/app?ok=signed_out", status_code=303, cookies=[ended_cookie(state)])


@post("/recover")
async def recover(request: Request[Any, Any, Any]) -> Response[Any]:
    fields = await check_csrf(request)
    state = web_state(request)
    if not state.throttle.attempt(_client(request)):
        return page(request, "home.html", None, 429, error="Too many attempts; wait a few minutes.")
    code = fields.get("code", "")[:64]
    result = await run(request, lambda: state.platform.execute(pk.recover(state.platform, code)))
    if isinstance(result, Refusal):
        return refused(request, "home.html", None, result)
    return Redirect(
        "/account?ok=recovered",
        status_code=303,
        cookies=[session_cookie(state, result.session.token)],
    )


@get("/account")
async def account(request: Request[Any, Any, Any]) -> Response[Any]:
    return _account_page(request, await signed_in(request))


def _account_page(
    request: Request[Any, Any, Any], me: Viewer, status_code: int = 200, **context: Any
) -> Response[str]:
    platform = web_state(request).platform
    return page(
        request,
        "account.html",
        me,
        status_code,
        passkeys=pk.list_passkeys(platform, me.user.id),
        codes_left=pk.unused_recovery_codes(platform, me.user.id),
        ok=request.query_params.get("ok"),
        home=home_of(me),
        may_confirm_api=me.user.kind is pk.UserKind.MERCHANT or me.is_admin,
        **context,
    )


@post("/account/passkeys/{credential_id:str}/rename")
async def rename(request: Request[Any, Any, Any], credential_id: FromPath[str]) -> Response[Any]:
    fields, me, platform = await posted(request)
    op = pk.rename_passkey(platform, me.user.id, credential_id, fields.get("name", ""))
    result = await run(request, lambda: platform.execute(op))
    if isinstance(result, Refusal):
        return _account_page(request, me, REFUSAL_STATUS[result.code], error=result)
    return done("/account", "renamed")


@post("/account/passkeys/{credential_id:str}/remove")
async def remove(request: Request[Any, Any, Any], credential_id: FromPath[str]) -> Response[Any]:
    _, me, platform = await posted(request)
    op = pk.remove_passkey(platform, me.user.id, me.session.id_hash, credential_id[:1400])
    result = await run(request, lambda: platform.execute(op))
    if isinstance(result, Refusal):
        return _account_refused(request, me, result)
    return done("/account", "removed")


def _account_refused(
    request: Request[Any, Any, Any], me: Viewer, refusal: Refusal
) -> Response[str]:
    """The account page with the refusal; a confirmation refusal asks for the passkey."""
    if refusal.code is Code.STEP_UP_REQUIRED:
        return _account_page(request, me, 401, error=refusal, need_stepup=True)
    return _account_page(request, me, REFUSAL_STATUS[refusal.code], error=refusal)


@post("/account/recovery-codes")
async def recovery_codes(request: Request[Any, Any, Any]) -> Response[Any]:
    _, me, platform = await posted(request)
    op = pk.new_recovery_codes(platform, me.user.id, me.session.id_hash)
    codes = await run(request, lambda: platform.execute(op))
    if isinstance(codes, Refusal):
        return _account_refused(request, me, codes)
    return _account_page(request, me, new_codes=codes)


@post("/account/api-confirmation")
async def api_confirmation(request: Request[Any, Any, Any]) -> Response[Any]:
    """A one-time ``Centime-Confirmation`` for one bank-account change through the API."""
    _, me, platform = await posted(request)
    op = mint_confirmation(platform, me.user, me.session.id_hash)
    token = await run(request, lambda: platform.execute(op))
    if isinstance(token, Refusal):
        return _account_refused(request, me, token)
    return _account_page(
        request, me, api_confirmation=token, api_confirmation_minutes=CONFIRMATION_TTL_S // 60
    )


# ------------------------------------------------------------------ WebAuthn steps (JSON)


async def _throttled_options(
    request: Request[Any, Any, Any],
    options: Callable[[dict[str, Any], WebState], Operation[str | Refusal]],
) -> Response[Any]:
    """A ceremony's first step before sign-in: throttled per client address, then the
    options the body asks for."""
    body = await _body(request)
    state = web_state(request)
    if not state.throttle.attempt(_client(request)):
        return _throttled()
    op = options(body, state)
    return _options(await run(request, lambda: state.platform.execute(op)))


async def _finish_enrolment(
    request: Request[Any, Any, Any],
    finish: Callable[[dict[str, Any], WebState], Operation[Any]],
    keep_locale: bool = False,
) -> Response[Any]:
    """The last step of a sign-up or of an enrolment (the same for both): the ceremony's
    operation on the body, then the new person's home, recovery codes and session; a
    refusal as its problem. ``keep_locale``: store the page's language as the person's."""
    body = await _body(request)
    state = web_state(request)
    # The operation is built off the event loop too: a sign-up's screen blocks.
    result = await run(request, lambda: pk.run(state.platform, finish(body, state)))
    if isinstance(result, Refusal):
        return _problem(result)
    if keep_locale:
        await keep_language(request, result.user, locale_of(request))
    return _enrolled(state, result, _HOMES[result.user.kind])


def _enrolled(state: WebState, done: pk.SignedUp, home: str) -> Response[Any]:
    """A new passkey's person: home, its recovery codes (shown once), its session."""
    return _json(
        {"redirect": home, "recovery_codes": done.recovery_codes},
        cookie=session_cookie(state, done.session.token),
    )


def _signup_options(body: dict[str, Any], state: WebState) -> Operation[str | Refusal]:
    kind = pk.UserKind.MERCHANT if body.get("kind") == "merchant" else pk.UserKind.CUSTOMER
    name = body.get("name") if isinstance(body.get("name"), str) else ""
    code = body.get("referral_code")
    code = code.strip()[:40] if isinstance(code, str) and code.strip() else None
    return pk.signup_options(state.rp, state.platform, str(name), kind, code)


@post("/web/signup/options")
async def signup_options(request: Request[Any, Any, Any]) -> Response[Any]:
    return await _throttled_options(request, _signup_options)


@post("/web/signup/finish")
async def signup_finish(request: Request[Any, Any, Any]) -> Response[Any]:
    ip = _client(request)
    # Screened by the risk engine as the API's sign-ups are (off the event loop).
    return await _finish_enrolment(
        request,
        lambda body, state: pk.signup_finish(state.rp, state.platform, _credential(body), ip=ip),
        keep_locale=True,  # its notices' language
    )


def _enroll_options(body: dict[str, Any], state: WebState) -> Operation[str | Refusal]:
    token = body.get("token") if isinstance(body.get("token"), str) else ""
    return pk.enroll_options(state.rp, state.platform, str(token))


@post("/web/enroll/options")
async def enroll_options(request: Request[Any, Any, Any]) -> Response[Any]:
    return await _throttled_options(request, _enroll_options)


@post("/web/enroll/finish")
async def enroll_finish(request: Request[Any, Any, Any]) -> Response[Any]:
    return await _finish_enrolment(
        request, lambda body, state: pk.enroll_finish(state.rp, state.platform, _credential(body))
    )


@post("/web/signin/options")
async def signin_options(request: Request[Any, Any, Any]) -> Response[Any]:
    return await _throttled_options(
        request, lambda _, state: pk.signin_options(state.rp, state.platform)
    )


@post("/web/signin/finish")
async def signin_finish(request: Request[Any, Any, Any]) -> Response[Any]:
    body = await _body(request)
    state = web_state(request)
    credential = _credential(body)
    answer = pk.parse_answer(credential)
    account = answer.credential_id if isinstance(answer, pk.Answer) else "malformed"
    source = _client(request)  # failures lock this address, never the passkey's owner
    if state.throttle.locked(source, account):
        return _throttled()
    result = await run(
        request,
        lambda: state.platform.execute(pk.signin_finish(state.rp, state.platform, credential)),
    )
    if isinstance(result, Refusal):
        state.throttle.failed(source, account)
        return _problem(result)
    home = _HOMES[result.user.kind]
    return _json({"redirect": home}, cookie=session_cookie(state, result.session.token))


@post("/web/stepup/options")
async def stepup_options(request: Request[Any, Any, Any]) -> Response[Any]:
    _, me, state = await _signed_in_step(request)
    op = pk.stepup_options(state.rp, state.platform, me.user.id)
    return _options(await run(request, lambda: state.platform.execute(op)))


@post("/web/stepup/finish")
async def stepup_finish(request: Request[Any, Any, Any]) -> Response[Any]:
    body, me, state = await _signed_in_step(request)
    source, account = _client(request), f"user:{me.user.id}"
    if state.throttle.locked(source, account):
        return _throttled()
    op = pk.stepup_finish(
        state.rp, state.platform, me.user.id, me.session.id_hash, _credential(body)
    )
    result = await run(request, lambda: state.platform.execute(op))
    if isinstance(result, Refusal):
        state.throttle.failed(source, account)
        return _problem(result)
    return _json({"stepped_up_at_ns": str(result)})


@post("/web/passkeys/options")
async def add_options(request: Request[Any, Any, Any]) -> Response[Any]:
    _, me, state = await _signed_in_step(request)
    op = pk.add_passkey_options(state.rp, state.platform, me.user, me.session.id_hash)
    return _options(await run(request, lambda: state.platform.execute(op)))


@post("/web/passkeys/finish")
async def add_finish(request: Request[Any, Any, Any]) -> Response[Any]:
    body, me, state = await _signed_in_step(request)
    name = body.get("name") if isinstance(body.get("name"), str) else "Passkey"
    op = pk.add_passkey_finish(
        state.rp, state.platform, me.user.id, me.session.id_hash, _credential(body), str(name)
    )
    result = await run(request, lambda: state.platform.execute(op))
    if isinstance(result, Refusal):
        return _problem(result)
    return _json({"redirect": "/account?ok=added"})


@get("/stepup")
async def stepup_page(request: Request[Any, Any, Any]) -> Response[Any]:
    me = await signed_in(request)
    target = safe_next(request.query_params.get("next", "")) or home_of(me)
    return page(request, "stepup.html", me, next=target)


auth_routes: Final = [
    home,
    enroll_page,
    signout,
    recover,
    account,
    rename,
    remove,
    recovery_codes,
    api_confirmation,
    signup_options,
    signup_finish,
    enroll_options,
    enroll_finish,
    signin_options,
    signin_finish,
    stepup_options,
    stepup_finish,
    add_options,
    add_finish,
    stepup_page,
]
_ = require
