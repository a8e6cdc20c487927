"""Helpers of the money routes' tests: amounts, funded customers, merchants with keys and
mandates, balances read from the ledger.

Wallets are funded with a ledger transfer from funding clearing, as a top-up does
(tests.platform.world.fund; the top-up routes have tests of their own).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from centime import wire
from centime.auth import Scope
from centime.client import Client, ProblemError
from centime.platform.chart import AccountKind
from centime.platform.ids import parse_id
from tests.platform.world import balance, fund

from .conftest import Api

__all__ = [
    "Shop",
    "cents",
    "customer_balance",
    "funded_customer",
    "id_of",
    "merchant_balance",
    "problem",
    "shop",
]

ASSET = "USD"


def cents(n: int) -> wire.Money:
    """``n`` hundredths of a dollar (USD has scale 6)."""
    return wire.money(n * 10_000, ASSET)


def units(money: wire.Money) -> int:
    return int(money.value)


def id_of(prefix: str, text: str) -> int:
    found = parse_id(prefix, text)
    assert found is not None, text
    return found


@dataclass
class Shop:
    merchant: wire.Merchant
    client: Client  # a key with read, payments and refunds
    token: str

    @property
    def id(self) -> str:
        return self.merchant.id


def shop(api: Api, name: str = "Shop", *scopes: Scope, fee_bp: int = 250) -> Shop:
    merchant = api.operator.create_merchant(name, fee_bp=fee_bp)
    token = api.merchant_key(merchant, *(scopes or (Scope.READ, Scope.PAYMENTS, Scope.REFUNDS)))
    return Shop(merchant, api.client(token), token)


def funded_customer(
    api: Api, dollars_cents: int = 10_000, *, restricted_cents: int = 0, kyc_tier: int = 1
) -> wire.Customer:
    """A customer with ``dollars_cents`` hundredths of a dollar in its wallet (and some
    restricted, carrier-billed money)."""
    customer = api.operator.create_customer("Ada", kyc_tier=kyc_tier)
    owner = id_of("cus", customer.id)
    if dollars_cents:
        fund(api.platform, owner, ASSET, dollars_cents * 10_000)
    if restricted_cents:
        fund(api.platform, owner, ASSET, restricted_cents * 10_000, restricted=True)
    return customer


def customer_balance(api: Api, customer: wire.Customer, restricted: bool = False) -> int:
    kind = AccountKind.CUSTOMER_RESTRICTED if restricted else AccountKind.CUSTOMER_WALLET
    return balance(api.platform, kind, id_of("cus", customer.id), ASSET)


def merchant_balance(api: Api, merchant: wire.Merchant | Shop) -> int:
    target = merchant.merchant if isinstance(merchant, Shop) else merchant
    return balance(api.platform, AccountKind.MERCHANT_AVAILABLE, id_of("mer", target.id), ASSET)


def problem(call: Any, *args: Any, **kwargs: Any) -> tuple[int, str]:
    """(status, code) of the ProblemError the client call raises."""
    try:
        call(*args, **kwargs)
    except ProblemError as error:
        return error.status, error.code
    raise AssertionError(f"{call.__name__} did not fail")
