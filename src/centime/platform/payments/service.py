"""Payments: a customer pays a merchant, the platform's fee split off in the same chain.

A payment of ``amount`` (any amount down to one unit of the asset's scale) is one linked
chain of ledger transfers, applied whole or not at all:

1. customer restricted -> merchant available: the carrier-billed part (if any),
2. customer wallet -> merchant available: the rest (if any),
3. merchant available -> fee revenue: the fee (if any; :func:`fees.payment_fee`).

Restricted money is spent first: carrier-billed money may pay merchants but never be sent
or paid out, so spending it first keeps the sendable wallet for what only it can do. The
part paid from restricted money is recorded on the payment (``restricted_amount``), so that
a refund gives it back as restricted money (centime.platform.payments.refunds).

The unit reads the balances it decides on; units run one after another under the ledger's
clock lock, so what it reads cannot change before its chain applies, and the chain never
fails for lack of money: a shortfall is refused before anything is written (a ledger
failure would also mark the transfer ids failed for good). Transfer ids are derived from
the payment id, so a retried unit meets ``exists`` instead of paying twice; a payment id the
caller gives makes the whole request idempotent (the stored payment is answered).

A batch (:func:`create_payments_batch`) is one unit of up to ``BATCH_PAYMENTS_MAX``
payments to one merchant, each its own chain: one payment's refusal does not stop the
others. It reads the customers, the merchant, the mandates and the accounts of the whole
batch with one query each, submits every chain in one ledger call and writes every row
with one statement.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Final

from centime.ledger import CreateTransferStatus, Transfer
from centime.ledger.units import Overlap, UnitContext
from centime.limits import (
    ASSETS_MAX,
    BATCH_ASSET_EVENTS_MAX,
    BATCH_EVENTS_MAX,
    BATCH_PAYMENT_LEGS_MAX,
    BATCH_PAYMENTS_MAX,
    DESCRIPTION_LEN_MAX,
    REFERENCE_LEN_MAX,
    SQL_IN_CHUNK,
)
from centime.money import ASSETS

from ..chart import AccountKind, account_for, account_id, ensure_accounts
from ..checks import check_amount, check_text
from ..context import Operation, Platform
from ..errors import Code, Refusal
from ..events.outbox import emit_encoded, money
from ..events.webhooks import subscribed
from ..fees import payment_fee
from ..ids import derive_id, format_id, new_id, valid_id
from ..pages import Cursor, Page, given
from ..parties.service import Merchant, Status, active_merchant, merchant_fee
from ..pricing.evaluate import FeeTerms, fee_terms, month_of
from ..pricing.promos import (
    PROMO_CODE_LEN_MAX,
    PromoCode,
    Redemption,
    load_promo,
    record_redemption,
    redemption_refusal,
)
from ..pricing.rules import EMPTY_RULES, FeeSchedule, RuleSet
from ..pricing.store import GroupVolumes, active_rules, add_volumes, group_volumes, month_volumes
from ..rows import Table, frozen_maker
from .mandates import (
    Mandate,
    add_mandate_charges,
    charge_day,
    charge_under_mandate,
    group_charged,
    load_mandates,
    save_mandate_charges,
    utc_day,
)
from .requests import PaymentItem, PaymentRequest

__all__ = [
    "PAYMENT_EVENTS_MAX",
    "LedgerChainError",
    "Leg",
    "Payment",
    "check_amount",
    "check_text",
    "create_payment",
    "create_payments_batch",
    "customer_refusal",
    "get_payment",
    "list_payments",
    "load_payment",
    "record_payments",
    "require_created",
    "split_restricted_first",
]


class Leg(enum.IntEnum):
    """The ledger ``code`` of the transfers of payments, holds, refunds and transfers
    between customers (100-199; a post or void keeps its pending transfer's code)."""

    PAYMENT = 100  # customer (restricted or wallet) -> merchant available
    # merchant available -> fee revenue: the fees of the payments that name the transfer
    # (one per asset for a whole batch, one per hold capture)
    PAYMENT_FEE = 101
    # promotions -> merchant available: the discounts of promotion codes (one per asset)
    PAYMENT_DISCOUNT = 102
    HOLD = 110  # pending: customer -> merchant available
    REFUND = 120  # merchant available -> customer (restricted or wallet)
    REFUND_FEE = 121  # fee revenue -> merchant available: the fee a refund returns
    REFUND_DISCOUNT = 122  # merchant available -> promotions: a discount's share
    P2P = 130  # customer wallet -> customer wallet


LINKED: Final = 1

# Ledger events of a unit of payments: at most two legs per payment (restricted money, then
# wallet money), and per asset one fee transfer plus the two accounts it may create (the
# merchant's available earnings and the fee revenue, on their first use in the asset).
PAYMENT_LEGS_MAX: Final = BATCH_PAYMENT_LEGS_MAX
_PER_ASSET_EVENTS_MAX: Final = BATCH_ASSET_EVENTS_MAX
PAYMENT_EVENTS_MAX: Final = PAYMENT_LEGS_MAX + _PER_ASSET_EVENTS_MAX
# A unit's events are bounded by its distinct assets, at most every known one (ASSETS_MAX,
# which centime.money enforces): the limits' formula must keep that within one unit's most.
if PAYMENT_LEGS_MAX * BATCH_PAYMENTS_MAX + _PER_ASSET_EVENTS_MAX * ASSETS_MAX > BATCH_EVENTS_MAX:
    raise RuntimeError("limits.BATCH_PAYMENTS_MAX no longer fits one unit: lower it")


class LedgerChainError(RuntimeError):
    """The ledger refused a chain the unit had checked would apply: a bug. The unit's work
    is rolled back (the engine answers it with this error) and nothing is written."""


@dataclass(frozen=True, slots=True)
class Payment:
    id: int
    customer_id: int
    merchant_id: int
    asset: str
    amount: int
    fee: int
    restricted_amount: int  # the part paid from carrier-billed money
    refunded: int
    fee_refunded: int
    restricted_refunded: int
    description: str | None
    reference: str | None
    hold_id: int | None  # the hold whose capture made it
    mandate_id: int | None  # the consent a merchant charged under
    created_ns: int
    # The ledger transfers that carried the payment: its restricted part, its wallet part,
    # its fee (None: no such part). A unit's payments travel together: one transfer per
    # paying account and one fee transfer per asset, each the exact sum of the parts of
    # the payments that name it.
    fee_transfer_id: int | None = None
    restricted_transfer_id: int | None = None
    wallet_transfer_id: int | None = None
    # What priced it (centime.platform.pricing): the rule set's version (0: none published),
    # the fee rule applied, and a promotion code's discount paid by the promotions budget
    # (the customer paid ``amount - discount``; a refund gives the discount's share back).
    pricing_version: int | None = None
    fee_rule: str | None = None
    discount: int = 0
    discount_refunded: int = 0
    promo_code_id: int | None = None

    @property
    def refundable(self) -> int:
        return self.amount - self.refunded


_PAYMENTS: Final = Table(Payment, "payments")
# Payment(*every field) for a batch's payments: thousands per unit, on the writer's thread.
_new_payment: Final = frozen_maker(Payment)


# ------------------------------------------------------------------ pure decisions


def _check_item(item: PaymentItem) -> Refusal | None:
    return (
        check_amount(item.asset, item.amount)
        or check_text("description", item.description, DESCRIPTION_LEN_MAX)
        or check_text("reference", item.reference, REFERENCE_LEN_MAX)
    )


def split_restricted_first(
    amount: int, restricted_available: int, wallet_available: int
) -> tuple[int, int] | None:
    """(from restricted, from wallet) paying ``amount`` restricted money first, or None
    when both together are short."""
    restricted = min(amount, max(restricted_available, 0))
    wallet = amount - restricted
    return None if wallet > wallet_available else (restricted, wallet)


def customer_refusal(status: Status | None) -> Refusal | None:
    """Why a customer in ``status`` (None: there is none) cannot pay."""
    if status is None:
        return Refusal(Code.CUSTOMER_NOT_FOUND, "no such customer")
    if status is Status.FROZEN:
        return Refusal(Code.CUSTOMER_FROZEN, "the customer's account is frozen")
    if status is Status.CLOSED:
        return Refusal(Code.CUSTOMER_CLOSED, "the customer's account is closed")
    return None


# ------------------------------------------------------------------ inside units


def require_created(statuses: Sequence[CreateTransferStatus], what: str) -> None:
    """Raise when the ledger did not apply every transfer the unit checked it would."""
    bad = [s for s in statuses if s is not CreateTransferStatus.CREATED]
    if bad:
        raise LedgerChainError(f"{what}: the ledger answered {bad[0].value}")


def load_payment(ctx: UnitContext, payment_id: int) -> Payment | None:
    return _PAYMENTS.load(ctx.fetch, payment_id)


def record_payments(
    ctx: UnitContext,
    payments: Sequence[Payment],
    rows: Sequence[tuple[Any, ...]] | None = None,
) -> None:
    """Insert the payments' rows (one statement; ``rows``: their values, when the caller
    made the payments from them), and their ``payment.created`` events when their merchant
    listens (one more statement)."""
    if payments:
        values = [_PAYMENTS.values(p) for p in payments] if rows is None else rows
        ctx.executemany(_PAYMENTS.insert_sql, values)
        by_merchant: dict[int, list[Payment]] = {}
        for p in payments:
            by_merchant.setdefault(p.merchant_id, []).append(p)
        for merchant_id, paid in by_merchant.items():
            if subscribed(ctx, merchant_id, "payment.created"):
                emit_encoded(ctx, "payment.created", merchant_id, _created_events(paid))


def _created_events(payments: Sequence[Payment]) -> list[str]:
    """The ``payment.created`` data of each payment, encoded directly (the batch path):
    the same object as :func:`payment_event` gives, keys sorted. Ids repeated in a batch
    (the merchant, customers, mandates) are formatted once."""
    names: dict[tuple[str, int | None], str] = {}

    def name(prefix: str, value: int | None) -> str:
        text = names.get((prefix, value))
        if text is None:
            text = names[prefix, value] = (
                "null" if value is None else f'"{format_id(prefix, value)}"'
            )
        return text

    texts = []
    for p in payments:
        asset = ASSETS[p.asset]
        tail = f',"asset":"{asset.code}","scale":{asset.scale}}}'
        texts.append(
            f'{{"amount":{{"value":"{p.amount}"{tail},"customer_id":{name("cus", p.customer_id)}'
            f',"fee":{{"value":"{p.fee}"{tail},"hold_id":{name("hold", p.hold_id)}'
            f',"id":"{format_id("pay", p.id)}","mandate_id":{name("man", p.mandate_id)}'
            f',"merchant_id":{name("mer", p.merchant_id)}'
            f',"reference":{"null" if p.reference is None else json.dumps(p.reference)}'
            f',"refunded":{{"value":"{p.refunded}"{tail}}}'
        )
    return texts


def payment_event(p: Payment) -> dict[str, object]:
    """What a payment's events say of it: ids as public strings, money as integer strings."""
    asset = ASSETS[p.asset]
    return {
        "id": format_id("pay", p.id),
        "customer_id": format_id("cus", p.customer_id),
        "merchant_id": format_id("mer", p.merchant_id),
        "amount": money(p.amount, asset),
        "fee": money(p.fee, asset),
        "refunded": money(p.refunded, asset),
        "reference": p.reference,
        "mandate_id": None if p.mandate_id is None else format_id("man", p.mandate_id),
        "hold_id": None if p.hold_id is None else format_id("hold", p.hold_id),
    }


def _in_chunks(ctx: UnitContext, sql: str, ids: Collection[int]) -> list[tuple[Any, ...]]:
    """``sql`` with ``{marks}`` for an IN list, run over ``ids`` in SQL_IN_CHUNK pieces."""
    ordered = sorted(ids)
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(ordered), SQL_IN_CHUNK):
        chunk = ordered[start : start + SQL_IN_CHUNK]
        rows.extend(ctx.fetch(sql.format(marks=",".join("?" * len(chunk))), chunk))
    return rows


def _customer_statuses(ctx: UnitContext, customer_ids: Collection[int]) -> dict[int, Status]:
    sql = "SELECT id, status FROM customers WHERE id IN ({marks})"
    return {row[0]: Status(row[1]) for row in _in_chunks(ctx, sql, customer_ids)}


def _stored_payments(ctx: UnitContext, payment_ids: Collection[int]) -> dict[int, Payment]:
    if not payment_ids:
        return {}
    sql = f"SELECT {_PAYMENTS.columns} FROM payments WHERE id IN ({{marks}})"
    return {row[0]: _PAYMENTS.read(row) for row in _in_chunks(ctx, sql, payment_ids)}


_PAYMENT_CODE: Final = int(Leg.PAYMENT)
_FEE_CODE: Final = int(Leg.PAYMENT_FEE)
_DISCOUNT_CODE: Final = int(Leg.PAYMENT_DISCOUNT)


class _Batch:
    """The working state of one batch unit: balances as the batch's earlier payments left
    them, the mandates' day totals, and the transfers and rows to write.

    The unit's payments move money together, as one linked chain: one transfer per paying
    account (a customer's restricted or wallet account) for the sum of what the unit's
    payments take from it, and one fee transfer per asset. Each transfer is named after the
    first payment it carries (so a lone payment's transfers are ``derive_id("pay", id,
    "wallet")`` and so on) and each payment row names the transfers that carried its parts.
    A merchant metering usage sends many payments per customer in a batch: the ledger then
    writes a row per customer rather than per payment, which is what makes the batch fast,
    while every payment keeps its own row, fee and refunds. Every payment is checked against
    the balances as the payments before it left them, so the chain applies; the ledger's own
    checks (wallets never negative) still guard it, and should it refuse, the unit raises
    and nothing of it is written.

    Account ids are derived once per (customer, asset) and per asset, not per payment: a
    derivation is a hash, and the batch is benchmarked."""

    def __init__(self, ctx: UnitContext, merchant: Merchant) -> None:
        self.ctx = ctx
        self.now_ns = ctx.now_ns
        self.merchant_id = merchant.id
        self.day = utc_day(ctx.now_ns)
        self.available: dict[int, int] = {}  # account id -> what it can still pay
        self.customer_accounts: dict[tuple[int, str], tuple[int, int]] = {}  # restricted, wallet
        self.asset_accounts: dict[str, tuple[int, int]] = {}  # merchant available, fee revenue
        # Pricing: the rule set in force, the merchant's own fee per asset, the fee terms of
        # an asset no schedule covers (None: look the tier up per payment), and the month's
        # volume per asset as the batch's payments grow it (the tier of each payment is
        # chosen by the volume before it).
        self.rules: RuleSet = EMPTY_RULES
        self.month = month_of(ctx.now_ns)
        self.own_fees: dict[str, tuple[int, int]] = {}
        self.flat_terms: dict[str, FeeTerms | None] = {}
        # A scheduled asset's schedule and its terms per tier as met (a payment's terms
        # depend on the volume only through the tier it falls in).
        self.tiers: dict[str, tuple[FeeSchedule, dict[int, FeeTerms]]] = {}
        self.volume_before: dict[str, int] = {}
        self.volume: dict[str, int] = {}
        # In a group overlapping other processes': the merchant's volumes as the group
        # shares them, settled at its end (None: read and written in the unit).
        self.group_volumes: GroupVolumes | None = None
        # Promotion codes named by the unit's payments, what the promotions account can
        # still pay per asset, the discounts' transfer per asset and their sum.
        self.promos: dict[str, PromoCode | None] = {}
        self.promotions_available: dict[str, int] = {}
        self.discount_transfer: dict[str, int] = {}
        self.discount_total: dict[str, int] = {}
        self.redemptions: list[tuple[Redemption, int, int]] = []
        self.spent: dict[int, int] = {}  # mandate id -> its new day total
        self.spent_day: dict[int, int] = {}  # mandate id -> the day it counts on (charge_day)
        self.spent_start: dict[int, int] = {}  # mandate id -> its day total as read
        # What the payers' decisions assumed of their balances (read unlocked in a group
        # overlapping other processes'): per paying account, the available as read, the
        # least and the most it may have been (None: no bound) for every split and refusal
        # to come out the same, and the accounts whose exact available mattered.
        self.seen: dict[int, int] = {}
        self.low: dict[int, int] = {}
        self.high: dict[int, int] = {}
        self.pinned: set[int] = set()
        # Paying account id -> [transfer id, amount, asset] of the transfer carrying it.
        self.legs: dict[int, list[Any]] = {}
        self.payments: list[Payment] = []
        self.rows: list[tuple[Any, ...]] = []  # the payments' rows (their values, in order)
        # Per asset: the id of the transfer carrying the batch's fees, and their sum. The
        # fee account is touched once per batch, not once per payment (DESIGN.md: hot
        # accounts are updated once per batch); each payment row names that transfer.
        self.fee_transfer: dict[str, int] = {}
        self.fee_total: dict[str, int] = {}

    def mandate_spent(
        self, item: PaymentItem, mandates: dict[int, Mandate]
    ) -> int | Refusal | None:
        """The day total of the mandate the item names once it is paid (None: none named)."""
        mandate_id = item.mandate_id
        if mandate_id is None:
            return None
        mandate = mandates.get(mandate_id)
        spent_before = self.spent.get(mandate_id)
        if spent_before is None:
            day = charge_day(self.ctx, mandate, self.day)
            self.spent_day[mandate_id] = day
            spent_before = mandate.spent_on(day) if mandate is not None else 0
            if self.ctx.overlapping:  # the earlier units' charges, added at the group's end
                spent_before += group_charged(self.ctx, mandate_id, day)
            self.spent_start[mandate_id] = spent_before
        return charge_under_mandate(
            mandate, item.customer_id, self.merchant_id, item.asset, item.amount, spent_before
        )

    def pay(
        self,
        item: PaymentItem,
        payment_id: int,
        charged_by_merchant: bool,
        mandates: dict[int, Mandate],
    ) -> Payment | Refusal:
        if charged_by_merchant and item.mandate_id is None:
            return Refusal(Code.MANDATE_NOT_FOUND, "a merchant charges only under a mandate")
        spent = self.mandate_spent(item, mandates)
        if isinstance(spent, Refusal):
            return spent
        asset, amount = item.asset, item.amount
        redemption = None if item.promo_code is None else self.redeem(item)
        if isinstance(redemption, Refusal):
            return redemption
        discount = 0 if redemption is None else redemption.discount
        restricted_id, wallet_id = self.customer_accounts[item.customer_id, asset]
        available = self.available
        split = split_restricted_first(
            amount - discount, available.get(restricted_id, 0), available.get(wallet_id, 0)
        )
        if split is None:
            self.pinned.update((restricted_id, wallet_id))
            return Refusal(Code.INSUFFICIENT_FUNDS, "the customer's balance is short")
        self._assume(restricted_id, wallet_id, amount - discount, split)
        if item.mandate_id is not None and spent is not None:
            self.spent[item.mandate_id] = spent
        restricted, wallet = split
        fee, terms = self._priced(asset, amount)
        if redemption is not None:
            self._book_discount(redemption, asset, payment_id, item.customer_id)
        restricted_transfer_id = self._spend(
            restricted_id, restricted, asset, payment_id, "restricted"
        )
        wallet_transfer_id = self._spend(wallet_id, wallet, asset, payment_id, "wallet")
        fee_transfer_id = self._book_fee(fee, asset, payment_id) if fee else None
        row = (
            payment_id,
            item.customer_id,
            self.merchant_id,
            asset,
            amount,
            fee,
            restricted,
            0,
            0,
            0,
            item.description,
            item.reference,
            None,
            item.mandate_id,
            self.now_ns,
            fee_transfer_id,
            restricted_transfer_id,
            wallet_transfer_id,
            self.rules.version,
            terms.rule,
            discount,
            0,
            None if redemption is None else redemption.code.id,
        )
        payment = _new_payment(*row)
        self.rows.append(row)  # its row: written as it is
        self.payments.append(payment)
        return payment

    def _priced(self, asset: str, amount: int) -> tuple[int, FeeTerms]:
        """The fee on ``amount`` and the terms it was priced by, at the merchant's volume so
        far (which the payment then adds to)."""
        volume = self.volume.get(asset, 0)
        terms = self.flat_terms[asset] or self._scheduled_terms(asset, volume)
        if self.group_volumes is not None and self.flat_terms[asset] is None:
            self.group_volumes.priced.append((asset, volume, terms, self._terms_at(asset)))
        self.volume[asset] = volume + amount
        return payment_fee(amount, terms.fee_bp, terms.fee_fixed), terms

    def _assume(self, restricted_id: int, wallet_id: int, due: int, split: tuple[int, int]) -> None:
        """Note what the split of ``due`` into ``split`` (restricted, wallet) assumed of the
        payer's balances, as the unit read them, before its parts are taken: the wallet had
        at least what the unit took from it so far plus this part; restricted money, all
        of ``due`` (at least what was taken plus ``due``), none (at most what was taken), or
        exactly what it had (a part of ``due``)."""
        restricted, wallet = split
        taken = self.seen.get(restricted_id, 0) - self.available.get(restricted_id, 0)
        if due and restricted == due:
            self.low[restricted_id] = taken + due
        elif due and restricted == 0:
            self.high[restricted_id] = min(self.high.get(restricted_id, taken), taken)
        elif due:
            self.pinned.add(restricted_id)
        taken = self.seen.get(wallet_id, 0) - self.available.get(wallet_id, 0)
        self.low[wallet_id] = taken + wallet  # grows with every payment

    def state_assumptions(self) -> None:
        """Tell the group the range of each payer's available the unit's decisions hold
        for (centime.ledger.rebase): an account whose exact available mattered stays bound
        to it."""
        for account in self.seen:
            if account not in self.pinned:
                self.ctx.bound_available(account, self.low.get(account), self.high.get(account))

    def _scheduled_terms(self, asset: str, volume: int) -> FeeTerms:
        """``fee_terms`` of a payment in a scheduled ``asset`` at ``volume``, made once per
        tier."""
        schedule, by_tier = self.tiers[asset]
        index = schedule.tier_index(max(volume, 0))
        terms = by_tier.get(index)
        if terms is None:
            own = self.own_fees[asset]
            terms = by_tier[index] = fee_terms(self.rules, self.merchant_id, asset, volume, own)
        return terms

    def _terms_at(self, asset: str) -> Callable[[int], object]:
        """The fee terms of a payment in ``asset`` at another month volume."""
        rules, merchant_id, own = self.rules, self.merchant_id, self.own_fees[asset]
        return lambda volume: fee_terms(rules, merchant_id, asset, volume, own)

    def _spend(self, account: int, part: int, asset: str, payment_id: int, name: str) -> int | None:
        """``part`` of the account's available money carried to the merchant (None: none)."""
        if not part:
            return None
        self.available[account] -= part
        return self._carry(account, part, asset, payment_id, name)

    def _book_discount(
        self, redemption: Redemption, asset: str, payment_id: int, customer_id: int
    ) -> None:
        """The promotions budget pays the discount: one transfer per asset in the unit."""
        discount = redemption.discount
        self.promotions_available[asset] -= discount
        if asset not in self.discount_transfer:
            self.discount_transfer[asset] = derive_id("pay", payment_id, "discount")
        self.discount_total[asset] = self.discount_total.get(asset, 0) + discount
        self.redemptions.append((redemption, payment_id, customer_id))

    def _book_fee(self, fee: int, asset: str, payment_id: int) -> int:
        """The fee joins the unit's fee transfer of its asset (named after the batch's
        first payment with a fee): its id."""
        fee_transfer_id = self.fee_transfer.get(asset)
        if fee_transfer_id is None:
            fee_transfer_id = derive_id("pay", payment_id, "fees")
            self.fee_transfer[asset] = fee_transfer_id
        self.fee_total[asset] = self.fee_total.get(asset, 0) + fee
        return fee_transfer_id

    def redeem(self, item: PaymentItem) -> Redemption | Refusal:
        """The discount of the item's promotion code, if it applies and the promotions
        budget can pay it (checked against what the unit's earlier discounts left)."""
        promo = self.promos.get(item.promo_code or "")
        found = redemption_refusal(self.ctx, promo, item.customer_id, item.asset, item.amount)
        if isinstance(found, Refusal):
            return found
        if self.promotions_available.get(item.asset, 0) < found.discount:
            return Refusal(Code.PROMOTIONS_BUDGET_SPENT, "the promotions budget is spent")
        return found

    def _carry(self, account: int, part: int, asset: str, payment_id: int, name: str) -> int:
        """Add ``part`` to the transfer from ``account``; that transfer's id."""
        leg = self.legs.get(account)
        if leg is None:
            leg = self.legs[account] = [derive_id("pay", payment_id, name), 0, asset]
        leg[1] += part
        transfer_id: int = leg[0]
        return transfer_id

    def chain(self) -> list[Transfer]:
        """The unit's transfers as one linked chain: the payments', then the fees'.
        ``user_data`` is the merchant on all of them (the payments name the transfers)."""
        merchant_id = self.merchant_id
        transfers = [
            Transfer(
                transfer_id,
                account,
                self.asset_accounts[asset][0],
                amount,
                asset,
                _PAYMENT_CODE,
                LINKED,
                0,
                0,
                merchant_id,
            )
            for account, (transfer_id, amount, asset) in self.legs.items()
        ]
        transfers += [
            Transfer(
                transfer_id,
                account_id(AccountKind.PROMOTIONS, 0, asset),
                self.asset_accounts[asset][0],
                self.discount_total[asset],
                asset,
                _DISCOUNT_CODE,
                LINKED,
                0,
                0,
                merchant_id,
            )
            for asset, transfer_id in sorted(self.discount_transfer.items())
        ]
        transfers += self.fee_transfers()
        if transfers:
            transfers[-1] = transfers[-1]._replace(flags=0)
        return transfers

    def fee_transfers(self) -> list[Transfer]:
        """One transfer per asset: the merchant's earnings pay the batch's fees. The
        payments credited the merchant with at least that much earlier in the chain (a fee
        never exceeds its payment), so it cannot fail for lack of funds."""
        return [
            Transfer(
                self.fee_transfer[asset],
                self.asset_accounts[asset][0],
                self.asset_accounts[asset][1],
                total,
                asset,
                _FEE_CODE,
                LINKED,
                0,
                0,
                self.merchant_id,
            )
            for asset, total in sorted(self.fee_total.items())
        ]


def _replayed(stored: Payment, item: PaymentItem, merchant_id: int) -> Payment | Refusal:
    """The stored payment when ``item`` asks for it again under its id (a retry)."""
    same = (stored.customer_id, stored.merchant_id, stored.asset, stored.amount) == (
        item.customer_id,
        merchant_id,
        item.asset,
        item.amount,
    )
    return stored if same else Refusal(Code.INVALID_REQUEST, "payment_id names another payment")


def _pay_all(
    ctx: UnitContext,
    platform: Platform,
    merchant_id: int,
    items: list[PaymentItem],
    payment_ids: list[int],
    refusals_in: list[Refusal | None],
    charged_by_merchant: bool,
) -> list[Payment | Refusal] | Refusal:
    merchant = active_merchant(ctx, merchant_id)
    if isinstance(merchant, Refusal):
        return merchant
    valid = [item for item, refusal in zip(items, refusals_in, strict=True) if refusal is None]
    customers = _customer_statuses(ctx, {item.customer_id for item in valid})
    mandates = load_mandates(ctx, {i.mandate_id for i in valid if i.mandate_id is not None})
    stored = _stored_payments(ctx, {i.payment_id for i in valid if i.payment_id is not None})
    batch = _Batch(ctx, merchant)
    assets = {item.asset for item in valid}
    batch.customer_accounts = {
        (c, a): (
            account_id(AccountKind.CUSTOMER_RESTRICTED, c, a),
            account_id(AccountKind.CUSTOMER_WALLET, c, a),
        )
        for c, a in {(item.customer_id, item.asset) for item in valid}
    }
    batch.asset_accounts = {
        a: (
            account_id(AccountKind.MERCHANT_AVAILABLE, merchant_id, a),
            account_id(AccountKind.FEE_REVENUE, 0, a),
        )
        for a in assets
    }
    # Every customer account of the batch in one read (unlocked in a group that overlaps
    # other processes': the decisions' assumptions are stated at the end).
    wanted = [i for pair in batch.customer_accounts.values() for i in pair]
    batch.available = {i: a.available for i, a in ctx.deferred_accounts(wanted).items()}
    batch.seen = dict(batch.available)
    _price(ctx, platform, batch, merchant, assets, valid)
    results: list[Payment | Refusal] = []
    seen: set[int] = set()
    for item, payment_id, refusal_in in zip(items, payment_ids, refusals_in, strict=True):
        result: Payment | Refusal
        if refusal_in is not None:
            result = refusal_in
        elif payment_id in seen:
            result = Refusal(Code.INVALID_REQUEST, "payment_id repeated in the batch")
        elif payment_id in stored:
            result = _replayed(stored[payment_id], item, merchant_id)
        else:
            refusal = customer_refusal(customers.get(item.customer_id))
            result = refusal or batch.pay(item, payment_id, charged_by_merchant, mandates)
        seen.add(payment_id)
        results.append(result)
    if batch.payments:
        _write_paid(ctx, batch, merchant_id)
    batch.state_assumptions()
    return results


def _write_paid(ctx: UnitContext, batch: _Batch, merchant_id: int) -> None:
    """What the batch's payments write: their accounts, chain, rows, mandate charges,
    month volume and redemptions."""
    # Only now: a batch refused whole creates no account either.
    paid_assets = sorted({p.asset for p in batch.payments})
    ensure_accounts(
        ctx,
        [account_for(AccountKind.MERCHANT_AVAILABLE, merchant_id, a) for a in paid_assets]
        + [account_for(AccountKind.FEE_REVENUE, 0, a) for a in paid_assets],
    )
    require_created(ctx.create_transfers(batch.chain()), "payments")
    record_payments(ctx, batch.payments, batch.rows)
    _charge_mandates(ctx, batch)
    added = {a: v - batch.volume_before.get(a, 0) for a, v in batch.volume.items()}
    if batch.group_volumes is not None:
        batch.group_volumes.add(added)
    else:
        add_volumes(ctx, merchant_id, batch.month, batch.volume_before, added)
    for redemption, payment_id, customer_id in batch.redemptions:
        record_redemption(ctx, redemption, payment_id, customer_id)


def _charge_mandates(ctx: UnitContext, batch: _Batch) -> None:
    """Count the batch's charges on their mandates: added at the group's end, under each
    limit as stored then, in a group that overlaps other processes'; written whole in one
    that runs alone (nobody else writes the rows meanwhile)."""
    if ctx.overlapping:
        charged = {
            m: (spent - batch.spent_start[m], batch.spent_day[m])
            for m, spent in batch.spent.items()
        }
        add_mandate_charges(ctx, charged)
    else:
        totals = {m: (spent, batch.spent_day[m]) for m, spent in batch.spent.items()}
        save_mandate_charges(ctx, totals)


def _price(
    ctx: UnitContext,
    platform: Platform,
    batch: _Batch,
    merchant: Merchant,
    assets: set[str],
    valid: list[PaymentItem],
) -> None:
    """Load what prices the unit's payments: the rule set in force, the merchant's month
    volumes, its own fees, the promotion codes named and the promotions budget."""
    rules = batch.rules = active_rules(ctx)
    if ctx.overlapping:
        batch.group_volumes = group_volumes(ctx, merchant.id, batch.month)
        batch.volume_before = batch.group_volumes.volumes()
    else:
        batch.volume_before = month_volumes(ctx, merchant.id, batch.month)
    batch.volume = dict(batch.volume_before)
    for asset in assets:
        own = batch.own_fees[asset] = merchant_fee(platform, merchant, asset)
        # As fee_terms chooses: the merchant's schedule, else the default one.
        schedule = rules.merchant_fees.get((merchant.id, asset))
        if schedule is None:
            schedule = rules.default_fees.get(asset)
        if schedule is None:
            batch.flat_terms[asset] = FeeTerms(own[0], own[1], "merchant_fee")
        else:
            batch.tiers[asset] = (schedule, {})
            batch.flat_terms[asset] = None
    codes = {item.promo_code for item in valid if item.promo_code is not None}
    if codes:
        batch.promos = {code: load_promo(ctx, code) for code in sorted(codes)}
        wanted = {account_id(AccountKind.PROMOTIONS, 0, a): a for a in assets}
        found = ctx.accounts(list(wanted))
        batch.promotions_available = {
            asset: found[i].available if i in found else 0 for i, asset in wanted.items()
        }


def check_payment(item: PaymentItem) -> Refusal | None:
    """Why the payment cannot be made whoever pays, or None (its ids, amount and texts)."""
    return _check_ids(item) or _check_item(item)


def _check_ids(item: PaymentItem) -> Refusal | None:
    if not valid_id(item.customer_id):
        return Refusal(Code.CUSTOMER_NOT_FOUND, "no such customer")
    if item.payment_id is not None and not valid_id(item.payment_id):
        return Refusal(Code.INVALID_REQUEST, "payment_id is a positive 63-bit integer")
    if item.mandate_id is not None and not valid_id(item.mandate_id):
        return Refusal(Code.MANDATE_NOT_FOUND, "no such mandate")
    code = item.promo_code
    if code is not None and (type(code) is not str or len(code) > PROMO_CODE_LEN_MAX):
        return Refusal(Code.PROMO_CODE_INVALID, "no such promotion code")
    return None


def _batch_operation(
    merchant_id: int,
    items: Sequence[PaymentItem],
    charged_by_merchant: bool,
    platform: Platform,
    risk_refusals: Sequence[Refusal | None] | None = None,
) -> Operation[list[Payment | Refusal] | Refusal]:
    items = list(items)
    if not 1 <= len(items) <= BATCH_PAYMENTS_MAX:
        refusal = Refusal(Code.INVALID_REQUEST, f"a batch holds 1..{BATCH_PAYMENTS_MAX} payments")
        return Operation(lambda ctx: refusal, 0)
    if not valid_id(merchant_id):
        return Operation(lambda ctx: Refusal(Code.MERCHANT_NOT_FOUND, "no such merchant"), 0)
    refusals_in: list[Refusal | None] = []
    for item in items:
        if type(item) is not PaymentItem:
            refusals_in.append(Refusal(Code.INVALID_REQUEST, "not a payment"))
        else:
            refusals_in.append(check_payment(item))
    if risk_refusals is not None:  # what the risk screen did not allow (centime.usecases.batch)
        if len(risk_refusals) != len(items):
            raise ValueError("one risk refusal (or None) per item")
        refusals_in = [mine or risk for mine, risk in zip(refusals_in, risk_refusals, strict=True)]
    payment_ids = [
        item.payment_id if type(item) is PaymentItem and item.payment_id is not None else new_id()
        for item in items
    ]
    # At most two transfers per paying customer and asset (restricted, wallet), however many
    # payments it makes: a tight bound lets several units share a group commit.
    if len(items) > 1:  # a code's per-customer count is read per unit: one payment each
        refusals_in = [
            r
            or (
                Refusal(Code.INVALID_REQUEST, "promotion codes are for single payments")
                if type(i) is PaymentItem and i.promo_code is not None
                else None
            )
            for i, r in zip(items, refusals_in, strict=True)
        ]
    valid = [i for i, r in zip(items, refusals_in, strict=True) if r is None]
    assets = {i.asset for i in valid}
    payers = {(i.customer_id, i.asset) for i in valid}
    discounts = sum(1 for i in valid if i.promo_code is not None)  # one transfer each at most
    events_max = PAYMENT_LEGS_MAX * len(payers) + _PER_ASSET_EVENTS_MAX * len(assets) + discounts

    def unit(ctx: UnitContext) -> list[Payment | Refusal] | Refusal:
        return _pay_all(
            ctx, platform, merchant_id, items, payment_ids, refusals_in, charged_by_merchant
        )

    return Operation(unit, events_max, _overlap(merchant_id, payers, assets, discounts > 0))


def _overlap(
    merchant_id: int, payers: set[tuple[int, str]], assets: set[str], promotions: bool
) -> Overlap:
    """What lets a payment unit overlap other processes' groups (PostgreSQL).

    Locked first: the promotions budget when a code is named. Every other row the unit
    checks is safe beside other writers: a mandate's day total is read unlocked and the
    group's charges are added at its end under the limit as stored then
    (``add_mandate_charges``: a charge can only grow it, so every refusal stands); the
    customer's and merchant's status, the mandates' terms, the rules and fees change only
    in units that run alone; a payment id or idempotency key is a key (a second insert is
    refused and the group runs again, finding the first); a promotion code's row is locked
    when read; the merchant's month volume is settled at the group's end
    (``GroupVolumes``). Deferred (read unlocked, locked before the timestamps and moved
    onto what other writers committed: centime.ledger.rebase): the payers' restricted and
    wallet accounts, whose balances the unit decides on within the bounds it states
    (``_Batch.state_assumptions``), and the merchant's available and the fee revenue
    accounts, which it only moves money through."""
    lock: set[int] = set()
    if promotions:
        lock |= {account_id(AccountKind.PROMOTIONS, 0, asset) for asset in assets}
    deferred = {
        account_id(kind, customer, asset)
        for customer, asset in payers
        for kind in (AccountKind.CUSTOMER_RESTRICTED, AccountKind.CUSTOMER_WALLET)
    }
    deferred |= {account_id(AccountKind.MERCHANT_AVAILABLE, merchant_id, a) for a in assets}
    deferred |= {account_id(AccountKind.FEE_REVENUE, 0, a) for a in assets}
    return Overlap(frozenset(lock), frozenset(deferred))


# ------------------------------------------------------------------ operations


def create_payment(platform: Platform, request: PaymentRequest) -> Operation[Payment | Refusal]:
    """The customer pays the merchant ``amount`` (restricted money first).

    ``charged_by_merchant``: the request comes from the merchant (its API key), not from the
    customer; it must then name an active mandate of the customer to the merchant in the
    asset with room for the amount today. A mandate named by a customer's own payment is
    checked and counted as well. A second request with the same ``payment_id`` answers the
    stored payment (or INVALID_REQUEST when it names a different one). ``promo_code``: a
    promotion code whose discount the promotions budget pays (centime.platform.pricing.promos).
    """
    item = request.item
    refusal_in = check_payment(item)
    if refusal_in is not None:  # bad input: answered without a query
        return Operation(lambda ctx: refusal_in, 0)

    def one(
        ctx: UnitContext, unit: Callable[[UnitContext], list[Payment | Refusal] | Refusal]
    ) -> Payment | Refusal:
        result = unit(ctx)
        return result if isinstance(result, Refusal) else result[0]

    merchant_id, charged_by_merchant = request.merchant_id, request.charged_by_merchant
    return _batch_operation(merchant_id, [item], charged_by_merchant, platform).then(one)


def create_payments_batch(
    platform: Platform,
    merchant_id: int,
    items: Sequence[PaymentItem],
    *,
    charged_by_merchant: bool = True,
    risk_refusals: Sequence[Refusal | None] | None = None,
) -> Operation[list[Payment | Refusal] | Refusal]:
    """Up to ``BATCH_PAYMENTS_MAX`` payments to one merchant in one unit, with one result
    per item, in order: its Payment or its Refusal (each payment is its own chain, so one
    refusal does not stop the others). The whole batch is refused when the merchant cannot
    be paid or the batch is empty or too large.

    Batches are a merchant's tool (metered usage), so by default each payment must name a
    mandate (``charged_by_merchant``); the operator acting for customers may pass False.
    ``risk_refusals`` (one per item, None where the risk screen allowed it): those items are
    answered that refusal, unpaid.
    """
    return _batch_operation(merchant_id, items, charged_by_merchant, platform, risk_refusals)


# ------------------------------------------------------------------ reads


def get_payment(
    platform: Platform,
    payment_id: int,
    merchant_id: int | None = None,
    customer_id: int | None = None,
) -> Payment | None:
    """The payment, or None (also when it is not the given merchant's or customer's)."""
    owners = given(merchant_id=merchant_id, customer_id=customer_id)
    return _PAYMENTS.by_id(platform, payment_id, owners)


def list_payments(
    platform: Platform,
    merchant_id: int | None = None,
    customer_id: int | None = None,
    cursor: Cursor | None = None,
    limit: int = 100,
) -> Page[Payment]:
    """Payments newest first, to a merchant and/or of a customer (neither: all of them,
    the operator's view; that one has no index of its own and sorts the table)."""
    filters = given(merchant_id=merchant_id, customer_id=customer_id)
    return _PAYMENTS.page(platform, filters, cursor, limit)
