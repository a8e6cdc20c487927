"""Quotes: a binding offer to pay an incoming payment from a customer's wallet.

Between two centime wallets of the same asset nothing is converted and the sender pays no
fee: ``debitAmount == receiveAmount`` (a merchant's acceptance fee is taken from its
earnings under its own contract, as for every payment, after the incoming payment counted
the amount received). Another asset would need an exchange and is refused, as is a receiver
at another provider (centime.openpayments.outgoing). A quote binds until ``expiresAt``
(``QUOTE_TTL_S``, and never past the incoming payment's own expiry) and is used once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Final

from centime.clock import NS_PER_S
from centime.ledger.units import UnitContext
from centime.platform.context import Operation

from . import table
from .addresses import Wallet
from .errors import OpError
from .incoming import INCOMING, IncomingPayment, party_active

__all__ = ["QUOTES", "QUOTE_TTL_S", "Quote", "create_quote", "payable"]

QUOTE_TTL_S: Final = 300


@dataclass(frozen=True, slots=True)
class Quote(table.WalletResource):
    receiver: str  # the incoming payment's id
    debit: int
    receive: int
    client: str
    created_ns: int
    expires_ns: int
    used: bool


QUOTES: Final = table.WalletTable("op_quotes", Quote)


def payable(
    incoming: IncomingPayment | None, sender: Wallet, amount: int | None, now_ns: int
) -> int | OpError:
    """What a payment from ``sender`` into ``incoming`` may carry: ``amount``, or the rest
    of the incoming amount when None; an OpError when it cannot be paid."""
    if incoming is None:
        return OpError(400, "invalid_receiver", "no such incoming payment")
    if not incoming.open_for(now_ns):
        return OpError(400, "invalid_receiver", "the incoming payment is completed or expired")
    if incoming.asset != sender.asset:
        return OpError(400, "invalid_receiver", "the receiver holds another asset (no exchange)")
    if incoming.wallet == sender:
        return OpError(400, "invalid_receiver", "a wallet cannot pay itself")
    remaining = incoming.remaining
    if amount is None:
        if not remaining:
            return OpError(400, "invalid_request", "the receiver has no incomingAmount: name one")
        return remaining
    if remaining is not None and amount > remaining:
        return OpError(400, "invalid_request", "above what the incoming payment still expects")
    return amount


def create_quote(
    sender: Wallet, receiver_id: str, amount: int | None, client: str
) -> Operation[Quote | OpError]:
    new = str(uuid.uuid4())

    def unit(ctx: UnitContext) -> Quote | OpError:
        if not party_active(ctx, sender):
            return OpError(404, "invalid_request", "no such wallet address")
        incoming = INCOMING.load(ctx, receiver_id)
        found = payable(incoming, sender, amount, ctx.now_ns)
        if isinstance(found, OpError):
            return found
        if incoming is None:  # payable() refused it already
            raise RuntimeError("an incoming payment vanished")
        expires = min(ctx.now_ns + QUOTE_TTL_S * NS_PER_S, incoming.expires_ns)
        quote = Quote(
            new,
            sender.kind,
            sender.party_id,
            sender.asset,
            receiver_id,
            found,
            found,
            client,
            ctx.now_ns,
            expires,
            False,
        )
        QUOTES.insert(ctx, quote)
        return quote

    return Operation(unit, 0)
