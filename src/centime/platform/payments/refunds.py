"""Refunds: a merchant gives back all or part of a payment, any number of times.

Never more than was paid in total (REFUND_EXCEEDS_PAYMENT), and only with money the
merchant has (INSUFFICIENT_FUNDS). One chain, applied whole or not at all:

1. fee revenue -> merchant available: the part of the fee this refund returns
   (:func:`fees.fee_returned`: the cumulative returned fee is the fee times the refunded
   share, rounded down, so it is exact over any sequence of partial refunds and whole at a
   full refund);
2. merchant available -> customer restricted: restricted first, up to what the payment
   took from restricted money and was not refunded yet, so that a refund can never turn
   carrier-billed money into sendable money;
3. merchant available -> customer wallet: the rest;
4. merchant available -> promotions: a promotion code's discount share (the promotions
   budget paid that part of the price, so it gets it back, not the customer), cumulative
   and rounded down exactly as the fee's share.

The payment row keeps the totals (``refunded``, ``fee_refunded``, ``restricted_refunded``)
and each refund has a row of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from centime.ledger import Account, Transfer
from centime.ledger.units import UnitContext
from centime.limits import DESCRIPTION_LEN_MAX
from centime.money import ASSETS

from ..chart import AccountKind, account_for, ensure_accounts
from ..context import Operation, Platform
from ..errors import Code, Refusal
from ..events.outbox import money
from ..events.webhooks import notify
from ..fees import fee_returned
from ..funding.topups import unsettled_carrier_amount
from ..ids import derive_id, format_id, valid_id
from ..pages import Cursor, Page, given
from ..parties.service import active_customer, active_merchant
from ..rows import Table
from .requests import RefundRequest
from .service import (
    LINKED,
    Leg,
    Payment,
    check_text,
    load_payment,
    payment_event,
    require_created,
)

__all__ = [
    "REFUND_EVENTS_MAX",
    "Refund",
    "get_refund",
    "list_refunds",
    "refund_payment",
    "refund_split",
]

# Three legs, plus the customer's two accounts should one be missing (it cannot be: the
# customer paid from them; ensuring them costs no event when they exist).
REFUND_EVENTS_MAX: Final = 4 + 2


@dataclass(frozen=True, slots=True)
class Refund:
    id: int
    payment_id: int
    customer_id: int
    merchant_id: int
    asset: str
    amount: int
    fee_returned: int  # the part of the payment's fee the platform gave back
    restricted_amount: int  # the part returned as restricted money
    reason: str | None
    created_ns: int


_REFUNDS: Final = Table(Refund, "refunds")


def refund_split(amount: int, restricted_amount: int, restricted_refunded: int) -> tuple[int, int]:
    """(to restricted, to wallet) of a refund of ``amount``: restricted first, up to what
    the payment took from restricted money less what refunds returned there already."""
    restricted = min(amount, max(restricted_amount - restricted_refunded, 0))
    return restricted, amount - restricted


def check_refund(request: RefundRequest) -> Refusal | None:
    """Why the refund cannot be made whatever the payment, or None."""
    amount = request.amount
    if not valid_id(request.refund_id):
        return Refusal(Code.INVALID_REQUEST, "refund_id is a positive 63-bit integer")
    if amount is not None and (type(amount) is not int or amount < 1):
        return Refusal(Code.INVALID_AMOUNT, "the amount must be a positive integer")
    return check_text("reason", request.reason, DESCRIPTION_LEN_MAX)


def refund_payment(platform: Platform, request: RefundRequest) -> Operation[Refund | Refusal]:
    """Refund ``amount`` of the payment (None: all that is not refunded yet); ``asset``
    given, the amount must be in the payment's asset (INVALID_AMOUNT otherwise).

    ``merchant_id`` given (a merchant's request): the payment must be that merchant's,
    otherwise PAYMENT_NOT_FOUND, exactly as for a payment that does not exist.
    A retry under the same ``refund_id`` answers the stored refund.
    """
    refusal_in = check_refund(request)
    payment_id, merchant_id, amount = request.payment_id, request.merchant_id, request.amount

    def unit(ctx: UnitContext) -> Refund | Refusal:
        if refusal_in is not None:
            return refusal_in
        payment = load_payment(ctx, payment_id) if valid_id(payment_id) else None
        if payment is None or (merchant_id is not None and payment.merchant_id != merchant_id):
            return Refusal(Code.PAYMENT_NOT_FOUND, "no such payment")
        if request.asset is not None and request.asset != payment.asset:
            return Refusal(Code.INVALID_AMOUNT, f"the payment is in {payment.asset}")
        stored = _REFUNDS.load(ctx.fetch, request.refund_id)
        if stored is not None:
            same = stored.payment_id == payment.id and amount in (None, stored.amount)
            return stored if same else Refusal(Code.INVALID_REQUEST, "refund_id names another")
        return _refund_in_unit(ctx, request.refund_id, payment, amount, request.reason)

    return Operation(unit, REFUND_EVENTS_MAX)


@dataclass(frozen=True, slots=True)
class _Parts:
    """Where a refund's money goes: ``wanted`` back from the merchant, ``fee_back`` of the
    fee back to it, ``discount_back`` to the promotions budget, the rest to the customer
    (``to_restricted`` + ``to_wallet``); ``restricted_share`` counts against the payment's
    restricted amount."""

    wanted: int
    fee_back: int
    discount_back: int
    restricted_share: int
    to_restricted: int
    to_wallet: int


def _refund_in_unit(
    ctx: UnitContext, refund_id: int, payment: Payment, amount: int | None, reason: str | None
) -> Refund | Refusal:
    remaining = payment.amount - payment.refunded
    wanted = remaining if amount is None else amount
    if wanted > remaining or wanted == 0:
        left = f"{ASSETS[payment.asset].format(remaining)} {payment.asset}"
        return Refusal(Code.REFUND_EXCEEDS_PAYMENT, f"{left} of the payment is refundable")
    merchant = active_merchant(ctx, payment.merchant_id)
    if isinstance(merchant, Refusal):
        return merchant
    customer = active_customer(ctx, payment.customer_id)
    if isinstance(customer, Refusal):
        return customer
    asset = payment.asset
    merchant_account = account_for(AccountKind.MERCHANT_AVAILABLE, merchant.id, asset)
    fee_account = account_for(AccountKind.FEE_REVENUE, 0, asset)
    restricted = account_for(AccountKind.CUSTOMER_RESTRICTED, customer.id, asset)
    wallet = account_for(AccountKind.CUSTOMER_WALLET, customer.id, asset)
    found = ctx.accounts([merchant_account.id, fee_account.id, restricted.id, wallet.id])
    parts = _parts(ctx, payment, wanted, found.get(restricted.id))
    held = found.get(merchant_account.id)
    if held is None or held.available + parts.fee_back < wanted:
        return Refusal(Code.INSUFFICIENT_FUNDS, "the merchant's available earnings are short")
    revenue = found.get(fee_account.id)
    if parts.fee_back and (revenue is None or revenue.available < parts.fee_back):
        # The operator took the fee revenue out meanwhile: an operator matter, not a bug.
        return Refusal(Code.INSUFFICIENT_FUNDS, "the platform's fee revenue is short")
    ensure_accounts(
        ctx,
        [a for a, part in ((restricted, parts.to_restricted), (wallet, parts.to_wallet)) if part],
    )
    promotions = account_for(AccountKind.PROMOTIONS, 0, asset)
    legs = [
        (name, debit, credit, part, code)
        for name, debit, credit, part, code in (
            ("fee", fee_account.id, merchant_account.id, parts.fee_back, Leg.REFUND_FEE),
            ("restricted", merchant_account.id, restricted.id, parts.to_restricted, Leg.REFUND),
            ("wallet", merchant_account.id, wallet.id, parts.to_wallet, Leg.REFUND),
            (
                "discount",
                merchant_account.id,
                promotions.id,
                parts.discount_back,
                Leg.REFUND_DISCOUNT,
            ),
        )
        if part > 0
    ]
    require_created(ctx.create_transfers(_transfers(refund_id, asset, legs)), "refund")
    refund = Refund(
        refund_id,
        payment.id,
        customer.id,
        merchant.id,
        asset,
        wanted,
        parts.fee_back,
        parts.to_restricted,
        reason,
        ctx.now_ns,
    )
    _record(ctx, refund, payment, parts)
    return refund


def _parts(
    ctx: UnitContext, payment: Payment, wanted: int, restricted_account: Account | None
) -> _Parts:
    fee_back = fee_returned(payment.fee, payment.amount, payment.refunded, wanted)
    # The promotions budget paid ``discount`` of the price: its share of this refund goes
    # back there (same cumulative rounding as the fee), the customer gets the rest.
    discount_back = fee_returned(payment.discount, payment.amount, payment.refunded, wanted)
    to_customer = wanted - discount_back
    # The payment's restricted share comes back first (restricted_refunded counts it), but
    # into the restricted balance only while the carrier has not settled that much: money
    # the carrier has paid for is the customer's to send, and kept restricted it would be
    # stuck there for good (settlement releases each top-up once).
    restricted_share, _ = refund_split(
        to_customer, payment.restricted_amount, payment.restricted_refunded
    )
    refill = _restricted_refill(ctx, payment.customer_id, payment.asset, restricted_account)
    to_restricted = min(restricted_share, refill)
    return _Parts(
        wanted,
        fee_back,
        discount_back,
        restricted_share,
        to_restricted,
        to_customer - to_restricted,
    )


def _transfers(
    refund_id: int, asset: str, legs: list[tuple[str, int, int, int, Leg]]
) -> list[Transfer]:
    """The refund's linked chain, one transfer per leg (name, debit, credit, part, code)."""
    return [
        Transfer(
            derive_id("ref", refund_id, name),
            debit,
            credit,
            part,
            asset,
            int(code),
            LINKED if index < len(legs) - 1 else 0,
            0,
            0,
            refund_id,  # user_data: the refund
        )
        for index, (name, debit, credit, part, code) in enumerate(legs)
    ]


def _record(ctx: UnitContext, refund: Refund, payment: Payment, parts: _Parts) -> None:
    """The payment's refunded amounts, the refund's row and its event, in the unit."""
    asset, wanted, fee_back = payment.asset, parts.wanted, parts.fee_back
    ctx.execute(
        "UPDATE payments SET refunded = ?, fee_refunded = ?, restricted_refunded = ?,"
        " discount_refunded = ? WHERE id = ?",
        (
            payment.refunded + wanted,
            payment.fee_refunded + fee_back,
            payment.restricted_refunded + parts.restricted_share,
            payment.discount_refunded + parts.discount_back,
            payment.id,
        ),
    )
    _REFUNDS.insert(ctx, refund)
    event = payment_event(payment)
    event["refunded"] = money(payment.refunded + wanted, ASSETS[asset])
    event["refund"] = {
        "id": format_id("ref", refund.id),
        "amount": money(wanted, ASSETS[asset]),
        "fee_returned": money(fee_back, ASSETS[asset]),
        "reason": refund.reason,
    }
    notify(ctx, "payment.refunded", refund.merchant_id, event)


def _restricted_refill(
    ctx: UnitContext, customer_id: int, asset: str, restricted: Account | None
) -> int:
    """How much the restricted balance may take back: unsettled carrier money less what the
    balance holds (pending holds included: they are restricted money still)."""
    held = 0 if restricted is None else restricted.credits_posted - restricted.debits_posted
    return max(0, unsettled_carrier_amount(ctx, customer_id, asset) - held)


# ------------------------------------------------------------------ reads


def get_refund(platform: Platform, refund_id: int, merchant_id: int | None = None) -> Refund | None:
    """The refund, or None (also when it is not the given merchant's)."""
    owners = given(merchant_id=merchant_id)
    return _REFUNDS.by_id(platform, refund_id, owners)


def list_refunds(
    platform: Platform,
    payment_id: int | None = None,
    merchant_id: int | None = None,
    cursor: Cursor | None = None,
    limit: int = 100,
) -> Page[Refund]:
    """Refunds newest first, of a payment and/or by a merchant."""
    filters = given(payment_id=payment_id, merchant_id=merchant_id)
    return _REFUNDS.page(platform, filters, cursor, limit)
