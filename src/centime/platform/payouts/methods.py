"""Payout methods: the bank accounts a merchant's earnings are paid to, and the lock a change
puts on payouts.

Adding a method registers the account with the payout rail (I/O, outside any unit) and then
records, in one unit, what the rail answered: its token for the account, the account's
fingerprint, the last four characters and the holder's name. The account number itself is
never stored nor logged by the platform.

Every change (an account added or removed) locks the merchant's payouts for
``PayoutConfig.payout_method_lock_s``: whoever takes over a merchant's credentials and
swaps the bank account must wait out the lock, during which the merchant is told (the
lock's end is on every refusal) and can react. A payout asked for meanwhile is refused with
PAYOUTS_LOCKED and changes nothing. Every change also tells the merchant
(:mod:`centime.platform.events.notices`), in the unit that makes it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Final

from centime.ledger.units import UnitContext
from centime.limits import PAYOUT_METHODS_PER_MERCHANT_MAX
from centime.providers.funding import ProviderUnavailable
from centime.providers.payouts import (
    AccountRegistered,
    PayoutProvider,
    account_number_problem,
    holder_name_problem,
)
from centime.timetext import human_duration

from ..context import Operation, Platform
from ..errors import Code, Refusal
from ..events.notices import Change, credential_changed
from ..ids import new_id, valid_id
from ..pages import given
from ..parties.service import active_merchant
from ..rows import Table

__all__ = [
    "PayoutMethod",
    "add_payout_method",
    "get_payout_method",
    "list_payout_methods",
    "load_method",
    "lock_refusal",
    "locked_until",
    "payout_provider",
    "remove_payout_method",
]

log = logging.getLogger("centime.payouts")


@dataclass(frozen=True, slots=True)
class PayoutMethod:
    id: int
    merchant_id: int
    provider: str
    token: str  # the rail's name for the account (not the number)
    fingerprint: str
    last4: str
    holder_name: str
    status: str  # active, removed
    created_ns: int
    removed_ns: int | None


_METHODS: Final = Table(PayoutMethod, "payout_methods")


def payout_provider(platform: Platform, name: str | None = None) -> PayoutProvider | Refusal:
    """The payout rail ``name`` (default: the configured one), or a refusal."""
    wanted = name or platform.config.payouts.provider
    provider = platform.providers.payout_rails.get(wanted)
    if provider is None:
        return Refusal(Code.PROVIDER_UNAVAILABLE, f"no payout rail {wanted!r} is set up")
    return provider


# ------------------------------------------------------------------ inside units


def load_method(ctx: UnitContext, method_id: int) -> PayoutMethod | None:
    return _METHODS.load(ctx.fetch, method_id)


def locked_until(ctx: UnitContext, merchant_id: int) -> int:
    rows = ctx.fetch(
        "SELECT locked_until_ns FROM payout_locks WHERE merchant_id = ?", (merchant_id,)
    )
    return int(rows[0][0]) if rows else 0


def lock_refusal(ctx: UnitContext, merchant_id: int) -> Refusal | None:
    """PAYOUTS_LOCKED while a payout-method change's lock runs."""
    until = locked_until(ctx, merchant_id)
    if ctx.now_ns < until:
        seconds = -(-(until - ctx.now_ns) // 1_000_000_000)
        return Refusal(
            Code.PAYOUTS_LOCKED,
            f"a payout-method change locks payouts for {human_duration(seconds)} more",
        )
    return None


def _lock(ctx: UnitContext, platform: Platform, merchant_id: int) -> None:
    until = ctx.now_ns + platform.config.payouts.payout_method_lock_s * 1_000_000_000
    if (
        ctx.execute(
            "UPDATE payout_locks SET locked_until_ns = ? WHERE merchant_id = ?",
            (until, merchant_id),
        )
        == 0
    ):
        ctx.execute(
            "INSERT INTO payout_locks (merchant_id, locked_until_ns) VALUES (?, ?)",
            (merchant_id, until),
        )


def _active_methods(ctx: UnitContext, merchant_id: int) -> list[PayoutMethod]:
    rows = ctx.fetch(
        f"SELECT {_METHODS.columns} FROM payout_methods WHERE merchant_id = ? AND status = 'active'"
        " ORDER BY created_ns DESC, id DESC LIMIT ?",
        (merchant_id, PAYOUT_METHODS_PER_MERCHANT_MAX + 1),
    )
    return [_METHODS.read(r) for r in rows]


def _room_refusal(ctx: UnitContext, merchant_id: int, fingerprint: str | None) -> Refusal | None:
    merchant = active_merchant(ctx, merchant_id)
    if isinstance(merchant, Refusal):
        return merchant
    methods = _active_methods(ctx, merchant_id)
    if fingerprint is not None:
        for method in methods:
            if method.fingerprint == fingerprint:
                return Refusal(Code.INVALID_REQUEST, "this account is already a payout method")
    if len(methods) >= PAYOUT_METHODS_PER_MERCHANT_MAX:
        return Refusal(
            Code.PAYOUT_METHOD_LIMIT_REACHED,
            f"at most {PAYOUT_METHODS_PER_MERCHANT_MAX} payout methods; remove one first",
        )
    return None


# ------------------------------------------------------------------ operations


def add_payout_method(
    platform: Platform,
    merchant_id: int,
    holder_name: str,
    account_number: str,
    method_id: int | None = None,
) -> PayoutMethod | Refusal:
    """Register the account with the rail and record it; locks payouts (module note).
    ``method_id`` given (the API derives it from the Idempotency-Key): a retry answers the
    method recorded under it."""
    problem = account_number_problem(account_number) or holder_name_problem(holder_name)
    if problem is not None:
        return Refusal(Code.INVALID_REQUEST, problem)
    if not valid_id(merchant_id):
        return Refusal(Code.MERCHANT_NOT_FOUND, "no such merchant")
    if method_id is not None and not valid_id(method_id):
        return Refusal(Code.INVALID_REQUEST, "method_id must be a positive id")
    new = new_id() if method_id is None else method_id
    provider = payout_provider(platform)
    if isinstance(provider, Refusal):
        return provider

    def check(ctx: UnitContext) -> PayoutMethod | Refusal | None:
        existing = load_method(ctx, new)
        if existing is not None:
            if existing.merchant_id != merchant_id:
                return Refusal(Code.INVALID_REQUEST, "method_id names another")
            return existing
        return _room_refusal(ctx, merchant_id, None)

    checked = platform.execute(Operation(check, 0))
    if checked is not None:
        return checked
    try:
        answer = provider.register_account(holder_name, account_number)
    except ProviderUnavailable as error:
        log.warning(
            "merchant %d: payout rail %s unavailable: %s", merchant_id, provider.name, error
        )
        return Refusal(Code.PROVIDER_UNAVAILABLE, "the payout rail could not be reached; retry")
    if not isinstance(answer, AccountRegistered):
        return Refusal(Code.PROVIDER_DECLINED, f"the rail refused the account: {answer.code}")
    return platform.execute(
        _record_unit(platform, new, merchant_id, provider.name, holder_name, answer)
    )


def _record_unit(
    platform: Platform,
    method_id: int,
    merchant_id: int,
    provider: str,
    holder_name: str,
    answer: AccountRegistered,
) -> Operation[PayoutMethod | Refusal]:
    def unit(ctx: UnitContext) -> PayoutMethod | Refusal:
        existing = load_method(ctx, method_id)
        if existing is not None:  # a concurrent retry recorded it first
            return existing
        refusal = _room_refusal(ctx, merchant_id, answer.fingerprint)
        if refusal is not None:
            return refusal
        method = PayoutMethod(
            method_id,
            merchant_id,
            provider,
            answer.token[:64],
            answer.fingerprint[:64],
            answer.last4[-4:],
            holder_name,
            "active",
            ctx.now_ns,
            None,
        )
        _METHODS.insert(ctx, method)
        _lock(ctx, platform, merchant_id)
        credential_changed(
            ctx,
            "merchant",
            merchant_id,
            Change.PAYOUT_METHOD_ADDED,
            f"account ending {method.last4}, holder {holder_name!r}",
        )
        return method

    return Operation(unit, 0)


def remove_payout_method(
    platform: Platform, merchant_id: int, method_id: int
) -> Operation[PayoutMethod | Refusal]:
    """Remove the method (payouts on their way to it still arrive); locks payouts. Removing
    a removed method answers it as it is and changes nothing."""

    def unit(ctx: UnitContext) -> PayoutMethod | Refusal:
        method = load_method(ctx, method_id) if valid_id(method_id) else None
        if method is None or method.merchant_id != merchant_id:
            return Refusal(Code.PAYOUT_METHOD_NOT_FOUND, "no such payout method")
        if method.status != "active":
            return method
        ctx.execute(
            "UPDATE payout_methods SET status = 'removed', removed_ns = ? WHERE id = ?",
            (ctx.now_ns, method_id),
        )
        _lock(ctx, platform, merchant_id)
        credential_changed(
            ctx,
            "merchant",
            merchant_id,
            Change.PAYOUT_METHOD_REMOVED,
            f"account ending {method.last4}",
        )
        return replace(method, status="removed", removed_ns=ctx.now_ns)

    return Operation(unit, 0)


# ------------------------------------------------------------------ reads


def list_payout_methods(platform: Platform, merchant_id: int) -> list[PayoutMethod]:
    """The merchant's active methods, newest first (at most PAYOUT_METHODS_PER_MERCHANT_MAX)."""
    with platform.read() as fetch:
        rows = fetch(
            f"SELECT {_METHODS.columns} FROM payout_methods"
            " WHERE merchant_id = ? AND status = 'active'"
            " ORDER BY created_ns DESC, id DESC LIMIT ?",
            (merchant_id, PAYOUT_METHODS_PER_MERCHANT_MAX),
        )
    return [_METHODS.read(r) for r in rows]


def get_payout_method(
    platform: Platform, method_id: int, merchant_id: int | None = None
) -> PayoutMethod | None:
    owners = given(merchant_id=merchant_id)
    return _METHODS.by_id(platform, method_id, owners)
