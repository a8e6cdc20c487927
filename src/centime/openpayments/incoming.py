"""Incoming payments: what a wallet address expects to receive, and what it received.

An incoming payment belongs to one wallet (a merchant's earnings or a customer's wallet in
one asset). It is complete when its owner's client says so or when what was received
reaches ``incomingAmount``; it expires at ``expiresAt`` (at most ``EXPIRY_MAX_S`` ahead,
``EXPIRY_DEFAULT_S`` when not given). Payments into it are outgoing payments of centime
customers (centime.openpayments.outgoing), which add to ``received`` in their own unit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Final

from centime.clock import NS_PER_S
from centime.ledger.units import UnitContext
from centime.platform.context import Operation
from centime.platform.parties import Status, load_customer, load_merchant

from . import table
from .addresses import Wallet
from .errors import OpError

__all__ = [
    "EXPIRY_DEFAULT_S",
    "EXPIRY_MAX_S",
    "INCOMING",
    "IncomingPayment",
    "complete_incoming",
    "create_incoming",
]

EXPIRY_DEFAULT_S: Final = 30 * 86_400
EXPIRY_MAX_S: Final = 365 * 86_400


@dataclass(frozen=True, slots=True)
class IncomingPayment(table.WalletResource):
    incoming_amount: int | None
    received: int
    completed: bool
    expires_ns: int
    metadata: str | None  # JSON text, as the client sent it
    client: str
    created_ns: int

    def open_for(self, now_ns: int) -> bool:
        return not self.completed and now_ns < self.expires_ns

    @property
    def remaining(self) -> int | None:
        return None if self.incoming_amount is None else self.incoming_amount - self.received


INCOMING: Final = table.WalletTable("op_incoming_payments", IncomingPayment)


def party_active(ctx: UnitContext, wallet: Wallet) -> bool:
    party = (
        load_customer(ctx, wallet.party_id)
        if wallet.kind == "customer"
        else load_merchant(ctx, wallet.party_id)
    )
    return party is not None and party.status is Status.ACTIVE


def create_incoming(
    wallet: Wallet,
    incoming_amount: int | None,
    expires_ns: int | None,
    metadata: str | None,
    client: str,
) -> Operation[IncomingPayment | OpError]:
    new = str(uuid.uuid4())

    def unit(ctx: UnitContext) -> IncomingPayment | OpError:
        if not party_active(ctx, wallet):
            return OpError(404, "invalid_request", "no such wallet address")
        expires = ctx.now_ns + EXPIRY_DEFAULT_S * NS_PER_S if expires_ns is None else expires_ns
        if not ctx.now_ns < expires <= ctx.now_ns + EXPIRY_MAX_S * NS_PER_S:
            return OpError(400, "invalid_request", "expiresAt: in the future, within a year")
        payment = IncomingPayment(
            id=new,
            party_kind=wallet.kind,
            party_id=wallet.party_id,
            asset=wallet.asset,
            incoming_amount=incoming_amount,
            received=0,
            completed=False,
            expires_ns=expires,
            metadata=metadata,
            client=client,
            created_ns=ctx.now_ns,
        )
        INCOMING.insert(ctx, payment)
        return payment

    return Operation(unit, 0)


def complete_incoming(payment_id: str, client: str | None) -> Operation[IncomingPayment | OpError]:
    """Mark it completed (``client`` given: only an incoming payment that client made)."""

    def unit(ctx: UnitContext) -> IncomingPayment | OpError:
        found = INCOMING.load(ctx, payment_id)
        if found is None or (client is not None and found.client != client):
            return OpError(404, "invalid_request", "no such incoming payment")
        if ctx.now_ns >= found.expires_ns and not found.completed:
            return OpError(400, "invalid_request", "the incoming payment expired")
        ctx.execute(
            "UPDATE op_incoming_payments SET completed = ? WHERE id = ?", (True, payment_id)
        )
        return INCOMING.load(ctx, payment_id) or found

    return Operation(unit, 0)
