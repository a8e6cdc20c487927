"""Outgoing payments: a customer's wallet pays an incoming payment, under a grant.

One write unit does all of it, or nothing: the ledger chain that moves the money (a
payment to a merchant, centime.platform.payments.service, or a transfer to another customer,
centime.platform.payments.p2p, with their own checks), the outgoing payment row, the incoming
payment's ``received`` (and ``completed`` once it reaches ``incomingAmount``), the quote
marked used. Before it, outside the unit, the risk engine decides on the payment
(centime.platform.review.screening.gate records the decision in the same unit). Open Payments
has no way to wait for an analyst or a passkey: a decision to review or step up refuses
the payment (recorded as a block), and the customer can pay from the wallet instead.

The grant's limits are checked in the unit against what the grant's earlier payments spent
in the current repetition of its interval, so two concurrent payments cannot both pass.

Idempotent: the outgoing payment's id is derived from the request's signature, and the
ledger ids from it; the same signed request again (a retry, or a replay reaching another
process) meets the payment already made and is answered with it.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any, Final

from centime import usecases
from centime.ledger.units import UnitContext
from centime.platform import payments
from centime.platform.context import Operation, Platform
from centime.platform.errors import Refusal
from centime.platform.ids import derive_id
from centime.platform.payments import p2p
from centime.platform.review import InReview, gate
from centime.risk.types import Action, Decision

from . import table
from .access import Limits
from .addresses import Wallet
from .errors import OpError
from .grants import Grant
from .incoming import INCOMING, IncomingPayment
from .quotes import QUOTES, payable
from .streams import STREAM_EVENTS_MAX, accrue

__all__ = [
    "OUTGOING",
    "OutgoingPayment",
    "Spent",
    "grant_spent",
    "outgoing_id",
    "pay",
]


@dataclass(frozen=True, slots=True)
class OutgoingPayment(table.WalletResource):
    receiver: str  # the incoming payment's id
    quote_id: str | None
    debit: int
    receive: int
    sent: int
    failed: bool
    metadata: str | None
    grant_id: str
    client: str
    ledger_kind: str
    ledger_id: int
    created_ns: int


OUTGOING: Final = table.WalletTable("op_outgoing_payments", OutgoingPayment)


@dataclass(frozen=True, slots=True)
class Spent:
    debit: int
    receive: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """What the client asked to pay: a quote, or an incoming payment and an amount (named:
    the other fields are None)."""

    quote_id: str | None = None
    incoming_id: str | None = None
    debit: int | None = None


def outgoing_id(signature: str) -> str:
    """A payment's id from its request's signature (a replay names the same payment)."""
    digest = bytearray(hashlib.sha256(b"op-outgoing\x1f" + signature.encode()).digest()[:16])
    return str(uuid.UUID(bytes=bytes(digest), version=4))


def grant_spent(fetch: Any, grant_id: str, window: tuple[int, int] | None) -> Spent:
    sql = (
        "SELECT COALESCE(SUM(debit), 0), COALESCE(SUM(receive), 0) FROM op_outgoing_payments"
        " WHERE grant_id = ? AND failed = ?"
    )
    params: list[Any] = [grant_id, False]
    if window is not None:
        sql += " AND created_ns >= ? AND created_ns < ?"
        params += list(window)
    [(debit, receive)] = fetch(sql, tuple(params))
    return Spent(int(debit), int(receive))


def _within_limits(
    ctx: UnitContext,
    grant: Grant,
    limits: Limits,
    incoming: IncomingPayment,
    receiver_url: str,
    debit: int,
    receive: int,
) -> OpError | None:
    if limits.receiver is not None and limits.receiver != receiver_url:
        return OpError(403, "forbidden", "the grant pays another receiver")
    window = None
    if limits.interval is not None:
        window = limits.interval.window_ns(ctx.now_ns)
        if window is None:
            return OpError(403, "forbidden", "the grant's interval does not cover now")
    if limits.debit is None and limits.receive is None:
        return None
    spent = grant_spent(ctx.fetch, grant.id, window)
    if limits.debit is not None and spent.debit + debit > limits.debit:
        return OpError(403, "insufficient_grant", "above the grant's debitAmount limit")
    if limits.receive is not None and spent.receive + receive > limits.receive:
        return OpError(403, "insufficient_grant", "above the grant's receiveAmount limit")
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    """Everything a payment needs, resolved before the unit (named where it is made: eight
    fields, four of them strings)."""

    payment_id: str
    sender: Wallet
    grant: Grant
    limits: Limits
    source: Source
    receiver_url: str
    metadata: str | None
    client: str


def _resolve(ctx: UnitContext, order: Order) -> tuple[IncomingPayment, int, str | None] | OpError:
    """The incoming payment paid, the amount and the quote (checked: still binding)."""
    source, sender = order.source, order.sender
    if source.quote_id is not None:
        quote = QUOTES.load(ctx, source.quote_id)
        if quote is None or quote.wallet != sender:
            return OpError(400, "invalid_request", "no such quote for this wallet address")
        if quote.used or ctx.now_ns >= quote.expires_ns:
            return OpError(400, "invalid_request", "the quote expired or was used")
        incoming = INCOMING.load(ctx, quote.receiver)
        found = payable(incoming, sender, quote.receive, ctx.now_ns)
        return found if isinstance(found, OpError) else (_some(incoming), found, quote.id)
    incoming = INCOMING.load(ctx, source.incoming_id or "")
    found = payable(incoming, sender, source.debit, ctx.now_ns)
    return found if isinstance(found, OpError) else (_some(incoming), found, None)


def _some(incoming: IncomingPayment | None) -> IncomingPayment:
    if incoming is None:  # payable() refuses a missing one first
        raise RuntimeError("an incoming payment vanished")
    return incoming


def _move(
    ctx: UnitContext, platform: Platform, order: Order, incoming: IncomingPayment, amount: int
) -> tuple[str, int] | Refusal:
    """The ledger chain: a payment to a merchant or a transfer to a customer; a streamed
    payment (Web Monetization) accrues under its stream's reserve instead."""
    ledger_id = derive_id("op", order.payment_id)
    sender = order.sender
    limits = order.limits
    if (
        order.source.quote_id is None
        and incoming.party_kind == "merchant"
        and (limits.debit is not None)
    ):
        window = limits.interval.window_ns(ctx.now_ns) if limits.interval else None
        budget_left = limits.debit - grant_spent(ctx.fetch, order.grant.id, window).debit
        hold = accrue(
            ctx,
            platform,
            order.grant.id,
            sender.party_id,
            incoming.party_id,
            sender.asset,
            amount,
            budget_left,
        )
        return hold if isinstance(hold, Refusal) else ("stream", hold)
    # payer, payee, asset, amount: the same for a payment and a transfer
    movement = (sender.party_id, incoming.party_id, sender.asset, amount)
    if incoming.party_kind == "merchant":
        request = payments.PaymentRequest(*movement, ledger_id, "Open Payments", incoming.id)
        result: Any = payments.create_payment(platform, request).unit(ctx)
        return result if isinstance(result, Refusal) else ("payment", ledger_id)
    sent = payments.TransferRequest(*movement, ledger_id, "Open Payments")
    transfer = p2p.send(platform, sent).unit(ctx)
    return transfer if isinstance(transfer, Refusal) else ("transfer", ledger_id)


def _record(
    ctx: UnitContext,
    order: Order,
    incoming: IncomingPayment,
    amount: int,
    quote_id: str | None,
    moved: tuple[str, int],
) -> OutgoingPayment:
    sender = order.sender
    row = (
        order.payment_id,
        sender.kind,
        sender.party_id,
        sender.asset,
        incoming.id,
        quote_id,
        amount,
        amount,
        amount,
        False,
        order.metadata,
        order.grant.id,
        order.client,
        moved[0],
        moved[1],
        ctx.now_ns,
    )
    ctx.execute(table.insert_sql(OUTGOING.name, OutgoingPayment), row)
    received = incoming.received + amount
    done = incoming.incoming_amount is not None and received >= incoming.incoming_amount
    ctx.execute(
        "UPDATE op_incoming_payments SET received = ?, completed = ? WHERE id = ?",
        (received, done or incoming.completed, incoming.id),
    )
    if quote_id is not None:
        ctx.execute("UPDATE op_quotes SET used = ? WHERE id = ?", (True, quote_id))
    return table.from_row(OutgoingPayment, row)


def _operation(platform: Platform, order: Order) -> Operation[OutgoingPayment | OpError | Refusal]:
    def unit(ctx: UnitContext) -> OutgoingPayment | OpError | Refusal:
        made = OUTGOING.load(ctx, order.payment_id)
        if made is not None:
            return made  # the same signed request again: answered as made
        resolved = _resolve(ctx, order)
        if isinstance(resolved, OpError):
            return resolved
        incoming, amount, quote_id = resolved
        refused = _within_limits(
            ctx, order.grant, order.limits, incoming, order.receiver_url, amount, amount
        )
        if refused is not None:
            return refused
        moved = _move(ctx, platform, order, incoming, amount)
        if isinstance(moved, Refusal):
            return moved
        return _record(ctx, order, incoming, amount, quote_id, moved)

    return Operation(unit, max(payments.PAYMENT_EVENTS_MAX + 2, STREAM_EVENTS_MAX))


def pay(
    platform: Platform, order: Order, receiver: Wallet, amount_hint: int, decide: Any
) -> OutgoingPayment | OpError | Refusal | InReview:
    """Screen the payment, then run it (blocking: call off the event loop). ``decide``:
    ``centime.platform.review.decisions.decide`` (injected so tests can script the screen)."""
    ledger_id = derive_id("op", order.payment_id)
    sender, asset = order.sender.party_id, order.sender.asset
    request: usecases.PaymentRequest | usecases.TransferRequest = (
        usecases.PaymentRequest(
            sender, receiver.party_id, asset, amount_hint, ledger_id, "Open Payments"
        )
        if receiver.kind == "merchant"
        else usecases.TransferRequest(
            sender, receiver.party_id, asset, amount_hint, ledger_id, "Open Payments"
        )
    )
    event = usecases.risk_event(request, platform.clock.now_ns(), usecases.Origin())
    decision: Decision = decide(platform.screen, event)
    if decision.action in (Action.REVIEW, Action.STEP_UP):
        decision = decision._replace(action=Action.BLOCK)
    plan = usecases.review_plan(request)
    return platform.execute(gate(_operation(platform, order), event, decision, plan))
