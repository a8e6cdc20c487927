"""Transfers between customers: real time, wallet to wallet, within the sender's tier.

Only the sender's wallet pays: restricted (carrier-billed, unsettled) money is never sent
to another person, whatever it would cover (RESTRICTED_FUNDS says that it would have).
The sender's KYC tier must allow transfers at all (TIER_FORBIDS) and bounds what it sends
per UTC day of the engine clock, per asset (TIER_LIMIT_EXCEEDED): the day's total is
summed from the sender's transfers since the day began (index ``p2p_by_sender``). Both
customers must be active; a frozen or closed recipient is RECIPIENT_UNAVAILABLE. The
recipient's wallet is created on its first transfer in the asset.

One ledger transfer, sender wallet -> recipient wallet, whose id is derived from the
transfer's id, and one row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from centime.ledger import Transfer
from centime.ledger.units import UnitContext
from centime.limits import DESCRIPTION_LEN_MAX
from centime.money import ASSETS

from ..chart import AccountKind, account_for, account_id, ensure_accounts
from ..config import NS_PER_DAY
from ..context import Operation, Platform
from ..errors import Code, Refusal
from ..events.outbox import emit, money
from ..ids import derive_id, format_id, valid_id
from ..pages import Cursor, Filters, Page
from ..parties.service import Customer, Status, active_customer, load_customer
from ..rows import Table
from .requests import TransferRequest
from .service import Leg, check_amount, check_text, require_created

__all__ = ["P2P_EVENTS_MAX", "P2PTransfer", "get_p2p_transfer", "list_p2p_transfers", "send"]

P2P_EVENTS_MAX: Final = 1 + 1  # the transfer, and the recipient's wallet on first use


@dataclass(frozen=True, slots=True)
class P2PTransfer:
    id: int
    sender_id: int
    recipient_id: int
    asset: str
    amount: int
    note: str | None
    created_ns: int


_TRANSFERS: Final = Table(P2PTransfer, "p2p_transfers")


def check_send(request: TransferRequest) -> Refusal | None:
    """Why the transfer cannot be made whoever sends it, or None."""
    sender_id, recipient_id = request.sender_id, request.recipient_id
    refusal = check_amount(request.asset, request.amount) or check_text(
        "note", request.note, DESCRIPTION_LEN_MAX
    )
    if refusal is None and not (valid_id(sender_id) and valid_id(recipient_id)):
        refusal = Refusal(Code.CUSTOMER_NOT_FOUND, "no such customer")
    if refusal is None and sender_id == recipient_id:
        refusal = Refusal(Code.SAME_CUSTOMER, "a customer cannot send money to itself")
    if refusal is None and not valid_id(request.transfer_id):
        refusal = Refusal(Code.INVALID_REQUEST, "transfer_id is a positive 63-bit integer")
    return refusal


def send(platform: Platform, request: TransferRequest) -> Operation[P2PTransfer | Refusal]:
    """Send ``amount`` from the sender's wallet to the recipient's. A retry under the same
    ``transfer_id`` answers the stored transfer."""
    refusal_in = check_send(request)

    def unit(ctx: UnitContext) -> P2PTransfer | Refusal:
        if refusal_in is not None:
            return refusal_in
        stored = _TRANSFERS.load(ctx.fetch, request.transfer_id)
        if stored is not None:
            same = (stored.sender_id, stored.recipient_id, stored.asset, stored.amount) == (
                request.sender_id,
                request.recipient_id,
                request.asset,
                request.amount,
            )
            return stored if same else Refusal(Code.INVALID_REQUEST, "transfer_id names another")
        return _send(ctx, platform, request)

    return Operation(unit, P2P_EVENTS_MAX)


def _send(ctx: UnitContext, platform: Platform, request: TransferRequest) -> P2PTransfer | Refusal:
    """The transfer made, once both customers, the sender's wallet and both tiers allow it."""
    sender_id, recipient_id = request.sender_id, request.recipient_id
    asset, amount, transfer_id = request.asset, request.amount, request.transfer_id
    sender = active_customer(ctx, sender_id)
    if isinstance(sender, Refusal):
        return sender
    recipient = load_customer(ctx, recipient_id)
    if recipient is None:
        return Refusal(Code.CUSTOMER_NOT_FOUND, "no such recipient")
    if recipient.status is not Status.ACTIVE:
        return Refusal(Code.RECIPIENT_UNAVAILABLE, "the recipient cannot receive money now")
    refusal = _daily_room(ctx, platform, sender, asset, amount)
    if refusal is not None:
        return refusal
    wallet_id = account_id(AccountKind.CUSTOMER_WALLET, sender_id, asset)
    restricted_id = account_id(AccountKind.CUSTOMER_RESTRICTED, sender_id, asset)
    found = ctx.accounts([wallet_id, restricted_id])
    wallet = found[wallet_id].available if wallet_id in found else 0
    if wallet < amount:
        restricted = found[restricted_id].available if restricted_id in found else 0
        if wallet + restricted >= amount:
            return Refusal(Code.RESTRICTED_FUNDS, "carrier-billed money cannot be sent yet")
        return Refusal(Code.INSUFFICIENT_FUNDS, "the sender's wallet is short")
    recipient_wallet = account_for(AccountKind.CUSTOMER_WALLET, recipient_id, asset)
    refusal = _recipient_room(ctx, platform, recipient.kyc_tier, recipient_id, asset, amount)
    if refusal is not None:
        return refusal
    ensure_accounts(ctx, [recipient_wallet])
    leg = Transfer(
        derive_id("tr", transfer_id, "send"),
        wallet_id,
        recipient_wallet.id,
        amount,
        asset,
        int(Leg.P2P),
        0,
        0,
        0,
        transfer_id,  # user_data: the transfer's row
    )
    require_created(ctx.create_transfers([leg]), "transfer between customers")
    sent = P2PTransfer(
        transfer_id, sender_id, recipient_id, asset, amount, request.note, ctx.now_ns
    )
    _TRANSFERS.insert(ctx, sent)
    # Both customers are told (an event each: owner_id is who is told); customers have no
    # webhook endpoints, so these are the record for their notifications, always written.
    data: dict[str, object] = {
        "id": format_id("tr", transfer_id),
        "sender_id": format_id("cus", sender_id),
        "recipient_id": format_id("cus", recipient_id),
        "amount": money(amount, ASSETS[asset]),
    }
    emit(ctx, "transfer.created", sender_id, data)
    emit(ctx, "transfer.created", recipient_id, data)
    return sent


def _daily_room(
    ctx: UnitContext, platform: Platform, sender: Customer, asset: str, amount: int
) -> Refusal | None:
    """The sender's tier caps what it may send a day (UTC day of engine time)."""
    tier = platform.config.tiers.get(sender.kyc_tier)
    daily_max = None if tier is None else tier.p2p_daily_amount(asset)
    if daily_max is None:
        return Refusal(Code.TIER_FORBIDS, "the sender's verification tier allows no transfers")
    day_start_ns = ctx.now_ns - ctx.now_ns % NS_PER_DAY
    summed = ctx.fetch(
        "SELECT SUM(amount) FROM p2p_transfers"
        " WHERE sender_id = ? AND created_ns >= ? AND asset = ?",
        (sender.id, day_start_ns, asset),
    )
    # SUM of BIGINT is NUMERIC on PostgreSQL (a Decimal here): int() of it is exact.
    sent_today = int(summed[0][0] or 0)
    if sent_today + amount > daily_max:
        return Refusal(Code.TIER_LIMIT_EXCEEDED, "the sender's daily transfer limit is reached")
    return None


def _recipient_room(
    ctx: UnitContext, platform: Platform, tier: int, recipient_id: int, asset: str, amount: int
) -> Refusal | None:
    """The recipient's tier caps what it may hold (wallet and restricted money together):
    receiving must not get around the cap a top-up would meet."""
    limits = platform.config.tiers.get(tier)
    if limits is None:
        return Refusal(Code.RECIPIENT_UNAVAILABLE, "the recipient cannot receive money now")
    ids = [account_id(kind, recipient_id, asset) for kind in _HELD]
    held = sum(a.credits_posted - a.debits_posted for a in ctx.accounts(ids).values())
    if held + amount > limits.balance_max_amount(asset):
        return Refusal(
            Code.TIER_LIMIT_EXCEEDED, "the recipient's verification tier caps its balance"
        )
    return None


_HELD: Final = (AccountKind.CUSTOMER_WALLET, AccountKind.CUSTOMER_RESTRICTED)


# ------------------------------------------------------------------ reads


def get_p2p_transfer(
    platform: Platform, transfer_id: int, customer_id: int | None = None
) -> P2PTransfer | None:
    """The transfer, or None (also when the given customer neither sent nor received it)."""
    return _TRANSFERS.by_id(platform, transfer_id, _either_side(customer_id))


def list_p2p_transfers(
    platform: Platform,
    customer_id: int | None = None,
    cursor: Cursor | None = None,
    limit: int = 100,
) -> Page[P2PTransfer]:
    """Transfers newest first that the customer sent or received (None: all)."""
    filters = _either_side(customer_id)
    return _TRANSFERS.page(platform, filters, cursor, limit)


def _either_side(customer_id: int | None) -> Filters:
    """The transfers the customer sent or received (None: anyone's)."""
    if customer_id is None:
        return ()
    return [("(sender_id = ? OR recipient_id = ?)", (customer_id, customer_id))]
