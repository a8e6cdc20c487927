"""The language switch: ``/lang?to=ko&next=/wallet`` keeps the choice in a cookie (a year)
and goes back to the page (a path on this site only). A signed-in customer's or merchant's
choice is kept with the party too: the notices written for it are in that language."""

from __future__ import annotations

from typing import Any, Final

from litestar import Request, Response, get
from litestar.datastructures import Cookie
from litestar.response import Redirect

from centime.auth.passkeys import UserKind, WebUser
from centime.platform.events import remember_language

from .common import run, safe_next, viewer, web_state
from .i18n import LANG_COOKIE, LOCALES

__all__ = ["keep_language", "lang_routes"]

YEAR_S: Final = 365 * 86_400


@get("/lang")
async def switch(request: Request[Any, Any, Any]) -> Response[Any]:
    chosen = request.query_params.get("to", "")
    target = safe_next(request.query_params.get("next")) or "/app"
    if chosen not in LOCALES:
        return Redirect(target, status_code=303)
    me = await viewer(request)
    if me is not None:
        await keep_language(request, me.user, chosen)
    cookie = Cookie(
        key=LANG_COOKIE,
        value=chosen,
        max_age=YEAR_S,
        path="/",
        httponly=True,
        secure=web_state(request).secure_cookies,
        samesite="lax",
    )
    return Redirect(target, status_code=303, cookies=[cookie])


async def keep_language(request: Request[Any, Any, Any], user: WebUser, language: str) -> None:
    """Keep the language with the person's party (operators have no notices)."""
    if user.kind is UserKind.OPERATOR:
        return
    platform = web_state(request).platform
    operation = remember_language(user.kind.value, user.party_id, language)
    await run(request, lambda: platform.execute(operation))


lang_routes: Final = [switch]
