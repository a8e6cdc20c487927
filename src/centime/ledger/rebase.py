"""Moving a group's changes onto accounts that other writers changed meanwhile.

An overlapping group on PostgreSQL (``Ledger._apply_overlapping``) may read some accounts
without locking them (its write units' *deferred* accounts: a payment's merchant and fee
revenue accounts, which every payment of the merchant moves money through). It runs the
core on what it read, then locks them just before it reserves its timestamps; by then
another process may have committed to them. :func:`rebased` says whether the core would
have decided every event of the group the same on what is stored now, and if so returns
the changes moved onto it (each balance field plus what the other writers added); None
otherwise (the group then runs again, alone).

It is exact for an account the group only moved posted money through (no pending transfer
created, posted, voided or expired on it, no balancing or closing flag), when no event of
the group failed, the account's flags are as read, and what it may still debit (or credit,
under the opposite limit) did not shrink: the core's checks on such an account are an
overflow bound on each total (checked on the final totals, which bound every step's, the
posted fields only grow) and the balance limit (each debit's check ``pending + posted +
amount <= credits posted`` holds with the same slack or more). Every other core decision
does not read the account's balances.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from centime.limits import AMOUNT_MAX

from .core import Changes
from .model import Account, AccountBalance, AccountFlags, TransferFlags

__all__ = ["rebased"]

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


def rebased(
    changes: Changes, read: Mapping[int, Account], current: Mapping[int, Account]
) -> Changes | None:
    """``changes`` (the core's, computed on the accounts as ``read``) moved onto the
    accounts as they are ``current`` (locked now), or None when the core could have decided
    otherwise on them. Accounts absent from ``read`` are not moved (one created by the group
    that another writer created too is refused by the store's key)."""
    moved = {i: (read[i], current[i]) for i in read if i in current and current[i] != read[i]}
    if not moved:
        return changes
    if changes.failed:
        return None
    for t in changes.transfers:
        if (t.debit_account_id in moved or t.credit_account_id in moved) and t.flags & _NOT_PLAIN:
            return None
    deltas: dict[int, tuple[int, int, int, int]] = {}
    accounts = dict(changes.accounts)
    for i, (before, now) in moved.items():
        if i not in accounts:  # the group moved nothing through it
            continue
        if now.flags != before.flags or now.asset != before.asset:
            return None
        final = accounts[i]
        if final.flags != before.flags:
            return None
        if (final.debits_pending, final.credits_pending) != (
            before.debits_pending,
            before.credits_pending,
        ):
            return None
        delta = (
            now.debits_pending - before.debits_pending,
            now.debits_posted - before.debits_posted,
            now.credits_pending - before.credits_pending,
            now.credits_posted - before.credits_posted,
        )
        room = delta[3] - delta[1] - delta[0]  # what the account may still debit, moved by
        if before.flags & _DMNEC and room < 0:
            return None
        if before.flags & _CMNED and delta[1] - delta[3] - delta[2] < 0:
            return None
        new = _moved(final, delta)
        if new is None:
            return None
        accounts[i] = new
        deltas[i] = delta
    balances: list[AccountBalance] = []
    for b in changes.balances:
        delta_b = deltas.get(b.account_id)
        if delta_b is None:
            balances.append(b)
            continue
        dp, dpo, cp, cpo = (
            b[2] + delta_b[0],
            b[3] + delta_b[1],
            b[4] + delta_b[2],
            b[5] + delta_b[3],
        )
        balances.append(AccountBalance(b.account_id, b.timestamp, dp, dpo, cp, cpo))
    return Changes(
        accounts_created=changes.accounts_created,
        accounts=accounts,
        transfers=changes.transfers,
        pending=changes.pending,
        failed=changes.failed,
        balances=balances,
    )


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
