"""Moving a group's changes onto accounts that other writers changed meanwhile.

An overlapping group on PostgreSQL (``Ledger._apply_overlapping``) may read some accounts
without locking them (its write units' *deferred* accounts: a payment's payers, merchant
and fee revenue accounts). It runs the core on what it read, then locks them just before
it reserves its timestamps; by then another process may have committed to them.
:func:`rebased` says whether the core would have decided every event of the group the
same on what is stored now, and if so returns the changes moved onto it (each balance
field plus what the other writers added); None otherwise (the group then runs again,
alone).

It is exact for an account the group only moved posted money through (no pending transfer
created, posted, voided or expired on it, no balancing or closing flag), when no event of
the group failed and the account's flags are as read. The core's checks on such an account
are then an overflow bound on each total (checked on the final totals, which bound every
step's: the posted fields only grow) and the balance limit: under
``debits_must_not_exceed_credits`` the group's ``k``-th debit of the account checks
``pending + posted + D_k <= credits posted + C_k`` on the base it started from, ``D_k`` and
``C_k`` the group's own debits and credits of the account up to that step. Every step so
holds on a new base exactly when its slack (``credits posted - debits posted - debits
pending``) is at least the account's *need*, the largest ``D_k - C_k`` over its debit steps
(:func:`limit_needs`; symmetric under ``credits_must_not_exceed_debits``). Every other core
decision does not read the account's balances.

A write unit that read a deferred account's balance decided on it too (a payment's split
between restricted and wallet money, a shortfall): it states the range of that balance its
decisions hold for (:class:`AvailableBound`), and :func:`bounds_hold` checks it against
what is stored now.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Final, NamedTuple

from centime.limits import AMOUNT_MAX

from .core import Changes
from .model import Account, AccountBalance, AccountFlags, Transfer, TransferFlags

__all__ = ["AvailableBound", "bounds_hold", "limit_needs", "rebased"]

# Transfer flags that make an event read an account's balances otherwise than by the checks
# the module's docstring lists, or touch its pending fields.
_NOT_PLAIN: Final = int(
    TransferFlags.PENDING
    | TransferFlags.POST_PENDING
    | TransferFlags.VOID_PENDING
    | TransferFlags.BALANCING_DEBIT
    | TransferFlags.BALANCING_CREDIT
    | TransferFlags.CLOSING_DEBIT
    | TransferFlags.CLOSING_CREDIT
)
_DMNEC: Final = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
_CMNED: Final = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)


class AvailableBound(NamedTuple):
    """A write unit's decisions hold while the deferred account's ``available``, which the
    unit saw as ``seen`` (the base it read plus what the group did to it before the unit),
    lies in ``low..high`` (None: unbounded on that side)."""

    account_id: int
    seen: int
    low: int | None
    high: int | None


def bounds_hold(
    bounds: Iterable[AvailableBound], read: Mapping[int, Account], current: Mapping[int, Account]
) -> bool:
    """Whether every bound holds on the accounts as they are ``current``: what other
    writers did meanwhile moved what each unit saw by as much as the account's base moved
    (an account gone or never read fails)."""
    for bound in bounds:
        before, now = read.get(bound.account_id), current.get(bound.account_id)
        if before is None or now is None:
            return False
        seen = bound.seen + now.available - before.available
        if bound.low is not None and seen < bound.low:
            return False
        if bound.high is not None and seen > bound.high:
            return False
    return True


def limit_needs(
    transfers: Sequence[Transfer], account_ids: Collection[int]
) -> dict[int, tuple[int | None, int | None]]:
    """For each of ``account_ids`` that the ``transfers`` (applied in this order) move:
    (the largest ``D_k - C_k`` over the steps that debit it, the largest ``C_k - D_k`` over
    those that credit it), ``D_k``/``C_k`` its debits/credits up to and including step
    ``k``; None for a side the account is never on. A base satisfies the debit limit at
    every step iff its slack is at least the first, the credit limit iff at least the
    second."""
    wanted = set(account_ids)
    debits: dict[int, int] = {}
    credits: dict[int, int] = {}
    needs: dict[int, tuple[int | None, int | None]] = {}
    for t in transfers:
        dr, cr, amount = t.debit_account_id, t.credit_account_id, t.amount
        if dr in wanted:
            d = debits[dr] = debits.get(dr, 0) + amount
            step = d - credits.get(dr, 0)
            debit_need, credit_need = needs.get(dr, (None, None))
            needs[dr] = (step if debit_need is None else max(debit_need, step), credit_need)
        if cr in wanted:
            c = credits[cr] = credits.get(cr, 0) + amount
            step = c - debits.get(cr, 0)
            debit_need, credit_need = needs.get(cr, (None, None))
            needs[cr] = (debit_need, step if credit_need is None else max(credit_need, step))
    return needs


def rebased(
    changes: Changes,
    read: Mapping[int, Account],
    current: Mapping[int, Account],
    *,
    refused: bool = False,
) -> Changes | None:
    """``changes`` (the core's, computed on the accounts as ``read``) moved onto the
    accounts as they are ``current`` (locked now), or None when the core could have decided
    otherwise on them. ``refused``: some event of the group was refused (a chain rolled
    back for a reason :attr:`Changes.failed` does not keep may have checked an account on
    its way). Accounts absent from ``read`` are not moved (one created by the group that
    another writer created too is refused by the store's key)."""
    moved = {i: (read[i], current[i]) for i in read if i in current and current[i] != read[i]}
    if not moved:
        return changes
    if changes.failed or refused:
        return None
    for t in changes.transfers:
        if (t.debit_account_id in moved or t.credit_account_id in moved) and t.flags & _NOT_PLAIN:
            return None
    needs = limit_needs(changes.transfers, moved)
    deltas: dict[int, tuple[int, int, int, int]] = {}
    accounts = dict(changes.accounts)
    for i, (before, now) in moved.items():
        if i not in accounts:  # the group moved nothing through it
            continue
        new = _moved_account(accounts[i], before, now, needs.get(i, (None, None)))
        if new is None:
            return None
        accounts[i], deltas[i] = new
    return Changes(
        accounts_created=changes.accounts_created,
        accounts=accounts,
        transfers=changes.transfers,
        pending=changes.pending,
        failed=changes.failed,
        balances=_moved_balances(changes.balances, deltas),
    )


def _moved_account(
    final: Account, before: Account, now: Account, need: tuple[int | None, int | None]
) -> tuple[Account, tuple[int, int, int, int]] | None:
    """The group's ``final`` state of an account it read as ``before``, moved onto ``now``
    (and the move), or None when a check of the group could decide otherwise on ``now``."""
    if now.flags != before.flags or now.asset != before.asset or final.flags != before.flags:
        return None
    if (final.debits_pending, final.credits_pending) != (
        before.debits_pending,
        before.credits_pending,
    ):
        return None
    debit_need, credit_need = need
    if before.flags & _DMNEC and debit_need is not None and now.available < debit_need:
        return None
    credit_slack = now.debits_posted - now.credits_posted - now.credits_pending
    if before.flags & _CMNED and credit_need is not None and credit_slack < credit_need:
        return None
    delta = (
        now.debits_pending - before.debits_pending,
        now.debits_posted - before.debits_posted,
        now.credits_pending - before.credits_pending,
        now.credits_posted - before.credits_posted,
    )
    new = _moved(final, delta)
    return None if new is None else (new, delta)


def _moved_balances(
    balances: list[AccountBalance], deltas: Mapping[int, tuple[int, int, int, int]]
) -> list[AccountBalance]:
    """The group's balance history rows, each of a moved account moved as it was."""
    if not deltas:
        return balances
    out: list[AccountBalance] = []
    for b in balances:
        delta = deltas.get(b.account_id)
        if delta is None:
            out.append(b)
            continue
        dp, dpo, cp, cpo = b[2] + delta[0], b[3] + delta[1], b[4] + delta[2], b[5] + delta[3]
        out.append(AccountBalance(b.account_id, b.timestamp, dp, dpo, cp, cpo))
    return out


def _moved(account: Account, delta: tuple[int, int, int, int]) -> Account | None:
    """The account's balance fields plus ``delta``, or None past a total's bound."""
    dp, dpo, cp, cpo = (
        account.debits_pending + delta[0],
        account.debits_posted + delta[1],
        account.credits_pending + delta[2],
        account.credits_posted + delta[3],
    )
    if min(dp, dpo, cp, cpo) < 0 or max(dpo, cpo, dp + dpo, cp + cpo) > AMOUNT_MAX:
        return None
    return account._replace(
        debits_pending=dp, debits_posted=dpo, credits_pending=cp, credits_posted=cpo
    )
