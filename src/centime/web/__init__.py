"""The web apps: customer wallet, creator dashboard, operator console, hosted checkout.

Served by the same Litestar app as the API (``centime.server.create_app(..., web=...)``),
calling the same services. :func:`web_handlers` gives the routes and :class:`WebState` the
configuration (the WebAuthn relying party, cookie security, the demo site).
"""

from __future__ import annotations

from typing import Any

from litestar import Router
from litestar.static_files import create_static_files_router
from litestar.types import ExceptionHandlersMap

from .auth_pages import SignInFirst, auth_routes, sign_in_first
from .common import STATIC, SignInRequired, WebState, to_sign_in
from .console import console_routes
from .demo_site import demo_routes
from .lang import lang_routes
from .payout_pages import payout_routes
from .receipts import receipt_routes
from .review_pages import review_routes
from .wallet import wallet_routes

__all__ = ["WebState", "web_handlers"]


def web_handlers() -> list[Any]:
    static = create_static_files_router(
        path="/static", directories=[STATIC], include_in_schema=False
    )
    handlers: list[Any] = [
        *auth_routes,
        *wallet_routes,
        *console_routes,
        *payout_routes,
        *review_routes,
        *demo_routes,
        *receipt_routes,
        *lang_routes,
    ]
    for handler in handlers:
        handler.include_in_schema = False  # the OpenAPI document describes /v1 only
    answers: ExceptionHandlersMap = {SignInRequired: to_sign_in, SignInFirst: sign_in_first}
    pages = Router(path="/", route_handlers=handlers, exception_handlers=answers)
    return [pages, static]
