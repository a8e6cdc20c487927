"""The promotions budget: the operator funds it, bonuses, discounts and referral rewards
spend it, and nothing spends more than it holds.

The PROMOTIONS account (one per asset, centime.platform.chart) never goes below zero (the
ledger's ``debits_must_not_exceed_credits``); every service that pays from it reads its
available balance inside its unit and pays only what is there (a top-up's bonus is skipped,
a discount or a reward is refused or left for later), so the ledger's limit is a backstop,
never the control. Funding is money the operator brings from outside (its own bank): one
ledger transfer FUNDING_CLEARING -> PROMOTIONS, with an id derived from the funding's id, so
a retried request funds once.
"""

from __future__ import annotations

import enum
from typing import Final

from centime.ledger import CreateTransferStatus, Transfer
from centime.ledger.units import UnitContext

from ..chart import OPERATOR, AccountKind, account_for, account_id, ensure_accounts
from ..checks import check_amount
from ..context import Operation, Platform
from ..errors import Code, Refusal
from ..ids import derive_id, new_id, valid_id

__all__ = [
    "BudgetCode",
    "Funding",
    "fund_promotions",
    "promotions_available",
    "promotions_balance",
]


class BudgetCode(enum.IntEnum):
    """The ledger ``code`` of the transfers of the promotions budget (300-399)."""

    FUND = 300  # FUNDING_CLEARING -> PROMOTIONS: the operator's money arrives
    TOPUP_BONUS = 310  # PROMOTIONS -> CUSTOMER_WALLET
    TOPUP_BONUS_CLAWBACK = 311  # CUSTOMER_WALLET -> PROMOTIONS: a charged-back top-up's bonus
    REFERRAL_REWARD = 320  # PROMOTIONS -> a customer's wallet or a merchant's earnings


_FUND_EVENTS_MAX: Final = 1 + 2  # the transfer, and the two accounts on first use


class Funding:
    __slots__ = ("amount", "asset", "available", "id")

    def __init__(self, funding_id: int, asset: str, amount: int, available: int) -> None:
        self.id = funding_id
        self.asset = asset
        self.amount = amount
        self.available = available


def promotions_available(ctx: UnitContext, asset: str) -> int:
    """What the promotions budget can still pay in ``asset`` (read inside a unit)."""
    promotions = account_id(AccountKind.PROMOTIONS, OPERATOR, asset)
    found = ctx.accounts([promotions])
    return found[promotions].available if promotions in found else 0


def fund_promotions(
    platform: Platform, asset: str, amount: int, funding_id: int | None = None
) -> Operation[Funding | Refusal]:
    """Add ``amount`` of the operator's money to the promotions budget."""
    refusal_in = check_amount(asset, amount)
    if refusal_in is None and funding_id is not None and not valid_id(funding_id):
        refusal_in = Refusal(Code.INVALID_REQUEST, "funding_id is a positive 63-bit integer")
    chosen = new_id() if funding_id is None else funding_id

    def unit(ctx: UnitContext) -> Funding | Refusal:
        if refusal_in is not None:
            return refusal_in
        clearing = account_for(AccountKind.FUNDING_CLEARING, OPERATOR, asset)
        promotions = account_for(AccountKind.PROMOTIONS, OPERATOR, asset)
        ensure_accounts(ctx, [clearing, promotions])
        transfer = Transfer(
            derive_id("promo-fund", chosen),
            clearing.id,
            promotions.id,
            amount,
            asset,
            int(BudgetCode.FUND),
            0,
            0,
            0,
            chosen,
        )
        status = ctx.create_transfers([transfer])[0]
        if status not in (CreateTransferStatus.CREATED, CreateTransferStatus.EXISTS):
            return Refusal(Code.INVALID_REQUEST, f"funding_id names another ({status.value})")
        return Funding(chosen, asset, amount, promotions_available(ctx, asset))

    return Operation(unit, _FUND_EVENTS_MAX)


def promotions_balance(platform: Platform, asset: str) -> int:
    """What the promotions budget holds in ``asset`` now."""
    promotions = account_id(AccountKind.PROMOTIONS, OPERATOR, asset)
    found = platform.ledger.lookup_accounts([promotions])
    return found[0].available if found else 0
