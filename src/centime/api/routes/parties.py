"""Customers and merchants: the operator manages them; a merchant sees itself.

The pattern of every route (copy it for a new resource):

- the decorator (``.declare``) says the path, who may call (a guard list such as
  ``OPERATOR_ADMIN``), the success status and the problems it may answer beyond those
  every read or write answers: ``@reads(path, guards, 404)``, ``@writes(path, guards,
  404, status_code=201)``;
- a write parses its body (a strict Struct from ``centime.wire``), builds the service's
  Operation and returns ``await execute(request, operation, to_wire)``: group commit,
  idempotency and refusals are handled there;
- a read is a plain function (``reads`` runs it in a thread), returns a wire Struct and
  raises ``ProblemError`` for what it cannot find (``must_find``), 404 also for what is not
  the caller's to see; a listing, and a plain read of one thing by its id, are declared
  with ``lists`` and ``finds`` (``.listings``);
- a platform value becomes its wire Struct through a ``converter`` (``.render``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from litestar import Request, Response, patch
from litestar.params import FromPath, JSONBody

from centime import usecases, wire
from centime.http.problems import ApiCode, ProblemError
from centime.platform import parties, referrals
from centime.platform.context import Operation
from centime.platform.errors import Code
from centime.platform.ids import new_id
from centime.platform.parties.service import CustomerBalance, MerchantBalance

from ..execute import execute
from ..params import must_find, path_id
from ..screen import IN_REVIEW, screened_signup
from ..state import api_state, principal_of
from .declare import OPERATOR_ADMIN, OPERATOR_READ, READ, reads, writes
from .listings import lists
from .render import converter

__all__ = ["party_routes"]


# ------------------------------------------------------------------ to the wire


customer_out: Final = converter(parties.Customer, wire.Customer, "cus")


def _fees_fixed(merchant: parties.Merchant) -> list[wire.Money]:
    return [wire.money(fee, asset) for asset, fee in sorted(merchant.fee_fixed.items())]


merchant_out: Final = converter(
    parties.Merchant, wire.Merchant, "mer", computed={"fee_fixed": _fees_fixed}
)


def _fixed_fees(items: Sequence[wire.Money]) -> dict[str, int]:
    fees: dict[str, int] = {}
    for index, item in enumerate(items):
        asset, amount = wire.parse_money(item, f"fee_fixed[{index}]")
        if asset in fees:
            raise wire.WireError(
                "invalid_request", f"fee_fixed[{index}].asset", f"{asset} is listed twice"
            )
        fees[asset] = amount
    return fees


def _unset_none(value: Any) -> Any:
    return None if value is wire.UNSET else value


def _new_status(update: wire.CustomerUpdate | wire.MerchantUpdate) -> parties.Status | None:
    """The status an update sets, None when it leaves the status as it is."""
    status = _unset_none(update.status)
    return None if status is None else parties.Status(status)


customer_balance_out: Final = converter(CustomerBalance, wire.CustomerBalance)
merchant_balance_out: Final = converter(MerchantBalance, wire.MerchantBalance)


# ------------------------------------------------------------------ customers


_SIGNUP_ASSET: Final = "USD"  # a sign-up moves no money; the event names an asset anyway


@dataclass(frozen=True)
class _Signup:
    """A party's sign-up, customer or merchant alike: credited to whoever referred it, and
    screened by the risk screen (a REVIEW creates the party frozen and answers 202)."""

    kind: Literal["customer", "merchant"]
    party_id: int
    referral_code: str | None
    device_id: str | None

    async def run(
        self,
        request: Request[Any, Any, Any],
        creation: Operation[Any],
        render: Callable[[Any], Any],
    ) -> Response[Any]:
        """``creation`` (the party's) run as the sign-up, answered 201 with ``render``."""
        referred = referrals.with_referral(creation, self.kind, self.referral_code, self.device_id)
        use_case = usecases.SignupRequest(self.kind, self.party_id, _SIGNUP_ASSET)
        guarded = await screened_signup(request, use_case, referred)
        return await execute(request, guarded, render, status_code=201)


@writes("/customers", OPERATOR_ADMIN, status_code=201, also=IN_REVIEW)
async def create_customer(
    request: Request[Any, Any, Any], data: JSONBody[wire.CustomerCreate]
) -> Response[wire.Customer]:
    """Create a customer (the operator's); ``referral_code``: who referred it. The risk
    screen decides on the sign-up: a REVIEW creates it frozen and answers ``202`` with the
    case."""
    platform = api_state(request).platform
    customer_id = new_id()
    operation = parties.create_customer(platform, data.name, data.email, data.kyc_tier, customer_id)
    signup = _Signup("customer", customer_id, data.referral_code, data.device_id)
    return await signup.run(request, operation, customer_out)


list_customers = lists(
    "/customers",
    OPERATOR_READ,
    wire.CustomerPage,
    parties.list_customers,
    customer_out,
    name="list_customers",
    doc="Every customer, newest first.",
)


def _customer(request: Request[Any, Any, Any], customer_id: FromPath[str]) -> parties.Customer:
    found = parties.get_customer(
        api_state(request).platform, path_id("cus", customer_id, Code.CUSTOMER_NOT_FOUND)
    )
    return must_find(found, Code.CUSTOMER_NOT_FOUND, "no such customer")


@reads("/customers/{customer_id:str}", OPERATOR_READ, 404)
def get_customer(request: Request[Any, Any, Any], customer_id: FromPath[str]) -> wire.Customer:
    return customer_out(_customer(request, customer_id))


@writes("/customers/{customer_id:str}", OPERATOR_ADMIN, 404, method=patch)
async def update_customer(
    request: Request[Any, Any, Any], customer_id: FromPath[str], data: JSONBody[wire.CustomerUpdate]
) -> Response[wire.Customer]:
    """Freeze, unfreeze or close a customer; change its KYC tier."""
    operation = parties.set_customer(
        api_state(request).platform,
        path_id("cus", customer_id, Code.CUSTOMER_NOT_FOUND),
        status=_new_status(data),
        kyc_tier=_unset_none(data.kyc_tier),
    )
    return await execute(request, operation, customer_out)


@reads("/customers/{customer_id:str}/balances", OPERATOR_READ, 404)
def customer_balances(
    request: Request[Any, Any, Any], customer_id: FromPath[str]
) -> wire.CustomerBalances:
    """The customer's money in every asset it ever held."""
    customer = _customer(request, customer_id)
    balances = parties.customer_balances(api_state(request).platform, customer.id)
    return wire.CustomerBalances(data=[customer_balance_out(b) for b in balances])


# ------------------------------------------------------------------ merchants


@writes("/merchants", OPERATOR_ADMIN, status_code=201, also=IN_REVIEW)
async def create_merchant(
    request: Request[Any, Any, Any], data: JSONBody[wire.MerchantCreate]
) -> Response[wire.Merchant]:
    """Create a merchant (the operator's); ``referral_code``: who referred it. Screened as a
    customer's sign-up is."""
    merchant_id = new_id()
    operation = parties.create_merchant(
        api_state(request).platform,
        data.name,
        data.email,
        data.kyc_tier,
        fee_bp=_unset_none(data.fee_bp),
        fee_fixed=_fixed_fees(data.fee_fixed),
        merchant_id=merchant_id,
    )
    signup = _Signup("merchant", merchant_id, data.referral_code, data.device_id)
    return await signup.run(request, operation, merchant_out)


list_merchants = lists(
    "/merchants",
    OPERATOR_READ,
    wire.MerchantPage,
    parties.list_merchants,
    merchant_out,
    name="list_merchants",
    doc="Every merchant, newest first.",
)


def _merchant(request: Request[Any, Any, Any], merchant_id: int) -> parties.Merchant:
    """The merchant, if the caller may see it: the operator any, a merchant only itself."""
    principal = principal_of(request)
    found = None
    if principal.is_operator or principal.owner_id == merchant_id:
        found = parties.get_merchant(api_state(request).platform, merchant_id)
    return must_find(found, Code.MERCHANT_NOT_FOUND, "no such merchant")


def _me(request: Request[Any, Any, Any]) -> int:
    principal = principal_of(request)
    if principal.is_operator:
        raise ProblemError(ApiCode.FORBIDDEN, "an operator key has no merchant of its own")
    return principal.owner_id


def _merchant_balances(request: Request[Any, Any, Any], merchant_id: int) -> wire.MerchantBalances:
    merchant = _merchant(request, merchant_id)
    balances = parties.merchant_balances(api_state(request).platform, merchant.id)
    return wire.MerchantBalances(data=[merchant_balance_out(b) for b in balances])


@reads("/merchants/me", READ, 404)
def get_me(request: Request[Any, Any, Any]) -> wire.Merchant:
    """The merchant whose key calls."""
    return merchant_out(_merchant(request, _me(request)))


@reads("/merchants/me/balances", READ, 404)
def my_balances(request: Request[Any, Any, Any]) -> wire.MerchantBalances:
    """The calling merchant's earnings in every asset it ever held."""
    return _merchant_balances(request, _me(request))


@reads("/merchants/{merchant_id:str}", READ, 404)
def get_merchant(request: Request[Any, Any, Any], merchant_id: FromPath[str]) -> wire.Merchant:
    """A merchant: the operator's keys see any, a merchant's only itself."""
    return merchant_out(_merchant(request, path_id("mer", merchant_id, Code.MERCHANT_NOT_FOUND)))


@reads("/merchants/{merchant_id:str}/balances", READ, 404)
def merchant_balances(
    request: Request[Any, Any, Any], merchant_id: FromPath[str]
) -> wire.MerchantBalances:
    return _merchant_balances(request, path_id("mer", merchant_id, Code.MERCHANT_NOT_FOUND))


@writes("/merchants/{merchant_id:str}", OPERATOR_ADMIN, 404, method=patch)
async def update_merchant(
    request: Request[Any, Any, Any], merchant_id: FromPath[str], data: JSONBody[wire.MerchantUpdate]
) -> Response[wire.Merchant]:
    """Freeze, unfreeze or close a merchant; change its tier or fees."""
    fixed = _unset_none(data.fee_fixed)
    operation = parties.set_merchant(
        api_state(request).platform,
        path_id("mer", merchant_id, Code.MERCHANT_NOT_FOUND),
        status=_new_status(data),
        kyc_tier=_unset_none(data.kyc_tier),
        fee_bp=_unset_none(data.fee_bp),
        fee_fixed=None if fixed is None else _fixed_fees(fixed),
    )
    return await execute(request, operation, merchant_out)


party_routes: Final = [
    create_customer,
    list_customers,
    get_customer,
    update_customer,
    customer_balances,
    create_merchant,
    list_merchants,
    get_me,
    my_balances,
    get_merchant,
    merchant_balances,
    update_merchant,
]
