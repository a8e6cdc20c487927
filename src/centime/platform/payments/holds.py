"""Metered holds: authorize up to an amount, capture the final amount, release the rest.

For pay-per-use: a merchant reserves up to ``amount`` of a customer's money, meters the
use, then captures what was used (any amount from one unit to the whole authorization) or
releases all of it. The reserve is a pair of pending ledger transfers, customer ->
merchant available, restricted money first (as a payment spends it), each with the hold's
timeout; the ledger expires them when it lapses, and the money is the customer's again.

- Authorize: one chain of up to two pending transfers (restricted part, wallet part).
- Capture of ``c``: one chain that posts ``min(c, restricted part)`` of the restricted
  reserve and the rest of ``c`` from the wallet reserve (posting part of a pending transfer
  releases the remainder; a leg that gets nothing is voided), plus the fee on ``c``
  (merchant available -> fee revenue). The capture creates a Payment (``hold_id`` set), so
  captured money is refunded like any payment, restricted part included.
- Release: one chain voiding both reserves.
- Expiry: derived from the ledger's pending state when a hold is read (a hold whose
  reserves lapsed is ``expired``, whatever its row says yet); :func:`expire_holds` brings
  the rows of lapsed holds up to date, a bounded number per call, once the ledger has
  expired every reserve. The two reserves are two ledger events, one timestamp apart, so
  the second lapses a nanosecond after the first; the hold is expired (and can no longer be
  captured or released) from the first (``expires_at_ns``), and the second reserve is
  released by the ledger's next sweep.

Holds a merchant starts on its own (its API key) need a mandate, as payments do; the
authorized amount counts against the mandate's day (centime.platform.payments.mandates).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

from centime.ledger import (
    CreateTransferStatus,
    PendingState,
    PendingStatus,
    Transfer,
    TransferFlags,
)
from centime.ledger.units import UnitContext
from centime.limits import DESCRIPTION_LEN_MAX, HOLD_EXPIRE_MAX, QUERY_LIMIT_MAX
from centime.money import ASSETS

from ..chart import AccountKind, account_for, account_id, ensure_accounts
from ..config import PlatformConfig
from ..context import Operation, Platform
from ..errors import Code, Refusal
from ..events.outbox import money
from ..events.webhooks import notify
from ..fees import payment_fee
from ..funding.topups import RELEASE_SETTLED_EVENTS_MAX, release_settled_restricted
from ..ids import derive_id, format_id, valid_id
from ..pages import Cursor, Page, bounded_limit, given
from ..parties.service import Merchant, merchant_fee
from ..pricing.evaluate import fee_terms, month_of
from ..pricing.store import active_rules, add_volumes, month_volumes
from ..rows import Table
from .mandates import (
    active_parties,
    charge_day,
    charge_under_mandate,
    load_mandates,
    save_mandate_charges,
    utc_day,
)
from .requests import CaptureRequest, HoldRequest
from .service import (
    LINKED,
    Leg,
    Payment,
    check_amount,
    check_text,
    record_payments,
    require_created,
    split_restricted_first,
)

__all__ = [
    "Capture",
    "Hold",
    "HoldStatus",
    "authorize_hold",
    "capture_hold",
    "expire_holds",
    "get_hold",
    "list_holds",
    "release_hold",
]

_PENDING: Final = int(TransferFlags.PENDING)
_POST: Final = int(TransferFlags.POST_PENDING)
_VOID: Final = int(TransferFlags.VOID_PENDING)

# Ledger events: authorize (two reserves, the merchant's account), capture (two resolutions,
# the fee, the fee revenue account), release (two voids).
AUTHORIZE_EVENTS_MAX: Final = 2 + 1
# ... plus, after either, releasing restricted money the carrier settled meanwhile.
CAPTURE_EVENTS_MAX: Final = 3 + 1 + RELEASE_SETTLED_EVENTS_MAX
RELEASE_EVENTS_MAX: Final = 2 + RELEASE_SETTLED_EVENTS_MAX


class HoldStatus(enum.Enum):
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    RELEASED = "released"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Hold:
    """A reserve of up to ``amount`` of the customer's money for the merchant, restricted
    money first (``restricted_amount`` of it, the rest from the wallet). ``captured`` is 0
    until a capture takes 1..``amount`` (the rest goes back to the customer)."""

    id: int
    customer_id: int
    merchant_id: int
    asset: str
    amount: int  # authorized
    restricted_amount: int  # the part reserved from carrier-billed money
    captured: int
    status: HoldStatus
    description: str | None
    expires_at_ns: int  # engine time at which the (first) reserve lapses
    resolved_ns: int | None  # captured, released or (as far as the row knows) expired
    payment_id: int | None  # the payment its capture made
    mandate_id: int | None
    created_ns: int

    def legs(self) -> list[tuple[str, int]]:
        """(name, reserved amount) of each pending transfer the hold made."""
        wallet = self.amount - self.restricted_amount
        named = (("restricted", self.restricted_amount), ("wallet", wallet))
        return [(name, amount) for name, amount in named if amount > 0]


@dataclass(frozen=True, slots=True)
class Capture:
    """A captured hold and the payment its capture made."""

    hold: Hold
    payment: Payment


_HOLDS: Final = Table(Hold, "holds")


def _reserve_id(hold_id: int, leg: str) -> int:
    return derive_id("hold", hold_id, leg)


def _resolve_id(hold_id: int, leg: str) -> int:
    """The one post or void that ever resolves the leg."""
    return derive_id("hold", hold_id, "resolve", leg)


def _load(ctx: UnitContext, hold_id: int) -> Hold | None:
    return _HOLDS.load(ctx.fetch, hold_id)


# ------------------------------------------------------------------ authorize


def check_authorize(request: HoldRequest, config: PlatformConfig) -> Refusal | None:
    """Why the hold cannot be authorized whoever asks, or None (``config`` bounds its
    timeout)."""
    if not valid_id(request.customer_id):
        return Refusal(Code.CUSTOMER_NOT_FOUND, "no such customer")
    if not valid_id(request.merchant_id):
        return Refusal(Code.MERCHANT_NOT_FOUND, "no such merchant")
    refusal = check_amount(request.asset, request.amount) or check_text(
        "description", request.description, DESCRIPTION_LEN_MAX
    )
    if refusal is not None:
        return refusal
    timeout_s, timeout_max_s = _timeout_s(request, config), config.hold_timeout_max_s
    if type(timeout_s) is not int or not 1 <= timeout_s <= timeout_max_s:
        return Refusal(Code.INVALID_REQUEST, f"timeout_s is an integer in 1..{timeout_max_s}")
    # The hold's own id is required (the request draws one when none is given); a
    # mandate's is optional.
    mandate_ok = request.mandate_id is None or valid_id(request.mandate_id)
    if not (valid_id(request.hold_id) and mandate_ok):
        return Refusal(Code.INVALID_REQUEST, "ids are positive 63-bit integers")
    return None


def _timeout_s(request: HoldRequest, config: PlatformConfig) -> int:
    """How long the reserve lasts: the request's timeout, or the configured default."""
    return config.hold_timeout_default_s if request.timeout_s is None else request.timeout_s


def authorize_hold(platform: Platform, request: HoldRequest) -> Operation[Hold | Refusal]:
    """Reserve up to ``amount`` of the customer's money for the merchant, for ``timeout_s``
    (the configured default when None, at most ``hold_timeout_max_s``). Restricted money is
    reserved first. ``charged_by_merchant``: as for payments, a mandate is required, and the
    authorized amount counts against its day. A retry under the same ``hold_id`` answers
    the stored hold."""
    refusal_in = check_authorize(request, platform.config)

    def unit(ctx: UnitContext) -> Hold | Refusal:
        if refusal_in is not None:
            return refusal_in
        existing = _load(ctx, request.hold_id)
        if existing is not None:
            same = (existing.customer_id, existing.merchant_id, existing.asset) == (
                request.customer_id,
                request.merchant_id,
                request.asset,
            ) and existing.amount == request.amount
            return existing if same else Refusal(Code.INVALID_REQUEST, "hold_id names another")
        return _authorize(ctx, platform, request)

    return Operation(unit, AUTHORIZE_EVENTS_MAX)


def _authorize(ctx: UnitContext, platform: Platform, request: HoldRequest) -> Hold | Refusal:
    room = _mandate_room(ctx, request, utc_day(ctx.now_ns))
    if isinstance(room, Refusal):
        return room
    reserved = _reserve(ctx, request, _timeout_s(request, platform.config))
    if isinstance(reserved, Refusal):
        return reserved
    restricted, expires_at = reserved
    mandate_id = request.mandate_id
    hold = Hold(
        request.hold_id,
        request.customer_id,
        request.merchant_id,
        request.asset,
        request.amount,
        restricted,
        0,
        HoldStatus.AUTHORIZED,
        request.description,
        expires_at,
        None,
        None,
        mandate_id,
        ctx.now_ns,
    )
    _HOLDS.insert(ctx, hold)
    if mandate_id is not None and room is not None:
        save_mandate_charges(ctx, {mandate_id: room})
    _tell(ctx, "hold.created", hold)
    return hold


def _mandate_room(
    ctx: UnitContext, request: HoldRequest, day: int
) -> tuple[int, int] | Refusal | None:
    """Both parties active and the mandate's room for ``amount`` today: what its day will
    have spent and that day (:func:`charge_day`; None: no mandate), or why the hold cannot
    be authorized."""
    merchant = active_parties(ctx, request.customer_id, request.merchant_id)
    if isinstance(merchant, Refusal):
        return merchant
    mandate_id = request.mandate_id
    if request.charged_by_merchant and mandate_id is None:
        return Refusal(Code.MANDATE_NOT_FOUND, "a merchant charges only under a mandate")
    if mandate_id is None:
        return None
    mandate = load_mandates(ctx, [mandate_id]).get(mandate_id)
    day = charge_day(ctx, mandate, day)
    spent_before = mandate.spent_on(day) if mandate is not None else 0
    customer_id, merchant_id = request.customer_id, request.merchant_id
    spent = charge_under_mandate(
        mandate, customer_id, merchant_id, request.asset, request.amount, spent_before
    )
    return spent if isinstance(spent, Refusal) else (spent, day)


def _reserve(ctx: UnitContext, request: HoldRequest, timeout_s: int) -> tuple[int, int] | Refusal:
    """The hold's pending reserves (restricted money first) into the merchant's account:
    (the restricted part, when they expire), or why the money is not there."""
    hold_id, customer_id, asset = request.hold_id, request.customer_id, request.asset
    restricted_id = account_id(AccountKind.CUSTOMER_RESTRICTED, customer_id, asset)
    wallet_id = account_id(AccountKind.CUSTOMER_WALLET, customer_id, asset)
    found = ctx.accounts([restricted_id, wallet_id])
    split = split_restricted_first(
        request.amount,
        found[restricted_id].available if restricted_id in found else 0,
        found[wallet_id].available if wallet_id in found else 0,
    )
    if split is None:
        return Refusal(Code.INSUFFICIENT_FUNDS, "the customer's balance is short")
    merchant_account = account_for(AccountKind.MERCHANT_AVAILABLE, request.merchant_id, asset)
    ensure_accounts(ctx, [merchant_account])
    restricted, wallet = split
    legs = [
        (name, debit, part)
        for name, debit, part in (
            ("restricted", restricted_id, restricted),
            ("wallet", wallet_id, wallet),
        )
        if part > 0
    ]
    transfers = [
        Transfer(
            _reserve_id(hold_id, name),
            debit,
            merchant_account.id,
            part,
            asset,
            int(Leg.HOLD),
            _PENDING | (LINKED if index < len(legs) - 1 else 0),
            0,
            timeout_s,
            hold_id,  # user_data: the hold (its posts and voids inherit it)
        )
        for index, (name, debit, part) in enumerate(legs)
    ]
    require_created(ctx.create_transfers(transfers), "hold authorization")
    expires: list[int] = []
    for transfer in transfers:
        state = ctx.pending_state(transfer.id)
        if state is None:
            raise RuntimeError(f"the hold's reserve {transfer.id} has no pending state")
        expires.append(state.expires_at)
    return restricted, min(expires)


def _tell(ctx: UnitContext, event_type: str, hold: Hold) -> None:
    """The hold's event, for its merchant (when it listens)."""
    asset = ASSETS[hold.asset]
    notify(
        ctx,
        event_type,
        hold.merchant_id,
        {
            "id": format_id("hold", hold.id),
            "customer_id": format_id("cus", hold.customer_id),
            "merchant_id": format_id("mer", hold.merchant_id),
            "amount": money(hold.amount, asset),
            "captured": money(hold.captured, asset),
            "status": hold.status.value,
            "payment_id": None if hold.payment_id is None else format_id("pay", hold.payment_id),
            "mandate_id": None if hold.mandate_id is None else format_id("man", hold.mandate_id),
        },
    )


# ------------------------------------------------------------------ capture and release


def _authorized(ctx: UnitContext, hold_id: int, merchant_id: int | None) -> Hold | Refusal:
    """The hold, when it can still be captured or released."""
    hold = _load(ctx, hold_id) if valid_id(hold_id) else None
    if hold is None or (merchant_id is not None and hold.merchant_id != merchant_id):
        return Refusal(Code.HOLD_NOT_FOUND, "no such hold")
    if hold.status is not HoldStatus.AUTHORIZED:
        return Refusal(Code.HOLD_NOT_AUTHORIZED, f"the hold is {hold.status.value}")
    for name, _ in hold.legs():
        state = ctx.pending_state(_reserve_id(hold.id, name))
        if state is None or state.status in (PendingStatus.POSTED, PendingStatus.VOIDED):
            raise RuntimeError(f"hold {hold.id} is authorized but its reserve is {state}")
        if _lapsed(state, ctx.now_ns):
            return Refusal(Code.HOLD_NOT_AUTHORIZED, "the hold expired")
    return hold


def _lapsed(state: PendingState, now_ns: int) -> bool:
    """Whether the reserve has expired or is due to (the ledger refuses to post it then)."""
    if state.status is PendingStatus.EXPIRED:
        return True
    return state.status is PendingStatus.PENDING and 0 < state.expires_at <= now_ns


def check_capture(amount: int) -> Refusal | None:
    """Why ``amount`` cannot be captured whatever the hold, or None."""
    if type(amount) is not int or amount < 1:
        return Refusal(Code.INVALID_AMOUNT, "the amount must be a positive integer")
    return None


def capture_hold(platform: Platform, request: CaptureRequest) -> Operation[Capture | Refusal]:
    """Capture ``amount`` (1..authorized) of the hold: the merchant is paid it, less the
    fee, and the rest of the reserve goes back to the customer. ``merchant_id`` given: the
    hold must be that merchant's (HOLD_NOT_FOUND otherwise); ``asset`` given, the amount
    must be in the hold's asset (INVALID_AMOUNT otherwise)."""

    def unit(ctx: UnitContext) -> Capture | Refusal:
        found = _capturable(ctx, request)
        if isinstance(found, Refusal):
            return found
        hold, merchant = found
        return _capture(ctx, platform, hold, merchant, request.amount)

    return Operation(unit, CAPTURE_EVENTS_MAX)


def _capturable(ctx: UnitContext, request: CaptureRequest) -> tuple[Hold, Merchant] | Refusal:
    """The hold and its merchant, when ``amount`` of ``asset`` can be captured now (an
    amount no hold can take is refused before the hold is read)."""
    hold = check_capture(request.amount) or _authorized(ctx, request.hold_id, request.merchant_id)
    if isinstance(hold, Refusal):
        return hold
    if request.asset is not None and request.asset != hold.asset:
        return Refusal(Code.INVALID_AMOUNT, f"the hold is in {hold.asset}")
    if request.amount > hold.amount:
        return Refusal(Code.CAPTURE_EXCEEDS_HOLD, "more than the hold authorized")
    merchant = active_parties(ctx, hold.customer_id, hold.merchant_id)
    return merchant if isinstance(merchant, Refusal) else (hold, merchant)


def _capture(
    ctx: UnitContext, platform: Platform, hold: Hold, merchant: Merchant, amount: int
) -> Capture | Refusal:
    """Post ``amount`` of the reserves (the rest voided), split off the fee, record the
    payment and resolve the hold, in the unit."""
    # Priced as a payment: the fee schedule's tier at the merchant's month volume.
    rules, month = active_rules(ctx), month_of(ctx.now_ns)
    volumes = month_volumes(ctx, merchant.id, month)
    terms = fee_terms(
        rules,
        merchant.id,
        hold.asset,
        volumes.get(hold.asset, 0),
        merchant_fee(platform, merchant, hold.asset),
    )
    fee = payment_fee(amount, terms.fee_bp, terms.fee_fixed)
    restricted = min(amount, hold.restricted_amount)
    payment_id = derive_id("hold", hold.id, "payment")
    transfers = _capture_transfers(ctx, hold, merchant, amount, restricted, fee, payment_id)
    statuses = ctx.create_transfers(transfers)
    if CreateTransferStatus.PENDING_TRANSFER_EXPIRED in statuses:
        # It lapsed between the engine's clock reading and this event's timestamp.
        return Refusal(Code.HOLD_NOT_AUTHORIZED, "the hold expired")
    require_created(statuses, "hold capture")
    payment = Payment(
        payment_id,
        hold.customer_id,
        hold.merchant_id,
        hold.asset,
        amount,
        fee,
        restricted,
        0,
        0,
        0,
        hold.description,
        None,
        hold.id,
        hold.mandate_id,
        ctx.now_ns,
        derive_id("hold", hold.id, "fee") if fee else None,
        pricing_version=rules.version,
        fee_rule=terms.rule,
    )
    record_payments(ctx, [payment])
    add_volumes(ctx, merchant.id, month, volumes, {hold.asset: amount})
    _release_settled(ctx, hold)
    _give_back_to_mandate(ctx, hold, hold.amount - amount)
    captured = replace(
        hold,
        captured=amount,
        status=HoldStatus.CAPTURED,
        resolved_ns=ctx.now_ns,
        payment_id=payment.id,
    )
    _save_resolution(ctx, captured)
    _tell(ctx, "hold.captured", captured)
    return Capture(captured, payment)


def _capture_transfers(
    ctx: UnitContext,
    hold: Hold,
    merchant: Merchant,
    amount: int,
    restricted: int,
    fee: int,
    payment_id: int,
) -> list[Transfer]:
    """The capture's linked chain: each reserve posted for its part (voided when none),
    then the fee from the merchant to the platform."""
    posted = {"restricted": restricted, "wallet": amount - restricted}
    transfers = [
        Transfer(
            _resolve_id(hold.id, name),
            0,
            0,
            posted[name],
            "",
            0,
            _POST if posted[name] else _VOID,
            _reserve_id(hold.id, name),
        )
        for name, _ in hold.legs()
    ]
    if fee:
        fee_account = account_for(AccountKind.FEE_REVENUE, 0, hold.asset)
        ensure_accounts(ctx, [fee_account])
        merchant_account = account_id(AccountKind.MERCHANT_AVAILABLE, merchant.id, hold.asset)
        transfers.append(
            Transfer(
                derive_id("hold", hold.id, "fee"),
                merchant_account,
                fee_account.id,
                fee,
                hold.asset,
                int(Leg.PAYMENT_FEE),
                0,
                0,
                0,
                payment_id,
            )
        )
    return [t._replace(flags=t.flags | LINKED) for t in transfers[:-1]] + transfers[-1:]


def release_hold(
    platform: Platform, hold_id: int, merchant_id: int | None = None
) -> Operation[Hold | Refusal]:
    """Release the whole reserve back to the customer (nothing is paid)."""

    def unit(ctx: UnitContext) -> Hold | Refusal:
        hold = _authorized(ctx, hold_id, merchant_id)
        if isinstance(hold, Refusal):
            return hold
        legs = hold.legs()
        transfers = [
            Transfer(
                _resolve_id(hold.id, name),
                0,
                0,
                0,
                "",
                0,
                _VOID | (LINKED if index < len(legs) - 1 else 0),
                _reserve_id(hold.id, name),
            )
            for index, (name, _) in enumerate(legs)
        ]
        statuses = ctx.create_transfers(transfers)
        if CreateTransferStatus.PENDING_TRANSFER_EXPIRED in statuses:
            return Refusal(Code.HOLD_NOT_AUTHORIZED, "the hold expired")
        require_created(statuses, "hold release")
        _release_settled(ctx, hold)
        _give_back_to_mandate(ctx, hold, hold.amount)
        released = replace(hold, status=HoldStatus.RELEASED, resolved_ns=ctx.now_ns)
        _save_resolution(ctx, released)
        _tell(ctx, "hold.released", released)
        return released

    return Operation(unit, RELEASE_EVENTS_MAX)


def _give_back_to_mandate(ctx: UnitContext, hold: Hold, unused: int) -> None:
    """What the hold authorized and did not take stops counting against its mandate's day:
    a released (or expired) hold gives all of it back, a capture the rest. Only while the
    mandate's day is still the day the hold was counted on (a new day starts at zero)."""
    if hold.mandate_id is None or unused <= 0:
        return
    mandate = load_mandates(ctx, [hold.mandate_id]).get(hold.mandate_id)
    day = utc_day(hold.created_ns)
    if mandate is None or mandate.day != day:
        return
    save_mandate_charges(ctx, {mandate.id: (max(0, mandate.spent_today - unused), day)})


def _release_settled(ctx: UnitContext, hold: Hold) -> None:
    """The hold's restricted reserve came back to the restricted balance; if the carrier
    settled that money meanwhile (its settlement could not release what the hold held),
    it goes on to the wallet now."""
    if hold.restricted_amount:
        transfer_id = derive_id("hold", hold.id, "settled")
        release_settled_restricted(ctx, hold.customer_id, hold.asset, transfer_id)


# A hold's resolution: what its capture, release or expiry changes.
_save_resolution = _HOLDS.updater("status, captured, resolved_ns, payment_id")


# ------------------------------------------------------------------ expiry


def expire_holds(platform: Platform, limit: int = HOLD_EXPIRE_MAX) -> int:
    """Mark lapsed holds ``expired`` (at most ``limit`` of them, oldest expiry first) and
    return how many. A hold is marked only once the ledger has expired its reserves, which
    it does in every group for what is due; an expired state never changes again, so it is
    read before the unit that writes the rows."""
    size = min(bounded_limit(limit), HOLD_EXPIRE_MAX)
    now_ns = platform.clock.now_ns()
    with platform.read() as fetch:
        rows = fetch(
            f"SELECT {_HOLDS.columns} FROM holds WHERE status = ? AND expires_at_ns <= ?"
            " ORDER BY expires_at_ns, id LIMIT ?",
            (HoldStatus.AUTHORIZED.value, now_ns, size),
        )
    holds = [_HOLDS.read(row) for row in rows]
    states = _reserve_states(platform, holds)
    lapsed = [
        hold
        for hold in holds
        if all(
            states[_reserve_id(hold.id, name)].status is PendingStatus.EXPIRED
            for name, _ in hold.legs()
        )
    ]
    if not lapsed:
        return 0

    def unit(ctx: UnitContext) -> int:
        # Only rows still authorized: a capture cannot have won (its reserves expired).
        for hold in lapsed:
            resolved_ns = _expired_ns(hold, states)
            marked = ctx.execute(
                "UPDATE holds SET status = ?, resolved_ns = ? WHERE id = ? AND status = ?",
                (HoldStatus.EXPIRED.value, resolved_ns, hold.id, "authorized"),
            )
            _release_settled(ctx, hold)
            if marked:  # told once: another run that finds it expired changes nothing
                _give_back_to_mandate(ctx, hold, hold.amount)
                expired = replace(hold, status=HoldStatus.EXPIRED, resolved_ns=resolved_ns)
                _tell(ctx, "hold.expired", expired)
        return len(lapsed)

    return platform.execute(Operation(unit, RELEASE_SETTLED_EVENTS_MAX * len(lapsed)))


def _expired_ns(hold: Hold, states: dict[int, PendingState]) -> int:
    """When the ledger expired the hold's last reserve."""
    return max(states[_reserve_id(hold.id, name)].timestamp for name, _ in hold.legs())


def _reserve_states(platform: Platform, holds: Sequence[Hold]) -> dict[int, PendingState]:
    ids = [_reserve_id(hold.id, name) for hold in holds for name, _ in hold.legs()]
    found: dict[int, PendingState] = {}
    for start in range(0, len(ids), QUERY_LIMIT_MAX):
        chunk = ids[start : start + QUERY_LIMIT_MAX]
        found.update((state.transfer_id, state) for state in platform.ledger.pending_states(chunk))
    return found


# ------------------------------------------------------------------ reads


def _as_seen(holds: list[Hold], platform: Platform) -> list[Hold]:
    """The holds with ``expired`` derived from the ledger for rows still ``authorized``."""
    open_holds = [h for h in holds if h.status is HoldStatus.AUTHORIZED]
    if not open_holds:
        return holds
    states = _reserve_states(platform, open_holds)
    now_ns = platform.clock.now_ns()
    return [
        replace(hold, status=HoldStatus.EXPIRED)
        if hold.status is HoldStatus.AUTHORIZED
        and any(_lapsed(states[_reserve_id(hold.id, n)], now_ns) for n, _ in hold.legs())
        else hold
        for hold in holds
    ]


def get_hold(
    platform: Platform,
    hold_id: int,
    merchant_id: int | None = None,
    customer_id: int | None = None,
) -> Hold | None:
    """The hold (``expired`` once its reserves lapsed), or None (also when it is not the
    given merchant's or customer's)."""
    owners = given(merchant_id=merchant_id, customer_id=customer_id)
    hold = _HOLDS.by_id(platform, hold_id, owners)
    return None if hold is None else _as_seen([hold], platform)[0]


def list_holds(
    platform: Platform,
    merchant_id: int | None = None,
    customer_id: int | None = None,
    cursor: Cursor | None = None,
    limit: int = 100,
) -> Page[Hold]:
    """Holds newest first, of a merchant and/or a customer."""
    filters = given(merchant_id=merchant_id, customer_id=customer_id)
    page = _HOLDS.page(platform, filters, cursor, limit)
    return Page(_as_seen(page.items, platform), page.next_cursor)
