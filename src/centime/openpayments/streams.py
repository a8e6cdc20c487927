"""Web Monetization streams: many tiny outgoing payments without a ledger write each.

A site with ``<link rel="monetization" href="{merchant wallet address}">`` is paid by the
visitor's wallet every few seconds while the page is visible: an outgoing payment from
``incomingPayment`` + ``debitAmount`` under a budget grant (``debitAmount`` per interval,
an hour say). Each such payment to a merchant, under a grant with a ``debitAmount`` limit,
is a stream payment:

- the first one reserves the rest of the grant's budget for the interval (at most what the
  customer holds) as a metered hold: a pending ledger transfer (centime.platform.payments.holds);
- each payment then only accrues: its outgoing payment row, the incoming payment's
  ``receivedAmount``, the stream's ``accrued`` (database rows, no ledger transfer): the money
  is already reserved for the merchant, so it cannot be spent twice;
- the stream is settled (the hold captured for what accrued: one payment with its fee, the
  rest released) after ``SETTLE_PAYMENTS`` payments, when the reserve cannot cover the next
  payment (then a new reserve is made), and by :func:`settle_idle_streams` once it has been
  idle ``IDLE_S`` or its hold nears expiry (a worker job runs it).

So 1,000 payments cost a few ledger transfers instead of 2,000 (``centime bench
open-payments`` measures it). Every step runs inside the outgoing payment's write unit, so
a stream payment and its accrual happen together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from centime.clock import NS_PER_S
from centime.ledger.units import UnitContext
from centime.platform import payments
from centime.platform.context import Operation, Platform
from centime.platform.errors import Code, Refusal
from centime.platform.ids import derive_id
from centime.platform.parties import active_customer, active_merchant
from centime.platform.payments import (
    AUTHORIZE_EVENTS_MAX,
    CAPTURE_EVENTS_MAX,
    RELEASE_EVENTS_MAX,
    authorize_hold,
    capture_hold,
    release_hold,
)

from . import table

__all__ = [
    "IDLE_S",
    "SETTLE_INTERVAL_S",
    "SETTLE_PAYMENTS",
    "STREAM_EVENTS_MAX",
    "Stream",
    "accrue",
    "settle_idle_streams",
]

SETTLE_PAYMENTS: Final = 500
IDLE_S: Final = 60
SETTLE_INTERVAL_S: Final = 10  # how often the worker's job looks for idle streams
HOLD_S: Final = 24 * 3600
SETTLE_BEFORE_EXPIRY_S: Final = 600
SETTLE_BATCH_MAX: Final = 100


@dataclass(frozen=True, slots=True)
class Stream:
    grant_id: str
    merchant_id: int
    customer_id: int
    asset: str
    hold_id: int
    reserved: int
    accrued: int
    payments: int
    expires_ns: int
    last_ns: int


_COLUMNS: Final = table.columns(Stream)


def _load(ctx: UnitContext, grant_id: str, merchant_id: int) -> Stream | None:
    rows = ctx.fetch(
        f"SELECT {_COLUMNS} FROM op_streams WHERE grant_id = ? AND merchant_id = ?",
        (grant_id, merchant_id),
    )
    return Stream(*rows[0]) if rows else None


def _settle(ctx: UnitContext, platform: Platform, stream: Stream) -> None:
    """Capture what accrued (release the reserve when nothing did) and forget the stream.

    A hold that lapsed before it was settled (the server was down past ``HOLD_S``) gave the
    money back to the customer: what accrued is then paid directly, and when even that is
    refused (the customer spent it meanwhile), the stream's payments are marked ``failed``
    and the incoming payments' ``receivedAmount`` goes back down: never money the merchant
    is told it received but does not have."""
    if stream.accrued > 0:
        result: Any = capture_hold(
            platform, payments.CaptureRequest(stream.hold_id, stream.accrued)
        ).unit(ctx)
        if isinstance(result, Refusal):
            late = derive_id("op-stream-late", stream.hold_id)
            late_payment = payments.PaymentRequest(
                stream.customer_id,
                stream.merchant_id,
                stream.asset,
                stream.accrued,
                late,
                "Web Monetization",
            )
            result = payments.create_payment(platform, late_payment).unit(ctx)
        if isinstance(result, Refusal):
            _fail(ctx, stream)
    else:
        release_hold(platform, stream.hold_id).unit(ctx)  # a lapsed one is released already
    ctx.execute(
        "DELETE FROM op_streams WHERE grant_id = ? AND merchant_id = ?",
        (stream.grant_id, stream.merchant_id),
    )


def _fail(ctx: UnitContext, stream: Stream) -> None:
    rows = ctx.fetch(
        "SELECT receiver, SUM(debit) FROM op_outgoing_payments WHERE ledger_kind = 'stream'"
        " AND ledger_id = ? AND failed = ? GROUP BY receiver",
        (stream.hold_id, False),
    )
    ctx.execute(
        "UPDATE op_outgoing_payments SET failed = ?, sent = 0 WHERE ledger_kind = 'stream'"
        " AND ledger_id = ?",
        (True, stream.hold_id),
    )
    for receiver, amount in rows:
        ctx.execute(
            "UPDATE op_incoming_payments SET received = received - ? WHERE id = ?",
            (int(amount), receiver),
        )


def _needs_settling(stream: Stream, amount: int, now_ns: int) -> bool:
    return (
        stream.reserved - stream.accrued < amount
        or stream.payments >= SETTLE_PAYMENTS
        or now_ns >= stream.expires_ns - SETTLE_BEFORE_EXPIRY_S * NS_PER_S
    )


def _available(ctx: UnitContext, customer_id: int, asset: str) -> int:
    from centime.platform.chart import AccountKind, account_id

    kinds = (AccountKind.CUSTOMER_RESTRICTED, AccountKind.CUSTOMER_WALLET)
    wanted = [account_id(kind, customer_id, asset) for kind in kinds]
    return sum(account.available for account in ctx.accounts(wanted).values())


def accrue(
    ctx: UnitContext,
    platform: Platform,
    grant_id: str,
    customer_id: int,
    merchant_id: int,
    asset: str,
    amount: int,
    budget_left: int,
) -> int | Refusal:
    """Accrue ``amount`` on the grant's stream to the merchant (reserving ``budget_left`` of
    the grant's budget first when needed); the hold that carries it."""
    for party in (active_customer(ctx, customer_id), active_merchant(ctx, merchant_id)):
        if isinstance(party, Refusal):  # frozen or closed since the reserve was made
            return party
    stream = _load(ctx, grant_id, merchant_id)
    settling = stream is not None and _needs_settling(stream, amount, ctx.now_ns)
    if stream is None or settling:
        # Checked before anything is written: a refused payment settles nothing early.
        freed = stream.reserved - stream.accrued if stream is not None else 0
        reserve = min(budget_left, _available(ctx, customer_id, asset) + freed)
        if reserve < amount:
            return Refusal(Code.INSUFFICIENT_FUNDS, "the wallet's balance is short")
    if stream is not None and settling:
        _settle(ctx, platform, stream)
        stream = None
    if stream is None:
        hold_id = derive_id("op-stream", grant_id, merchant_id, ctx.now_ns)
        reserving = payments.HoldRequest(
            customer_id, merchant_id, asset, reserve, hold_id, HOLD_S, "Web Monetization"
        )
        hold: Any = authorize_hold(platform, reserving).unit(ctx)
        if isinstance(hold, Refusal):
            return hold
        stream = Stream(
            grant_id,
            merchant_id,
            customer_id,
            asset,
            hold.id,
            reserve,
            0,
            0,
            hold.expires_at_ns,
            ctx.now_ns,
        )
        table.insert(ctx, "op_streams", stream)
    ctx.execute(
        "UPDATE op_streams SET accrued = accrued + ?, payments = payments + 1, last_ns = ?"
        " WHERE grant_id = ? AND merchant_id = ?",
        (amount, ctx.now_ns, grant_id, merchant_id),
    )
    return stream.hold_id


# a capture or a late payment (two legs, the fee, two accounts) and a new reserve: bounded
STREAM_EVENTS_MAX: Final = (
    max(CAPTURE_EVENTS_MAX + payments.PAYMENT_EVENTS_MAX, RELEASE_EVENTS_MAX) + AUTHORIZE_EVENTS_MAX
)


def settle_idle_streams(
    platform: Platform, limit: int = SETTLE_BATCH_MAX, idle_s: int = IDLE_S
) -> int:
    """Settle streams idle for ``idle_s`` or whose hold nears its expiry (the background
    loop runs it; ``idle_s=0`` settles every stream); how many were settled."""
    now_ns = platform.clock.now_ns()
    with platform.read() as fetch:
        rows = fetch(
            f"SELECT {_COLUMNS} FROM op_streams WHERE last_ns <= ? OR expires_ns <= ?"
            " ORDER BY last_ns LIMIT ?",
            (now_ns - idle_s * NS_PER_S, now_ns + SETTLE_BEFORE_EXPIRY_S * NS_PER_S, limit),
        )
    settled = 0
    for row in rows:
        stream = Stream(*row)

        def unit(ctx: UnitContext, stream: Stream = stream) -> bool:
            current = _load(ctx, stream.grant_id, stream.merchant_id)
            if current is None or current.hold_id != stream.hold_id:
                return False  # settled meanwhile by a payment
            _settle(ctx, platform, current)
            return True

        settled += int(platform.execute(Operation(unit, STREAM_EVENTS_MAX)))
    return settled
