"""The chart of accounts: which ledger accounts exist, per asset, and what each holds.

Operator accounts exist once per asset; every customer has a wallet and a restricted
balance per asset, every merchant an available and a reserved earnings account per asset.
Account ids are derived from (kind, owner, asset), so any service can name an account
without looking it up, and creating one twice answers ``exists``. Accounts are created on
first use, inside the operation that first needs them (:func:`ensure_accounts`).

Signs, as the platform sees them: a credit-normal account (wallets, earnings, fee revenue)
is money the platform owes or has earned; funding clearing is debit-normal (money a provider
owes the platform until it settles). ``code`` on every account is its kind; ``user_data`` is
the owner's id (0 for operator accounts).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Final

from centime.ledger import Account, AccountFlags, CreateAccountStatus
from centime.ledger.units import UnitContext

from .ids import derive_id

__all__ = [
    "ENSURE_EVENTS_MAX",
    "OPERATOR",
    "AccountKind",
    "AccountsNotCreatedError",
    "account_for",
    "account_id",
    "customer_accounts",
    "ensure_accounts",
    "merchant_accounts",
    "operator_accounts",
]

OPERATOR: Final = 0  # the owner id of the operator's own accounts


class AccountKind(enum.IntEnum):
    """The ledger ``code`` of each kind of account."""

    # Operator accounts, one per asset.
    FUNDING_CLEARING = 1  # debited when a provider's money arrives for a customer
    FEE_REVENUE = 2  # platform fees
    PROMOTIONS = 3  # the promotions budget: bonuses and referral rewards
    PAYOUT_CLEARING = 4  # earnings on their way to a merchant's bank
    CHARGEBACK_LOSSES = 5  # what a chargeback took that the customer no longer had
    # Money the risk screen holds for review: pending transfers into it reserve a payer's
    # money until an analyst decides (centime.platform.review.service); it never holds posted money.
    RISK_HELD = 6
    # Per customer.
    CUSTOMER_WALLET = 10  # spendable, sendable
    CUSTOMER_RESTRICTED = 11  # carrier-billed money until the carrier settles it
    # Per merchant.
    MERCHANT_AVAILABLE = 20  # earnings that can be paid out or refunded
    MERCHANT_RESERVED = 21  # earnings held back for refunds and chargebacks


_OPERATOR_KINDS: Final = (
    AccountKind.FUNDING_CLEARING,
    AccountKind.FEE_REVENUE,
    AccountKind.PROMOTIONS,
    AccountKind.PAYOUT_CLEARING,
    AccountKind.CHARGEBACK_LOSSES,
)
_CUSTOMER_KINDS: Final = (AccountKind.CUSTOMER_WALLET, AccountKind.CUSTOMER_RESTRICTED)
_MERCHANT_KINDS: Final = (AccountKind.MERCHANT_AVAILABLE, AccountKind.MERCHANT_RESERVED)

_NEVER_NEGATIVE: Final = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
_NEVER_NEGATIVE_WITH_HISTORY: Final = _NEVER_NEGATIVE | int(AccountFlags.HISTORY)
# Accounts that may run either way (clearing, losses) have no balance limit.
# HISTORY (a balance row after every transfer) is kept where transfers are few and the
# balance over time is worth a query: the operator's accounts, merchants' reserves. Not on
# wallets and earnings: every micropayment touches two of those, and their rows made a batch
# of payments 1.2x slower (measured side by side, 8 runs of 2727 payments); a wallet's or
# earnings' history is its transfers (and payments), which the ledger keeps anyway.
_FLAGS: Final = {
    AccountKind.FUNDING_CLEARING: int(AccountFlags.HISTORY),
    AccountKind.FEE_REVENUE: _NEVER_NEGATIVE_WITH_HISTORY,
    AccountKind.PROMOTIONS: _NEVER_NEGATIVE_WITH_HISTORY,
    AccountKind.PAYOUT_CLEARING: int(AccountFlags.HISTORY),
    AccountKind.CHARGEBACK_LOSSES: int(AccountFlags.HISTORY),
    AccountKind.RISK_HELD: int(AccountFlags.HISTORY),
    AccountKind.CUSTOMER_WALLET: _NEVER_NEGATIVE,
    AccountKind.CUSTOMER_RESTRICTED: _NEVER_NEGATIVE,
    AccountKind.MERCHANT_AVAILABLE: _NEVER_NEGATIVE,
    AccountKind.MERCHANT_RESERVED: _NEVER_NEGATIVE_WITH_HISTORY,
}


class AccountsNotCreatedError(RuntimeError):
    """The ledger refused to create a chart account (a derived id collided): a bug."""


def account_id(kind: AccountKind, owner_id: int, asset: str) -> int:
    return derive_id("acct", int(kind), owner_id, asset)


def account_for(kind: AccountKind, owner_id: int, asset: str) -> Account:
    """The account as it is created (balances zero)."""
    return Account(account_id(kind, owner_id, asset), asset, int(kind), _FLAGS[kind], owner_id)


def operator_accounts(asset: str) -> list[Account]:
    return [account_for(kind, OPERATOR, asset) for kind in _OPERATOR_KINDS]


def customer_accounts(customer_id: int, asset: str) -> list[Account]:
    return [account_for(kind, customer_id, asset) for kind in _CUSTOMER_KINDS]


def merchant_accounts(merchant_id: int, asset: str) -> list[Account]:
    return [account_for(kind, merchant_id, asset) for kind in _MERCHANT_KINDS]


# The most accounts one operation creates: the operator's, a customer's and a merchant's (a
# payment in an asset none of them used before). Units add it to their declared events.
ENSURE_EVENTS_MAX: Final = len(_OPERATOR_KINDS) + len(_CUSTOMER_KINDS) + len(_MERCHANT_KINDS)


def ensure_accounts(ctx: UnitContext, wanted: Iterable[Account]) -> None:
    """Create, in this unit, whichever of ``wanted`` do not exist yet."""
    wanted = list(wanted)
    existing = ctx.existing_accounts([a.id for a in wanted])
    missing = [a for a in wanted if a.id not in existing]
    if not missing:
        return
    for account, status in zip(missing, ctx.create_accounts(missing), strict=True):
        if status is not CreateAccountStatus.CREATED:
            raise AccountsNotCreatedError(f"account {account.id}: {status.value}")
