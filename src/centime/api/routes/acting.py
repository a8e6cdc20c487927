"""Who a money route acts for, and the ids it derives: shared by the money routes
(payments, holds, refunds, mandates, transfers, top-ups).

- A merchant's key acts for its own merchant only: a merchant id in a body or a query that
  is not its own names nothing (404 ``merchant_not_found``), and its reads are filtered by
  its own id, so another merchant's payment, hold, refund or mandate is 404, never 403.
- The operator's key acts for customers (the first-party customer apps) and sees
  everything; its writes name the merchant.
- An operation's id is derived from (the caller's owner, the Idempotency-Key): a retry
  whose stored response was purged still meets the first operation in the ledger (the
  services answer the stored row for an id they know) instead of paying twice.
"""

from __future__ import annotations

from typing import Annotated, Final

from litestar.params import Parameter, ParameterKwarg

from centime.auth import Principal
from centime.http.problems import ApiCode, ProblemError
from centime.platform.errors import Code
from centime.platform.ids import derive_id, format_id
from centime.wire import FieldError, UnsetType

from ..params import body_id

__all__ = [
    "CustomerQuery",
    "MerchantQuery",
    "PaymentQuery",
    "acting_merchant",
    "listing",
    "operation_id",
    "optional_id",
    "query_id",
    "require_mandate",
    "visible_merchant",
]

# As in centime.wire.common: 13 base32 digits, the first 0-7 (an id is below 2^63).
_ID_DIGITS: Final = "[0-7][0-9a-hjkmnp-tv-z]{12}$"


def _query(prefix: str, what: str) -> ParameterKwarg:
    made: ParameterKwarg = Parameter(
        pattern=f"^{prefix}_{_ID_DIGITS}", description=f"Only the {what}'s."
    )
    return made


CustomerQuery = Annotated[str | None, _query("cus", "customer")]
MerchantQuery = Annotated[str | None, _query("mer", "merchant")]
PaymentQuery = Annotated[str | None, _query("pay", "payment")]


def query_id(prefix: str, text: str | None, field: str) -> int | None:
    """A listing's filter: None when left out, 400 naming ``field`` when it is no id."""
    return None if text is None else body_id(prefix, text, field)


def acting_merchant(principal: Principal, named: str | UnsetType, field: str) -> int:
    """The merchant a write is for: a merchant's key is its own merchant (naming another
    is 404); the operator's key must name one (400 otherwise)."""
    if principal.is_operator:
        if isinstance(named, UnsetType):
            raise ProblemError(
                ApiCode.INVALID_REQUEST,
                f"{field}: the operator's key names the merchant",
                errors=[FieldError(field=field, detail="required with the operator's key")],
            )
        return body_id("mer", named, field)
    if not isinstance(named, UnsetType) and body_id("mer", named, field) != principal.owner_id:
        raise ProblemError(Code.MERCHANT_NOT_FOUND, "no such merchant")
    return principal.owner_id


def visible_merchant(principal: Principal, named: str | None = None) -> int | None:
    """The merchant filter of a read: the caller's own for a merchant's key (naming another
    is 404), what the operator names (None: every merchant)."""
    wanted = query_id("mer", named, "merchant_id")
    if principal.is_operator:
        return wanted
    if wanted is not None and wanted != principal.owner_id:
        raise ProblemError(Code.MERCHANT_NOT_FOUND, "no such merchant")
    return principal.owner_id


def require_mandate(principal: Principal, mandate_id: str | None, field: str) -> int | None:
    """The mandate a write charges under: a merchant's key must name one (a merchant takes
    a customer's money only with the customer's consent); the operator's may."""
    if mandate_id is None:
        if not principal.is_operator:
            raise ProblemError(
                ApiCode.INVALID_REQUEST,
                f"{field}: a merchant charges a customer only under the customer's mandate",
                errors=[FieldError(field=field, detail="required with a merchant's key")],
            )
        return None
    return body_id("man", mandate_id, field)


def operation_id(kind: str, principal: Principal, key: str, *more: object) -> int:
    """The id of the operation a request with Idempotency-Key ``key`` makes."""
    return derive_id("api", kind, principal.owner, key, *more)


def optional_id(prefix: str, value: int | None) -> str | None:
    """The public id of an optional reference (a payment's hold, a hold's mandate)."""
    return None if value is None else format_id(prefix, value)


def listing(name: str, *filters: object) -> str:
    """The name a listing's cursors are bound to: a cursor of one filter is refused by
    another (400 ``invalid_cursor``) instead of paging through a different list."""
    return ":".join([name, *("" if f is None else str(f) for f in filters)])
