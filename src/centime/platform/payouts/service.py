"""Payouts: a merchant's earnings leave the platform for its bank account.

The life of a payout::

    reserve unit:   checks; row ``requested``; PENDING transfers MERCHANT_AVAILABLE ->
                    PAYOUT_CLEARING (the net) and -> FEE_REVENUE (the fee, instant payouts),
                    linked; event payout.requested
    rail.send:      I/O, no unit open; the payout id is the rail's idempotency key
    answer unit:    accepted -> ``pending`` (provider_ref), event payout.pending
                    rejected -> ``failed``: both reserves voided, event payout.failed
    rail events:    paid     -> ``paid``: both reserves posted, event payout.paid
                    failed   -> ``failed``: both reserves voided (money back), payout.failed
                    returned -> ``returned``: PAYOUT_CLEARING -> MERCHANT_AVAILABLE (the net),
                                return_code recorded, event payout.returned

``requested`` is the state of a payout whose money is reserved but which the rail has not
acknowledged: the reserve unit committed and then the rail could not be reached, or the
process died before it could ask. :func:`recover_payouts` finds those and sends them again
under the same payout id, which the rail answers as the first time (it pays an id once): a
crash between the reserve and the rail call is recovered without paying twice.

Money: a payout takes ``amount`` from the merchant's available earnings; ``fee`` of it goes
to fee revenue (instant payouts; scheduled ones are free) and ``net = amount - fee`` goes to
the bank. Both legs are pending transfers in one linked chain: the fee is earned when the
payout is paid, and given back with the money when it fails. A returned payout gives back the
net (what the bank returned); the fee of a returned instant payout is kept (the rail
delivered it early, as paid for). Only MERCHANT_AVAILABLE is ever debited: customer money,
restricted or not, has no path to a payout. Earnings reserved by holds (credits_pending)
are not available until captured, and money already reserved by other payouts is not
available either (``available`` subtracts pending debits).

Checks, in the reserve unit, each refusal changing nothing: the merchant active; its KYC
tier allows payouts (TIER_FORBIDS) and the UTC day's payouts (every one created that day
that did not fail) plus this one stay within the tier's limit (TIER_LIMIT_EXCEEDED); no
payout-method change's lock runs (PAYOUTS_LOCKED); the method is the merchant's and active;
the amount is available (INSUFFICIENT_FUNDS).

Events are idempotent (a second delivery finds the payout's status past it); out of order
they apply as far as they imply: ``returned`` on a payout not yet paid implies it was paid
(posted first, in the same chain); ``failed`` after ``paid`` contradicts it and is ignored (a
rail takes back paid money with a return).
"""

from __future__ import annotations

import dataclasses
import enum
import logging
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

from centime.ledger import CreateTransferStatus, Transfer, TransferFlags
from centime.ledger.units import UnitContext
from centime.limits import (
    ID_MAX,
    PAYOUT_EVENTS_PER_TICK_MAX,
    PAYOUT_RECOVER_MAX,
    PAYOUT_SEND_ATTEMPTS_MAX,
    PROVIDER_CODE_LEN_MAX,
    PROVIDER_REF_LEN_MAX,
)
from centime.money import ASSETS
from centime.providers.funding import ProviderUnavailable
from centime.providers.payouts import (
    PayoutAccepted,
    PayoutEvent,
    PayoutEventFeed,
    PayoutFailed,
    PayoutPaid,
    PayoutRejected,
    PayoutRequest,
    PayoutResult,
    PayoutReturned,
    payout_event_kind,
)

from ..chart import (
    ENSURE_EVENTS_MAX,
    OPERATOR,
    AccountKind,
    account_id,
    ensure_accounts,
    merchant_accounts,
    operator_accounts,
)
from ..config import NS_PER_DAY
from ..context import Operation, Platform
from ..errors import Code, Refusal
from ..events.outbox import emit, money
from ..feeds import drain
from ..ids import derive_id, valid_id
from ..pages import Cursor, Page, given
from ..parties.service import active_merchant
from ..rows import Table
from .methods import PayoutMethod, load_method, lock_refusal, payout_provider

__all__ = [
    "PAYOUT_RESERVE_EVENTS_MAX",
    "Payout",
    "PayoutAsk",
    "PayoutEventOutcome",
    "PayoutEventResult",
    "PayoutKind",
    "PayoutStatus",
    "PayoutTransferCode",
    "UnexpectedPayoutLedgerError",
    "available_earnings",
    "check_payout_request",
    "daily_room",
    "get_payout",
    "handle_payout_event",
    "list_payouts",
    "load_payout",
    "paid_out_today",
    "payable_method",
    "pick_method",
    "process_payout_events",
    "recover_payouts",
    "request_payout",
    "reserve_unit",
    "send_payout",
    "send_requested",
]

log = logging.getLogger("centime.payouts")


class PayoutStatus(enum.Enum):
    REQUESTED = "requested"  # money reserved, the rail has not acknowledged it
    PENDING = "pending"  # the rail accepted it; its outcome comes as an event
    PAID = "paid"
    FAILED = "failed"  # rejected or failed: the money is back in the earnings
    RETURNED = "returned"  # paid, then came back: the net is back in the earnings


class PayoutKind(enum.Enum):
    SCHEDULED = "scheduled"
    INSTANT = "instant"


class PayoutTransferCode(enum.IntEnum):
    """The ledger ``code`` of payouts' transfers (300-399), ``user_data``: the payout id."""

    RESERVE = 300  # pending: MERCHANT_AVAILABLE -> PAYOUT_CLEARING, the net
    FEE = 301  # pending: MERCHANT_AVAILABLE -> FEE_REVENUE, the instant payout's fee
    RETURN = 310  # PAYOUT_CLEARING -> MERCHANT_AVAILABLE: a paid payout came back


class UnexpectedPayoutLedgerError(RuntimeError):
    """The ledger refused a transfer the unit computed from balances it had locked: a bug."""


@dataclass(frozen=True, slots=True)
class Payout:
    """A payout as stored. The fields after ``kind`` default to what a payout starts with
    before its reserve unit (:func:`reserve_unit` sets the method, the rail and the times):
    a draft names what is asked, the rest is the payout's life."""

    id: int
    merchant_id: int
    asset: str
    amount: int  # taken from the earnings
    fee: int  # of it, to fee revenue
    kind: PayoutKind
    method_id: int = 0  # 0: the merchant's newest active method, picked when reserved
    quote_id: int | None = None  # an instant payout's quote
    run_date: str | None = None  # a scheduled payout's date, YYYY-MM-DD
    status: PayoutStatus = PayoutStatus.REQUESTED
    provider: str = ""
    provider_ref: str | None = None
    attempts: int = 0  # send calls made
    failure_code: str | None = None
    return_code: str | None = None
    created_ns: int = 0
    updated_ns: int = 0
    resolved_ns: int | None = None
    returned_ns: int | None = None

    @property
    def net(self) -> int:
        """What arrives at the bank."""
        return self.amount - self.fee


_PAYOUTS: Final = Table(Payout, "payouts")


@dataclass(frozen=True, slots=True)
class PayoutAsk:
    """What a merchant asks to be paid out: ``amount`` of its earnings in ``asset``, to the
    payout method ``method_id`` (None: its newest active one)."""

    merchant_id: int
    asset: str
    amount: int
    method_id: int | None = None


# ------------------------------------------------------------------ inside units


def load_payout(ctx: UnitContext, payout_id: int) -> Payout | None:
    return _PAYOUTS.load(ctx.fetch, payout_id)


# Every field that changes over a payout's life, stamped with the time of the change.
_save = _PAYOUTS.updater(
    "status, provider_ref, attempts, failure_code, return_code, updated_ns, resolved_ns,"
    " returned_ns",
    stamp_ns="updated_ns",
)


def _event_data(payout: Payout) -> dict[str, object]:
    asset = ASSETS[payout.asset]
    data: dict[str, object] = {
        "payout_id": str(payout.id),
        "merchant_id": str(payout.merchant_id),
        "kind": payout.kind.value,
        "status": payout.status.value,
        "amount": money(payout.amount, asset),
        "fee": money(payout.fee, asset),
        "net": money(payout.net, asset),
    }
    if payout.failure_code is not None:
        data["failure_code"] = payout.failure_code
    if payout.return_code is not None:
        data["return_code"] = payout.return_code
    return data


def _emit(ctx: UnitContext, event_type: str, payout: Payout) -> None:
    emit(ctx, event_type, payout.merchant_id, _event_data(payout))


def available_earnings(ctx: UnitContext, merchant_id: int, asset: str) -> int:
    """What a payout could take from the merchant's earnings now."""
    available_id = account_id(AccountKind.MERCHANT_AVAILABLE, merchant_id, asset)
    found = ctx.accounts([available_id])
    return found[available_id].available if available_id in found else 0


def paid_out_today(ctx: UnitContext, merchant_id: int, asset: str) -> int:
    """The amounts of the merchant's payouts in ``asset`` created on today's UTC day that
    did not fail (what counts against the tier's daily limit)."""
    day_start_ns = ctx.now_ns - ctx.now_ns % NS_PER_DAY
    rows = ctx.fetch(
        "SELECT COALESCE(SUM(amount), 0) FROM payouts WHERE merchant_id = ? AND asset = ?"
        " AND created_ns >= ? AND status <> ?",
        (merchant_id, asset, day_start_ns, PayoutStatus.FAILED.value),
    )
    return int(rows[0][0])  # PostgreSQL sums BIGINT as an exact numeric


def daily_room(
    ctx: UnitContext, platform: Platform, tier: int, merchant_id: int, asset: str
) -> int | Refusal:
    """What the merchant may still pay out today, or TIER_FORBIDS."""
    daily = platform.config.payouts.daily_amount(tier, asset)
    if daily is None:
        return Refusal(Code.TIER_FORBIDS, "the merchant's verification tier allows no payouts")
    return max(0, daily - paid_out_today(ctx, merchant_id, asset))


def pick_method(
    ctx: UnitContext, merchant_id: int, method_id: int | None
) -> PayoutMethod | Refusal:
    """The method named (the merchant's, active), or the merchant's newest active one."""
    if method_id is not None:
        method = load_method(ctx, method_id) if valid_id(method_id) else None
        if method is None or method.merchant_id != merchant_id or method.status != "active":
            return Refusal(Code.PAYOUT_METHOD_NOT_FOUND, "no such payout method")
        return method
    rows = ctx.fetch(
        "SELECT id FROM payout_methods WHERE merchant_id = ? AND status = 'active'"
        " ORDER BY created_ns DESC, id DESC LIMIT 1",
        (merchant_id,),
    )
    newest = load_method(ctx, int(rows[0][0])) if rows else None
    if newest is None:
        return Refusal(Code.PAYOUT_METHOD_REQUIRED, "the merchant has no payout method")
    return newest


def _reserve_id(payout_id: int, leg: str) -> int:
    return derive_id("payout", payout_id, leg)


def _submit(ctx: UnitContext, transfers: list[Transfer], what: str) -> None:
    if not transfers:
        return
    linked = int(TransferFlags.LINKED)
    chain = [t._replace(flags=t.flags | linked) for t in transfers[:-1]] + [transfers[-1]]
    for transfer, status in zip(chain, ctx.create_transfers(chain), strict=True):
        if status is not CreateTransferStatus.CREATED:
            raise UnexpectedPayoutLedgerError(f"{what} {transfer.id}: {status.value}")


def _legs(payout: Payout) -> list[tuple[str, int]]:
    """The pending legs of a payout: (name, amount), the fee's only when there is one."""
    legs = [("reserve", payout.net)]
    if payout.fee:
        legs.append(("fee", payout.fee))
    return legs


def _reserve_chain(payout: Payout) -> list[Transfer]:
    asset, merchant = payout.asset, payout.merchant_id
    available = account_id(AccountKind.MERCHANT_AVAILABLE, merchant, asset)
    credit = {
        "reserve": (
            account_id(AccountKind.PAYOUT_CLEARING, OPERATOR, asset),
            PayoutTransferCode.RESERVE,
        ),
        "fee": (account_id(AccountKind.FEE_REVENUE, OPERATOR, asset), PayoutTransferCode.FEE),
    }
    pending = int(TransferFlags.PENDING)
    return [
        Transfer(
            _reserve_id(payout.id, name),
            available,
            credit[name][0],
            amount,
            asset,
            int(credit[name][1]),
            pending,
            0,
            0,
            payout.id,
        )
        for name, amount in _legs(payout)
    ]


def _resolve_chain(payout: Payout, post: bool) -> list[Transfer]:
    flag = int(TransferFlags.POST_PENDING if post else TransferFlags.VOID_PENDING)
    verb = "post" if post else "void"
    return [
        Transfer(
            _reserve_id(payout.id, f"{verb}.{name}"),
            0,
            0,
            amount,
            "",
            0,
            flag,
            _reserve_id(payout.id, name),
            0,
            payout.id,
        )
        for name, amount in _legs(payout)
    ]


def _return_transfer(payout: Payout) -> Transfer:
    asset = payout.asset
    return Transfer(
        _reserve_id(payout.id, "return"),
        account_id(AccountKind.PAYOUT_CLEARING, OPERATOR, asset),
        account_id(AccountKind.MERCHANT_AVAILABLE, payout.merchant_id, asset),
        payout.net,
        asset,
        int(PayoutTransferCode.RETURN),
        0,
        0,
        0,
        payout.id,
    )


# Ledger events of the reserve unit: the accounts it may create, the two pending legs.
PAYOUT_RESERVE_EVENTS_MAX: Final = ENSURE_EVENTS_MAX + 2
# Of an event: two resolutions and the return transfer.
_EVENT_EVENTS_MAX: Final = 3


def payable_method(ctx: UnitContext, platform: Platform, ask: PayoutAsk) -> PayoutMethod | Refusal:
    """The method the payout asked would be paid to now, or why it cannot be made now: the
    merchant (active), its tier's daily limit, a method change's lock, the method, the
    available earnings."""
    merchant_id, asset, amount = ask.merchant_id, ask.asset, ask.amount
    merchant = active_merchant(ctx, merchant_id)
    if isinstance(merchant, Refusal):
        return merchant
    room = daily_room(ctx, platform, merchant.kyc_tier, merchant_id, asset)
    if isinstance(room, Refusal):
        return room
    if amount > room:
        return Refusal(Code.TIER_LIMIT_EXCEEDED, "the merchant's daily payout limit is reached")
    locked = lock_refusal(ctx, merchant_id)
    if locked is not None:
        return locked
    method = pick_method(ctx, merchant_id, ask.method_id)
    if isinstance(method, Refusal):
        return method
    if available_earnings(ctx, merchant_id, asset) < amount:
        return Refusal(Code.INSUFFICIENT_FUNDS, "the available earnings are short")
    return method


def reserve_unit(ctx: UnitContext, platform: Platform, draft: Payout) -> Payout | Refusal:
    """Checks a payout and reserves its money (the module's note), in the caller's unit.
    A payout that exists under the draft's id is returned as it is (same request) or
    refused (another request)."""
    existing = load_payout(ctx, draft.id)
    if existing is not None:
        same = (existing.merchant_id, existing.asset, existing.amount, existing.fee, existing.kind)
        if same != (draft.merchant_id, draft.asset, draft.amount, draft.fee, draft.kind):
            return Refusal(Code.INVALID_REQUEST, "another payout has this id")
        return existing
    ask = PayoutAsk(draft.merchant_id, draft.asset, draft.amount, draft.method_id or None)
    method = payable_method(ctx, platform, ask)
    if isinstance(method, Refusal):
        return method
    asset = draft.asset
    ensure_accounts(ctx, operator_accounts(asset) + merchant_accounts(draft.merchant_id, asset))
    payout = dataclasses.replace(
        draft,
        method_id=method.id,
        provider=method.provider,
        status=PayoutStatus.REQUESTED,
        attempts=1,
        created_ns=ctx.now_ns,
        updated_ns=ctx.now_ns,
    )
    _submit(ctx, _reserve_chain(payout), "payout reserve")
    _PAYOUTS.insert(ctx, payout)
    _emit(ctx, "payout.requested", payout)
    return payout


def check_payout_request(asset: object, amount: object) -> Refusal | None:
    if type(asset) is not str or asset not in ASSETS:
        return Refusal(Code.UNKNOWN_ASSET, f"unknown asset {asset!r}")
    if type(amount) is not int or not 0 < amount <= ID_MAX:
        return Refusal(Code.INVALID_AMOUNT, "a payout is a positive integer amount")
    return None


def request_payout(
    platform: Platform,
    merchant_id: int,
    asset: str,
    amount: int,
    payout_id: int,
    method_id: int | None = None,
) -> Payout | Refusal:
    """A free payout of ``amount`` now (what a scheduled run makes; instant payouts go
    through a quote): reserve, then send. Idempotent by ``payout_id``."""
    refusal = check_payout_request(asset, amount)
    if refusal is not None:
        return refusal
    draft = Payout(
        payout_id, merchant_id, asset, amount, 0, PayoutKind.SCHEDULED, method_id=method_id or 0
    )
    made = platform.execute(
        Operation(lambda ctx: reserve_unit(ctx, platform, draft), PAYOUT_RESERVE_EVENTS_MAX)
    )
    return send_requested(platform, made)


def send_requested(platform: Platform, made: Payout | Refusal) -> Payout | Refusal:
    """A payout just reserved, sent to the rail (one answered as stored is left as it is)."""
    if isinstance(made, Refusal) or made.status is not PayoutStatus.REQUESTED:
        return made
    return send_payout(platform, made)


# ------------------------------------------------------------------ sending (I/O at the edge)


def _claim_unit(payout_id: int, first: bool) -> Operation[tuple[Payout, str] | None]:
    """(payout, the account's token) when it is to be sent now; counts a resend."""

    def unit(ctx: UnitContext) -> tuple[Payout, str] | None:
        payout = load_payout(ctx, payout_id)
        if payout is None or payout.status is not PayoutStatus.REQUESTED:
            return None
        if not first:
            if payout.attempts >= PAYOUT_SEND_ATTEMPTS_MAX:
                return None
            payout = _save(ctx, dataclasses.replace(payout, attempts=payout.attempts + 1))
        method = load_method(ctx, payout.method_id)
        if method is None:
            raise LookupError(f"payout {payout_id} names no method")
        return payout, method.token

    return Operation(unit, 0)


def _answer_unit(payout_id: int, result: PayoutResult) -> Operation[Payout]:
    def unit(ctx: UnitContext) -> Payout:
        payout = load_payout(ctx, payout_id)
        if payout is None:
            raise LookupError(f"payout {payout_id} vanished between its units")
        if payout.status is not PayoutStatus.REQUESTED:
            return payout  # an event or another send's answer came first
        if isinstance(result, PayoutAccepted):
            pending = dataclasses.replace(
                payout, status=PayoutStatus.PENDING, provider_ref=result.provider_ref
            )
            saved = _save(ctx, pending)
            _emit(ctx, "payout.pending", saved)
            return saved
        _submit(ctx, _resolve_chain(payout, post=False), "payout void")
        failed = dataclasses.replace(
            payout,
            status=PayoutStatus.FAILED,
            resolved_ns=ctx.now_ns,
            failure_code=_bounded(result.code),
        )
        saved = _save(ctx, failed)
        _emit(ctx, "payout.failed", saved)
        return saved

    return Operation(unit, 2)


def _bounded(text: object) -> str:
    return (text if type(text) is str else repr(text))[:PROVIDER_CODE_LEN_MAX]


def send_payout(platform: Platform, payout: Payout, *, resend: bool = False) -> Payout:
    """Send a ``requested`` payout to its rail (no unit open) and record the answer. A rail
    that cannot be reached leaves it ``requested``, for :func:`recover_payouts`."""
    claimed = platform.execute(_claim_unit(payout.id, first=not resend))
    if claimed is None:
        found = get_payout(platform, payout.id)
        return found if found is not None else payout
    payout, token = claimed
    provider = payout_provider(platform, payout.provider)
    if isinstance(provider, Refusal):
        log.error("payout %d: %s", payout.id, provider.detail)
        return payout
    request = PayoutRequest(
        payout.id,
        payout.merchant_id,
        payout.asset,
        payout.net,
        token,
        payout.kind is PayoutKind.INSTANT,
    )
    try:
        result = provider.send(request)
    except ProviderUnavailable as error:
        log.warning("payout %d: rail %s unavailable: %s", payout.id, provider.name, error)
        return payout
    if isinstance(result, PayoutAccepted) and not (
        type(result.provider_ref) is str and 0 < len(result.provider_ref) <= PROVIDER_REF_LEN_MAX
    ):
        raise ValueError(f"rail {provider.name} answered a malformed provider_ref")
    if not isinstance(result, PayoutAccepted | PayoutRejected):
        raise TypeError(f"rail {provider.name} answered {type(result).__name__}")
    return platform.execute(_answer_unit(payout.id, result))


def recover_payouts(
    platform: Platform, limit: int = PAYOUT_RECOVER_MAX, min_age_s: int = 0
) -> list[Payout]:
    """Send again every payout whose money is reserved but which the rail never
    acknowledged (``requested``), oldest first, at most ``limit``: after a crash between the
    reserve and the rail call, or a rail outage. Same payout id: the rail pays it once.
    ``min_age_s``: leave alone payouts last changed more recently (a request may be sending
    them right now; sending twice is safe, but counts an attempt)."""
    limit = max(0, min(limit, PAYOUT_RECOVER_MAX))
    before_ns = platform.clock.now_ns() - max(0, min_age_s) * 1_000_000_000
    with platform.read() as fetch:
        rows = fetch(
            "SELECT id FROM payouts WHERE status = ? AND attempts < ? AND updated_ns <= ?"
            " ORDER BY created_ns, id LIMIT ?",
            (PayoutStatus.REQUESTED.value, PAYOUT_SEND_ATTEMPTS_MAX, before_ns, limit),
        )
    sent = []
    for (payout_id,) in rows:
        found = get_payout(platform, int(payout_id))
        if found is not None:
            sent.append(send_payout(platform, found, resend=True))
    return sent


# ------------------------------------------------------------------ rail events


class PayoutEventOutcome(enum.Enum):
    """What a rail event did: ``APPLIED``, the payout changed; ``DUPLICATE``, the payout was
    past it already (the event came again); ``IGNORED``, it contradicts the payout or is
    malformed (logged); ``UNKNOWN``, no payout of the event's rail has its id (logged)."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class PayoutEventResult:
    """An event's outcome, the payout as it is after the event (None when there is no such
    payout, or the event was malformed), and why, for the log."""

    outcome: PayoutEventOutcome
    payout: Payout | None
    detail: str = ""


_OPEN: Final = (PayoutStatus.REQUESTED, PayoutStatus.PENDING)


def _apply(
    ctx: UnitContext, payout: Payout, event: PayoutEvent
) -> tuple[PayoutEventOutcome, Payout, str]:
    status = payout.status
    now = ctx.now_ns
    if isinstance(event, PayoutFailed):
        if status is PayoutStatus.FAILED:
            return PayoutEventOutcome.DUPLICATE, payout, "already failed"
        if status not in _OPEN:
            return PayoutEventOutcome.IGNORED, payout, f"a failure after {status.value}"
        _submit(ctx, _resolve_chain(payout, post=False), "payout void")
        failed = dataclasses.replace(
            payout, status=PayoutStatus.FAILED, resolved_ns=now, failure_code=_bounded(event.code)
        )
        return PayoutEventOutcome.APPLIED, failed, "payout.failed"
    if status is PayoutStatus.FAILED:
        return PayoutEventOutcome.IGNORED, payout, "the payout failed"
    if isinstance(event, PayoutPaid) and status not in _OPEN:
        return PayoutEventOutcome.DUPLICATE, payout, status.value
    if isinstance(event, PayoutReturned) and status is PayoutStatus.RETURNED:
        return PayoutEventOutcome.DUPLICATE, payout, "already returned"
    chain: list[Transfer] = []
    if status in _OPEN:  # paid, or what a return implies
        chain += _resolve_chain(payout, post=True)
        payout = dataclasses.replace(payout, status=PayoutStatus.PAID, resolved_ns=now)
    if isinstance(event, PayoutReturned):
        ensure_accounts(ctx, merchant_accounts(payout.merchant_id, payout.asset))
        chain.append(_return_transfer(payout))
        payout = dataclasses.replace(
            payout,
            status=PayoutStatus.RETURNED,
            returned_ns=now,
            return_code=_bounded(event.code),
        )
    _submit(ctx, chain, "payout event")
    return PayoutEventOutcome.APPLIED, payout, ""


def _event_unit(event: PayoutEvent) -> Operation[PayoutEventResult]:
    def unit(ctx: UnitContext) -> PayoutEventResult:
        payout = load_payout(ctx, event.payout_id)
        if payout is None or payout.provider != event.provider:
            return PayoutEventResult(
                PayoutEventOutcome.UNKNOWN, None, "no such payout of this rail"
            )
        if payout.provider_ref is not None and payout.provider_ref != event.provider_ref:
            return PayoutEventResult(
                PayoutEventOutcome.IGNORED, payout, "another payout's reference"
            )
        before = payout.status
        outcome, changed, detail = _apply(ctx, payout, event)
        if outcome is not PayoutEventOutcome.APPLIED:
            return PayoutEventResult(outcome, payout, detail)
        saved = _save(ctx, dataclasses.replace(changed, provider_ref=event.provider_ref))
        if saved.status is PayoutStatus.FAILED:
            _emit(ctx, "payout.failed", saved)
        elif isinstance(event, PayoutReturned):
            if before in _OPEN:
                _emit(ctx, "payout.paid", dataclasses.replace(saved, status=PayoutStatus.PAID))
            _emit(ctx, "payout.returned", saved)
        else:
            _emit(ctx, "payout.paid", saved)
        return PayoutEventResult(outcome, saved, detail)

    return Operation(unit, ENSURE_EVENTS_MAX + _EVENT_EVENTS_MAX)


def _event_problem(event: PayoutEvent) -> str | None:
    ref = event.provider_ref
    if type(ref) is not str or not 0 < len(ref) <= PROVIDER_REF_LEN_MAX:
        return f"provider_ref must be text of 1-{PROVIDER_REF_LEN_MAX} characters"
    if not valid_id(event.payout_id):
        return "payout_id must be a positive id"
    return None


def handle_payout_event(platform: Platform, event: PayoutEvent) -> PayoutEventResult:
    """Apply one rail event in one write unit; idempotent (the module's note)."""
    problem = _event_problem(event)
    if problem is not None:
        log.error("malformed %s event %r: %s", payout_event_kind(event), event.event_id, problem)
        return PayoutEventResult(PayoutEventOutcome.IGNORED, None, problem)
    result = platform.execute(_event_unit(event))
    if result.outcome in (PayoutEventOutcome.IGNORED, PayoutEventOutcome.UNKNOWN):
        log.warning(
            "%s event %r for payout %d %s: %s",
            payout_event_kind(event),
            event.event_id,
            event.payout_id,
            result.outcome.value,
            result.detail,
        )
    return result


def process_payout_events(
    platform: Platform,
    feed: PayoutEventFeed | None = None,
    limit: int = PAYOUT_EVENTS_PER_TICK_MAX,
) -> list[PayoutEventResult]:
    """Apply up to ``limit`` due events of ``feed`` (default: the configured rail), each in
    its own unit, acknowledging each once applied. An event whose unit raised stays
    unacknowledged and comes again."""
    if feed is None:
        rail: Any = platform.providers.payout_rails.get(platform.config.payouts.provider)
        if rail is None or not hasattr(rail, "due_payout_events"):
            log.error("no payout rail %r with an event feed", platform.config.payouts.provider)
            return []
        feed = rail
    limit = max(0, min(limit, PAYOUT_EVENTS_PER_TICK_MAX))
    due = feed.due_payout_events(platform.clock.now_ns(), limit)
    handle = partial(handle_payout_event, platform)
    return drain(due, handle, feed.acknowledge_payout_events, payout_event_kind, log)


# ------------------------------------------------------------------ reads


def get_payout(platform: Platform, payout_id: int, merchant_id: int | None = None) -> Payout | None:
    owners = given(merchant_id=merchant_id)
    return _PAYOUTS.by_id(platform, payout_id, owners)


def list_payouts(
    platform: Platform,
    merchant_id: int | None = None,
    cursor: Cursor | None = None,
    limit: int = 100,
) -> Page[Payout]:
    """Payouts newest first, of one merchant (None: every one, the operator's view)."""
    filters = given(merchant_id=merchant_id)
    return _PAYOUTS.page(platform, filters, cursor, limit)
