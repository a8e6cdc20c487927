"""Routes declared as data: a listing (``GET /v1/things``) and a read of one thing
(``GET /v1/things/{id}``).

Every module's listing was the same function written again: parse the filters the query
names (the caller's own merchant checked first), bind the cursor to the listing's name and
the filters, page the platform's rows and render each. ``lists`` writes that function
once from what differs (the filters, the rows, the rendering); ``finds`` does the same for
a read of one thing by its public id. Litestar reads a route's parameters from its
handler's signature, so the made handler carries the signature the hand-written one had
(``request``, the filters, ``limit``, ``cursor``): the OpenAPI document is unchanged.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from litestar import Request
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.types import Guard

from centime.platform.context import Platform
from centime.platform.errors import Code

from ..pagination import API_PAGE_SIZE_DEFAULT, CursorParam, LimitParam, Listed, page_of
from ..params import must_find, path_id
from ..state import api_state, principal_of
from .acting import (
    CustomerQuery,
    MerchantQuery,
    PaymentQuery,
    listing,
    query_id,
    visible_merchant,
)
from .declare import reads

__all__ = [
    "CUSTOMER",
    "MERCHANT",
    "OWN_MERCHANT",
    "PAYMENT",
    "Filter",
    "finds",
    "in_path",
    "lists",
]

AnyRequest = Request[Any, Any, Any]


@dataclass(frozen=True)
class Filter:
    """What narrows a listing: the parameter the route declares (``name`` of type
    ``annotation``, None: none, the caller alone decides) and the platform's key it becomes
    for the caller (``key(request, value)``, raising the problem a bad value is).
    ``by_caller``: it checks who may see what, so it is checked before the others."""

    name: str | None
    key: Callable[[AnyRequest, Any], object]
    annotation: object = None
    default: object = None
    by_caller: bool = False

    def parameter(self) -> inspect.Parameter:
        return _keyword(str(self.name), self.annotation, self.default)


def _keyword(
    name: str, annotation: object, default: object = inspect.Parameter.empty
) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


def _merchant_named(request: AnyRequest, text: str | None) -> int | None:
    return visible_merchant(principal_of(request), text)


def _id_filter(prefix: str, name: str, annotation: object) -> Filter:
    """The filter a query's ``name`` is: an id of ``prefix`` (400 naming it otherwise)."""
    return Filter(name, lambda _, text: query_id(prefix, text, name), annotation)


def in_path(name: str, key: Callable[[AnyRequest, str], object]) -> Filter:
    """The filter the path parameter ``name`` is (``key`` raises the 404 of what it names)."""
    return Filter(name, key, FromPath[str], inspect.Parameter.empty)


CUSTOMER: Final = _id_filter("cus", "customer_id", CustomerQuery)
PAYMENT: Final = _id_filter("pay", "payment_id", PaymentQuery)
MERCHANT: Final = Filter("merchant_id", _merchant_named, MerchantQuery, by_caller=True)
# A merchant's key sees its own rows, the operator's every one; no parameter names it.
OWN_MERCHANT: Final = Filter(None, _merchant_named, by_caller=True)

_REQUEST: Final = inspect.Parameter(
    "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=AnyRequest
)
_PAGE: Final = (
    _keyword("limit", LimitParam, API_PAGE_SIZE_DEFAULT),
    _keyword("cursor", CursorParam, None),
)


def _handler(
    name: str,
    doc: str | None,
    parameters: Sequence[inspect.Parameter],
    returns: object,
    answer: Callable[..., Any],
) -> Callable[..., Any]:
    """A function named ``name`` that Litestar reads as declaring ``parameters`` (after
    ``request``) and returning ``returns``, answering ``answer(request, **arguments)``."""

    def handler(request: AnyRequest, **arguments: Any) -> Any:
        return answer(request, **arguments)

    handler.__name__ = handler.__qualname__ = name
    handler.__doc__ = doc
    signature = inspect.Signature([_REQUEST, *parameters], return_annotation=returns)
    handler.__signature__ = signature  # type: ignore[attr-defined]
    handler.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
    handler.__annotations__["return"] = returns
    return handler


def lists(
    path: str,
    guards: list[Guard],
    page_type: type[Any],
    rows: Callable[..., Listed[Any]],
    render: Callable[[Any], Any],
    *filters: Filter,
    name: str,
    doc: str,
    statuses: Sequence[int] = (),
    listed: str | None = None,
) -> HTTPRouteHandler:
    """``GET path`` named ``name``: the page of ``rows(platform, *keys, position, limit)``
    that the cursor starts, each row rendered; the keys are the ``filters``' in order, and
    the cursor is bound to the listing (``listed``, or the path's last segment) and them."""
    cursor_name = listed or path.rsplit("/", 1)[-1]

    def answer(request: AnyRequest, limit: int, cursor: str | None, **values: Any) -> Any:
        checked = sorted(filters, key=lambda f: not f.by_caller)  # stable: else in order
        found = {f: f.key(request, values.get(str(f.name))) for f in checked}
        keys = [found[f] for f in filters]
        named = listing(cursor_name, *keys)
        return page_of(request, page_type, named, cursor, limit, rows, render, *keys)

    declared = [f.parameter() for f in filters if f.name is not None]
    handler = _handler(name, doc, [*declared, *_PAGE], page_type, answer)
    return reads(path, guards, *statuses)(handler)


def finds(
    path: str,
    guards: list[Guard],
    found_type: type[Any],
    prefix: str,
    fetch: Callable[..., Any],
    render: Callable[[Any], Any],
    not_found: Code,
    *filters: Filter,
    name: str,
    detail: str,
    doc: str | None = None,
) -> HTTPRouteHandler:
    """``GET path`` named ``name`` (its one path parameter the public id, ``prefix``_...):
    ``render`` of what ``fetch(platform, id, *keys)`` finds, else 404 ``not_found`` with
    ``detail`` (an id that does not parse is the same 404)."""
    parameter = path.rsplit("{", 1)[1].split(":", 1)[0]

    def answer(request: AnyRequest, **values: Any) -> Any:
        platform: Platform = api_state(request).platform
        wanted = path_id(prefix, values[parameter], not_found)
        keys = [f.key(request, values.get(str(f.name))) for f in filters]
        return render(must_find(fetch(platform, wanted, *keys), not_found, detail))

    handler = _handler(name, doc, [_keyword(parameter, FromPath[str])], found_type, answer)
    return reads(path, guards, 404)(handler)
