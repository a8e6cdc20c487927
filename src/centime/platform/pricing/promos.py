"""Promotion codes: a discount on a payment, paid by the promotions budget.

The operator creates a code (``SPRING25``: 25% off, at most 1.00 a payment, 1 000 uses, 2 per
customer, a budget of 200.00, until a date). A customer's payment that names it pays
``amount - discount`` from its balances; the promotions budget pays the discount to the
merchant in the same linked chain, so the merchant receives the whole amount and pays its
fee on the whole amount (centime.platform.payments.service). The code's uses and spent budget and
a redemption row are written in the payment's unit.

Refusals (nothing changes): PROMO_CODE_INVALID (unknown, another asset, a payment below
its minimum), PROMO_CODE_EXPIRED, PROMO_CODE_USED_UP (its uses, the customer's uses, or its
budget), PROMOTIONS_BUDGET_SPENT (the promotions account cannot pay the discount).
A refund gives the discount's share back to the promotions budget
(centime.platform.payments.refunds).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from centime.ledger.units import UnitContext
from centime.limits import AMOUNT_MAX, PROMO_CODE_PATTERN, PROMO_PER_CUSTOMER_MAX, PROMO_USES_MAX
from centime.money import ASSETS

from ..context import Operation, Platform
from ..errors import Code, Refusal
from ..ids import new_id
from ..pages import Cursor, Page
from ..rows import Table
from .evaluate import PromoTerms, promo_discount
from .rules import BP_PER_WHOLE

__all__ = [
    "CODE_PATTERN",
    "PER_CUSTOMER_MAX",
    "PROMO_CODE_LEN_MAX",
    "PromoCode",
    "Redemption",
    "create_promo_code",
    "get_promo_code",
    "list_promo_codes",
    "load_promo",
    "normal_code",
    "record_redemption",
    "redemption_refusal",
]

PROMO_CODE_LEN_MAX: Final = 32
CODE_PATTERN: Final = PROMO_CODE_PATTERN
_CODE: Final = re.compile(CODE_PATTERN)
PER_CUSTOMER_MAX: Final = PROMO_PER_CUSTOMER_MAX
USES_MAX: Final = PROMO_USES_MAX


@dataclass(frozen=True, slots=True)
class PromoCode:
    id: int
    code: str  # upper case
    asset: str
    discount_bp: int
    discount_max: int
    min_amount: int
    uses_max: int
    per_customer_max: int
    budget: int
    expires_ns: int
    uses: int
    spent: int
    created_ns: int

    @property
    def terms(self) -> PromoTerms:
        return PromoTerms(self.discount_bp, self.discount_max, self.budget, self.spent)


@dataclass(frozen=True, slots=True)
class Redemption:
    code: PromoCode
    discount: int


_PROMOS: Final = Table(PromoCode, "promo_codes")


def normal_code(text: object) -> str | None:
    """The code in its stored form (upper case), or None when it cannot be one."""
    if type(text) is not str or not _CODE.fullmatch(text):
        return None
    return text.upper()


def _check(
    code: str | None, asset: str, discount_bp: int, amounts: Sequence[int], counts: Sequence[int]
) -> Refusal | None:
    if code is None:
        return Refusal(Code.INVALID_REQUEST, "code: 3-32 letters, digits, '_' or '-'")
    if asset not in ASSETS:
        return Refusal(Code.UNKNOWN_ASSET, f"unknown asset {asset!r}")
    if type(discount_bp) is not int or not 1 <= discount_bp <= BP_PER_WHOLE:
        # More than 100% would pay the customer to pay: money out of nothing.
        return Refusal(Code.PRICING_RULES_INVALID, "discount_bp: 1..10 000 (at most 100%)")
    if any(type(a) is not int or not 0 <= a <= AMOUNT_MAX for a in amounts):
        return Refusal(Code.INVALID_AMOUNT, "amounts are integers in 0..AMOUNT_MAX")
    if amounts[0] < 1 or amounts[2] < 1:
        return Refusal(Code.INVALID_AMOUNT, "discount_max and budget are positive")
    uses_max, per_customer_max = counts
    if type(uses_max) is not int or not 1 <= uses_max <= USES_MAX:
        return Refusal(Code.INVALID_REQUEST, f"uses_max: 1..{USES_MAX}")
    if type(per_customer_max) is not int or not 1 <= per_customer_max <= PER_CUSTOMER_MAX:
        return Refusal(Code.INVALID_REQUEST, f"per_customer_max: 1..{PER_CUSTOMER_MAX}")
    return None


def create_promo_code(
    platform: Platform,
    code: str,
    asset: str,
    discount_bp: int,
    discount_max: int,
    budget: int,
    expires_ns: int,
    uses_max: int,
    per_customer_max: int = 1,
    min_amount: int = 0,
) -> Operation[PromoCode | Refusal]:
    """A new code (the operator's). Refused when the text is taken (any case)."""
    normal = normal_code(code)
    refusal_in = _check(
        normal, asset, discount_bp, (discount_max, min_amount, budget), (uses_max, per_customer_max)
    )
    if refusal_in is None and (type(expires_ns) is not int or expires_ns < 0):
        refusal_in = Refusal(Code.INVALID_REQUEST, "expires_at is a time")
    promo_id = new_id()

    def unit(ctx: UnitContext) -> PromoCode | Refusal:
        if refusal_in is not None or normal is None:
            return refusal_in or Refusal(Code.INVALID_REQUEST, "code")
        if expires_ns <= ctx.now_ns:
            return Refusal(Code.INVALID_REQUEST, "expires_at is in the past")
        if ctx.fetch("SELECT id FROM promo_codes WHERE code = ?", (normal,)):
            return Refusal(Code.PROMO_CODE_TAKEN, f"the code {normal} exists")
        made = PromoCode(
            promo_id,
            normal,
            asset,
            discount_bp,
            discount_max,
            min_amount,
            uses_max,
            per_customer_max,
            budget,
            expires_ns,
            uses=0,
            spent=0,
            created_ns=ctx.now_ns,
        )
        _PROMOS.insert(ctx, made)
        return made

    return Operation(unit, 0)


def load_promo(ctx: UnitContext, code: str) -> PromoCode | None:
    """The code's row; locked until the commit in a group that overlaps other processes'
    (its uses and spending are read, checked and written back by the redemption)."""
    normal = normal_code(code)
    if normal is None:
        return None
    lock = " FOR UPDATE" if ctx.overlapping else ""
    sql = f"SELECT {_PROMOS.columns} FROM promo_codes WHERE code = ?{lock}"
    rows = ctx.fetch(sql, (normal,))
    return _PROMOS.read(rows[0]) if rows else None


def redemption_refusal(
    ctx: UnitContext, promo: PromoCode | None, customer_id: int, asset: str, amount: int
) -> Redemption | Refusal:
    """Whether ``promo`` applies to this payment, and its discount (read in the unit)."""
    if promo is None or promo.asset != asset:
        return Refusal(Code.PROMO_CODE_INVALID, "no such promotion code for this asset")
    if amount < promo.min_amount:
        return Refusal(Code.PROMO_CODE_INVALID, "the payment is below the code's minimum")
    if ctx.now_ns >= promo.expires_ns:
        return Refusal(Code.PROMO_CODE_EXPIRED, "the promotion code has expired")
    if promo.uses >= promo.uses_max:
        return Refusal(Code.PROMO_CODE_USED_UP, "the promotion code has no uses left")
    used = ctx.fetch(
        "SELECT COUNT(*) FROM promo_redemptions WHERE code_id = ? AND customer_id = ?",
        (promo.id, customer_id),
    )
    if int(used[0][0]) >= promo.per_customer_max:
        return Refusal(Code.PROMO_CODE_USED_UP, "the customer has used this code up")
    discount = promo_discount(promo.terms, amount)
    if discount <= 0:
        return Refusal(Code.PROMO_CODE_USED_UP, "the promotion code's budget is spent")
    return Redemption(promo, discount)


def record_redemption(
    ctx: UnitContext, redemption: Redemption, payment_id: int, customer_id: int
) -> None:
    promo = redemption.code
    ctx.execute(
        "UPDATE promo_codes SET uses = ?, spent = ? WHERE id = ?",
        (promo.uses + 1, promo.spent + redemption.discount, promo.id),
    )
    ctx.execute(
        "INSERT INTO promo_redemptions (payment_id, code_id, customer_id, discount, created_ns)"
        " VALUES (?, ?, ?, ?, ?)",
        (payment_id, promo.id, customer_id, redemption.discount, ctx.now_ns),
    )


def get_promo_code(platform: Platform, promo_id: int) -> PromoCode | None:
    return _PROMOS.by_id(platform, promo_id)


def list_promo_codes(
    platform: Platform, cursor: Cursor | None = None, limit: int = 100
) -> Page[PromoCode]:
    return _PROMOS.page(platform, [], cursor, limit)
