"""Open Payments: every centime wallet is an Open Payments wallet address.

Mounted under ``/op`` on the HTTP app (``create_app(..., open_payments=...)``): the wallet
address server (:mod:`.routes_wallet`), the GNAP authorization server (:mod:`.routes_auth`),
the resource server (:mod:`.routes_resource`) and the customer's consent and key pages
(:mod:`.consent_pages`). The specification files it follows are in ``spec/``; see
docs/open-payments.md.
"""

from __future__ import annotations

from typing import Any

from litestar import Router

from .addresses import Urls
from .consent_pages import consent_routes
from .errors import OpError, op_error_response
from .routes_auth import auth_routes
from .routes_resource import resource_routes
from .routes_wallet import wallet_routes
from .state import OpenPaymentsState

__all__ = ["OpError", "OpenPaymentsState", "Urls", "open_payments_router"]


def open_payments_router() -> Router:
    """The ``/op`` routes (left out of the /v1 OpenAPI document: they follow the Open
    Payments specification's own)."""
    handlers: list[Any] = [*wallet_routes, *auth_routes, *resource_routes, *consent_routes]
    for handler in handlers:
        handler.include_in_schema = False
    return Router(
        path="/op", route_handlers=handlers, exception_handlers={OpError: op_error_response}
    )
