"""Payment links and spending budgets: how customers pay merchants from a hosted page.

A payment link is a merchant's fixed price for something (an amount, a description), single
use (an invoice: used once paid) or multi use (a price tag). Paying one is ONE unit: the link
is checked and counted, and the payment (:func:`centime.platform.payments.service.create_payment`,
restricted money first) is made, or neither.

A spending budget lets a customer pay a merchant in one click (the "Pay 0.05" button of a
pay-per-article site) without confirming each time: the customer approves up to ``amount``
for ``timeout_s``, which authorizes a metered hold (:mod:`centime.platform.payments.holds`) of that
amount. Each click adds its price to the budget's ``used`` (refused past the hold's amount
or once it lapsed); settling captures ``used`` from the hold (a payment to the merchant, its
fee taken) and releases the rest, or releases all of it when nothing was used. Budgets are
settled when the customer closes them, and by :func:`settle_due_budgets` (the server's
background loop) before their hold lapses, so the merchant is paid for what was used.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Final

from centime.ledger.units import UnitContext
from centime.limits import DESCRIPTION_LEN_MAX

from ..context import Operation, Platform
from ..errors import Code, Refusal
from ..ids import new_id, random_id, valid_id
from ..pages import Cursor, Page
from ..parties.service import active_merchant
from ..rows import Table
from .holds import (
    CAPTURE_EVENTS_MAX,
    RELEASE_EVENTS_MAX,
    Hold,
    authorize_hold,
    capture_hold,
    release_hold,
)
from .requests import CaptureRequest, HoldRequest, PaymentRequest
from .service import Payment, check_amount, create_payment

__all__ = [
    "BUDGET_SETTLE_AHEAD_S",
    "Budget",
    "Link",
    "LinkStatus",
    "approve_budget",
    "create_link",
    "disable_link",
    "get_link",
    "list_budgets",
    "list_links",
    "open_budget",
    "pay_link",
    "settle_budget",
    "settle_due_budgets",
    "spend_budget",
]

NS_PER_S: Final = 1_000_000_000
BUDGET_SETTLE_AHEAD_S: Final = 120  # settle a budget this long before its hold lapses
BUDGETS_SETTLED_PER_CALL_MAX: Final = 100


class LinkStatus(enum.Enum):
    ACTIVE = "active"
    USED = "used"  # a single-use link that was paid
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class Link:
    """A merchant's fixed price (``amount`` of ``asset`` for ``description``) that anyone
    with the link pays, once (``single_use``: an invoice) or any number of times."""

    id: int
    merchant_id: int
    asset: str
    amount: int
    description: str
    single_use: bool
    status: LinkStatus
    paid_count: int
    created_ns: int


@dataclass(frozen=True, slots=True)
class Budget:
    id: int  # the hold's id
    customer_id: int
    merchant_id: int
    asset: str
    amount: int
    used: int
    uses: int
    status: str  # open, settled
    expires_at_ns: int
    created_ns: int

    @property
    def left(self) -> int:
        return self.amount - self.used


_LINKS: Final = Table(Link, "payment_links")


_BUDGETS: Final = Table(Budget, "pay_budgets")


# ------------------------------------------------------------------ payment links


def create_link(
    platform: Platform,
    merchant_id: int,
    asset: str,
    amount: int,
    description: str,
    single_use: bool = False,
) -> Operation[Link | Refusal]:
    refusal = check_amount(asset, amount)
    if refusal is None and (
        type(description) is not str
        or not description.strip()
        or len(description) > DESCRIPTION_LEN_MAX
    ):
        refusal = Refusal(
            Code.INVALID_REQUEST, f"description must be 1-{DESCRIPTION_LEN_MAX} characters"
        )
    link_id = random_id()  # its public URL: not to be guessed from another link

    def unit(ctx: UnitContext) -> Link | Refusal:
        merchant = refusal or active_merchant(ctx, merchant_id)
        if isinstance(merchant, Refusal):
            return merchant
        link = Link(
            link_id,
            merchant_id,
            asset,
            amount,
            description.strip(),
            bool(single_use),
            LinkStatus.ACTIVE,
            0,
            ctx.now_ns,
        )
        _LINKS.insert(ctx, link)
        return link

    return Operation(unit, 0)


def _load_link(ctx: UnitContext, link_id: int) -> Link | None:
    return _LINKS.load(ctx.fetch, link_id)


def disable_link(platform: Platform, link_id: int, merchant_id: int) -> Operation[Link | Refusal]:
    def unit(ctx: UnitContext) -> Link | Refusal:
        link = _load_link(ctx, link_id)
        if link is None or link.merchant_id != merchant_id:
            return Refusal(Code.LINK_NOT_FOUND, "no such payment link")
        if link.status is LinkStatus.ACTIVE:
            ctx.execute("UPDATE payment_links SET status = 'disabled' WHERE id = ?", (link_id,))
        return _load_link(ctx, link_id) or Refusal(Code.LINK_NOT_FOUND, "gone")

    return Operation(unit, 0)


def pay_link(
    platform: Platform, link_id: int, customer_id: int, payment_id: int | None = None
) -> Operation[Payment | Refusal]:
    """The customer pays the link's price, in one unit with the link's count (a single-use
    link becomes ``used``). ``payment_id`` makes a retry answer the stored payment."""
    if not valid_id(link_id):
        return Operation(lambda ctx: Refusal(Code.LINK_NOT_FOUND, "no such payment link"), 0)
    pay_id = payment_id or new_id()

    def unit(ctx: UnitContext) -> Payment | Refusal:
        link = _load_link(ctx, link_id)
        if link is None:
            return Refusal(Code.LINK_NOT_FOUND, "no such payment link")
        if link.status is not LinkStatus.ACTIVE:
            replay = ctx.fetch(
                "SELECT 1 FROM payments WHERE id = ? AND customer_id = ?", (pay_id, customer_id)
            )
            if not replay:
                return Refusal(Code.LINK_INACTIVE, f"this payment link is {link.status.value}")
        request = PaymentRequest(
            customer_id,
            link.merchant_id,
            link.asset,
            link.amount,
            pay_id,
            description=link.description,
            reference=f"link:{link.id}",
        )
        paid = create_payment(platform, request).unit(ctx)
        if isinstance(paid, Refusal) or paid.created_ns != ctx.now_ns:
            return paid  # refused, or a retry answered with the stored payment
        status = LinkStatus.USED if link.single_use else LinkStatus.ACTIVE
        ctx.execute(
            "UPDATE payment_links SET paid_count = paid_count + 1, status = ? WHERE id = ?",
            (status.value, link.id),
        )
        return paid

    # A single payment's event bound (its legs, its fee, accounts it may create).
    return Operation(unit, create_payment(platform, PaymentRequest(1, 1, "USD", 1)).events_max)


def get_link(platform: Platform, link_id: int) -> Link | None:
    return _LINKS.by_id(platform, link_id)


def list_links(
    platform: Platform, merchant_id: int, cursor: Cursor | None = None, limit: int = 50
) -> Page[Link]:
    filters = [("merchant_id", merchant_id)]
    return _LINKS.page(platform, filters, cursor, limit)


# ------------------------------------------------------------------ spending budgets


def approve_budget(
    platform: Platform,
    customer_id: int,
    merchant_id: int,
    asset: str,
    amount: int,
    timeout_s: int,
) -> Operation[Budget | Refusal]:
    """The customer approves spending up to ``amount`` at the merchant for ``timeout_s``:
    one unit authorizes the hold and records the budget."""
    budget_id = new_id()
    reserving = HoldRequest(
        customer_id,
        merchant_id,
        asset,
        amount,
        budget_id,
        timeout_s,
        "spending budget (one-click payments)",
    )
    hold_op = authorize_hold(platform, reserving)

    def unit(ctx: UnitContext) -> Budget | Refusal:
        hold = hold_op.unit(ctx)
        if isinstance(hold, Refusal):
            return hold
        budget = Budget(
            budget_id,
            customer_id,
            merchant_id,
            asset,
            amount,
            0,
            0,
            "open",
            hold.expires_at_ns,
            ctx.now_ns,
        )
        _BUDGETS.insert(ctx, budget)
        return budget

    return Operation(unit, hold_op.events_max)


def spend_budget(
    platform: Platform, customer_id: int, merchant_id: int, asset: str, amount: int
) -> Operation[Budget | Refusal]:
    """One click: ``amount`` more of the customer's open budget at the merchant (the one
    with most left). No ledger event: the money is already reserved by the hold; it moves
    when the budget is settled."""
    refusal = check_amount(asset, amount)
    margin_ns = BUDGET_SETTLE_AHEAD_S * NS_PER_S

    def unit(ctx: UnitContext) -> Budget | Refusal:
        if refusal is not None:
            return refusal
        rows = ctx.fetch(
            f"SELECT {_BUDGETS.columns} FROM pay_budgets WHERE customer_id = ?"
            " AND merchant_id = ? AND asset = ? AND status = 'open' AND expires_at_ns > ?"
            " ORDER BY amount - used DESC LIMIT 1",
            (customer_id, merchant_id, asset, ctx.now_ns + margin_ns),
        )
        if not rows:
            return Refusal(Code.BUDGET_NOT_FOUND, "no open spending budget at this merchant")
        budget = _BUDGETS.read(rows[0])
        if amount > budget.left:
            return Refusal(Code.BUDGET_EXCEEDED, "the spending budget has not enough left")
        ctx.execute(
            "UPDATE pay_budgets SET used = used + ?, uses = uses + 1 WHERE id = ?",
            (amount, budget.id),
        )
        return Budget(
            budget.id,
            customer_id,
            merchant_id,
            asset,
            budget.amount,
            budget.used + amount,
            budget.uses + 1,
            "open",
            budget.expires_at_ns,
            budget.created_ns,
        )

    return Operation(unit, 0)


def open_budget(
    platform: Platform, customer_id: int, merchant_id: int, asset: str
) -> Budget | None:
    """The customer's open budget at the merchant with most left (None: none)."""
    with platform.read() as fetch:
        rows = fetch(
            f"SELECT {_BUDGETS.columns} FROM pay_budgets WHERE customer_id = ?"
            " AND merchant_id = ? AND asset = ? AND status = 'open' AND expires_at_ns > ?"
            " ORDER BY amount - used DESC LIMIT 1",
            (
                customer_id,
                merchant_id,
                asset,
                platform.clock.now_ns() + BUDGET_SETTLE_AHEAD_S * NS_PER_S,
            ),
        )
    return _BUDGETS.read(rows[0]) if rows else None


def settle_budget(
    platform: Platform, budget_id: int, customer_id: int | None = None
) -> Operation[Budget | Refusal]:
    """Capture what the budget used (the merchant is paid, the rest released), or release
    the hold when nothing was used; one unit. ``customer_id`` given: only that customer's."""
    capture_ops: dict[int, Operation[Any]] = {}

    def unit(ctx: UnitContext) -> Budget | Refusal:
        budget = _BUDGETS.load(ctx.fetch, budget_id)
        if budget is None or (customer_id is not None and budget.customer_id != customer_id):
            return Refusal(Code.BUDGET_NOT_FOUND, "no such spending budget")
        if budget.status != "open":
            return budget
        if budget.used:
            op = capture_ops.setdefault(
                budget.used, capture_hold(platform, CaptureRequest(budget.id, budget.used))
            )
            outcome: Hold | Refusal | Any = op.unit(ctx)
        else:
            outcome = release_hold(platform, budget.id).unit(ctx)
        if isinstance(outcome, Refusal) and outcome.code is not Code.HOLD_NOT_AUTHORIZED:
            return outcome
        # HOLD_NOT_AUTHORIZED: the hold lapsed (its money went back to the customer): the
        # budget closes with nothing captured.
        ctx.execute("UPDATE pay_budgets SET status = 'settled' WHERE id = ?", (budget.id,))
        return Budget(
            budget.id,
            budget.customer_id,
            budget.merchant_id,
            budget.asset,
            budget.amount,
            budget.used,
            budget.uses,
            "settled",
            budget.expires_at_ns,
            budget.created_ns,
        )

    return Operation(unit, max(CAPTURE_EVENTS_MAX, RELEASE_EVENTS_MAX))


def settle_due_budgets(platform: Platform, limit: int = BUDGETS_SETTLED_PER_CALL_MAX) -> int:
    """Settle open budgets whose hold lapses within BUDGET_SETTLE_AHEAD_S (the background
    loop's task); how many were settled."""
    horizon = platform.clock.now_ns() + BUDGET_SETTLE_AHEAD_S * NS_PER_S
    with platform.read() as fetch:
        rows = fetch(
            "SELECT id FROM pay_budgets WHERE status = 'open' AND expires_at_ns <= ?"
            f" ORDER BY expires_at_ns LIMIT {max(1, min(limit, BUDGETS_SETTLED_PER_CALL_MAX))}",
            (horizon,),
        )
    settled = 0
    for (budget_id,) in rows:
        if isinstance(platform.execute(settle_budget(platform, int(budget_id))), Budget):
            settled += 1
    return settled


def list_budgets(platform: Platform, customer_id: int, limit: int = 20) -> list[Budget]:
    with platform.read() as fetch:
        rows = fetch(
            f"SELECT {_BUDGETS.columns} FROM pay_budgets WHERE customer_id = ?"
            f" ORDER BY created_ns DESC LIMIT {max(1, min(limit, 100))}",
            (customer_id,),
        )
    return [_BUDGETS.read(r) for r in rows]
