"""Test helpers for the money services: parties, funding a wallet, reading balances.

Wallets are funded with a ledger transfer from the operator's funding clearing account, as
a top-up does (the top-up service has tests of its own); everything else goes through the
services under test.
"""

from __future__ import annotations

from centime.ledger import Account, CreateTransferStatus, Transfer
from centime.ledger.units import UnitContext
from centime.platform.chart import (
    OPERATOR,
    AccountKind,
    account_for,
    account_id,
    ensure_accounts,
)
from centime.platform.context import Operation, Platform
from centime.platform.ids import new_id
from centime.platform.parties import Customer, Merchant, create_customer, create_merchant

__all__ = [
    "FUNDING_CODE",
    "balance",
    "customer",
    "drain",
    "fund",
    "merchant",
    "snapshot",
]

FUNDING_CODE = 1  # the ledger code of the test's funding transfers


def customer(platform: Platform, tier: int = 1) -> Customer:
    made = platform.execute(create_customer(platform, "Ada", None, tier))
    assert isinstance(made, Customer)
    return made


def merchant(
    platform: Platform, fee_bp: int = 250, fee_fixed: dict[str, int] | None = None
) -> Merchant:
    made = platform.execute(create_merchant(platform, "Shop", fee_bp=fee_bp, fee_fixed=fee_fixed))
    assert isinstance(made, Merchant)
    return made


def fund(
    platform: Platform, customer_id: int, asset: str, amount: int, restricted: bool = False
) -> None:
    """Credit the customer's wallet (or restricted balance) from funding clearing. Restricted
    money is recorded as a carrier top-up that succeeded and awaits settlement, as the top-up
    service leaves it (refunds refill the restricted balance only up to such money)."""
    kind = AccountKind.CUSTOMER_RESTRICTED if restricted else AccountKind.CUSTOMER_WALLET
    credit = account_for(kind, customer_id, asset)
    clearing = account_for(AccountKind.FUNDING_CLEARING, OPERATOR, asset)

    def unit(ctx: UnitContext) -> list[CreateTransferStatus]:
        ensure_accounts(ctx, [clearing, credit])
        topup_id = new_id()
        if restricted:
            ctx.execute(
                "INSERT INTO topups (id, customer_id, asset, amount, method, instrument,"
                " provider, status, provider_ref, attempts, restricted, created_ns,"
                " updated_ns) VALUES (?, ?, ?, ?, 'carrier', '+15555550100', 'test',"
                " 'succeeded', ?, 1, 1, ?, ?)",
                (topup_id, customer_id, asset, amount, str(topup_id), ctx.now_ns, ctx.now_ns),
            )
        return ctx.create_transfers(
            [Transfer(topup_id, clearing.id, credit.id, amount, asset, FUNDING_CODE)]
        )

    assert platform.execute(Operation(unit, 3)) == [CreateTransferStatus.CREATED]


def drain(platform: Platform, merchant_id: int, asset: str, amount: int) -> None:
    """Take earnings out of the merchant's available account, as a payout would."""
    clearing = account_for(AccountKind.PAYOUT_CLEARING, OPERATOR, asset)
    available = account_id(AccountKind.MERCHANT_AVAILABLE, merchant_id, asset)

    def unit(ctx: UnitContext) -> list[CreateTransferStatus]:
        ensure_accounts(ctx, [clearing])
        return ctx.create_transfers(
            [Transfer(new_id(), available, clearing.id, amount, asset, FUNDING_CODE)]
        )

    assert platform.execute(Operation(unit, 2)) == [CreateTransferStatus.CREATED]


def account(platform: Platform, kind: AccountKind, owner: int, asset: str) -> Account | None:
    found = platform.ledger.lookup_accounts([account_id(kind, owner, asset)])
    return found[0] if found else None


def balance(platform: Platform, kind: AccountKind, owner: int, asset: str) -> int:
    """The account's posted balance (credits less debits), 0 when it does not exist."""
    found = account(platform, kind, owner, asset)
    return found.balance if found else 0


def snapshot(platform: Platform) -> tuple[list[tuple[object, ...]], ...]:
    """Every ledger account and platform row the services write: equal before and after
    a refusal, since a refusal changes nothing."""
    tables = (
        "accounts",
        "transfers",
        "pending_transfers",
        "failed_transfers",
        "payments",
        "refunds",
        "holds",
        "p2p_transfers",
        "mandates",
        "customers",
        "merchants",
    )
    with platform.read() as fetch:
        return tuple(sorted(fetch(f"SELECT * FROM {table}", ())) for table in tables)
