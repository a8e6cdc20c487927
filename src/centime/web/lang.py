"""The language switch: ``/lang?to=ko&next=/wallet`` keeps the choice in a cookie (a year)
and goes back to the page (a path on this site only)."""

from __future__ import annotations

from typing import Any, Final

from litestar import Request, Response, get
from litestar.datastructures import Cookie
from litestar.response import Redirect

from .common import safe_next, web_state
from .i18n import LANG_COOKIE, LOCALES

__all__ = ["lang_routes"]

YEAR_S: Final = 365 * 86_400


@get("/lang")
async def switch(request: Request[Any, Any, Any]) -> Response[Any]:
    chosen = request.query_params.get("to", "")
    target = safe_next(request.query_params.get("next")) or "/app"
    if chosen not in LOCALES:
        return Redirect(target, status_code=303)
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


lang_routes: Final = [switch]
