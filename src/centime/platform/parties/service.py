"""Customers (who pay and send money) and merchants (who get paid): their records, status,
KYC tier and fees, and the balances of their ledger accounts.

Status: ``active``, ``frozen`` (nothing moves money from or to it until unfrozen) or
``closed`` (final; only with every balance at zero). The KYC tier picks the limits of
:class:`centime.platform.config.TierLimits`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from centime.ledger import Account
from centime.ledger.units import UnitContext
from centime.limits import EMAIL_LEN_MAX, FEE_BP_MAX, ID_MAX, PARTY_NAME_LEN_MAX
from centime.money import ASSETS

from ..chart import AccountKind, account_id
from ..context import Operation, Platform
from ..errors import Code, Refusal
from ..ids import new_id, valid_id
from ..pages import Cursor, Page, fetch_page
from ..rows import Table

__all__ = [
    "NAME_LEN_MAX",
    "Customer",
    "CustomerBalance",
    "Merchant",
    "MerchantBalance",
    "Status",
    "active_customer",
    "active_merchant",
    "create_customer",
    "create_merchant",
    "customer_balances",
    "get_customer",
    "get_merchant",
    "list_customers",
    "list_merchants",
    "load_customer",
    "load_merchant",
    "merchant_balances",
    "merchant_fee",
    "set_customer",
    "set_merchant",
]

NAME_LEN_MAX: Final = PARTY_NAME_LEN_MAX


class Status(enum.Enum):
    """A party's standing: ``FROZEN``, nothing moves money from or to it until it is made
    active again; ``CLOSED`` is final, and only reached with every balance at zero."""

    ACTIVE = "active"
    FROZEN = "frozen"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Customer:
    """Who pays merchants and sends money; ``kyc_tier`` picks the limits of
    :class:`centime.platform.config.TierLimits`."""

    id: int
    name: str
    email: str | None
    status: Status
    kyc_tier: int
    created_ns: int


@dataclass(frozen=True, slots=True)
class Merchant:
    id: int
    name: str
    email: str | None
    status: Status
    kyc_tier: int
    fee_bp: int
    fee_fixed: dict[str, int]  # per asset, in its scale; absent: the platform's default
    created_ns: int


@dataclass(frozen=True, slots=True)
class CustomerBalance:
    """A customer's money in one asset. ``available`` can be spent, sent or held;
    ``restricted`` (carrier-billed, not yet settled) can only pay merchants; ``held`` is
    reserved by metered holds."""

    asset: str
    available: int
    restricted: int
    held: int


@dataclass(frozen=True, slots=True)
class MerchantBalance:
    asset: str
    available: int
    reserved: int
    pending: int  # captured into earnings by holds not yet resolved (reserved by holds)


_MERCHANT_COLUMNS: Final = "id, name, email, status, kyc_tier, fee_bp, created_ns"


_CUSTOMERS: Final = Table(Customer, "customers")


def _merchant(row: Sequence[Any], fixed: dict[str, int]) -> Merchant:
    return Merchant(row[0], row[1], row[2], Status(row[3]), row[4], row[5], fixed, row[6])


# ------------------------------------------------------------------ validation (pure)


def _valid_name(name: object) -> bool:
    return type(name) is str and len(name.strip()) > 0 and len(name) <= NAME_LEN_MAX


def _valid_email(email: object) -> bool:
    return email is None or (
        type(email) is str and 3 <= len(email) <= EMAIL_LEN_MAX and "@" in email
    )


def _check_fields(
    platform: Platform, name: object, email: object, kyc_tier: object
) -> Refusal | None:
    if not _valid_name(name):
        return Refusal(Code.INVALID_REQUEST, f"name must be 1-{NAME_LEN_MAX} characters")
    if not _valid_email(email):
        return Refusal(Code.INVALID_REQUEST, "email must be an address with an @")
    if type(kyc_tier) is not int or kyc_tier not in platform.config.tiers:
        tiers = ", ".join(str(t) for t in sorted(platform.config.tiers))
        return Refusal(Code.INVALID_REQUEST, f"kyc_tier must be one of {tiers}")
    return None


# ------------------------------------------------------------------ inside units


def load_customer(ctx: UnitContext, customer_id: int) -> Customer | None:
    return _CUSTOMERS.load(ctx.fetch, customer_id)


def load_merchant(ctx: UnitContext, merchant_id: int) -> Merchant | None:
    rows = ctx.fetch(f"SELECT {_MERCHANT_COLUMNS} FROM merchants WHERE id = ?", (merchant_id,))
    if not rows:
        return None
    fixed = ctx.fetch(
        "SELECT asset, fee_fixed FROM merchant_fixed_fees WHERE merchant_id = ?", (merchant_id,)
    )
    return _merchant(rows[0], dict(fixed))


PartyT = TypeVar("PartyT", Customer, Merchant)
# What a party that may not move money is answered, by kind: missing, frozen, closed.
_INACTIVE: Final = {
    "customer": (
        Refusal(Code.CUSTOMER_NOT_FOUND, "no such customer"),
        Refusal(Code.CUSTOMER_FROZEN, "the customer's account is frozen"),
        Refusal(Code.CUSTOMER_CLOSED, "the customer's account is closed"),
    ),
    "merchant": (
        Refusal(Code.MERCHANT_NOT_FOUND, "no such merchant"),
        Refusal(Code.MERCHANT_FROZEN, "the merchant's account is frozen"),
        Refusal(Code.MERCHANT_CLOSED, "the merchant's account is closed"),
    ),
}


def _active(party: PartyT | None, kind: str) -> PartyT | Refusal:
    missing, frozen, closed = _INACTIVE[kind]
    if party is None:
        return missing
    if party.status is Status.FROZEN:
        return frozen
    if party.status is Status.CLOSED:
        return closed
    return party


def active_customer(ctx: UnitContext, customer_id: int) -> Customer | Refusal:
    """The customer, when it may move money now (an id no customer can have: not found)."""
    found = load_customer(ctx, customer_id) if valid_id(customer_id) else None
    return _active(found, "customer")


def active_merchant(ctx: UnitContext, merchant_id: int) -> Merchant | Refusal:
    """The merchant, when it may move money now (an id no merchant can have: not found)."""
    found = load_merchant(ctx, merchant_id) if valid_id(merchant_id) else None
    return _active(found, "merchant")


def merchant_fee(platform: Platform, merchant: Merchant, asset: str) -> tuple[int, int]:
    """(fee_bp, fee_fixed in the asset's scale) for a payment to ``merchant`` in ``asset``."""
    fixed = merchant.fee_fixed.get(asset)
    if fixed is None:
        fixed = ASSETS[asset].parse(platform.config.fee_fixed_default)
    return merchant.fee_bp, fixed


def _email_taken(ctx: UnitContext, table: str, email: str | None, own_id: int = 0) -> bool:
    if email is None:
        return False
    rows = ctx.fetch(f"SELECT id FROM {table} WHERE email = ? AND id <> ?", (email, own_id))
    return bool(rows)


# ------------------------------------------------------------------ operations


def create_customer(
    platform: Platform,
    name: str,
    email: str | None = None,
    kyc_tier: int = 1,
    customer_id: int | None = None,
) -> Operation[Customer | Refusal]:
    """A new customer; ``customer_id`` (default: a new id) lets the caller name it first
    (the risk screen decides on a sign-up before it is created)."""
    refusal = _check_fields(platform, name, email, kyc_tier)
    new = new_id() if customer_id is None else customer_id

    def unit(ctx: UnitContext) -> Customer | Refusal:
        if refusal is not None:
            return refusal
        if _email_taken(ctx, "customers", email):
            return Refusal(Code.EMAIL_TAKEN, "a customer with this email exists")
        customer = Customer(new, name.strip(), email, Status.ACTIVE, kyc_tier, ctx.now_ns)
        _CUSTOMERS.insert(ctx, customer)
        return customer

    return Operation(unit, 0)


def create_merchant(
    platform: Platform,
    name: str,
    email: str | None = None,
    kyc_tier: int = 1,
    fee_bp: int | None = None,
    fee_fixed: dict[str, int] | None = None,
    merchant_id: int | None = None,
) -> Operation[Merchant | Refusal]:
    refusal = _check_fields(platform, name, email, kyc_tier) or _check_fee(fee_bp, fee_fixed)
    new = new_id() if merchant_id is None else merchant_id
    bp = platform.config.fee_bp_default if fee_bp is None else fee_bp
    fixed = dict(fee_fixed or {})

    def unit(ctx: UnitContext) -> Merchant | Refusal:
        if refusal is not None:
            return refusal
        if _email_taken(ctx, "merchants", email):
            return Refusal(Code.EMAIL_TAKEN, "a merchant with this email exists")
        merchant = Merchant(
            new, name.strip(), email, Status.ACTIVE, kyc_tier, bp, fixed, ctx.now_ns
        )
        ctx.execute(
            f"INSERT INTO merchants ({_MERCHANT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (merchant.id, merchant.name, email, "active", kyc_tier, bp, ctx.now_ns),
        )
        _write_fixed_fees(ctx, new, fixed)
        return merchant

    return Operation(unit, 0)


def _check_fee(fee_bp: object, fee_fixed: dict[str, int] | None) -> Refusal | None:
    if fee_bp is not None and (type(fee_bp) is not int or not 0 <= fee_bp <= FEE_BP_MAX):
        return Refusal(Code.INVALID_REQUEST, f"fee_bp must be an integer in 0..{FEE_BP_MAX}")
    for asset, amount in (fee_fixed or {}).items():
        if asset not in ASSETS:
            return Refusal(Code.UNKNOWN_ASSET, f"unknown asset {asset!r}")
        if type(amount) is not int or not 0 <= amount <= ID_MAX:
            return Refusal(Code.INVALID_AMOUNT, "a fixed fee is a non-negative amount")
    return None


def _write_fixed_fees(ctx: UnitContext, merchant_id: int, fixed: dict[str, int]) -> None:
    for asset, amount in sorted(fixed.items()):
        ctx.execute(
            "DELETE FROM merchant_fixed_fees WHERE merchant_id = ? AND asset = ?",
            (merchant_id, asset),
        )
        ctx.execute(
            "INSERT INTO merchant_fixed_fees (merchant_id, asset, fee_fixed) VALUES (?, ?, ?)",
            (merchant_id, asset, amount),
        )


def _status_change(current: Status, wanted: Status, balances_zero: bool) -> Refusal | None:
    """Whether a party may move from ``current`` to ``wanted`` (pure)."""
    if current is Status.CLOSED and wanted is not Status.CLOSED:
        return Refusal(Code.INVALID_STATUS_CHANGE, "a closed account stays closed")
    if wanted is Status.CLOSED and not balances_zero:
        return Refusal(
            Code.BALANCE_NOT_ZERO,
            "only an account with no money, none held and none on its way can be closed",
        )
    return None


_CUSTOMER_ACCOUNTS: Final = (AccountKind.CUSTOMER_WALLET, AccountKind.CUSTOMER_RESTRICTED)
_MERCHANT_ACCOUNTS: Final = (AccountKind.MERCHANT_AVAILABLE, AccountKind.MERCHANT_RESERVED)


def _refused_change(
    ctx: UnitContext, current: Status, wanted: Status | None, owner: int, *, customer: bool
) -> Refusal | None:
    """Why the customer or merchant ``owner`` may not move from ``current`` to ``wanted``
    (None: no change asked), if it may not. One rule for both kinds of party: closing needs
    every balance at zero, and a customer no top-up still on its way (its money could not
    land)."""
    if wanted is None:
        return None
    kinds = _CUSTOMER_ACCOUNTS if customer else _MERCHANT_ACCOUNTS
    closable = wanted is not Status.CLOSED or (
        _owned_accounts_zero(ctx, kinds, owner) and not (customer and _money_on_the_way(ctx, owner))
    )
    return _status_change(current, wanted, closable)


def _changeable(
    ctx: UnitContext, party: PartyT | None, kind: str, wanted: Status | None
) -> PartyT | Refusal:
    """The ``kind`` party (as loaded) when it exists and may move to ``wanted``, else why
    not (:func:`_refused_change`)."""
    if party is None:
        return _INACTIVE[kind][0]
    refused = _refused_change(ctx, party.status, wanted, party.id, customer=kind == "customer")
    return party if refused is None else refused


def _owned_accounts_zero(ctx: UnitContext, kinds: Sequence[AccountKind], owner: int) -> bool:
    ids = [account_id(kind, owner, asset) for kind in kinds for asset in ASSETS]
    return all(_zero(a) for a in ctx.accounts(ids).values())


def _money_on_the_way(ctx: UnitContext, customer_id: int) -> bool:
    """Whether a top-up of the customer is still pending: its money may yet arrive, and a
    closed customer could not receive it."""
    rows = ctx.fetch(
        "SELECT 1 FROM topups WHERE customer_id = ? AND status = 'pending' LIMIT 1",
        (customer_id,),
    )
    return bool(rows)


def _zero(account: Account) -> bool:
    return not (
        account.credits_posted - account.debits_posted
        or account.debits_pending
        or account.credits_pending
    )


def set_customer(
    platform: Platform,
    customer_id: int,
    status: Status | None = None,
    kyc_tier: int | None = None,
) -> Operation[Customer | Refusal]:
    """Freeze, unfreeze or close a customer, or change its KYC tier (the operator's)."""
    tier_refusal = _check_tier(platform, kyc_tier)

    def unit(ctx: UnitContext) -> Customer | Refusal:
        if tier_refusal is not None:
            return tier_refusal
        customer = _changeable(ctx, load_customer(ctx, customer_id), "customer", status)
        if isinstance(customer, Refusal):
            return customer
        new_status = (status or customer.status).value
        new_tier = customer.kyc_tier if kyc_tier is None else kyc_tier
        ctx.execute(
            "UPDATE customers SET status = ?, kyc_tier = ? WHERE id = ?",
            (new_status, new_tier, customer_id),
        )
        return load_customer(ctx, customer_id) or Refusal(Code.CUSTOMER_NOT_FOUND, "gone")

    return Operation(unit, 0)


def set_merchant(
    platform: Platform,
    merchant_id: int,
    status: Status | None = None,
    kyc_tier: int | None = None,
    fee_bp: int | None = None,
    fee_fixed: dict[str, int] | None = None,
) -> Operation[Merchant | Refusal]:
    """Freeze, unfreeze or close a merchant, or change its tier or fees (the operator's)."""
    refusal_in = _check_tier(platform, kyc_tier) or _check_fee(fee_bp, fee_fixed)

    def unit(ctx: UnitContext) -> Merchant | Refusal:
        if refusal_in is not None:
            return refusal_in
        merchant = _changeable(ctx, load_merchant(ctx, merchant_id), "merchant", status)
        if isinstance(merchant, Refusal):
            return merchant
        ctx.execute(
            "UPDATE merchants SET status = ?, kyc_tier = ?, fee_bp = ? WHERE id = ?",
            (
                (status or merchant.status).value,
                merchant.kyc_tier if kyc_tier is None else kyc_tier,
                merchant.fee_bp if fee_bp is None else fee_bp,
                merchant_id,
            ),
        )
        _write_fixed_fees(ctx, merchant_id, fee_fixed or {})
        return load_merchant(ctx, merchant_id) or Refusal(Code.MERCHANT_NOT_FOUND, "gone")

    return Operation(unit, 0)


def _check_tier(platform: Platform, kyc_tier: object) -> Refusal | None:
    tiers = platform.config.tiers
    if kyc_tier is not None and (type(kyc_tier) is not int or kyc_tier not in tiers):
        return Refusal(Code.INVALID_REQUEST, "unknown kyc_tier")
    return None


# ------------------------------------------------------------------ reads


def get_customer(platform: Platform, customer_id: int) -> Customer | None:
    return _CUSTOMERS.by_id(platform, customer_id)


def get_merchant(platform: Platform, merchant_id: int) -> Merchant | None:
    with platform.read() as fetch:
        rows = fetch(f"SELECT {_MERCHANT_COLUMNS} FROM merchants WHERE id = ?", (merchant_id,))
        fixed = fetch(
            "SELECT asset, fee_fixed FROM merchant_fixed_fees WHERE merchant_id = ?",
            (merchant_id,),
        )
    return _merchant(rows[0], {a: int(f) for a, f in fixed}) if rows else None


def list_customers(
    platform: Platform, cursor: Cursor | None = None, limit: int = 20
) -> Page[Customer]:
    """Every customer, newest first."""
    return _CUSTOMERS.page(platform, [], cursor, limit)


def list_merchants(
    platform: Platform, cursor: Cursor | None = None, limit: int = 20
) -> Page[Merchant]:
    """Every merchant, newest first, with its fixed fees (one more query per page)."""
    page = fetch_page(platform, "merchants", _MERCHANT_COLUMNS, [], cursor, limit, tuple)
    fees: dict[int, dict[str, int]] = {int(row[0]): {} for row in page.items}
    if fees:
        marks = ", ".join("?" * len(fees))
        with platform.read() as fetch:
            rows = fetch(
                "SELECT merchant_id, asset, fee_fixed FROM merchant_fixed_fees"
                f" WHERE merchant_id IN ({marks})",
                list(fees),
            )
        for merchant_id, asset, amount in rows:
            fees[int(merchant_id)][asset] = int(amount)
    merchants = [_merchant(row, fees[int(row[0])]) for row in page.items]
    return Page(merchants, page.next_cursor)


def _account_pairs(
    platform: Platform, owner_id: int, first: AccountKind, second: AccountKind
) -> Iterator[tuple[str, Account | None, Account | None]]:
    """Per asset, the owner's accounts of the two kinds (None: not opened), for every asset
    where it has either (from the ledger)."""
    for asset in ASSETS:
        ids = [account_id(first, owner_id, asset), account_id(second, owner_id, asset)]
        found = {a.id: a for a in platform.ledger.lookup_accounts(ids)}
        one, other = found.get(ids[0]), found.get(ids[1])
        if one is not None or other is not None:
            yield asset, one, other


def customer_balances(platform: Platform, customer_id: int) -> list[CustomerBalance]:
    """The customer's balance in every asset it ever held (from the ledger)."""
    balances = []
    kinds = (AccountKind.CUSTOMER_WALLET, AccountKind.CUSTOMER_RESTRICTED)
    for asset, wallet, restricted in _account_pairs(platform, customer_id, *kinds):
        held = (wallet.debits_pending if wallet else 0) + (
            restricted.debits_pending if restricted else 0
        )
        balances.append(
            CustomerBalance(
                asset,
                wallet.available if wallet else 0,
                restricted.available if restricted else 0,
                held,
            )
        )
    return balances


def merchant_balances(platform: Platform, merchant_id: int) -> list[MerchantBalance]:
    balances = []
    kinds = (AccountKind.MERCHANT_AVAILABLE, AccountKind.MERCHANT_RESERVED)
    for asset, available, reserved in _account_pairs(platform, merchant_id, *kinds):
        balances.append(
            MerchantBalance(
                asset,
                available.available if available else 0,
                reserved.balance if reserved else 0,
                available.credits_pending if available else 0,
            )
        )
    return balances
